#include "oauth/Error.hxx"
#include "oauth/GrantStore.hxx"
#include "oauth/StoredGrant.hxx"

#include <doctest/doctest.h>

using namespace popstream::oauth;

namespace {

StoredGrant MicrosoftGrant()
{
	StoredGrant g;
	g.settings.provider = Provider::Microsoft;
	g.settings.client_id = "client-1";
	g.settings.tenant = "common";
	g.settings.token_endpoint =
	    "https://login.microsoftonline.com/common/oauth2/v2.0/token";
	g.settings.scope =
	    "https://outlook.office.com/POP.AccessAsUser.All offline_access";
	g.refresh_token = "rt-SECRET\"\\/";
	return g;
}

std::string ParseErrorOf(const std::string &blob)
{
	try {
		ParseGrant(blob);
	} catch (const OAuthError &e) {
		CHECK(e.Kind() == ErrorKind::NeedsLogin);
		return e.what();
	}
	return "no error";
}

} // namespace

TEST_CASE("stored grant: the JSON of the brief, byte for byte, and back")
{
	const auto blob = SerializeGrant(MicrosoftGrant());
	CHECK(
	    blob ==
	    R"({"version":1,"provider":"microsoft","client_id":"client-1",)"
	    R"("client_secret":"","tenant":"common",)"
	    R"("token_endpoint":"https://login.microsoftonline.com/common/oauth2/v2.0/token",)"
	    R"("scope":"https://outlook.office.com/POP.AccessAsUser.All offline_access",)"
	    R"("refresh_token":"rt-SECRET\"\\/"})");
	CHECK(ParseGrant(blob) == MicrosoftGrant());

	auto google = MicrosoftGrant();
	google.settings.provider = Provider::Google;
	google.settings.client_secret = "cs-1";
	google.settings.tenant.clear();
	CHECK(ParseGrant(SerializeGrant(google)) == google);

	// The CA file of `oauth login --ca-file` goes last, and only when there is one.
	auto custom = MicrosoftGrant();
	custom.ca_file = "/etc/popstream/corp-ca.pem";
	const auto with_ca = SerializeGrant(custom);
	CHECK(with_ca.ends_with(
	    R"("refresh_token":"rt-SECRET\"\\/","ca_file":"/etc/popstream/corp-ca.pem"})"));
	CHECK(ParseGrant(with_ca) == custom);

	// Fields may come in any order, and unknown ones are ignored.
	CHECK(ParseGrant(
		  R"({"refresh_token":"r","token_endpoint":"https://t","client_id":"c",
		"provider":"custom","version":1,"added_later":true})")
		  .refresh_token == "r");
}

TEST_CASE("stored grant: what cannot be used says why, never quoting the blob")
{
	CHECK(ParseErrorOf("rt-SECRET") == "the stored grant is not a JSON object");
	CHECK(ParseErrorOf(R"({"refresh_token":"rt-SECRET)") ==
	      "the stored grant is not a JSON object");
	CHECK(ParseErrorOf(R"({"version":2,"refresh_token":"rt-SECRET"})") ==
	      "the stored grant has an unknown version (this popstream reads version 1)");
	CHECK(ParseErrorOf(R"({"version":1,"provider":"goa","refresh_token":"r"})") ==
	      "the stored grant names no provider popstream refreshes with");
	CHECK(ParseErrorOf(R"({"version":1,"provider":"custom","refresh_token":"r",
		"client_id":"c"})") == "the stored grant has no token_endpoint");
	CHECK(
	    ParseErrorOf(R"({"version":1,"provider":"custom","token_endpoint":"https://t",
		"client_id":"c"})") == "the stored grant has no refresh_token");
	CHECK(ParseErrorOf(R"({"version":1,"provider":"custom","refresh_token":"r",
		"token_endpoint":"https://t"})") == "the stored grant has no client_id");
	CHECK(ParseErrorOf(R"({"version":1,"provider":"custom","refresh_token":7})") ==
	      "the stored grant has a refresh_token that is not a string");
}

TEST_CASE("grant keys: the account's name; dl- and a safe label for specs")
{
	CHECK(GrantKeyForAccount("work") == "work");
	CHECK(GrantKeyForSpec("alice@mail.example.com:995") ==
	      "dl-alice@mail.example.com:995");
	CHECK(GrantKeyForSpec("a b/c@[::1]:1110") == "dl-a_b_c@_::1_:1110");
	CHECK(GrantKeyForSpec("Ab-9._@x") == "dl-Ab-9._@x");
}
