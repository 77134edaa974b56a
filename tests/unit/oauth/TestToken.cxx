#include "FakeTransport.hxx"

#include "oauth/Error.hxx"
#include "oauth/Token.hxx"

#include <doctest/doctest.h>

using namespace popstream::oauth;
using popstream::oauth::test::FakeTransport;

namespace {

const std::string url = "https://login.example/token";

TokenResponse Parse(long status, const std::string &body,
		    const std::vector<std::string> &secrets = {})
{
	return ParseTokenResponse({status, "application/json", body}, url, secrets);
}

/** @return the error Parse() throws (fails the test if none) */
OAuthError ParseError(long status, const std::string &body,
		      const std::vector<std::string> &secrets = {})
{
	try {
		Parse(status, body, secrets);
	} catch (const OAuthError &e) {
		return e;
	}
	FAIL("no error for: " << body);
	return OAuthError(ErrorKind::Protocol, "");
}

Settings Client()
{
	Settings s;
	s.provider = Provider::Custom;
	s.client_id = "client-1";
	s.token_endpoint = url;
	s.scope = "mail offline_access";
	return s;
}

} // namespace

TEST_CASE("token response §5.1: every field")
{
	const auto t = Parse(200, R"({"access_token":"at-1","token_type":"Bearer",
		"expires_in":3599,"refresh_token":"rt-1","scope":"mail"})");
	CHECK(t.access_token == "at-1");
	CHECK(t.token_type == "Bearer");
	CHECK(t.expires_in == 3599);
	CHECK(t.refresh_token == "rt-1");
	CHECK(t.scope == "mail");
}

TEST_CASE("token response §5.1: the optional fields absent, odd but valid shapes")
{
	const auto bare = Parse(200, R"({"access_token":"at-2","token_type":"bearer"})");
	CHECK(bare.access_token == "at-2");
	CHECK(!bare.expires_in.has_value());
	CHECK(bare.refresh_token.empty());
	CHECK(bare.scope.empty());

	// expires_in as a string of digits (seen in the wild) and as null; unknown
	// fields (Microsoft's ext_expires_in, Google's id_token) are ignored.
	const auto text = Parse(200, R"({"access_token":"a","token_type":"BEARER",
		"expires_in":"3600","ext_expires_in":3600,"id_token":"x.y.z"})");
	CHECK(text.expires_in == 3600);
	CHECK(!Parse(200, R"({"access_token":"a","expires_in":null})")
		   .expires_in.has_value());
	// No token_type: accepted as bearer (the only kind the POP3 logins carry).
	CHECK(Parse(200, R"({"access_token":"a"})").token_type.empty());
}

TEST_CASE("token response: broken successes are protocol errors, in our words")
{
	const auto not_json = ParseError(200, "<html>at-secret-9</html>");
	CHECK(not_json.Kind() == ErrorKind::Protocol);
	CHECK(std::string(not_json.what()) ==
	      "https://login.example/token: the answer is not a JSON object");

	// A JSON syntax error: nlohmann would quote the bytes it read ("last read:
	// ..."), which here are the token; the message must not.
	const auto truncated = ParseError(200, R"({"access_token":"at-secret-9)");
	CHECK(std::string(truncated.what()).find("at-secret-9") == std::string::npos);
	CHECK(truncated.Kind() == ErrorKind::Protocol);

	CHECK(std::string(ParseError(200, R"([1,2])").what()) ==
	      "https://login.example/token: the answer is not a JSON object");
	CHECK(std::string(ParseError(200, R"({"token_type":"Bearer"})").what()) ==
	      "https://login.example/token: the answer has no access_token");
	CHECK(std::string(ParseError(200, R"({"access_token":""})").what()) ==
	      "https://login.example/token: the answer has no access_token");
	CHECK(std::string(ParseError(200, R"({"access_token":7})").what()) ==
	      "https://login.example/token: the answer has no access_token");
	CHECK(std::string(
		  ParseError(200, R"({"access_token":"a","token_type":"mac"})").what()) ==
	      "https://login.example/token: token_type \"mac\" is not Bearer");
	CHECK(std::string(
		  ParseError(200, R"({"access_token":"a","expires_in":-5})").what()) ==
	      "https://login.example/token: expires_in is not a number of seconds");
	CHECK(ParseError(200, R"({"access_token":"a","expires_in":"soon"})").Kind() ==
	      ErrorKind::Protocol);
}

