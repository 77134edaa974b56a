#include "auth/Apop.hxx"
#include "auth/GsaslProvider.hxx"

#include <doctest/doctest.h>

using popstream::auth::ApopDigest;

TEST_CASE("APOP digest: the example of RFC 1939 §7")
{
	CHECK(ApopDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf") ==
	      "c4c9334bac560ecc979e58001b3e22fb");
}

TEST_CASE("APOP digest: MD5 of the empty string (RFC 1321 A.5), through the provider")
{
	const auto provider = popstream::auth::MakeAuthProvider();
	REQUIRE(provider != nullptr);
	CHECK(provider->ApopDigest("", "") == "d41d8cd98f00b204e9800998ecf8427e");
	CHECK(provider->ApopDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf") ==
	      "c4c9334bac560ecc979e58001b3e22fb");
}
