#include "MemoryStore.hxx"

#include "oauth/Error.hxx"
#include "oauth/TokenCache.hxx"

#include <doctest/doctest.h>

using namespace popstream::oauth;
using popstream::oauth::test::MemoryStore;
using namespace std::chrono_literals;
using Time = std::chrono::steady_clock::time_point;

namespace {

StoredGrant CustomGrant(std::string refresh_token = "rt-1")
{
	StoredGrant g;
	g.settings.provider = Provider::Custom;
	g.settings.client_id = "client-1";
	g.settings.token_endpoint = "https://login.example/token";
	g.refresh_token = std::move(refresh_token);
	return g;
}

/** A refresher that hands out at-1, at-2, ... living @p lifetime, records the refresh
 * token it was given, and can rotate or fail. */
struct FakeRefresher {
	int calls = 0;
	std::vector<std::string> refresh_tokens_used;
	std::optional<long long> lifetime = 3600;
	bool rotate = false;
	std::optional<OAuthError> fail;

	TokenCache::Refresher Function()
	{
		return [this](const StoredGrant &grant) {
			++calls;
			refresh_tokens_used.push_back(grant.refresh_token);
			if (fail)
				throw *fail;
			TokenResponse t;
			t.access_token = "at-" + std::to_string(calls);
			t.token_type = "Bearer";
			t.expires_in = lifetime;
			if (rotate)
				t.refresh_token = "rt-" + std::to_string(calls + 1);
			return t;
		};
	}
};

struct Fixture {
	MemoryStore store;
	FakeRefresher refresher;
	Time now{};
	TokenCache cache{store, "work", "popstream oauth login work",
			 refresher.Function(), [this] { return now; }};

	Fixture() { store.blobs["work"] = SerializeGrant(CustomGrant()); }
};

std::string GetError(TokenCache &cache, ErrorKind expected)
{
	try {
		cache.Get();
	} catch (const OAuthError &e) {
		CHECK(e.Kind() == expected);
		return e.what();
	}
	return "no error";
}

} // namespace

TEST_CASE("token cache: cached until 60 s before expiry, then refreshed")
{
	Fixture f;
	const auto first = f.cache.Get();
	CHECK(first.token == "at-1");
	CHECK(first.valid_until == f.now + 3600s - 60s);
	CHECK(first.save_error.empty());

	f.now += 3539s; // one second before the margin
	CHECK(f.cache.Get().token == "at-1");
	CHECK(f.refresher.calls == 1);

	f.now += 1s; // exactly 60 s before expiry: no longer handed out
	CHECK(f.cache.Get().token == "at-2");
	CHECK(f.refresher.calls == 2);
	CHECK(f.refresher.refresh_tokens_used ==
	      std::vector<std::string>{"rt-1", "rt-1"});
	// Not rotated: nothing written.
	CHECK(f.store.saves == 0);
}

TEST_CASE("token cache: Invalidate() forces a refresh (a token the server rejected)")
{
	Fixture f;
	CHECK(f.cache.Get().token == "at-1");
	f.cache.Invalidate();
	CHECK(f.cache.Get().token == "at-2");
	CHECK(f.cache.Get().token == "at-2");
	CHECK(f.refresher.calls == 2);
}

TEST_CASE(
    "token cache: a token without expires_in or shorter than the margin is not kept")
{
	Fixture f;
	f.refresher.lifetime.reset();
	CHECK(f.cache.Get().token == "at-1");
	CHECK(f.cache.Get().token == "at-2");
	f.refresher.lifetime = 30;
	CHECK(f.cache.Get().token == "at-3");
	CHECK(f.cache.Get().token == "at-4");
}

TEST_CASE("token cache: a rotated refresh token replaces the stored one")
{
	Fixture f;
	f.refresher.rotate = true;
	CHECK(f.cache.Get().token == "at-1");
	CHECK(f.store.saves == 1);
	CHECK(ParseGrant(f.store.blobs["work"]) == CustomGrant("rt-2"));
	f.cache.Invalidate();
	CHECK(f.cache.Get().token == "at-2");
	CHECK(f.refresher.refresh_tokens_used ==
	      std::vector<std::string>{"rt-1", "rt-2"});
	CHECK(ParseGrant(f.store.blobs["work"]) == CustomGrant("rt-3"));
}

TEST_CASE("token cache: a rotation that cannot be saved is kept in memory and said once")
{
	Fixture f;
	f.refresher.rotate = true;
	f.store.fail_saves = true;
	const auto token = f.cache.Get();
	CHECK(token.token == "at-1");
	CHECK(token.save_error ==
	      "cannot save the new OAuth 2.0 refresh token of work to "
	      "the test store: disk full (kept in memory)");
	CHECK(token.save_error.find("rt-2") == std::string::npos);
	CHECK(f.cache.Get().save_error.empty()); // the cached copy does not repeat it

	// The next refresh uses the new token, not the stale stored one, and saves it
	// once the store works again.
	f.store.fail_saves = false;
	f.refresher.rotate = false;
	f.cache.Invalidate();
	CHECK(f.cache.Get().token == "at-2");
	CHECK(f.refresher.refresh_tokens_used ==
	      std::vector<std::string>{"rt-1", "rt-2"});
	CHECK(ParseGrant(f.store.blobs["work"]) == CustomGrant("rt-2"));
}

TEST_CASE("token cache: NeedsLogin with the command to run")
{
	Fixture f;
	f.store.blobs.clear();
	CHECK(GetError(f.cache, ErrorKind::NeedsLogin) ==
	      "no OAuth 2.0 refresh token is stored for work in the test store; run: "
	      "popstream oauth login work");

	f.store.blobs["work"] = "garbage rt-SECRET";
	CHECK(GetError(f.cache, ErrorKind::NeedsLogin) ==
	      "the stored grant is not a JSON object (work in the test store); run: "
	      "popstream oauth login work");

	f.store.blobs["work"] = SerializeGrant(CustomGrant());
	f.refresher.fail = OAuthError(ErrorKind::NeedsLogin,
				      "https://login.example/token: the server refused: "
				      "invalid_grant",
				      "invalid_grant");
	const auto e = GetError(f.cache, ErrorKind::NeedsLogin);
	CHECK(e == "https://login.example/token: the server refused: invalid_grant; the "
		   "grant of work is no longer valid; run: popstream oauth login work");
}

TEST_CASE("token cache: other failures pass through, and nothing is cached")
{
	Fixture f;
	f.refresher.fail = OAuthError(ErrorKind::Network, "https://login.example/token: "
							  "Timeout was reached");
	CHECK(GetError(f.cache, ErrorKind::Network) ==
	      "https://login.example/token: Timeout was reached");
	f.refresher.fail.reset();
	CHECK(f.cache.Get().token == "at-2");

	f.store.fail_loads = true;
	f.cache.Invalidate();
	CHECK(
	    GetError(f.cache, ErrorKind::Store) ==
	    "cannot read the OAuth 2.0 grant of work from the test store: the keyring is "
	    "locked");
}
