// The grants in-process against the scripted OAuth 2.0 server over TLS, where the test
// must act between the client's steps: it plays the browser of the authorization code
// grant (following /authorize's redirect to the loopback listener, or pasting it), and
// drives the refresh grant through TokenCache (rotation, revocation, a slow and a
// malformed answer).
#include "OAuthServer.hxx"

#include "oauth/AuthCode.hxx"
#include "oauth/Device.hxx"
#include "oauth/Error.hxx"
#include "oauth/Form.hxx"
#include "oauth/Http.hxx"
#include "oauth/Login.hxx"
#include "oauth/TokenCache.hxx"

#include <doctest/doctest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

using namespace popstream::oauth;
using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

Settings Client(const OAuthServer &server, bool device)
{
	Settings s;
	s.provider = Provider::Custom;
	s.client_id = "client-1";
	s.scope = "pop offline_access";
	s.token_endpoint = server.Url("/token");
	if (device)
		s.device_endpoint = server.Url("/device");
	else
		s.authorization_endpoint = server.Url("/authorize");
	return s;
}

/** Output the test can wait on from another thread: each flush publishes it. */
class WatchedOutput : public std::stringbuf {
	std::mutex mutex_;
	std::condition_variable changed_;
	std::string seen_;

protected:
	int sync() override
	{
		std::lock_guard lock(mutex_);
		seen_ = str();
		changed_.notify_all();
		return 0;
	}

public:
	/** @return the output once it holds @p text (a backstop of 60 s) */
	std::string WaitFor(const std::string &text)
	{
		std::unique_lock lock(mutex_);
		changed_.wait_for(lock, 60s,
				  [&] { return seen_.find(text) != std::string::npos; });
		return seen_;
	}
};

/** An input whose one line is made when it is first read. */
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
		}
		return gptr() < egptr() ? traits_type::to_int_type(*gptr())
					: traits_type::eof();
	}

public:
	explicit LazyLine(std::function<std::string()> make) : make_(std::move(make)) {}
};

/** @return the URL on the line after "sign in:" */
std::string PrintedUrl(const std::string &out)
{
	const auto start = out.find("\n\n  ");
	REQUIRE(start != std::string::npos);
	return out.substr(start + 4, out.find('\n', start + 4) - start - 4);
}

class MapStore final : public GrantStore {
public:
	std::map<std::string, std::string> blobs;
	std::optional<std::string> Load(const std::string &key) override
	{
		const auto it = blobs.find(key);
		return it == blobs.end() ? std::nullopt : std::optional(it->second);
	}
	void Save(const std::string &key, const std::string &blob) override
	{
		blobs[key] = blob;
	}
	void Clear(const std::string &key) override { blobs.erase(key); }
	std::string Where() const override { return "memory"; }
};

/** Signs in with the device grant (no waiting: the server's interval is 1 s and it
 * does not time the polls) and stores the grant under "work". */
StoredGrant SignIn(const OAuthServer &server, HttpTransport &http, MapStore &store)
{
	const auto settings = Client(server, true);
	const auto a = StartDeviceAuthorization(http, settings);
	const auto token =
	    PollDeviceToken(http, settings, a, [](std::chrono::seconds) {});
	StoredGrant grant;
	grant.settings = settings;
	grant.refresh_token = token.refresh_token;
	store.Save("work", SerializeGrant(grant));
	return grant;
}

std::string Kind(const std::function<void()> &f)
{
	try {
		f();
	} catch (const OAuthError &e) {
		return std::string(ErrorKindName(e.Kind())) + ": " + e.what();
	}
	return "no error";
}

} // namespace

TEST_CASE("authorization code + PKCE: the browser comes back to the loopback listener")
{
	OAuthServer server;
	CurlTransport http({server.CaFile()});
	WatchedOutput output;
	std::ostream out(&output);
	std::istringstream in;
	LoginIo io{out, in, [](std::chrono::seconds) {}};
	io.qr = false;

	WebAnswer authorize, landing;
	std::thread browser([&] {
		const auto text = output.WaitFor("Waiting for the browser");
		authorize = Fetch(PrintedUrl(text), server.CaFile());
		if (!authorize.location.empty())
			landing = Fetch(authorize.location);
	});
	TokenResponse token;
	const auto error =
	    Kind([&] { token = BrowserLogin(http, Client(server, false), io, false); });
	browser.join();
	CHECK(error == "no error");
	CHECK(authorize.status == 302);
	CHECK(authorize.location.starts_with("http://127.0.0.1:"));
	CHECK(landing.status == 200);
	CHECK(landing.body.find("Signed in. You can close this tab") !=
	      std::string::npos);
	CHECK(token.refresh_token.starts_with("rt-1-"));
	CHECK(token.access_token.starts_with("at-1-"));
	// The server checked the verifier against the challenge (S256) and the
	// redirect_uri against /authorize's, or it would have answered invalid_grant.
	CHECK(server.Log().find(R"("grant_type": "authorization_code")") !=
	      std::string::npos);
	const auto text = output.str();
	CHECK(text.starts_with(
	    "Open this URL in a browser and sign in:\n\n  " +
	    server.Url("/authorize?response_type=code&client_id=client-1&")));
	CHECK(text.ends_with(" ...\nSigned in.\n"));
}

