// Issue 11, TLS: `popstream dl` and `popstream serverinfo` against LoopbackServer with
// the certificates of make-test-ca (valid, expired, not yet valid, wrong name,
// self-signed). Each refusal is checked by its exact line and exit code; pinning by
// the fingerprints openssl computes for the same files, in both forms.
#include "LoopbackServer.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <unistd.h>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitUnavailable = 69;
constexpr int kExitConfig = 78;

/** Answers RFC 1939 commands for an empty maildrop until QUIT (and CAPA for
 * serverinfo): enough for `dl` to log in, list and quit. */
void EmptyMaildrop(ServerPeer &peer)
{
	ServeEmptyMaildrop(peer, "+OK\r\nUSER\r\nUIDL\r\nTOP\r\nIMPLEMENTATION loopback "
				 "test\r\n.\r\n");
}

ServerTls Certificate(const std::string &name)
{
	return {TestCaDir() + "/" + name + ".crt", TestCaDir() + "/" + name + ".key"};
}

/** Runs `popstream ARGS...` with HOME = @p home and a netrc for alice@localhost. */
ProcessResult Popstream(const TempDir &home, std::uint16_t port,
			std::vector<std::string> args)
{
	WriteFile(home / ".netrc",
		  "machine alice@localhost:" + std::to_string(port) +
		      " password s3cret\n",
		  0600);
	ProcessOptions options;
	options.argv = {RequireEnv("POPSTREAM_BIN")};
	options.argv.insert(options.argv.end(), args.begin(), args.end());
	options.env = {"HOME=" + home.Path(), "NETRC", "XDG_STATE_HOME",
		       "XDG_CONFIG_HOME"};
	options.timeout = 60s;
	return Run(options);
}

std::string Spec(std::uint16_t port)
{
	return "ssl:alice@localhost:" + std::to_string(port);
}

/** @return the first line of a shell pipeline's output (openssl at test time) */
std::string Shell(const std::string &command)
{
	ProcessOptions options;
	options.argv = {"sh", "-c", command};
	const auto r = Run(options);
	REQUIRE_MESSAGE(r.exit_code == 0, command << ": " << r.err);
	return r.out.substr(0, r.out.find('\n'));
}

/** "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints it. */
std::string CertificateFingerprint(const std::string &name)
{
	const auto line = Shell("openssl x509 -noout -fingerprint -sha256 -in '" +
				TestCaDir() + "/" + name + ".crt'");
	return line.substr(line.find('=') + 1);
}

/** "sha256//BASE64" of the public key, as curl's documentation computes it. */
std::string PublicKeyPin(const std::string &name)
{
	return "sha256//" +
	       Shell("openssl x509 -noout -pubkey -in '" + TestCaDir() + "/" + name +
		     ".crt' | openssl pkey -pubin -outform der | openssl dgst "
		     "-sha256 -binary | openssl enc -base64");
}

/** A pin that matches nothing: the public key pin of another certificate. */
const char *const kWrongHex = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
			      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";

} // namespace

TEST_CASE("every certificate failure names its cause, exit 69, nothing sent")
{
	struct Case {
		const char *cert;
		std::string tls_name;
		std::string reason;
	};
	const Case cases[] = {
	    {"expired", "pop.example.com", "certificate expired on 2021-01-01"},
	    {"future", "pop.example.com",
	     "certificate not yet valid (valid from 2090-01-01)"},
	    {"server", "imap.example.com",
	     "name mismatch (certificate is for pop.example.com, localhost)"},
	    {"self-signed", "localhost",
	     "unknown CA (not signed by a trusted authority)"},
	};
	for (const Case &c : cases) {
		CAPTURE(c.cert);
		TempDir home;
		bool logged_in = false;
		LoopbackServer server([&](ServerPeer &) { logged_in = true; },
				      Certificate(c.cert));
		const auto r = Popstream(home, server.Port(),
					 {"dl", "--timeout", "10", "--ca-file",
					  TestCaDir() + "/ca.crt",
					  "ssl:alice@localhost!" + c.tls_name + ":" +
					      std::to_string(server.Port()),
					  home / "Maildir"});
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == kExitUnavailable);
		CHECK(r.err ==
		      "popstream: alice@localhost:" + std::to_string(server.Port()) +
			  ": TLS: certificate of " + c.tls_name +
			  " rejected: " + c.reason + "\n");
		server.Join();
		CHECK_FALSE(logged_in);
	}
}

