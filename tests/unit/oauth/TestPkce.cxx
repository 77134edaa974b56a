#include "oauth/Pkce.hxx"

#include <doctest/doctest.h>

#include <set>

using namespace popstream::oauth;

TEST_CASE("base64url without padding (RFC 4648 §5, §10)")
{
	CHECK(Base64Url("") == "");
	CHECK(Base64Url("f") == "Zg");
	CHECK(Base64Url("fo") == "Zm8");
	CHECK(Base64Url("foo") == "Zm9v");
	CHECK(Base64Url("foob") == "Zm9vYg");
	CHECK(Base64Url("fooba") == "Zm9vYmE");
	CHECK(Base64Url("foobar") == "Zm9vYmFy");
	// The two characters that differ from base64: '-' for '+', '_' for '/'.
	CHECK(Base64Url("\xfb\xff\xbf") == "-_-_");
}

TEST_CASE("PKCE: the example of RFC 7636 Appendix B")
{
	// The 32 octets of the example, encoded, are its code verifier.
	const unsigned char octets[] = {
	    116, 24,  223, 180, 151, 153, 224, 37,  79, 250, 96, 125, 216, 173, 187, 186,
	    22,  212, 37,  77,  105, 214, 191, 240, 91, 88,  5,  88,  83,  132, 141, 121};
	const std::string verifier =
	    Base64Url(std::string_view(reinterpret_cast<const char *>(octets), 32));
	CHECK(verifier == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
	CHECK(S256Challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST_CASE("PKCE: verifiers are 43 unreserved characters, and differ")
{
	std::set<std::string> seen;
	for (int i = 0; i < 20; ++i) {
		const auto verifier = MakeCodeVerifier();
		CHECK(verifier.size() == 43);
		CHECK(verifier.find_first_not_of(
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
			  "opqrstuvwxyz0123456789-_") == std::string::npos);
		seen.insert(verifier);
	}
	CHECK(seen.size() == 20);
	CHECK(RandomToken(16).size() == 22);
}
