// Issue 13, TLS session resumption against a real Dovecot 2.3: `dl` keeps the session
// in STATE_DIR/tls-session (mode 0600) and the next run resumes it; a Dovecot that
// does not resume costs nothing but the full handshake; a changed CA file or pin, or a
// server whose certificate changed, never gets past the certificate check through a
// saved session. Every case starts a server of its own.

#include "DovecotServer.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>
#include <mbedtls/base64.h>

#include <filesystem>
#include <map>
#include <memory>
#include <sys/stat.h>

using namespace popstream::test;

namespace {

const std::string user = "alice";
const std::string password = "s3cret";
const std::string resumed = "TLS session resumed";
const std::string full = "TLS full handshake, certificate verified";

struct Setup {
	TempDir tmp{0755};
	std::unique_ptr<DovecotServer> server;
	std::map<std::string, unsigned> expected;
	std::string netrc = tmp / "netrc";
	std::string maildir = tmp / "Maildir";
	std::string pki;
	unsigned seed = 40;

	explicit Setup(bool resumable)
	{
		std::filesystem::create_directory(tmp / "srv");
		DovecotOptions options;
		options.tls_resumable = resumable;
		server = std::make_unique<DovecotServer>(
		    tmp / "srv", std::vector{user + ":" + password}, options);
		pki = server->ca_file.substr(0, server->ca_file.rfind('/'));
		WriteNetrc(netrc, user, password,
			   {server->pop3_port, server->pop3s_port});
	}

	/** Puts @p count fresh messages on the server and expects them saved. */
	void Fill(unsigned count)
	{
		for (const auto &[hash, n] :
		     server->Fill(user, count, ++seed).FetchedHashes())
			expected[hash] += n;
	}

	std::string Ssl() const
	{
		return user +
		       "@127.0.0.1!pop.example.com:" + std::to_string(server->pop3s_port);
	}

	std::string StartTls() const
	{
		return "starttls:" + user +
		       "@127.0.0.1!pop.example.com:" + std::to_string(server->pop3_port);
	}

	/** dl -v with @p trust (--ca-file or --tls-fingerprint ...) of @p spec. */
	ProcessResult Dl(const std::vector<std::string> &trust,
			 const std::string &spec) const
	{
		std::vector<std::string> args{"dl", "-v"};
		args.insert(args.end(), trust.begin(), trust.end());
		args.insert(args.end(), {spec, maildir});
		return RunPopstream(args, netrc, tmp.Path());
	}

	/** @return the tls-session file of the account with @p port, or "" */
	std::string SessionFile(unsigned port) const
	{
		const std::string suffix = "@127.0.0.1:" + std::to_string(port);
		for (const auto &entry :
		     std::filesystem::recursive_directory_iterator(tmp.Path()))
			if (entry.path().filename() == "tls-session" &&
			    entry.path().parent_path().filename().string().ends_with(
				suffix))
				return entry.path().string();
		return {};
	}