TEST_CASE("a pinned fingerprint replaces the CA checks: both forms, any case")
{
	const std::string hex = CertificateFingerprint("self-signed");
	const std::string pin = PublicKeyPin("self-signed");
	REQUIRE(hex.size() == 95);
	REQUIRE(pin.size() == 52);
	std::string lower_bare;
	for (const char ch : hex)
		if (ch != ':')
			lower_bare += static_cast<char>(std::tolower(ch));
	for (const std::string &fingerprint : {hex, pin, lower_bare}) {
		CAPTURE(fingerprint);
		TempDir home;
		LoopbackServer server(EmptyMaildrop, Certificate("self-signed"));
		const auto r =
		    Popstream(home, server.Port(),
			      {"dl", "--timeout", "10", "--tls-fingerprint", fingerprint,
			       Spec(server.Port()), home / "Maildir"});
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == 0);
		server.Join();
		CHECK(server.Failure() == "");
	}
	// A pin is all that is checked: an expired certificate for another name passes.
	TempDir home;
	LoopbackServer server(EmptyMaildrop, Certificate("expired"));
	const auto r = Popstream(home, server.Port(),
				 {"dl", "--timeout", "10", "--tls-fingerprint", kWrongHex,
				  "--tls-fingerprint", CertificateFingerprint("expired"),
				  Spec(server.Port()), home / "Maildir"});
	INFO("stdout: " << r.out << "\nstderr: " << r.err);
	CHECK(r.exit_code == 0);
}

TEST_CASE("a wrong pin is refused showing what was expected and what was presented")
{
	TempDir home;
	bool logged_in = false;
	LoopbackServer server([&](ServerPeer &) { logged_in = true; },
			      Certificate("server"));
	const std::string wrong_pin = PublicKeyPin("self-signed");
	const auto r =
	    Popstream(home, server.Port(),
		      {"dl", "--timeout", "10", "--ca-file", TestCaDir() + "/ca.crt",
		       "--tls-fingerprint", kWrongHex, "--tls-fingerprint", wrong_pin,
		       Spec(server.Port()), home / "Maildir"});
	INFO("stdout: " << r.out << "\nstderr: " << r.err);
	CHECK(r.exit_code == kExitUnavailable);
	// Even a certificate the CA store trusts must match the pin.
	CHECK(r.err ==
	      "popstream: alice@localhost:" + std::to_string(server.Port()) +
		  ": TLS: certificate of localhost rejected: fingerprint mismatch: "
		  "expected " +
		  std::string(kWrongHex) + " or " + wrong_pin +
		  "; the server presented " + CertificateFingerprint("server") +
		  " (public key " + PublicKeyPin("server") + ")\n");
	server.Join();
	CHECK_FALSE(logged_in);
}

