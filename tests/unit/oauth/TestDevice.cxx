#include "FakeTransport.hxx"

#include "oauth/Device.hxx"
#include "oauth/Error.hxx"

#include <doctest/doctest.h>

using namespace popstream::oauth;
using popstream::oauth::test::FakeTransport;
using std::chrono::seconds;

namespace {

Settings Client()
{
	Settings s;
	s.provider = Provider::Microsoft;
	s.client_id = "client-1";
	s.tenant = "common";
	s.token_endpoint = "https://login.example/token";
	s.device_endpoint = "https://login.example/devicecode";
	s.scope = "mail offline_access";
	return s;
}

const char *const device_answer =
    R"({"device_code":"dc-SECRET","user_code":"ABCD-EFGH",
	"verification_uri":"https://example.com/devicelogin","expires_in":900,
	"interval":5,"message":"To sign in, use a web browser..."})";

DeviceAuthorization Authorization(seconds expires_in = seconds(900),
				  seconds interval = seconds(5))
{
	DeviceAuthorization a;
	a.device_code = "dc-SECRET";
	a.user_code = "ABCD-EFGH";
	a.verification_uri = "https://example.com/devicelogin";
	a.expires_in = expires_in;
	a.interval = interval;
	return a;
}

const char *const pending = R"({"error":"authorization_pending"})";
const char *const slow_down = R"({"error":"slow_down"})";
const char *const success =
    R"({"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"})";

/** Records the waits instead of waiting. */
struct Waits {
	std::vector<long long> seconds_waited;
	popstream::oauth::Sleeper Function()
	{
		return [this](seconds s) { seconds_waited.push_back(s.count()); };
	}
};

OAuthError PollError(FakeTransport &http, const DeviceAuthorization &a, Waits &waits)
{
	try {
		PollDeviceToken(http, Client(), a, waits.Function());
	} catch (const OAuthError &e) {
		return e;
	}
	FAIL("no error");
	return OAuthError(ErrorKind::Protocol, "");
}

} // namespace

TEST_CASE("device authorization request and response (RFC 8628 §3.1, §3.2)")
{
	FakeTransport http;
	http.Answer(200, device_answer);
	const auto a = StartDeviceAuthorization(http, Client());
	CHECK(a.device_code == "dc-SECRET");
	CHECK(a.user_code == "ABCD-EFGH");
	CHECK(a.verification_uri == "https://example.com/devicelogin");
	CHECK(a.verification_uri_complete.empty());
	CHECK(a.expires_in == seconds(900));
	CHECK(a.interval == seconds(5));
	REQUIRE(http.requests.size() == 1);
	CHECK(http.requests[0].url == "https://login.example/devicecode");
	CHECK(EncodeForm(http.requests[0].form) ==
	      "client_id=client-1&scope=mail+offline_access");
}

TEST_CASE("device authorization: the optional fields and Google's spelling")
{
	FakeTransport http;
	http.Answer(200, R"({"device_code":"d","user_code":"U","expires_in":"600",
		"verification_url":"https://www.google.com/device",
		"verification_uri_complete":"https://example.com/device?user_code=U"})");
	const auto a = StartDeviceAuthorization(http, Client());
	CHECK(a.verification_uri == "https://www.google.com/device");
	CHECK(a.verification_uri_complete == "https://example.com/device?user_code=U");
	CHECK(a.expires_in == seconds(600));
	CHECK(a.interval == seconds(5)); // the default of §3.2
}