	std::map<std::string, unsigned> Saved() const
	{
		std::map<std::string, unsigned> hashes;
		for (const auto &name : ListDir(maildir + "/new"))
			++hashes[Sha256Hex(ReadFile(maildir + "/new/" + name))];
		return hashes;
	}
};

bool Has(const std::string &text, const std::string &needle)
{
	return text.find(needle) != std::string::npos;
}

std::string CertificateFingerprint(const std::string &crt)
{
	ProcessOptions options;
	options.argv = {"openssl", "x509", "-noout", "-fingerprint",
			"-sha256", "-in",  crt};
	const auto r = Run(options);
	REQUIRE_MESSAGE(r.exit_code == 0, r.err);
	const std::string line = r.out.substr(0, r.out.find('\n'));
	return line.substr(line.find('=') + 1);
}

unsigned Mode(const std::string &path)
{
	struct stat st {};
	REQUIRE(stat(path.c_str(), &st) == 0);
	return st.st_mode & 07777;
}

/** @return the base64 session line of a tls-session file */
std::string SessionLine(const std::string &path)
{
	const std::string text = ReadFile(path);
	const auto at = text.find("\nsession ");
	REQUIRE(at != std::string::npos);
	return text.substr(at + 9, text.find('\n', at + 1) - at - 9);
}

/** Flips one octet of the session a tls-session file holds, at @p offset of its
 * decoded form, keeping the file well formed: a damage only the handshake finds. */
void DamageSession(const std::string &path, std::size_t offset)
{
	const std::string line = SessionLine(path);
	std::string raw(line.size(), '\0');
	std::size_t n = 0;
	REQUIRE(mbedtls_base64_decode(
		    reinterpret_cast<unsigned char *>(raw.data()), raw.size(), &n,
		    reinterpret_cast<const unsigned char *>(line.data()),
		    line.size()) == 0);
	raw.resize(n);
	REQUIRE(offset < raw.size());
	raw[offset] = static_cast<char>(raw[offset] ^ 0x5a);
	std::string encoded(line.size() + 4, '\0');
	REQUIRE(mbedtls_base64_encode(reinterpret_cast<unsigned char *>(encoded.data()),
				      encoded.size(), &n,
				      reinterpret_cast<const unsigned char *>(raw.data()),
				      raw.size()) == 0);
	encoded.resize(n);
	std::string text = ReadFile(path);
	text.replace(text.find(line), line.size(), encoded);
	WriteFile(path, text, 0600);
}

} // namespace

