// Issue 11, TLS against a real Dovecot 2.3: `dl starttls:` (STLS on the cleartext port)
// fetching byte-identically, a client certificate that Dovecot requires, and
// `popstream serverinfo` over implicit TLS and STLS, whose fingerprint line pins the
// server for `dl`. Every case starts a server of its own.

#include "DovecotServer.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <memory>

using namespace popstream::test;

namespace {

const std::string user = "alice";
const std::string password = "s3cret";

struct Setup {
	TempDir tmp{0755};
	std::unique_ptr<DovecotServer> server;
	SampleSet sample;
	std::string netrc = tmp / "netrc";
	std::string maildir = tmp / "Maildir";
	std::string pki;

	explicit Setup(unsigned count, unsigned seed, bool require_client_cert = false)
	{
		std::filesystem::create_directory(tmp / "srv");
		DovecotOptions options;
		options.require_client_cert = require_client_cert;
		server = std::make_unique<DovecotServer>(
		    tmp / "srv", std::vector{user + ":" + password}, options);
		pki = server->ca_file.substr(0, server->ca_file.rfind('/'));
		sample = server->Fill(user, count, seed);
		WriteNetrc(netrc, user, password,
			   {server->pop3_port, server->pop3s_port});
	}

	/** STLS on the cleartext port, the certificate checked for pop.example.com. */
	std::string StartTls() const
	{
		return "starttls:" + user +
		       "@127.0.0.1!pop.example.com:" + std::to_string(server->pop3_port);
	}

	std::string Ssl() const
	{
		return user +
		       "@127.0.0.1!pop.example.com:" + std::to_string(server->pop3s_port);
	}

	ProcessResult Popstream(std::vector<std::string> args) const
	{
		return RunPopstream(args, netrc, tmp.Path());
	}

	std::map<std::string, unsigned> Saved() const
	{
		std::map<std::string, unsigned> hashes;
		for (const auto &name : ListDir(maildir + "/new"))
			++hashes[Sha256Hex(ReadFile(maildir + "/new/" + name))];
		return hashes;
	}
};

/** @return the first line a shell command prints (openssl at test time) */
std::string Shell(const std::string &command)
{
	ProcessOptions options;
	options.argv = {"sh", "-c", command};
	const auto r = Run(options);
	REQUIRE_MESSAGE(r.exit_code == 0, command << ": " << r.err);
	return r.out.substr(0, r.out.find('\n'));
}

std::string CertificateFingerprint(const std::string &crt)
{
	const auto line =
	    Shell("openssl x509 -noout -fingerprint -sha256 -in '" + crt + "'");
	return line.substr(line.find('=') + 1);
}

std::string PublicKeyPin(const std::string &crt)
{
	return "sha256//" + Shell("openssl x509 -noout -pubkey -in '" + crt +
				  "' | openssl pkey -pubin -outform der | openssl dgst "
				  "-sha256 -binary | openssl enc -base64");
}

bool Has(const std::string &text, const std::string &needle)
{
	return text.find(needle) != std::string::npos;
}

} // namespace

