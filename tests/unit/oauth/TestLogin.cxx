#include "FakeTransport.hxx"

#include "oauth/Error.hxx"
#include "oauth/Form.hxx"
#include "oauth/Login.hxx"
#include "oauth/Qr.hxx"

#include <doctest/doctest.h>

#include <functional>
#include <sstream>
#include <streambuf>

using namespace popstream::oauth;
using popstream::oauth::test::FakeTransport;

namespace {

Settings Microsoft()
{
	Settings s;
	s.provider = Provider::Microsoft;
	s.client_id = "client-1";
	s.token_endpoint = "https://login.example/token";
	s.device_endpoint = "https://login.example/devicecode";
	s.authorization_endpoint = "https://login.example/authorize";
	s.scope = "mail offline_access";
	return s;
}

/** An input stream whose one line is made when it is first read: the test answers
 * what the login has printed by then. */
class LazyLine : public std::streambuf {
	std::function<std::string()> make_;
	std::string line_;
	bool made_ = false;

protected:
	int_type underflow() override
	{
		if (!made_) {
			made_ = true;
			line_ = make_();
			setg(line_.data(), line_.data(), line_.data() + line_.size());
			if (!line_.empty())
				return traits_type::to_int_type(line_[0]);
		}
		return gptr() < egptr() ? traits_type::to_int_type(*gptr())
					: traits_type::eof();
	}

public:
	explicit LazyLine(std::function<std::string()> make) : make_(std::move(make)) {}
};

/** @return the value of query field @p name in the URL on the line after "sign in:" */
std::string FieldOfPrintedUrl(const std::string &out, const std::string &name)
{
	const auto start = out.find("\n\n  ") + 4;
	const auto url = out.substr(start, out.find('\n', start) - start);
	const auto form = DecodeForm(QueryOf(url));
	REQUIRE(form.has_value());
	return FindField(*form, name).value_or("");
}

} // namespace

TEST_CASE("device login as the user sees it (no QR code)")
{
	FakeTransport http;
	http.Answer(200, R"({"device_code":"dc-SECRET","user_code":"ABCD-EFGH",
		"verification_uri":"https://example.com/devicelogin","expires_in":900})");
	http.Answer(400, R"({"error":"authorization_pending"})");
	http.Answer(
	    200,
	    R"({"access_token":"at-1","token_type":"Bearer","refresh_token":"rt-1"})");
	std::ostringstream out;
	std::istringstream in;
	int waits = 0;
	LoginIo io{out, in, [&](std::chrono::seconds) { ++waits; }};
	io.qr = false;
	const auto token = DeviceLogin(http, Microsoft(), io);
	CHECK(token.refresh_token == "rt-1");
	CHECK(waits == 2);
	CHECK(
	    out.str() ==
	    "To sign in, open https://example.com/devicelogin in a browser and enter the "
	    "code ABCD-EFGH\n"
	    "Waiting for you to sign in (the code expires in 15 minutes)...\n"
	    "Signed in.\n");
	CHECK(out.str().find("dc-SECRET") == std::string::npos);
}

TEST_CASE("device login: the QR code holds the complete URI when there is one")
{
	FakeTransport http;
	http.Answer(200, R"({"device_code":"d","user_code":"WXYZ",
		"verification_uri":"https://example.com/device",
		"verification_uri_complete":"https://example.com/device?code=WXYZ",
		"expires_in":90})");
	http.Answer(200, R"({"access_token":"at-1"})");
	std::ostringstream out;
	std::istringstream in;
	LoginIo io{out, in, [](std::chrono::seconds) {}};
	DeviceLogin(http, Microsoft(), io);
	CHECK(
	    out.str() ==
	    "To sign in, open https://example.com/device in a browser and enter the code "
	    "WXYZ\nor scan this QR code to open it with the code filled in:\n\n" +
		RenderQr("https://example.com/device?code=WXYZ") +
		"\nWaiting for you to sign in (the code expires in 90 seconds)...\n"
		"Signed in.\n");
}