TEST_CASE("bad TLS flags: one line, exit 64 or 78, before connecting")
{
	TempDir home;
	auto dl = [&](std::vector<std::string> flags) {
		flags.insert(flags.begin(), "dl");
		flags.push_back("ssl:alice@localhost:1");
		flags.push_back(home / "Maildir");
		return Popstream(home, 1, flags);
	};
	auto r = dl({"--tls-min-version", "1.3"});
	CHECK(r.exit_code == kExitUsage);
	CHECK(r.err == "popstream: dl: --tls-min-version: TLS 1.3 is not available: this "
		       "build supports TLS up to 1.2 (mbedTLS 2.28)\n");
	r = dl({"--tls-fingerprint", "AB:CD"});
	CHECK(r.exit_code == kExitUsage);
	CHECK(r.err.starts_with(
	    "popstream: dl: --tls-fingerprint: bad TLS fingerprint "
	    "\"AB:CD\": shorter than a SHA-256 (4 hex digits, not 64)"));

	// A private key that others can read is refused, as netrc is.
	const std::string key = home / "client.key";
	WriteFile(key, "x", 0644);
	r = dl({"--tls-cert", TestCaDir() + "/client.crt", "--tls-key", key});
	CHECK(r.exit_code == kExitConfig);
	CHECK(r.err == "popstream: dl: TLS: key file '" + key +
			   "' must not be accessible by group or others (mode 0644); run "
			   "chmod 600 " +
			   key + "\n");
	r = dl({"--tls-cert", home / "missing.crt", "--tls-key", key});
	CHECK(r.exit_code == kExitConfig);
	CHECK(r.err == "popstream: dl: TLS: cannot read client certificate '" +
			   (home / "missing.crt") + "': no such file or directory\n");
	// The key of another certificate.
	r = dl({"--tls-cert", TestCaDir() + "/client.crt", "--tls-key",
		TestCaDir() + "/server.key"});
	CHECK(r.exit_code == kExitConfig);
	CHECK(r.err == "popstream: dl: TLS: key file '" + TestCaDir() +
			   "/server.key' does not belong to the client certificate '" +
			   TestCaDir() + "/client.crt'\n");
	// A CA file that is there but holds no certificate: before connecting too.
	r = dl({"--ca-file", "/etc/hostname"});
	CHECK(r.exit_code == kExitConfig);
	CHECK(r.err.starts_with("popstream: dl: TLS: CA file '/etc/hostname' holds no "
				"usable certificate"));
	// A pin or a client certificate on a cleartext spec would check nothing.
	r = Popstream(home, 1,
		      {"dl", "--tls-fingerprint",
		       "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		       "tcp:alice@localhost:1", home / "Maildir"});
	CHECK(r.exit_code == kExitUsage);
	CHECK(r.err == "popstream: dl: --tls-fingerprint needs TLS, but "
		       "tcp:alice@localhost:1 is cleartext (use ssl: or starttls:)\n");
	// EXTERNAL logs in with a certificate: without one, nothing can work.
	r = dl({"--auth", "external"});
	CHECK(r.exit_code == kExitUsage);
	CHECK(r.err == "popstream: dl: --auth external needs --tls-cert and --tls-key "
		       "(EXTERNAL logs in with the TLS client certificate)\n");
	CHECK(access((home / "Maildir").c_str(), F_OK) != 0);
}

TEST_CASE("serverinfo shows an untrusted certificate; its line, pasted, makes dl work")
{
	TempDir home;
	LoopbackServer server(EmptyMaildrop, Certificate("self-signed"));
	const auto info =
	    Popstream(home, server.Port(), {"serverinfo", Spec(server.Port())});
	INFO("stdout: " << info.out << "\nstderr: " << info.err);
	CHECK(info.exit_code == 0);
	CHECK(info.err == "");
	server.Join();
	const std::string port = std::to_string(server.Port());
	CHECK(info.out.find("server: localhost:" + port +
			    " (implicit TLS)\n"
			    "greeting: +OK ready\n"
			    "TLS: TLSv1.2, ") == 0);
	CHECK(info.out.find("\ncertificate NOT trusted: unknown CA (not signed by a "
			    "trusted authority)\n"
			    "certificate 0 (the server's):\n"
			    "  subject: CN=localhost\n"
			    "  issuer:  CN=localhost\n") != std::string::npos);
	const std::string hex_line =
	    "  tls_fingerprint: " + CertificateFingerprint("self-signed");
	const std::string pin_line = "  tls_fingerprint: " + PublicKeyPin("self-signed");
	CHECK(info.out.find(hex_line + "\n" + pin_line + "\n") != std::string::npos);
	CHECK(info.out.find("  TOP:            yes\n") != std::string::npos);
	CHECK(info.out.find("  IMPLEMENTATION: loopback test\n") != std::string::npos);
	CHECK(info.out.find("s3cret") == std::string::npos);

	// Paste the line's value.
	for (const auto &line : {hex_line, pin_line}) {
		const std::string value = line.substr(line.find(": ") + 2);
		CAPTURE(value);
		TempDir dl_home;
		LoopbackServer again(EmptyMaildrop, Certificate("self-signed"));
		const auto r =
		    Popstream(dl_home, again.Port(),
			      {"dl", "--timeout", "10", "--tls-fingerprint", value,
			       Spec(again.Port()), dl_home / "Maildir"});
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == 0);
	}
}

TEST_CASE("serverinfo sends no USER, PASS or AUTH, and says when it is trusted")
{
	TempDir home;
	std::string received;
	LoopbackServer server(
	    [&](ServerPeer &peer) {
		    peer.Write("+OK hi\r\n");
		    received = peer.ReadUntil("CAPA\r\n");
		    peer.Write("-ERR what?\r\n");
		    received += peer.ReadUntil("QUIT\r\n");
		    peer.Write("+OK bye\r\n");
		    peer.CloseNotify();
	    },
	    Certificate("server"));
	const auto r = Popstream(
	    home, server.Port(),
	    {"serverinfo", "--ca-file", TestCaDir() + "/ca.crt", Spec(server.Port())});
	INFO("stdout: " << r.out << "\nstderr: " << r.err);
	server.Join();
	CHECK(r.exit_code == 0);
	CHECK(received == "CAPA\r\nQUIT\r\n");
	CHECK(r.out.find("\ncertificate trusted\n") != std::string::npos);
	CHECK(
	    r.out.find("capabilities: none (CAPA refused: an RFC 1939-only server)\n") !=
	    std::string::npos);
	CHECK(r.out.find("  subject: CN=pop.example.com\n"
			 "  issuer:  CN=popstream test CA\n") != std::string::npos);
}

TEST_CASE("tls_min_version: a TLS 1.1 server is refused by default, accepted with 1.1")
{
	ServerTls old = Certificate("server");
	old.max_tls_minor = 2; // TLS 1.1
	{
		TempDir home;
		bool logged_in = false;
		LoopbackServer server([&](ServerPeer &) { logged_in = true; }, old);
		const auto r = Popstream(home, server.Port(),
					 {"dl", "--timeout", "10", "--ca-file",
					  TestCaDir() + "/ca.crt", Spec(server.Port()),
					  home / "Maildir"});
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == kExitUnavailable);
		CHECK(r.err ==
		      "popstream: alice@localhost:" + std::to_string(server.Port()) +
			  ": TLS handshake with localhost:" +
			  std::to_string(server.Port()) +
			  " failed: the server offers only TLS versions older than 1.2 "
			  "(tls_min_version, --tls-min-version)\n");
		server.Join();
		CHECK_FALSE(logged_in);
	}
	{
		TempDir home;
		LoopbackServer server(EmptyMaildrop, old);
		const auto r = Popstream(home, server.Port(),
					 {"dl", "--timeout", "10", "--ca-file",
					  TestCaDir() + "/ca.crt", "--tls-min-version",
					  "1.1", Spec(server.Port()), home / "Maildir"});
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == 0);
		server.Join();
		CHECK(server.Failure() == "");
	}
	{
		// serverinfo says which version was negotiated.
		TempDir home;
		LoopbackServer server(EmptyMaildrop, old);
		const auto r =
		    Popstream(home, server.Port(),
			      {"serverinfo", "--ca-file", TestCaDir() + "/ca.crt",
			       "--tls-min-version", "1.0", Spec(server.Port())});
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == 0);
		CHECK(r.out.find("\nTLS: TLSv1.1, ") != std::string::npos);
	}
}
