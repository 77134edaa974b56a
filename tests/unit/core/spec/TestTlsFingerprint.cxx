#include "core/spec/TlsFingerprint.hxx"
#include "core/spec/TlsOptions.hxx"

#include <doctest/doctest.h>

#include <string>

using namespace popstream;

namespace {

/** SHA-256 of the empty string (FIPS 180-4 test vector), in both spellings. */
constexpr const char *empty_hex = "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:"
				  "AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55";
constexpr const char *empty_pin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

std::string ErrorOf(std::string_view text)
{
	try {
		ParseTlsFingerprint(text);
	} catch (const FingerprintError &e) {
		return e.what();
	}
	FAIL("no FingerprintError for \"" << std::string(text) << "\"");
	return {};
}

} // namespace

TEST_CASE("certificate fingerprints: colons optional, any case, openssl's label")
{
	const auto pinned = ParseTlsFingerprint(empty_hex);
	CHECK(pinned.kind == TlsFingerprint::Kind::Certificate);
	CHECK(pinned.digest[0] == 0xe3);
	CHECK(pinned.digest[31] == 0x55);
	CHECK(FormatTlsFingerprint(pinned) == empty_hex);
	CHECK(ParseTlsFingerprint(
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") ==
	      pinned);
	CHECK(ParseTlsFingerprint(std::string("sha256 Fingerprint=") + empty_hex) ==
	      pinned);
	CHECK(ParseTlsFingerprint(std::string("  ") + empty_hex + " ") == pinned);
}

TEST_CASE("public key pins: sha256// and base64, as curl's --pinnedpubkey")
{
	const auto pinned = ParseTlsFingerprint(empty_pin);
	CHECK(pinned.kind == TlsFingerprint::Kind::PublicKey);
	CHECK(pinned.digest == ParseTlsFingerprint(empty_hex).digest);
	CHECK(FormatTlsFingerprint(pinned) == empty_pin);
	CHECK(FormatPublicKeyPin(pinned.digest) == empty_pin);
	// The same digest in the other form is another pin.
	CHECK_FALSE(pinned == ParseTlsFingerprint(empty_hex));
}

TEST_CASE("bad fingerprints are one line naming the problem")
{
	CHECK(ErrorOf("") ==
	      "bad TLS fingerprint \"\": empty (expected the certificate's SHA-256 as 64 "
	      "hex digits, colons allowed, or sha256// and the base64 SHA-256 of its "
	      "public key)");
	CHECK(ErrorOf("E3:B0:C4") ==
	      "bad TLS fingerprint \"E3:B0:C4\": shorter than a SHA-256 (6 hex digits, "
	      "not 64) (expected the certificate's SHA-256 as 64 hex digits, colons "
	      "allowed, or sha256// and the base64 SHA-256 of its public key)");
	CHECK(ErrorOf(std::string(empty_hex) + ":00")
		  .starts_with("bad TLS fingerprint \"E3:B0:"));
	CHECK(ErrorOf(std::string(empty_hex) + ":00").find("longer than a SHA-256") !=
	      std::string::npos);
	CHECK(ErrorOf("E3B0:C4").find("with colons, every two hex digits must be "
				      "followed by ':'") != std::string::npos);
	CHECK(ErrorOf("zz").find("\"z\" is not a hex digit") != std::string::npos);
	CHECK(ErrorOf("abc").find("odd number of hex digits") != std::string::npos);
	CHECK(ErrorOf("sha1//AAAA") ==
	      "bad TLS fingerprint \"sha1//AAAA\": only sha256// public key pins are "
	      "supported");
	CHECK(ErrorOf("sha256//47DEQpj8") ==
	      "bad TLS fingerprint \"sha256//47DEQpj8\": sha256// must be followed by 44 "
	      "base64 characters ending in '=' (a SHA-256)");
	CHECK(ErrorOf("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF!=") ==
	      "bad TLS fingerprint "
	      "\"sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF!=\": \"!\" is not a "
	      "base64 character");
	// 'V' sets padding bits that 'U' leaves clear: the same digest, not canonical.
	CHECK(ErrorOf("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=")
		  .ends_with("the base64 after sha256// is not canonical"));
	// A control character in the value is escaped, so the message stays one line.
	CHECK(ErrorOf("ab\ncd").find("\\n") != std::string::npos);
}

TEST_CASE("tls_min_version: 1.0 to 1.2; 1.3 is refused saying why")
{
	CHECK(ParseTlsVersion("1.0") == TlsVersion::Tls1_0);
	CHECK(ParseTlsVersion("1.1") == TlsVersion::Tls1_1);
	CHECK(ParseTlsVersion("1.2") == TlsVersion::Tls1_2);
	CHECK(std::string(TlsVersionName(TlsVersion::Tls1_1)) == "1.1");
	CHECK(TlsOptions{}.min_version == TlsVersion::Tls1_2);
	auto error = [](std::string_view text) -> std::string {
		try {
			ParseTlsVersion(text);
		} catch (const TlsVersionError &e) {
			return e.what();
		}
		return "no error";
	};
	CHECK(error("1.3") == "TLS 1.3 is not available: this build supports TLS up to "
			      "1.2 (mbedTLS 2.28)");
	CHECK(error("1.2 ") == "bad TLS version \"1.2 \" (expected 1.0, 1.1 or 1.2)");
	CHECK(error("tls1.2") == "bad TLS version \"tls1.2\" (expected 1.0, 1.1 or 1.2)");
}
