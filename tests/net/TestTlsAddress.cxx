// `popstream dl` over implicit TLS to a server named by its IP address (issue 9, part 5):
// no SNI (RFC 6066 §3), and the certificate's subjectAltName iPAddress entries are what
// the address is checked against (RFC 6125 §6.2.1). The server is LoopbackServer with
// certificates from make-test-ca, answering as a POP3 server with an empty maildrop.
#include "LoopbackServer.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <algorithm>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

/** EX_UNAVAILABLE (sysexits.h): what `dl` exits with when the server is refused. */
constexpr int kExitUnavailable = 69;

/** Answers RFC 1939 commands for an empty maildrop until QUIT: enough for `dl` to log
 * in, list and quit. */
void EmptyMaildrop(ServerPeer &peer)
{
	ServeEmptyMaildrop(peer, "+OK\r\nUSER\r\nUIDL\r\n.\r\n");
}

/**
 * Runs `popstream dl --ca-file CA ssl:alice@HOST[!SNI]:PORT MAILDIR` with a .netrc for
 * it.
 * @param host as written in the spec ("127.0.0.1", "[::1]")
 * @param sni the name to check the certificate against instead of @p host, if any
 */
ProcessResult Dl(const TempDir &home, const std::string &host, std::uint16_t port,
		 const std::string &sni = "")
{
	const std::string at = "alice@" + host;
	const std::string port_text = ":" + std::to_string(port);
	WriteFile(home / ".netrc", "machine " + at + port_text + " password s3cret\n",
		  0600);
	ProcessOptions options;
	options.argv = {RequireEnv("POPSTREAM_BIN"),
			"dl",
			"--timeout",
			"10",
			"--ca-file",
			TestCaDir() + "/ca.crt",
			"ssl:" + at + (sni.empty() ? "" : "!" + sni) + port_text,
			home / "Maildir"};
	options.env = {"HOME=" + home.Path(), "NETRC", "XDG_STATE_HOME",
		       "XDG_CONFIG_HOME"};
	options.timeout = 60s;
	return Run(options);
}

ServerTls Certificate(const std::string &name)
{
	return {TestCaDir() + "/" + name + ".crt", TestCaDir() + "/" + name + ".key"};
}

} // namespace

TEST_CASE("dl to an IP address: its certificate names the address, no SNI is sent")
{
	struct Case {
		const char *cert;
		bool ipv6;
		std::string host;
	};
	for (const Case &c :
	     {Case{"ip4", false, "127.0.0.1"}, Case{"ip6", true, "[::1]"}}) {
		CAPTURE(c.host);
		if (c.ipv6 && !HaveIpv6Loopback()) {
			MESSAGE("no IPv6 loopback here; skipped");
			continue;
		}
		TempDir home;
		LoopbackServer server(EmptyMaildrop, Certificate(c.cert), c.ipv6);
		const ProcessResult r = Dl(home, c.host, server.Port());
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == 0);
		server.Join();
		CHECK(server.Failure() == "");
		CHECK(server.HandshakeError() == "");
		CHECK(server.ServerName() == "");
		CHECK(r.err.find("s3cret") == std::string::npos);
	}
}

TEST_CASE("dl to an IP address the certificate does not list: refused, exit 69")
{
	struct Case {
		const char *cert;
		std::string reason;
	};
	const Case cases[] = {
	    {"ip4-other", "name mismatch: 127.0.0.1 is not among the certificate's IP "
			  "addresses (127.0.0.2)"},
	    {"server", "name mismatch: 127.0.0.1 is not among the certificate's IP "
		       "addresses (none), and its DNS names (pop.example.com, localhost) "
		       "never match an IP address"},
	};
	for (const Case &c : cases) {
		CAPTURE(c.cert);
		TempDir home;
		bool logged_in = false;
		// Room for a second connection, so that a retry would be seen.
		LoopbackServer server([&](ServerPeer &) { logged_in = true; },
				      Certificate(c.cert), false, 2);
		const ProcessResult r = Dl(home, "127.0.0.1", server.Port());
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == kExitUnavailable);
		CHECK(r.err.find("TLS: certificate of 127.0.0.1 rejected: " + c.reason +
				 "\n") != std::string::npos);
		// dl has exited: a retry would be queued by now.
		server.Stop();
		server.Join();
		CHECK_FALSE(logged_in);
		CHECK(server.HandshakeError() != "");
		CHECK(server.ServerName() == "");
		// One try: a certificate does not change within a run.
		CHECK(server.Accepted() == 1);
	}
}

TEST_CASE("dl with a DNS name as the TLS name still sends it as SNI")
{
	TempDir home;
	LoopbackServer server(EmptyMaildrop, Certificate("server"));
	const ProcessResult r = Dl(home, "127.0.0.1", server.Port(), "pop.example.com");
	INFO("stdout: " << r.out << "\nstderr: " << r.err);
	CHECK(r.exit_code == 0);
	server.Join();
	CHECK(server.ServerName() == "pop.example.com");
}
