#include "FakeTransport.hxx"

#include "oauth/AuthCode.hxx"
#include "oauth/Error.hxx"
#include "oauth/Loopback.hxx"
#include "oauth/Pkce.hxx"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace popstream::oauth;
using popstream::oauth::test::FakeTransport;

namespace {

Settings Google()
{
	Settings s;
	s.provider = Provider::Google;
	s.client_id = "123.apps.example";
	s.client_secret = "cs-SECRET";
	s.token_endpoint = "https://oauth2.example/token";
	s.authorization_endpoint = "https://accounts.example/o/oauth2/v2/auth";
	s.scope = "https://mail.google.com/";
	return s;
}

AuthorizationRequest Request()
{
	// RFC 7636 Appendix B's verifier, so that the challenge is known.
	return {"http://127.0.0.1:4711/", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
		"st-1"};
}

std::string RedirectError(std::string_view url, std::string_view state = "st-1")
{
	try {
		ParseRedirect(url, state);
	} catch (const OAuthError &e) {
		return std::string(ErrorKindName(e.Kind())) + ": " + e.what();
	}
	return "no error";
}

/** Plays the browser: sends @p request to 127.0.0.1:@p port, returns the answer. */
std::string Browse(std::uint16_t port, const std::string &request)
{
	const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	address.sin_port = htons(port);
	if (connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof(address)) < 0) {
		close(fd);
		return "connect failed";
	}
	(void)!write(fd, request.data(), request.size());
	std::string answer;
	char buffer[4096];
	ssize_t n;
	while ((n = read(fd, buffer, sizeof(buffer))) > 0)
		answer.append(buffer, static_cast<std::size_t>(n));
	close(fd);
	return answer;
}

} // namespace

TEST_CASE("authorization URL (RFC 6749 §4.1.1, RFC 7636 §4.3), byte for byte")
{
	CHECK(BuildAuthorizationUrl(Google(), Request()) ==
	      "https://accounts.example/o/oauth2/v2/auth?response_type=code&"
	      "client_id=123.apps.example&redirect_uri=http%3A%2F%2F127.0.0.1%3A4711%2F&"
	      "scope=https%3A%2F%2Fmail.google.com%2F&state=st-1&"
	      "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&"
	      "code_challenge_method=S256&access_type=offline&prompt=consent");

	// Not Google: no access_type; an endpoint with a query gets "&".
	auto custom = Google();
	custom.provider = Provider::Custom;
	custom.authorization_endpoint = "https://id.example/authorize?tenant=x";
	custom.scope.clear();
	CHECK(BuildAuthorizationUrl(custom, Request()) ==
	      "https://id.example/authorize?tenant=x&response_type=code&"
	      "client_id=123.apps.example&redirect_uri=http%3A%2F%2F127.0.0.1%3A4711%2F&"
	      "state=st-1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&"
	      "code_challenge_method=S256");
}

TEST_CASE("a fresh authorization request: a verifier and a state of their own")
{
	const auto a = MakeAuthorizationRequest("http://127.0.0.1:1/");
	const auto b = MakeAuthorizationRequest("http://127.0.0.1:1/");
	CHECK(a.redirect_uri == "http://127.0.0.1:1/");
	CHECK(a.code_verifier.size() == 43);
	CHECK(a.state.size() == 22);
	CHECK(a.code_verifier != b.code_verifier);
	CHECK(a.state != b.state);
}

TEST_CASE("the redirect: pasted URL, request target or bare query")
{
	CHECK(ParseRedirect("http://127.0.0.1:4711/?code=c-1&state=st-1", "st-1") ==
	      "c-1");
	CHECK(ParseRedirect("  http://127.0.0.1:4711/?state=st-1&code=c%2F2&scope=x\n",
			    "st-1") == "c/2");
	CHECK(ParseRedirect("/?code=c-3&state=st-1", "st-1") == "c-3");
	CHECK(ParseRedirect("code=c-4&state=st-1", "st-1") == "c-4");
}

TEST_CASE("the redirect: a wrong or missing state is refused, without either value")
{
	const auto wrong =
	    RedirectError("http://127.0.0.1:4711/?code=c-SECRET&state=other");
	CHECK(wrong == "protocol: the redirect URL's state does not match this sign-in "
		       "(an old or forged redirect)");
	CHECK(RedirectError("http://127.0.0.1:4711/?code=c-SECRET") ==
	      "protocol: the redirect URL has no state: it does not answer this sign-in");
	// An error with a wrong state is not believed either.
	CHECK(RedirectError("/?error=access_denied&state=other")
		  .starts_with("protocol: the redirect URL's state does not match"));
}

