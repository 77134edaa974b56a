// popstreamd and a server whose certificate is refused after STLS (RFC 2595 §4): a
// certificate does not change from one second to the next, so the daemon must not
// reconnect at once as it does after a hang-up during login; it waits its normal backoff,
// and says why in LastError and `popstream status`. The server is LoopbackServer (from
// tests/net) with a POP3 prelude up to STLS, and certificates from make-test-ca.
#include "DaemonHelpers.hxx"
#include "LoopbackServer.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <thread>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

/** What a POP3 server says up to its +OK to STLS; the handshake follows. */
void UpToStls(ServerPeer &peer)
{
	peer.Write("+OK ready\r\n");
	for (;;) {
		const std::string line = peer.ReadUntil("\r\n");
		if (line.empty())
			return;
		if (line.starts_with("CAPA")) {
			peer.Write("+OK\r\nSTLS\r\nUSER\r\nUIDL\r\n.\r\n");
		} else if (line.starts_with("STLS")) {
			peer.Write("+OK begin TLS\r\n");
			return;
		} else {
			peer.Write("-ERR say STLS first\r\n");
		}
	}
}

} // namespace

TEST_CASE("a certificate refused after STLS: no reconnect at once, LastError names it")
{
	ServerTls tls{TestCaDir() + "/ip4-other.crt", TestCaDir() + "/ip4-other.key"};
	tls.before_handshake = UpToStls;
	bool logged_in = false;
	// Room for a second connection, so that an immediate reconnect would be seen.
	LoopbackServer server([&](ServerPeer &) { logged_in = true; }, tls, false, 2);
	const std::string port = std::to_string(server.Port());

	TempDir home;
	WriteFile(home / ".netrc",
		  "machine alice@127.0.0.1:" + port + " password s3cret\n", 0600);
	WriteFile(home / "config.yaml",
		  "defaults:\n  interval: 10m\n  timeout: 10s\naccounts:\n"
		  "  - name: byaddress\n    host: 127.0.0.1\n    port: " +
		      port + "\n    tls: starttls\n    user: alice\n    ca_file: " +
		      TestCaDir() + "/ca.crt\n    maildir: " + home / "Maildir" + "\n",
		  0600);

	Child daemon(DaemonProcess(home.Path(), home / "config.yaml"));

	const std::string reason =
	    "TLS: certificate of 127.0.0.1 rejected: name mismatch: 127.0.0.1 is not "
	    "among the certificate's IP addresses (127.0.0.2)";
	// State 4 is backoff.
	REQUIRE(WaitUntil([] { return AccountProp("byaddress", "State") == "u 4"; }));
	// A reconnect would have followed within milliseconds; give it time to show.
	std::this_thread::sleep_for(1500ms);
	CHECK(server.Accepted() == 1);
	CHECK(AccountProp("byaddress", "State") == "u 4");
	// busctl escapes the apostrophe.
	CHECK(
	    AccountProp("byaddress", "LastError") ==
	    "s \"TLS: certificate of 127.0.0.1 rejected: name mismatch: 127.0.0.1 is not "
	    "among the certificate\\'s IP addresses (127.0.0.2)\"");
	const auto attempt = PropNumber(AccountProp("byaddress", "LastAttempt"));
	const auto next = PropNumber(AccountProp("byaddress", "NextPoll"));
	CHECK(next >= attempt + 29'000'000);
	CHECK(next <= attempt + 35'000'000);

	ProcessOptions status;
	status.argv = {RequireEnv("POPSTREAM_BIN"), "status"};
	status.timeout = 20s;
	const auto shown = Run(status);
	CHECK(shown.exit_code == 0);
	CHECK(shown.out.find(reason) != std::string::npos);

	daemon.Signal(SIGTERM);
	const auto r = daemon.Wait();
	CHECK(r.exit_code == 0);
	CHECK(r.err.find("reconnecting") == std::string::npos);
	CHECK(r.err.find(reason) != std::string::npos);
	server.Stop();
	server.Join();
	CHECK(server.Accepted() == 1);
	CHECK_FALSE(logged_in);
	CHECK(server.ServerName() == "");
}

TEST_CASE("tls_fingerprint reaches the daemon's connection: a wrong pin is LastError")
{
	ServerTls tls{TestCaDir() + "/server.crt", TestCaDir() + "/server.key"};
	tls.before_handshake = UpToStls;
	bool logged_in = false;
	LoopbackServer server([&](ServerPeer &) { logged_in = true; }, tls, false, 2);
	const std::string port = std::to_string(server.Port());

	// The SHA-256 of nothing: matches no certificate. The CA file would trust the
	// server, so only the pin can refuse it.
	const std::string pin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
	TempDir home;
	WriteFile(home / ".netrc",
		  "machine alice@localhost:" + port + " password s3cret\n", 0600);
	WriteFile(home / "config.yaml",
		  "defaults:\n  interval: 10m\n  timeout: 10s\naccounts:\n"
		  "  - name: pinned\n    server: starttls:alice@localhost:" +
		      port + "\n    ca_file: " + TestCaDir() +
		      "/ca.crt\n    tls_fingerprint: [\"" + pin +
		      "\"]\n    maildir: " + home / "Maildir" + "\n",
		  0600);

	Child daemon(DaemonProcess(home.Path(), home / "config.yaml"));
	REQUIRE(WaitUntil([] { return AccountProp("pinned", "State") == "u 4"; }));
	const auto error = AccountProp("pinned", "LastError");
	CHECK(error.starts_with("s \"TLS: certificate of localhost rejected: fingerprint "
				"mismatch: expected " +
				pin + "; the server presented "));
	daemon.Signal(SIGTERM);
	const auto r = daemon.Wait();
	CHECK(r.exit_code == 0);
	server.Stop();
	server.Join();
	CHECK_FALSE(logged_in);
}