TEST_CASE("device login: server text is escaped before it reaches the terminal")
{
	FakeTransport http;
	http.Answer(200,
		    "{\"device_code\":\"d\",\"user_code\":\"AB\\u001b[2J\","
		    "\"verification_uri\":\"https://e.example/\\nX\",\"expires_in\":60}");
	http.Answer(400, R"({"error":"access_denied"})");
	std::ostringstream out;
	std::istringstream in;
	LoginIo io{out, in, [](std::chrono::seconds) {}};
	io.qr = false;
	CHECK_THROWS_AS(DeviceLogin(http, Microsoft(), io), OAuthError);
	CHECK(
	    out.str().starts_with("To sign in, open https://e.example/\\nX in a browser "
				  "and enter the code AB\\x1b[2J\n"));
}

TEST_CASE("browser login with --no-browser: the pasted URL, its state checked")
{
	FakeTransport http;
	http.Answer(200, R"({"access_token":"at-1","refresh_token":"rt-1"})");
	auto settings = Microsoft();
	settings.provider = Provider::Google;
	std::ostringstream out;
	std::string redirect_uri;
	LazyLine line([&] {
		redirect_uri = FieldOfPrintedUrl(out.str(), "redirect_uri");
		return redirect_uri + "?state=" + FieldOfPrintedUrl(out.str(), "state") +
		       "&code=c-1&scope=x\n";
	});
	std::istream in(&line);
	LoginIo io{out, in, [](std::chrono::seconds) {}};
	io.qr = false;
	const auto token = BrowserLogin(http, settings, io, true);
	CHECK(token.refresh_token == "rt-1");
	REQUIRE(redirect_uri.starts_with("http://127.0.0.1:"));
	const std::string url_start =
	    "Open this URL in a browser, on any machine, and sign "
	    "in:\n\n  https://login.example/authorize?response_type=code&";
	CHECK(out.str().starts_with(url_start));
	CHECK(out.str().ends_with(
	    "\n\nThe browser then goes to " + redirect_uri +
	    "?code=... and probably says it cannot connect: that is expected.\n"
	    "Copy the whole address from the browser's address bar and paste it here:\n"
	    "Signed in.\n"));
	REQUIRE(http.requests.size() == 1);
	CHECK(http.requests[0].Field("code") == "c-1");
	CHECK(http.requests[0].Field("redirect_uri") == redirect_uri);
	// The verifier sent matches the challenge printed.
	CHECK(FieldOfPrintedUrl(out.str(), "code_challenge").size() == 43);
	CHECK(http.requests[0].Field("code_verifier").size() == 43);
}

TEST_CASE("browser login with --no-browser: a URL from another sign-in is refused")
{
	FakeTransport http;
	std::ostringstream out;
	LazyLine line([&] {
		return FieldOfPrintedUrl(out.str(), "redirect_uri") +
		       "?state=old-state&code=c-SECRET\n";
	});
	std::istream in(&line);
	LoginIo io{out, in, [](std::chrono::seconds) {}};
	io.qr = false;
	try {
		BrowserLogin(http, Microsoft(), io, true);
		FAIL("no error");
	} catch (const OAuthError &e) {
		CHECK(e.Kind() == ErrorKind::Protocol);
		CHECK(std::string(e.what()) ==
		      "the redirect URL's state does not match this "
		      "sign-in (an old or forged redirect)");
	}
	CHECK(http.requests.empty()); // the code was not exchanged
}

TEST_CASE("browser login with --no-browser: nothing pasted")
{
	FakeTransport http;
	std::ostringstream out;
	std::istringstream in("");
	LoginIo io{out, in, [](std::chrono::seconds) {}};
	try {
		BrowserLogin(http, Microsoft(), io, true);
		FAIL("no error");
	} catch (const OAuthError &e) {
		CHECK(e.Kind() == ErrorKind::Expired);
		CHECK(std::string(e.what()) ==
		      "no redirect URL was pasted (end of input)");
	}
}