TEST_CASE("authorization code + PKCE with --no-browser: the pasted address")
{
	OAuthServer server;
	CurlTransport http({server.CaFile()});
	std::ostringstream out;
	LazyLine line([&] {
		// The user opens the URL elsewhere and copies where the browser ends.
		return Fetch(PrintedUrl(out.str()), server.CaFile()).location + "\n";
	});
	std::istream in(&line);
	LoginIo io{out, in, [](std::chrono::seconds) {}};
	io.qr = false;
	const auto token = BrowserLogin(http, Client(server, false), io, true);
	CHECK(token.refresh_token.starts_with("rt-1-"));
	CHECK(out.str().ends_with("and paste it here:\nSigned in.\n"));
}

TEST_CASE("authorization code: the user declines at the provider")
{
	OAuthServer server;
	server.Control(R"({"deny": true})");
	CurlTransport http({server.CaFile()});
	std::ostringstream out;
	LazyLine line(
	    [&] { return Fetch(PrintedUrl(out.str()), server.CaFile()).location; });
	std::istream in(&line);
	LoginIo io{out, in, [](std::chrono::seconds) {}};
	io.qr = false;
	CHECK(Kind([&] { BrowserLogin(http, Client(server, false), io, true); }) ==
	      "denied: the authorization server refused: access_denied");
}

TEST_CASE("refresh: cached, renewed, rotated, revoked")
{
	OAuthServer server;
	CurlTransport http({server.CaFile()});
	MapStore store;
	const auto grant = SignIn(server, http, store);

	auto now = std::chrono::steady_clock::time_point{};
	// The refresher the program uses.
	TokenCache cache(store, "work", "popstream oauth login work",
			 CurlRefresher({server.CaFile()}), [&] { return now; });

	// Without rotation: a new access token, the refresh token kept.
	const auto first = cache.Get();
	CHECK(first.token.starts_with("at-2-"));
	CHECK(cache.Get().token == first.token);
	CHECK(ParseGrant(store.blobs["work"]).refresh_token == grant.refresh_token);

	// Rejected by a server: Invalidate(), and the next Get() refreshes.
	cache.Invalidate();
	CHECK(cache.Get().token.starts_with("at-3-"));

	// With rotation: the new refresh token is saved, the old one is dead.
	server.Control(R"({"rotate": true})");
	now += 3600s;
	CHECK(cache.Get().token.starts_with("at-4-"));
	const auto rotated = ParseGrant(store.blobs["work"]);
	CHECK(rotated.refresh_token.starts_with("rt-2-"));
	CHECK(
	    Kind(
		[&] { RefreshAccessToken(http, grant.settings, grant.refresh_token); }) ==
	    "needs-login: " + server.Url("/token") +
		": the server refused: invalid_grant (refresh token revoked or unknown)");
	cache.Invalidate();
	CHECK(cache.Get().token.starts_with("at-5-"));
	CHECK(ParseGrant(store.blobs["work"]).refresh_token.starts_with("rt-3-"));

	// Revoked: NeedsLogin, naming the command; the stored grant is left for
	// `oauth login` to replace.
	server.Control(R"({"revoke_all": true})");
	cache.Invalidate();
	const auto revoked = Kind([&] { cache.Get(); });
	CHECK(revoked ==
	      "needs-login: " + server.Url("/token") +
		  ": the server refused: invalid_grant (refresh token revoked or "
		  "unknown); the grant of work is no longer valid; run: popstream "
		  "oauth login work");
	CHECK(store.blobs.count("work") == 1);
}

TEST_CASE("refresh: a slow token endpoint times out; a malformed answer is refused")
{
	OAuthServer server;
	MapStore store;
	const auto grant = [&] {
		CurlTransport http({server.CaFile()});
		return SignIn(server, http, store);
	}();

	server.Control(R"({"delay_ms": 3000})");
	CurlTransport impatient({server.CaFile(), 1000ms});
	const auto slow = Kind(
	    [&] { RefreshAccessToken(impatient, grant.settings, grant.refresh_token); });
	CHECK(slow.starts_with("network: " + server.Url("/token") +
			       ": Operation timed out after "));
	CHECK(slow.find(grant.refresh_token) == std::string::npos);

	server.Control(R"({"delay_ms": 0, "malformed": true})");
	CurlTransport http({server.CaFile()});
	CHECK(Kind([&] {
		      RefreshAccessToken(http, grant.settings, grant.refresh_token);
	      }) ==
	      "protocol: " + server.Url("/token") + ": the answer is not a JSON object");
}