TEST_SUITE("dovecot-tls")
{
	TEST_CASE("dl starttls: upgrades the cleartext port and fetches byte-identically")
	{
		Setup s(60, 21);
		const auto r = s.Popstream({"dl", "-v", "--ca-file", s.server->ca_file,
					    s.StartTls(), s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(s.Saved() == s.sample.FetchedHashes());
		CHECK(s.server->Count(user) == 0);
		// STLS went out, and the password only after it (the verbose log hides
		// it): with Dovecot's "plain login", auto logs in with AUTH PLAIN.
		const auto stls = r.err.find("C: STLS");
		const auto pass = r.err.find("C: AUTH PLAIN ********");
		REQUIRE(stls != std::string::npos);
		REQUIRE(pass != std::string::npos);
		CHECK(stls < pass);
		CHECK_FALSE(Has(r.err, password));
	}

	TEST_CASE("dl starttls: with the wrong CA never sends the password")
	{
		Setup s(5, 22);
		const auto r = s.Popstream({"dl", "-v", s.StartTls(), s.maildir});
		INFO(Describe(r));
		CHECK(r.exit_code == 69);
		CHECK(Has(r.err,
			  "TLS: certificate of pop.example.com rejected: unknown CA "
			  "(not signed by a trusted authority)"));
		CHECK_FALSE(Has(r.err, "PASS"));
		CHECK_FALSE(Has(r.err, "AUTH"));
		CHECK_FALSE(Has(r.err, "USER"));
		CHECK(s.server->Count(user) == 5);
	}

	TEST_CASE(
	    "a client certificate Dovecot requires: accepted, and refused without it")
	{
		Setup s(30, 23, true);
		const auto without = s.Popstream(
		    {"dl", "--ca-file", s.server->ca_file, s.Ssl(), s.maildir});
		INFO("without: " << Describe(without));
		CHECK(without.exit_code != 0);
		CHECK(s.server->Count(user) == 30);

		const auto r =
		    s.Popstream({"dl", "--ca-file", s.server->ca_file, "--tls-cert",
				 s.pki + "/client.crt", "--tls-key",
				 s.pki + "/client.key", s.Ssl(), s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(s.Saved() == s.sample.FetchedHashes());
		CHECK(s.server->Count(user) == 0);
	}

	TEST_CASE("tls_min_version 1.0 still negotiates 1.2 with Dovecot")
	{
		// Dovecot allows only TLS 1.2 (ssl_min_protocol): a lower minimum
		// changes nothing when both sides can do 1.2.
		Setup s(3, 24);
		const auto r = s.Popstream({"serverinfo", "--tls-min-version", "1.0",
					    "--ca-file", s.server->ca_file, s.Ssl()});
		INFO(Describe(r));
		CHECK(r.exit_code == 0);
		CHECK(Has(r.out, "\nTLS: TLSv1.2, "));
	}

	TEST_CASE("serverinfo over implicit TLS: greeting, capabilities, chain")
	{
		Setup s(1, 25);
		const auto r =
		    s.Popstream({"serverinfo", "--ca-file", s.server->ca_file, s.Ssl()});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(r.err == "");
		const std::string port = std::to_string(s.server->pop3s_port);
		CHECK(r.out.starts_with("server: 127.0.0.1:" + port +
					" (implicit TLS)\n"
					"greeting: +OK "));
		CHECK(Has(r.out, "\nTLS: TLSv1.2, TLS-"));
		CHECK(Has(r.out, "\ncertificate trusted\ncertificate 0 (the server's):\n"
				 "  subject: CN=pop.example.com\n"
				 "  issuer:  CN=popstream test CA\n"));
		const std::string crt = s.pki + "/server.crt";
		CHECK(Has(r.out, "  tls_fingerprint: " + CertificateFingerprint(crt) +
				     "\n  tls_fingerprint: " + PublicKeyPin(crt) + "\n"));
		CHECK(Has(r.out,
			  "\n  PIPELINING:     yes\n  UIDL:           yes\n"
			  "  TOP:            yes\n  USER:           yes\n  SASL:  "));
		CHECK(Has(r.out, "\n  RESP-CODES:     yes\n  STLS:           no\n"));
		CHECK_FALSE(Has(r.out + r.err, password));
	}

	TEST_CASE("serverinfo starttls: STLS, then CAPA again; an untrusted CA is shown")
	{
		Setup s(40, 26);
		// No --ca-file: the test CA is not in the system store.
		const auto info = s.Popstream({"serverinfo", s.StartTls()});
		INFO(Describe(info));
		REQUIRE(info.exit_code == 0);
		const std::string port = std::to_string(s.server->pop3_port);
		CHECK(info.out.starts_with("server: 127.0.0.1:" + port +
					   " (STLS)\n"
					   "greeting: +OK "));
		CHECK(Has(info.out, "\nbefore STLS, CAPA said (forgotten): "));
		CHECK(Has(info.out, ", STLS"));
		CHECK(Has(info.out,
			  "\ncertificate NOT trusted: unknown CA (not signed by a "
			  "trusted authority)\n"));
		// Over TLS, Dovecot no longer offers STLS: the second CAPA is what shows.
		CHECK(Has(info.out, "\n  STLS:           no\n"));

		// Paste the public key line: dl trusts that server, and nothing else.
		const std::string marker = "  tls_fingerprint: sha256//";
		const auto at = info.out.find(marker);
		REQUIRE(at != std::string::npos);
		const std::string pin =
		    info.out.substr(at + marker.size() - 8,
				    info.out.find('\n', at) - at - marker.size() + 8);
		CHECK(pin == PublicKeyPin(s.pki + "/server.crt"));
		const auto r = s.Popstream(
		    {"dl", "--tls-fingerprint", pin, s.StartTls(), s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(s.Saved() == s.sample.FetchedHashes());
		CHECK(s.server->Count(user) == 0);
	}
}