TEST_CASE("token response §5.2: each error code to its kind, with the server's words")
{
	struct Case {
		const char *code;
		ErrorKind kind;
	};
	for (const auto &c : {Case{"invalid_grant", ErrorKind::NeedsLogin},
			      Case{"access_denied", ErrorKind::Denied},
			      Case{"expired_token", ErrorKind::Expired},
			      Case{"invalid_request", ErrorKind::Rejected},
			      Case{"invalid_client", ErrorKind::Rejected},
			      Case{"unauthorized_client", ErrorKind::Rejected},
			      Case{"unsupported_grant_type", ErrorKind::Rejected},
			      Case{"invalid_scope", ErrorKind::Rejected},
			      Case{"authorization_pending", ErrorKind::Rejected},
			      Case{"slow_down", ErrorKind::Rejected}}) {
		CAPTURE(c.code);
		const auto e =
		    ParseError(400, std::string(R"({"error":")") + c.code +
					R"(","error_description":"Why.\nIt failed"})");
		CHECK(e.Kind() == c.kind);
		CHECK(e.Code() == c.code);
		CHECK(std::string(e.what()) == "https://login.example/token: the server "
					       "refused: " +
						   std::string(c.code) +
						   " (Why.\\nIt failed)");
	}
	// 401 for client authentication (§5.2); no description.
	const auto client = ParseError(401, R"({"error":"invalid_client"})");
	CHECK(client.Kind() == ErrorKind::Rejected);
	CHECK(std::string(client.what()) ==
	      "https://login.example/token: the server refused: invalid_client");
	// An error in a 200 answer is still an error.
	CHECK(ParseError(200, R"({"error":"invalid_grant"})").Kind() ==
	      ErrorKind::NeedsLogin);
}

TEST_CASE("token response: HTTP errors without §5.2's body")
{
	const auto busy = ParseError(503, "Service Unavailable");
	CHECK(busy.Kind() == ErrorKind::Network);
	CHECK(std::string(busy.what()) ==
	      "https://login.example/token: HTTP 503 without an OAuth 2.0 error");
	CHECK(ParseError(429, "").Kind() == ErrorKind::Network);
	const auto missing = ParseError(404, "<html>not here</html>");
	CHECK(missing.Kind() == ErrorKind::Protocol);
	CHECK(std::string(missing.what()) ==
	      "https://login.example/token: HTTP 404 without an OAuth 2.0 error");
	// A 5xx with an error body is a server failure, not a refusal.
	CHECK(ParseError(500, R"({"error":"server_error"})").Kind() ==
	      ErrorKind::Network);
}

TEST_CASE("no secret of the request in an error, even when the server echoes it")
{
	const std::string refresh = "rt-7-SECRETVALUE";
	const auto e =
	    ParseError(400,
		       R"({"error":"invalid_grant","error_description":"token )" +
			   refresh + R"( was revoked"})",
		       {refresh});
	CHECK(std::string(e.what()).find(refresh) == std::string::npos);
	CHECK(std::string(e.what()) == "https://login.example/token: the server refused: "
				       "invalid_grant (token ******** was revoked)");
}

TEST_CASE("the refresh grant (RFC 6749 §6): the request, byte for byte")
{
	FakeTransport http;
	http.Answer(200, R"({"access_token":"at-2","token_type":"Bearer","expires_in":60,
		"refresh_token":"rt-2"})");
	auto settings = Client();
	const auto t = RefreshAccessToken(http, settings, "rt-1");
	CHECK(t.access_token == "at-2");
	CHECK(t.refresh_token == "rt-2");
	REQUIRE(http.requests.size() == 1);
	CHECK(http.requests[0].url == url);
	CHECK(EncodeForm(http.requests[0].form) ==
	      "grant_type=refresh_token&refresh_token=rt-1&scope=mail+offline_access&"
	      "client_id=client-1");

	// A client secret goes in the body (§2.3.1), and is hidden in errors.
	settings.client_secret = "cs-SECRET";
	settings.scope.clear();
	http.Answer(401,
		    R"({"error":"invalid_client","error_description":"cs-SECRET bad"})");
	try {
		RefreshAccessToken(http, settings, "rt-1");
		FAIL("no error");
	} catch (const OAuthError &e) {
		CHECK(std::string(e.what()) == "https://login.example/token: the server "
					       "refused: invalid_client (******** bad)");
	}
	CHECK(EncodeForm(http.requests[1].form) ==
	      "grant_type=refresh_token&refresh_token=rt-1&client_id=client-1&"
	      "client_secret=cs-SECRET");
}