TEST_CASE("the redirect: errors and junk")
{
	CHECK(RedirectError(
		  "/?error=access_denied&error_description=User+declined&state=st-1") ==
	      "denied: the authorization server refused: access_denied (User declined)");
	CHECK(RedirectError("/?error=invalid_scope&state=st-1") ==
	      "rejected: the authorization server refused: invalid_scope");
	CHECK(RedirectError("https://accounts.example/signin") ==
	      "protocol: the redirect URL has neither code nor error: paste the whole "
	      "address the browser shows after signing in");
	CHECK(RedirectError("") == RedirectError("https://accounts.example/signin"));
	CHECK(RedirectError("/?code=&state=st-1") ==
	      "protocol: the redirect URL's code is empty");
	CHECK(RedirectError("/?code=%zz&state=st-1") ==
	      "protocol: the redirect URL is not well-formed (a bad %-escape)");
}

TEST_CASE("the code exchange (RFC 6749 §4.1.3, RFC 7636 §4.5), byte for byte")
{
	FakeTransport http;
	http.Answer(
	    200,
	    R"({"access_token":"at-1","token_type":"Bearer","refresh_token":"rt-1"})");
	const auto t = ExchangeAuthorizationCode(http, Google(), Request(), "c-1");
	CHECK(t.refresh_token == "rt-1");
	REQUIRE(http.requests.size() == 1);
	CHECK(http.requests[0].url == "https://oauth2.example/token");
	CHECK(EncodeForm(http.requests[0].form) ==
	      "grant_type=authorization_code&code=c-1&"
	      "redirect_uri=http%3A%2F%2F127.0.0.1%3A4711%2F&"
	      "code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&"
	      "client_id=123.apps.example&client_secret=cs-SECRET");

	// The server echoing the code, the verifier or the client secret shows none.
	http.Answer(
	    400,
	    R"({"error":"invalid_grant","error_description":"c-1 dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk cs-SECRET"})");
	try {
		ExchangeAuthorizationCode(http, Google(), Request(), "c-1");
		FAIL("no error");
	} catch (const OAuthError &e) {
		CHECK(e.Kind() == ErrorKind::NeedsLogin);
		CHECK(std::string(e.what()) ==
		      "https://oauth2.example/token: the server "
		      "refused: invalid_grant (******** ******** "
		      "********)");
	}
}

TEST_CASE(
    "loopback listener: a favicon gets 404, the redirect gets the page and the code")
{
	LoopbackListener listener;
	REQUIRE(listener.Port() != 0);
	CHECK(listener.RedirectUri() ==
	      "http://127.0.0.1:" + std::to_string(listener.Port()) + "/");
	std::string favicon, redirect;
	std::thread browser([&] {
		favicon = Browse(listener.Port(), "GET /favicon.ico HTTP/1.1\r\n"
						  "Host: 127.0.0.1\r\n\r\n");
		redirect =
		    Browse(listener.Port(), "GET /?code=c-9&state=st-1 HTTP/1.1\r\n"
					    "Host: 127.0.0.1\r\n\r\n");
	});
	const auto code = listener.WaitForCode("st-1", std::chrono::seconds(60));
	browser.join();
	CHECK(code == "c-9");
	CHECK(favicon.starts_with("HTTP/1.1 404 Not Found\r\n"));
	CHECK(redirect.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/html; "
				   "charset=utf-8\r\nCache-Control: no-store\r\n"
				   "Connection: close\r\n"));
	CHECK(redirect.find("<p>Signed in. You can close this tab and return to "
			    "popstream.</p>") != std::string::npos);
}

TEST_CASE("loopback listener: a wrong state fails the sign-in, and the page says why")
{
	LoopbackListener listener;
	std::string page;
	std::thread browser([&] {
		page = Browse(listener.Port(),
			      "GET /?code=c-SECRET&state=forged HTTP/1.1\r\n\r\n");
	});
	std::string error;
	try {
		listener.WaitForCode("st-1", std::chrono::seconds(60));
	} catch (const OAuthError &e) {
		error = e.what();
	}
	browser.join();
	CHECK(error == "the redirect URL's state does not match this sign-in (an old or "
		       "forged redirect)");
	CHECK(page.starts_with("HTTP/1.1 400 Bad Request\r\n"));
	CHECK(page.find("Sign-in failed: the redirect URL&#39;s state") ==
	      std::string::npos);
	CHECK(page.find("Sign-in failed: the redirect URL's state does not match") !=
	      std::string::npos);
	CHECK(page.find("c-SECRET") == std::string::npos);
}

TEST_CASE("loopback listener: nobody comes")
{
	LoopbackListener listener;
	try {
		listener.WaitForCode("st-1", std::chrono::milliseconds(1));
		FAIL("no error");
	} catch (const OAuthError &e) {
		CHECK(e.Kind() == ErrorKind::Expired);
		CHECK(std::string(e.what()) == "no browser came back to " +
						   listener.RedirectUri() +
						   " within 0 s");
	}
}