TEST_SUITE("dovecot-tls-resume")
{
	TEST_CASE("a damaged saved session costs one full handshake in the same run")
	{
		// mbedtls_ssl_session_save() puts the master secret after the version
		// header, the start time, the cipher suite and the session id: offset 60
		// is in it. The file still parses; only the server's Finished, whose MAC
		// no longer checks, shows the damage.
		Setup s(true);
		s.Fill(5);
		const std::vector<std::string> trust{"--ca-file", s.server->ca_file};
		const auto first = s.Dl(trust, s.Ssl());
		INFO("first: " << Describe(first));
		REQUIRE(first.exit_code == 0);
		const std::string file = s.SessionFile(s.server->pop3s_port);
		REQUIRE_FALSE(file.empty());
		DamageSession(file, 60);

		s.Fill(5);
		const auto second = s.Dl(trust, s.Ssl());
		INFO("second: " << Describe(second));
		CHECK(second.exit_code == 0);
		CHECK(Has(second.err, "with the saved TLS session offered; dropped it, "
				      "connecting again with a full handshake"));
		CHECK(Has(second.err, full));
		CHECK_FALSE(Has(second.err, resumed));
		CHECK(s.Saved() == s.expected);
		CHECK(s.server->Count(user) == 0);
		// The fresh session replaced the damaged one, and resumes.
		s.Fill(5);
		const auto third = s.Dl(trust, s.Ssl());
		INFO("third: " << Describe(third));
		CHECK(third.exit_code == 0);
		CHECK(Has(third.err, resumed));
		CHECK(s.Saved() == s.expected);
	}

	TEST_CASE(
	    "resumption: the second dl resumes, the data is byte-exact, the file 0600")
	{
		Setup s(true);
		s.Fill(20);
		const std::vector<std::string> trust{"--ca-file", s.server->ca_file};
		const auto first = s.Dl(trust, s.Ssl());
		INFO("first: " << Describe(first));
		REQUIRE(first.exit_code == 0);
		CHECK(Has(first.err, full));
		CHECK_FALSE(Has(first.err, resumed));
		const std::string file = s.SessionFile(s.server->pop3s_port);
		REQUIRE_FALSE(file.empty());
		CHECK(Mode(file) == 0600);
		const std::string secret = SessionLine(file);
		CHECK(secret.size() > 40);
		CHECK_FALSE(Has(first.err, secret));

		s.Fill(15);
		const auto second = s.Dl(trust, s.Ssl());
		INFO("second: " << Describe(second));
		REQUIRE(second.exit_code == 0);
		CHECK(Has(second.err, resumed));
		CHECK_FALSE(Has(second.err, full));
		// CAPA went out before the handshake was done, to come back with the
		// greeting: the round trip resumption saves.
		const auto early_capa = second.err.find(": C: CAPA\n");
		REQUIRE(early_capa != std::string::npos);
		CHECK(early_capa < second.err.find(resumed));
		CHECK_FALSE(Has(second.err, secret));
		CHECK(s.Saved() == s.expected);
		CHECK(s.server->Count(user) == 0);
		CHECK(Mode(file) == 0600);

		// STLS resumes too, under a key (and a state directory) of its own.
		s.Fill(5);
		const auto stls1 = s.Dl(trust, s.StartTls());
		INFO("stls1: " << Describe(stls1));
		REQUIRE(stls1.exit_code == 0);
		CHECK(Has(stls1.err, full));
		s.Fill(5);
		const auto stls2 = s.Dl(trust, s.StartTls());
		INFO("stls2: " << Describe(stls2));
		REQUIRE(stls2.exit_code == 0);
		CHECK(Has(stls2.err, resumed));
		CHECK(s.Saved() == s.expected);
	}

	TEST_CASE("resumption refused: a Dovecot that never resumes gets full handshakes")
	{
		Setup s(false);
		const std::vector<std::string> trust{"--ca-file", s.server->ca_file};
		for (int run = 0; run < 3; ++run) {
			s.Fill(10);
			const auto r = s.Dl(trust, s.Ssl());
			INFO("run " << run << ": " << Describe(r));
			REQUIRE(r.exit_code == 0);
			CHECK(Has(r.err, full));
			CHECK_FALSE(Has(r.err, resumed));
			// From the second run on CAPA is sent early (a session is
			// offered); Dovecot answers it after the full handshake all the
			// same.
			CHECK(Has(r.err, ": C: CAPA\n"));
			// A session was offered (from the second run on) and refused; the
			// new one replaces it.
			CHECK_FALSE(s.SessionFile(s.server->pop3s_port).empty());
		}
		CHECK(s.Saved() == s.expected);
		CHECK(s.server->Count(user) == 0);
	}

	TEST_CASE("a changed CA file or pin drops the saved session; the check runs")
	{
		Setup s(true);
		const std::string pin = CertificateFingerprint(s.pki + "/server.crt");
		s.Fill(5);
		REQUIRE(s.Dl({"--ca-file", s.server->ca_file}, s.Ssl()).exit_code == 0);
		REQUIRE_FALSE(s.SessionFile(s.server->pop3s_port).empty());

		// A CA that did not sign the server: were the session resumed, no
		// certificate would be checked and this would succeed.
		s.Fill(5);
		const auto other = s.Dl({"--ca-file", s.pki + "/other-ca.crt"}, s.Ssl());
		INFO("other CA: " << Describe(other));
		CHECK(other.exit_code == 69);
		CHECK(Has(other.err, "unknown CA"));
		CHECK_FALSE(Has(other.err, resumed));
		CHECK(s.server->Count(user) == 5);
		CHECK(s.SessionFile(s.server->pop3s_port).empty());

		// Back to the right CA: a full handshake (the session was dropped).
		const auto again = s.Dl({"--ca-file", s.server->ca_file}, s.Ssl());
		INFO("again: " << Describe(again));
		REQUIRE(again.exit_code == 0);
		CHECK(Has(again.err, full));

		// The same CA under another path counts as a change too.
		std::filesystem::copy_file(s.server->ca_file, s.tmp / "ca-copy.crt");
		s.Fill(3);
		const auto copy = s.Dl({"--ca-file", s.tmp / "ca-copy.crt"}, s.Ssl());
		INFO("copy: " << Describe(copy));
		REQUIRE(copy.exit_code == 0);
		CHECK(Has(copy.err, full));

		// A pin instead: full, then resumed under the same pin.
		s.Fill(3);
		const auto pinned = s.Dl({"--tls-fingerprint", pin}, s.Ssl());
		INFO("pinned: " << Describe(pinned));
		REQUIRE(pinned.exit_code == 0);
		CHECK(Has(pinned.err, full));
		s.Fill(3);
		const auto pinned2 = s.Dl({"--tls-fingerprint", pin}, s.Ssl());
		INFO("pinned2: " << Describe(pinned2));
		REQUIRE(pinned2.exit_code == 0);
		CHECK(Has(pinned2.err, resumed));

		// Another pin: the saved session is not used, and the server's
		// certificate does not match it.
		s.Fill(3);
		const std::string wrong =
		    CertificateFingerprint(s.pki + "/self-signed.crt");
		const auto mismatch = s.Dl({"--tls-fingerprint", wrong}, s.Ssl());
		INFO("mismatch: " << Describe(mismatch));
		CHECK(mismatch.exit_code == 69);
		CHECK(Has(mismatch.err, "fingerprint mismatch"));
		CHECK_FALSE(Has(mismatch.err, resumed));
		CHECK(s.server->Count(user) == 3);
	}

	TEST_CASE(
	    "a server whose certificate changed is verified again, never resumed into")
	{
		Setup s(true);
		const std::string old_pin = CertificateFingerprint(s.pki + "/server.crt");
		s.Fill(5);
		const std::vector<std::string> pinned{"--tls-fingerprint", old_pin};
		REQUIRE(s.Dl(pinned, s.Ssl()).exit_code == 0);
		s.Fill(5);
		const auto resumed_run = s.Dl(pinned, s.Ssl());
		INFO("resumed: " << Describe(resumed_run));
		REQUIRE(resumed_run.exit_code == 0);
		REQUIRE(Has(resumed_run.err, resumed));
		REQUIRE_FALSE(s.SessionFile(s.server->pop3s_port).empty());

		// Same trust (the test CA), new key and certificate.
		s.server->Restart(true);
		const std::string new_pin = CertificateFingerprint(s.pki + "/server.crt");
		REQUIRE(new_pin != old_pin);

		// Pinned to the old certificate: rejected with a clear error, though a
		// session verified with that pin was saved.
		s.Fill(4);
		const auto stale = s.Dl(pinned, s.Ssl());
		INFO("stale: " << Describe(stale));
		CHECK(stale.exit_code == 69);
		CHECK(Has(stale.err, "fingerprint mismatch: expected " + old_pin +
					 "; the server presented " + new_pin));
		CHECK_FALSE(Has(stale.err, resumed));
		CHECK_FALSE(Has(stale.err, "PASS"));
		CHECK_FALSE(Has(stale.err, "AUTH"));
		CHECK(s.server->Count(user) == 4);
		CHECK(s.SessionFile(s.server->pop3s_port).empty());

		// Trusting the CA: the new certificate is verified in a full handshake,
		// and the session made then is resumed next time.
		const std::vector<std::string> ca{"--ca-file", s.server->ca_file};
		const auto verified = s.Dl(ca, s.Ssl());
		INFO("verified: " << Describe(verified));
		REQUIRE(verified.exit_code == 0);
		CHECK(Has(verified.err, full));
		s.Fill(2);
		REQUIRE(s.Dl(ca, s.Ssl()).exit_code == 0);
		s.server->Restart(true);
		s.Fill(2);
		const auto after = s.Dl(ca, s.Ssl());
		INFO("after restart: " << Describe(after));
		REQUIRE(after.exit_code == 0);
		CHECK(Has(after.err, full));
		CHECK_FALSE(Has(after.err, resumed));
		CHECK(s.Saved() == s.expected);
	}
}