TEST_CASE("device authorization: errors")
{
	FakeTransport http;
	const auto error = [&]() -> std::string {
		try {
			StartDeviceAuthorization(http, Client());
		} catch (const OAuthError &e) {
			return std::string(ErrorKindName(e.Kind())) + ": " + e.what();
		}
		return "no error";
	};
	http.Answer(400, R"({"error":"invalid_scope","error_description":"no POP"})");
	CHECK(error() ==
	      "rejected: https://login.example/devicecode: the server refused: "
	      "invalid_scope (no POP)");
	http.Answer(200, R"({"device_code":"d","user_code":"U","expires_in":600})");
	CHECK(error() == "protocol: https://login.example/devicecode: the device "
			 "authorization has no verification_uri");
	http.Answer(
	    200, R"({"device_code":"d","user_code":"U","verification_uri":"https://x"})");
	CHECK(error() == "protocol: https://login.example/devicecode: the device "
			 "authorization has no expires_in");
	http.Answer(200, R"({"user_code":"U"})");
	CHECK(error() == "protocol: https://login.example/devicecode: the device "
			 "authorization has no device_code");
	http.Answer(200, "not json");
	CHECK(error() ==
	      "protocol: https://login.example/devicecode: the answer is not a "
	      "JSON object");
	http.Answer(502, "Bad Gateway");
	CHECK(error() == "network: https://login.example/devicecode: HTTP 502 without an "
			 "OAuth 2.0 error");
	http.Fail(
	    "https://login.example/devicecode: Could not resolve host: login.example");
	CHECK(error() == "network: https://login.example/devicecode: Could not resolve "
			 "host: login.example");
}

TEST_CASE("device polling: pending, then slow_down, then the token (RFC 8628 §3.4, §3.5)")
{
	FakeTransport http;
	http.Answer(400, pending);
	http.Answer(400, pending);
	http.Answer(400, slow_down);
	http.Answer(400, pending);
	http.Answer(400, slow_down);
	http.Answer(200, success);
	Waits waits;
	int polls = 0;
	const auto t = PollDeviceToken(http, Client(), Authorization(), waits.Function(),
				       [&] { ++polls; });
	CHECK(t.access_token == "at-1");
	CHECK(t.refresh_token == "rt-1");
	// The interval before each request: 5 s, +5 s after each slow_down, kept.
	CHECK(waits.seconds_waited == std::vector<long long>{5, 5, 5, 10, 10, 15});
	CHECK(polls == 6);
	REQUIRE(http.requests.size() == 6);
	CHECK(http.requests[0].url == "https://login.example/token");
	CHECK(EncodeForm(http.requests[0].form) ==
	      "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&"
	      "device_code=dc-SECRET&client_id=client-1");
}

TEST_CASE("device polling: the server's interval is honoured from the first poll")
{
	FakeTransport http;
	http.Answer(400, pending);
	http.Answer(200, success);
	Waits waits;
	PollDeviceToken(http, Client(), Authorization(seconds(900), seconds(8)),
			waits.Function());
	CHECK(waits.seconds_waited == std::vector<long long>{8, 8});
}

TEST_CASE("device polling: a request without an answer backs off and goes on")
{
	FakeTransport http;
	http.Fail();
	http.Answer(503, "busy");
	http.Answer(400, pending);
	http.Answer(200, success);
	Waits waits;
	CHECK(PollDeviceToken(http, Client(), Authorization(), waits.Function())
		  .access_token == "at-1");
	CHECK(waits.seconds_waited == std::vector<long long>{5, 10, 20, 20});
}

TEST_CASE("device polling: three requests in a row without an answer end the wait")
{
	FakeTransport http;
	http.Fail();
	http.Answer(400, pending);
	http.Fail();
	http.Fail();
	http.Fail();
	Waits waits;
	const auto e = PollError(http, Authorization(), waits);
	CHECK(e.Kind() == ErrorKind::Network);
	CHECK(waits.seconds_waited == std::vector<long long>{5, 10, 10, 20, 40});
}

TEST_CASE("device polling: the user declines")
{
	FakeTransport http;
	http.Answer(400, pending);
	http.Answer(
	    400, R"({"error":"access_denied","error_description":"The user said no"})");
	Waits waits;
	const auto e = PollError(http, Authorization(), waits);
	CHECK(e.Kind() == ErrorKind::Denied);
	CHECK(std::string(e.what()) == "https://login.example/token: the server refused: "
				       "access_denied (The user said no)");
}

TEST_CASE("device polling: the server says the code expired")
{
	FakeTransport http;
	http.Answer(400, R"({"error":"expired_token"})");
	Waits waits;
	const auto e = PollError(http, Authorization(), waits);
	CHECK(e.Kind() == ErrorKind::Expired);
	CHECK(e.Code() == "expired_token");
}

TEST_CASE("device polling: the code's lifetime runs out without an answer")
{
	FakeTransport http;
	for (int i = 0; i < 3; ++i)
		http.Answer(400, pending);
	Waits waits;
	const auto e = PollError(http, Authorization(seconds(15)), waits);
	CHECK(e.Kind() == ErrorKind::Expired);
	CHECK(std::string(e.what()) ==
	      "the code expired before the sign-in was finished (after 15 s)");
	CHECK(http.requests.size() == 3);
	CHECK(waits.seconds_waited == std::vector<long long>{5, 5, 5});
}

TEST_CASE("device polling: other errors end it at once, without the device code")
{
	FakeTransport http;
	http.Answer(
	    400, R"({"error":"invalid_grant","error_description":"dc-SECRET unknown"})");
	Waits waits;
	const auto e = PollError(http, Authorization(), waits);
	CHECK(e.Kind() == ErrorKind::NeedsLogin);
	CHECK(std::string(e.what()) == "https://login.example/token: the server refused: "
				       "invalid_grant (******** unknown)");

	http.Answer(200, "{not json");
	CHECK(PollError(http, Authorization(), waits).Kind() == ErrorKind::Protocol);
}
