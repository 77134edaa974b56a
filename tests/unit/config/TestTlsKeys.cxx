// Issue 11's TLS keys: tls_fingerprint (one or a list), tls_min_version, tls_cert and
// tls_key, from YAML to the options the connection takes (Account::Tls()).
#include "ConfigTestHelpers.hxx"
#include "TempDir.hxx"
#include "config/AccountKeys.hxx"
#include "config/LoadConfig.hxx"

#include <doctest/doctest.h>

using namespace popstream;
using namespace popstream::config;
using popstream::test::ErrorOf;
using popstream::test::Parse;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

const char *const hex = "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:"
			"64:9B:93:4C:A4:95:99:1B:78:52:B8:55";
const char *const pin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

std::string OneAccount(const std::string &keys)
{
	return "accounts:\n"
	       "  - name: a\n"
	       "    host: h\n"
	       "    maildir: /m\n" +
	       keys;
}

} // namespace

TEST_CASE("tls_fingerprint: one value or a list, both forms; defaults are CA checks")
{
	auto config =
	    Parse(OneAccount("    tls_fingerprint: " + std::string(pin) + "\n"));
	auto tls = config.accounts.at(0).Tls();
	REQUIRE(tls.fingerprints.size() == 1);
	CHECK(FormatTlsFingerprint(tls.fingerprints[0]) == pin);
	CHECK(tls.min_version == TlsVersion::Tls1_2);
	CHECK(tls.cert_file.empty());

	config = Parse(OneAccount("    tls_fingerprint:\n      - \"" + std::string(hex) +
				  "\"\n      - " + pin + "\n"));
	tls = config.accounts.at(0).Tls();
	REQUIRE(tls.fingerprints.size() == 2);
	CHECK(FormatTlsFingerprint(tls.fingerprints[0]) == hex);
	CHECK(tls.fingerprints[1].kind == TlsFingerprint::Kind::PublicKey);

	// Inherited from defaults:, and reset by an empty value.
	config = Parse("defaults:\n  tls_fingerprint: " + std::string(pin) +
		       "\n  tls_min_version: \"1.1\"\n" + OneAccount("") +
		       "  - name: b\n    host: h\n    maildir: /m\n"
		       "    tls_fingerprint: \"\"\n");
	CHECK(config.accounts.at(0).Tls().fingerprints.size() == 1);
	CHECK(config.accounts.at(0).Tls().min_version == TlsVersion::Tls1_1);
	CHECK(config.accounts.at(1).Tls().fingerprints.empty());
}

TEST_CASE("bad TLS values are reported where they are")
{
	CHECK(ErrorOf(OneAccount("    tls_fingerprint:\n      - " + std::string(pin) +
				 "\n      - AB:CD\n")) ==
	      "config.yaml:7:9: accounts[0].tls_fingerprint[1]: bad TLS fingerprint "
	      "\"AB:CD\": shorter than a SHA-256 (4 hex digits, not 64) (expected the "
	      "certificate's SHA-256 as 64 hex digits, colons allowed, or sha256// and "
	      "the base64 SHA-256 of its public key)");
	CHECK(ErrorOf(OneAccount("    tls_min_version: \"1.3\"\n")) ==
	      "config.yaml:5:22: accounts[0].tls_min_version: TLS 1.3 is not available: "
	      "this build supports TLS up to 1.2 (mbedTLS 2.28)");
	CHECK(ErrorOf(OneAccount("    tls_cert: client.pem\n")) ==
	      "config.yaml:5:15: accounts[0].tls_cert: \"client.pem\" is not an absolute "
	      "path (start it with /, ~/ or $HOME/)");
}

TEST_CASE("tls_cert and tls_key: paths expanded, a key others can read refused")
{
	auto config = Parse(OneAccount("    tls_cert: ~/client.pem\n    tls_key: "
				       "$HOME/client.key\n"));
	const auto tls = config.accounts.at(0).Tls();
	CHECK(tls.cert_file == "/home/alice/client.pem");
	CHECK(tls.key_file == "/home/alice/client.key");

	TempDir dir;
	const std::string key = dir / "client.key";
	WriteFile(key, "-----BEGIN PRIVATE KEY-----\n", 0640);
	auto options = popstream::test::TestOptions();
	options.check_files = true;
	CHECK(ErrorOf(OneAccount("    tls_key: " + key + "\n"), options) ==
	      "config.yaml:5:14: accounts[0].tls_key: \"" + key +
		  "\" must not be accessible by group or others (mode 0640); run chmod "
		  "600 " +
		  key);
}

TEST_CASE("check-config shows the TLS keys only when they are set")
{
	auto show = [](const config::Account &account, std::string_view key) {
		const auto *row = FindAccountKey(key);
		REQUIRE(row != nullptr);
		REQUIRE(static_cast<bool>(row->show));
		return row->show(account);
	};
	config::Account plain;
	for (const char *key :
	     {"tls_fingerprint", "tls_min_version", "tls_cert", "tls_key"})
		CHECK_FALSE(show(plain, key));

	const auto config =
	    Parse(OneAccount("    tls_fingerprint: " + std::string(pin) +
			     "\n    tls_min_version: \"1.0\"\n"
			     "    tls_cert: /c.pem\n    tls_key: /c.key\n"));
	const auto &account = config.accounts.at(0);
	CHECK(show(account, "tls_fingerprint") ==
	      std::string(pin) + " (replaces the CA, name and date checks)");
	CHECK(show(account, "tls_min_version") == "1.0");
	CHECK(show(account, "tls_cert") == "/c.pem");
	CHECK(show(account, "tls_key") == "/c.key");
}

TEST_CASE("a client certificate half set, EXTERNAL without one, TLS keys without TLS")
{
	// Caught when the file is loaded (check-config), as dl catches them before
	// connecting, not at the first fetch.
	CHECK(ErrorOf(OneAccount("    tls_cert: /c.pem\n")) ==
	      "config.yaml:5:15: accounts[0].tls_key: missing: tls_cert needs tls_key "
	      "(the certificate's unencrypted PEM key)");
	CHECK(ErrorOf(OneAccount("    tls_key: /c.key\n")) ==
	      "config.yaml:5:14: accounts[0].tls_cert: missing: tls_key needs tls_cert "
	      "(the PEM client certificate it belongs to)");
	CHECK(ErrorOf(OneAccount("    auth: external\n")) ==
	      "config.yaml:5:11: accounts[0].auth: \"external\" needs tls_cert and "
	      "tls_key (EXTERNAL logs in with the TLS client certificate)");
	CHECK(ErrorOf(OneAccount(
		  "    tls: none\n    tls_fingerprint: " + std::string(pin) + "\n")) ==
	      "config.yaml:6:22: accounts[0].tls_fingerprint: needs TLS, but tls is "
	      "\"none\" (set tls: implicit or starttls)");
	CHECK_NOTHROW(Parse(OneAccount("    auth: external\n    tls_cert: /c.pem\n    "
				       "tls_key: /c.key\n")));
}
