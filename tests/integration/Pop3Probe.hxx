#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popstream::test {

/** One line of a server's listing: LIST and UIDL joined by message number. */
struct ProbedMessage {
	unsigned number = 0;
	/** LIST's size, in octets. */
	uint64_t size = 0;
	std::string uidl;

	bool operator==(const ProbedMessage &) const = default;
};

/**
 * Asks a POP3 server on 127.0.0.1:@p port what it holds, independently of popstream:
 * USER/PASS, then UIDL before LIST (so that GNU mailutils pop3d, which stamps X-UIDL:
 * headers while answering UIDL, lists the sizes RETR will send), then QUIT. Blocking,
 * cleartext, with a 30 s receive timeout so that a hung server fails the test.
 * @return the messages in LIST order
 * @throws std::runtime_error naming the command on any error or -ERR
 */
std::vector<ProbedMessage> ProbeListing(unsigned port, const std::string &user,
					const std::string &password);

/** @return "N SIZE UIDL" lines, for failure messages */
std::string Describe(const std::vector<ProbedMessage> &listing);

} // namespace popstream::test
