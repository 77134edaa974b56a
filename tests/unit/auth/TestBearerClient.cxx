#include "auth/BearerClient.hxx"
#include "auth/GsaslProvider.hxx"

#include <doctest/doctest.h>

#include <string>

using namespace std::string_literals;
using popstream::auth::BearerFormat;
using popstream::auth::BearerInitialResponse;
using popstream::auth::MakeBearerClient;
using popstream::auth::SummariseBearerError;
using popstream::pop3::AuthMethod;
using popstream::pop3::SaslParams;

namespace {

SaslParams Params(std::string user, std::string token, std::string host = {},
		  unsigned port = 0)
{
	SaslParams p;
	p.user = std::move(user);
	p.secret = std::move(token);
	p.host = std::move(host);
	p.port = port;
	return p;
}

} // namespace

TEST_CASE("XOAUTH2: the initial response, byte for byte")
{
	const auto params = Params("someuser@example.com",
				   "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	CHECK(BearerInitialResponse(BearerFormat::Xoauth2, params) ==
	      "user=someuser@example.com\x01"
	      "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"s);

	// Host and port are OAUTHBEARER's; XOAUTH2 has no place for them.
	std::string error;
	auto client = MakeBearerClient(
	    BearerFormat::Xoauth2, Params("u@example.com", "tok", "pop.example.com", 995),
	    error);
	REQUIRE(client != nullptr);
	CHECK(!client->Complete());
	const auto start = client->Start();
	REQUIRE(start.has_value());
	CHECK(start->ok);
	CHECK(start->response == "user=u@example.com\x01"
				 "auth=Bearer tok\x01\x01"s);
	CHECK(client->Complete());
	CHECK(client->Diagnostic().empty());
}

TEST_CASE("OAUTHBEARER: the initial response of RFC 7628 §3.1, byte for byte")
{
	// The example of RFC 7628 §4.1 (host and port given).
	CHECK(BearerInitialResponse(BearerFormat::Oauthbearer,
				    Params("user@example.com",
					   "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
					   "server.example.com", 143)) ==
	      "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
	      "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"s);
	// Without host and port, and without an authzid.
	CHECK(BearerInitialResponse(BearerFormat::Oauthbearer, Params("u", "t")) ==
	      "n,a=u,\x01"
	      "auth=Bearer t\x01\x01"s);
	CHECK(BearerInitialResponse(BearerFormat::Oauthbearer, Params("", "t", "h")) ==
	      "n,,\x01host=h\x01"
	      "auth=Bearer t\x01\x01"s);
	// RFC 5801 §4: "," and "=" in the authzid are escaped.
	CHECK(BearerInitialResponse(BearerFormat::Oauthbearer, Params("a,b=c", "t")) ==
	      "n,a=a=2Cb=3Dc,\x01"
	      "auth=Bearer t\x01\x01"s);
}

TEST_CASE("XOAUTH2 and OAUTHBEARER: the JSON error challenge is summarised and answered")
{
	const std::string json =
	    R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})";
	const std::string summary =
	    R"(the server's error: status "401", scope "https://mail.google.com/", schemes "bearer")";

	std::string error;
	auto xoauth2 = MakeBearerClient(BearerFormat::Xoauth2, Params("u", "t"), error);
	REQUIRE(xoauth2 != nullptr);
	REQUIRE(xoauth2->Start().has_value());
	auto step = xoauth2->Step(json);
	CHECK(step.ok);
	CHECK(step.response.empty());
	CHECK(xoauth2->Diagnostic() == summary);
	// A second challenge is not in either protocol.
	step = xoauth2->Step("{}");
	CHECK(!step.ok);
	CHECK(step.error ==
	      "XOAUTH2: the server sent a second challenge after its error");

	auto bearer =
	    MakeBearerClient(BearerFormat::Oauthbearer, Params("u", "t"), error);
	REQUIRE(bearer != nullptr);
	REQUIRE(bearer->Start().has_value());
	step = bearer->Step(json);
	CHECK(step.ok);
	CHECK(step.response == "\x01");
	CHECK(bearer->Diagnostic() == summary);
	CHECK(bearer->Complete());
}

TEST_CASE("Bearer error summary: odd JSON and what is not JSON")
{
	// Whitespace, escapes, an extra member of another type, a numeric status.
	CHECK(
	    SummariseBearerError(
		" {\"status\" : 400 , \"openid-configuration\": {\"a\": [1, true, null]},"
		" \"scope\":\"a\\u0020b\\n\"}\r\n") ==
	    R"(the server's error: status "400", scope "a b\n")");
	// Not JSON, control characters, 8-bit, and a bound on the length.
	CHECK(SummariseBearerError("-ERR no\r\n") ==
	      R"(the server's error (not the JSON of RFC 7628 §3.2.2): "-ERR no\r\n")");
	CHECK(
	    SummariseBearerError("{\"status\":\"401\"") ==
	    R"(the server's error (not the JSON of RFC 7628 §3.2.2): "{"status":"401"")");
	CHECK(SummariseBearerError("") ==
	      R"(the server's error (not the JSON of RFC 7628 §3.2.2): "")");
	const std::string huge = "{\"status\":\"" + std::string(100000, '\xff') + "\"}";
	const std::string line = SummariseBearerError(huge);
	CHECK(line.size() < 200);
	CHECK(line.find('\xff') == std::string::npos);
	const std::string deep(100000, '[');
	CHECK(SummariseBearerError("{\"status\":" + deep).size() < 300);
}

TEST_CASE("Bearer clients refuse what would break the framing, naming no secret")
{
	std::string error;
	CHECK(MakeBearerClient(BearerFormat::Xoauth2, Params("", "t"), error) == nullptr);
	CHECK(error == "XOAUTH2: the user name is empty");
	CHECK(MakeBearerClient(BearerFormat::Xoauth2, Params("u\x01x", "t"), error) ==
	      nullptr);
	CHECK(error == "XOAUTH2: the user name holds a control character");
	CHECK(MakeBearerClient(BearerFormat::Oauthbearer, Params("u", ""), error) ==
	      nullptr);
	CHECK(error == "OAUTHBEARER: the access token is empty");
	CHECK(MakeBearerClient(BearerFormat::Oauthbearer, Params("u", "secret\x01tok"),
			       error) == nullptr);
	CHECK(error ==
	      "OAUTHBEARER: the access token holds a space, a control character or "
	      "a non-ASCII octet (RFC 6750 §2.1)");
	CHECK(MakeBearerClient(BearerFormat::Oauthbearer, Params("u", "a b"), error) ==
	      nullptr);
	CHECK(MakeBearerClient(BearerFormat::Oauthbearer, Params("u", "t", "h\nx"),
			       error) == nullptr);
	CHECK(error == "OAUTHBEARER: the host name holds a control character");
}

TEST_CASE("The provider serves XOAUTH2 and OAUTHBEARER through Sasl()")
{
	const auto provider = popstream::auth::MakeAuthProvider();
	CHECK(provider->HasSasl(AuthMethod::Xoauth2));
	CHECK(provider->HasSasl(AuthMethod::Oauthbearer));
	std::string error;
	auto client = provider->Sasl(AuthMethod::Oauthbearer,
				     Params("u", "t", "pop.example.com", 995), error);
	REQUIRE(client != nullptr);
	const auto start = client->Start();
	REQUIRE(start.has_value());
	CHECK(start->response == "n,a=u,\x01host=pop.example.com\x01port=995\x01"
				 "auth=Bearer t\x01\x01"s);
}
