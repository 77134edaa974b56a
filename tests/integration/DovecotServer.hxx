#pragma once

#include "Process.hxx"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace popstream::test {

/** One message put into a Dovecot mailbox by make-sample-mail. */
struct SampleMessage {
	/** Its Maildir file name on the server. */
	std::string name;
	/** The exact bytes of the file. */
	uint64_t size = 0;
	/** SHA-256 (hex) of the exact bytes, as listed in the manifest. */
	std::string sha256;
	/**
	 * SHA-256 (hex) of what a POP3 client must save: the same bytes, plus the final
	 * newline that POP3 framing adds when the last line lacks one.
	 */
	std::string fetched_sha256;
	/** Size on the wire as Dovecot reports it (LIST/STAT): every LF counted as CRLF.
	 */
	uint64_t octets = 0;
};

/** What make-sample-mail wrote, read back before any client touches it. */
struct SampleSet {
	std::vector<SampleMessage> messages;

	/** @return the sum of SampleMessage::size */
	uint64_t Bytes() const noexcept;
	/** @return the sum of SampleMessage::octets (the STAT total) */
	uint64_t Octets() const noexcept;
	/** @return how often each fetched_sha256 occurs */
	std::map<std::string, unsigned> FetchedHashes() const;
};

/** How a DovecotServer differs from the harness's defaults. */
struct DovecotOptions {
	/** Dovecot's auth_mechanisms; empty = the harness's "plain login". */
	std::string auth_mechanisms;
	/** The IPv4 address both ports listen on; empty = 127.0.0.1. */
	std::string listen;
	/** TLS logins need a client certificate signed by the test CA (`ca_file`'s
	 * directory holds client.crt and client.key). */
	bool require_client_cert = false;
	/** When set, Dovecot's oauth2 passdb checks every login by posting its token
	 * to this RFC 7662 introspection URL (FakeOAuth2Server::IntrospectionUrl())
	 * instead of checking passwords; auth_mechanisms then defaults to
	 * "xoauth2 oauthbearer". */
	std::string oauth2_introspection_url;
	/** One long-lived login process serves every connection, so a client can
	 * resume its TLS session (dovecot-harness --tls-resumable); by default each
	 * connection gets a fresh process and no session is ever resumed. */
	bool tls_resumable = false;
};

/** Every mechanism a login test needs, all usable with the {PLAIN} passwords the
 * harness writes. */
inline constexpr const char *all_auth_mechanisms =
    "plain login cram-md5 scram-sha-1 scram-sha-256 apop";

/**
 * A throwaway Dovecot started with tests/support/dovecot-harness in a directory of its
 * own, stopped (and waited for) by the destructor.
 */
class DovecotServer {
	std::string dir_;
	std::string harness_;

public:
	/** The address both ports listen on (DovecotOptions::listen, or 127.0.0.1). */
	std::string host;
	/** Loopback port of cleartext POP3 (offers STLS). */
	unsigned pop3_port = 0;
	/** Loopback port of POP3 over implicit TLS. */
	unsigned pop3s_port = 0;
	/** The test CA that signed the server's certificate (pop.example.com, localhost).
	 */
	std::string ca_file;

	/**
	 * @param dir an existing, empty directory that Dovecot's users can reach (under a
	 *        0755 TempDir)
	 * @param users "NAME:PASSWORD" entries
	 * @param options the auth mechanisms, the address, a client certificate
	 * @throws std::runtime_error with the harness's output if the server does not
	 *         come up
	 */
	DovecotServer(std::string dir, const std::vector<std::string> &users,
		      const DovecotOptions &options = {});
	~DovecotServer();
	DovecotServer(const DovecotServer &) = delete;
	DovecotServer &operator=(const DovecotServer &) = delete;

	/**
	 * Stops the server and starts it again on the same ports with the same
	 * configuration (dovecot-harness restart), which forgets every TLS session.
	 * @param new_cert first replace the server's key and certificate by new ones
	 *        for the same names, signed by the same test CA
	 * @throws std::runtime_error with the harness's output if it does not come up
	 */
	void Restart(bool new_cert);

	/** @return the server-side Maildir of @p user */
	std::string Maildir(const std::string &user) const;

	/**
	 * Puts @p count sample messages (make-sample-mail, seed @p seed) into the mailbox
	 * of
	 * @p user and hands them to the mail uid.
	 * @return the messages, for comparing with what a client saves
	 */
	SampleSet Fill(const std::string &user, unsigned count, unsigned seed);

	/** @return how many messages the server holds for @p user (new/ + cur/) */
	unsigned Count(const std::string &user) const;

	/**
	 * Hands every file in the Maildir of @p user to the mail uid: call it after
	 * putting messages there as root (Dovecot never reads mail as root).
	 */
	void Own(const std::string &user);

	/**
	 * Waits until no POP3 session process is left: one may still be writing its index
	 * after the client saw QUIT's reply, and the index must not be touched meanwhile.
	 * @throws std::runtime_error if a session is still open after 20 s
	 */
	void WaitForSessions() const;
};

/**
 * Writes @p count messages of make-sample-mail's catalogue (seed @p seed) into @p maildir
 * (as the caller, mode 0600) and reads them back.
 * @return the messages, for comparing with what a client saves
 * @throws std::runtime_error if make-sample-mail fails or its manifest does not match
 */
SampleSet MakeSampleMail(const std::string &maildir, unsigned count, unsigned seed);

/** @return how often each SHA-256 (hex) occurs among the files in @p dir, to compare
 * with SampleSet::FetchedHashes() */
std::map<std::string, unsigned> SavedHashes(const std::string &dir);

/** @return the lowercase hex SHA-256 of @p bytes */
std::string Sha256Hex(const std::string &bytes);

/**
 * Writes a netrc(5) file (mode 0600) with a `machine USER@127.0.0.1:PORT` entry for
 * each of @p ports.
 */
void WriteNetrc(const std::string &path, const std::string &user,
		const std::string &password, const std::vector<unsigned> &ports);

/** @return a loopback TCP port that nothing listens on (bound once, then closed) */
unsigned ClosedPort();

/**
 * Runs `popstream ARGS...` ($POPSTREAM_BIN) with NETRC=@p netrc and HOME=@p home.
 * @param prefix programs put in front (e.g. setpriv ...), empty for none
 */
ProcessResult RunPopstream(const std::vector<std::string> &args, const std::string &netrc,
			   const std::string &home,
			   const std::vector<std::string> &prefix = {});

/** Human-readable summary of a run, for failure messages. */
std::string Describe(const ProcessResult &result);

/**
 * @return whether a summary in @p text says "N messages" with N a whole number, or,
 *         for 0, "no new mail" (a fetch that saved and deleted nothing)
 */
bool SaysMessages(const std::string &text, uint64_t n);

} // namespace popstream::test
