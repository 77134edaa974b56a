#pragma once

#include "DovecotServer.hxx"
#include "Process.hxx"

#include <memory>
#include <string>

namespace popstream::test {

/**
 * A throwaway GNU mailutils pop3d (Debian mailutils-pop3d 3.15), the second real server
 * of the integration tests, with its configuration, certificate, lock directory, log and
 * mailbox under one directory, started in the foreground and stopped by its pid.
 *
 * It logs in a system user through PAM: one user, kUser, made with `useradd -m` when
 * missing and given kPassword every time, so any number of tests (or worktrees) can share
 * it. Its mailbox is not its home's Maildir but DIR/mail/kUser (mailbox-pattern), so
 * parallel tests never share a mailbox.
 *
 * What pop3d 3.15 does, seen by hand with a socket script (47 real-world messages):
 * - UIDL answers "N <md5>.<uidvalidity>.<N>", and while answering it stamps an
 *   `X-UIDL: <id>` header at the end of each message's header that lacks one; the files
 *   grow by that line (and move to cur/ when the session ends). The ids survive later
 *   sessions, since they live in the messages.
 * - Until a message is stamped, STAT and LIST give its size without that header: LIST,
 *   UIDL, LIST in one session gave "1 478" then "1 533", and RETR 1 sent 533 octets. A
 *   client that sends LIST before UIDL on a fresh mailbox is told sizes short by the
 *   header's line (55 octets here) of what RETR sends; after UIDL, LIST, RETR and later
 *   sessions agree exactly.
 * - Stamping rewrites what pop3d cannot parse as a header, and RETR sends the result:
 *   a message without the blank line after its header (or stored with CRLF line ends)
 *   was reduced to the X-UIDL line; text before the first field lost its first lines;
 *   an mbox "From " first line became "From : ..."; a message that already has an
 *   X-UIDL: keeps it and gets none. For a message without a final newline LIST stays
 *   2 octets short even after UIDL, and RETR of 150000 empty lines never finished.
 *   Fill() therefore leaves out such messages (5 of the 47 real-world ones): the tests
 *   are about what popstream does with what the server sends.
 * - CAPA: TOP UIDL RESP-CODES PIPELINING AUTH-RESP-CODE EXPIRENEVER USER STLS; a wrong
 *   password gets "-ERR [AUTH] Bad login". The listener's backlog is 4.
 */
class MailutilsServer {
	std::string dir_;
	std::unique_ptr<Child> daemon_;

public:
	/** The system user the tests log in as; specific to popstream's tests. */
	static constexpr const char *kUser = "popstream-test-mu";
	/** Its password (PAM checks it against /etc/shadow). */
	static constexpr const char *kPassword = "popstream-test-mu-pw";

	/** Loopback port of POP3 (cleartext, STLS on demand). */
	unsigned port = 0;

	/**
	 * Creates kUser if needed, writes the configuration and a self-signed certificate
	 * into @p dir and starts pop3d on a free loopback port.
	 * @param dir an existing, empty directory that kUser can traverse (a 0755
	 * TempDir)
	 * @throws std::runtime_error naming the missing package when /usr/sbin/pop3d is
	 *         absent, and with pop3d's log if it does not come up
	 */
	explicit MailutilsServer(std::string dir);
	/** Stops pop3d (SIGTERM, then SIGKILL after 10 s) by its pid and reaps it. */
	~MailutilsServer();
	MailutilsServer(const MailutilsServer &) = delete;
	MailutilsServer &operator=(const MailutilsServer &) = delete;

	/** @return the server-side Maildir of kUser */
	std::string Maildir() const { return dir_ + "/mail/" + kUser; }

	/**
	 * Puts the first @p count make-sample-mail messages (seed @p seed) into the
	 * mailbox, less those pop3d would alter (see above), and hands them to kUser.
	 * @return the messages kept, as written, before pop3d stamps them
	 */
	SampleSet Fill(unsigned count, unsigned seed);

	/** Delivers one more message, as @p name in new/, owned by kUser. */
	void Add(const std::string &name, const std::string &bytes);

	/** @return how many messages the server holds (files in new/ and cur/) */
	unsigned Count() const;

	/** @return what pop3d logged so far, for failure messages */
	std::string Log() const;
};

/**
 * @return @p bytes with CRLF folded to LF and the first `X-UIDL:` header line (the one
 *         mailutils stamps in) removed, to compare a fetched message with its original
 */
std::string WithoutXUidl(std::string bytes);

} // namespace popstream::test
