// The secret layer against real components on a private session bus: a real
// gnome-keyring-daemon (passwords stored by secret-tool, tokens stored by popstream),
// buses without a Secret Service, one whose Secret Service never answers, no bus at
// all, and the GNOME Online Accounts stand-in (GoaStandIn.cxx). One meson test per
// case, each under its own dbus-run-session (meson.build).
#include "SecretHarness.hxx"

#include "secret/FileStore.hxx"
#include "secret/Goa.hxx"
#include "secret/SecretService.hxx"
#include "secret/SecretServiceStore.hxx"
#include "secret/TokenStore.hxx"

#include <doctest/doctest.h>

#include <filesystem>
#include <sys/stat.h>

using namespace popstream;
using namespace popstream::test;
using secret::Attributes;

namespace {

/** The secret of a test, with bytes a careless copy would mangle. */
const std::string password = "h\xc3\xbcnter 2\t\"quoted\" \\ end";

unsigned ModeOf(const std::string &path)
{
	struct stat st {};
	REQUIRE(stat(path.c_str(), &st) == 0);
	return st.st_mode & 07777;
}

/** @return the number of items `secret-tool search --all` lists for @p args */
std::size_t CountItems(const std::vector<std::string> &args)
{
	std::vector<std::string> search = {"search", "--all"};
	search.insert(search.end(), args.begin(), args.end());
	const auto r = RunSecretTool(search);
	std::size_t count = 0;
	for (std::size_t at = r.out.find("\nlabel = "); at != std::string::npos;
	     at = r.out.find("\nlabel = ", at + 1))
		++count;
	return count;
}

/** Expects @p f to throw an exception of type E whose what() is @p message. */
template <typename E, typename F>
E ExpectThrow(F &&f, const std::string &message)
{
	try {
		f();
	} catch (const E &e) {
		CHECK(std::string(e.what()) == message);
		return e;
	}
	FAIL("no exception; expected: " << message);
	throw;
}

} // namespace

TEST_CASE("secret.lookup-secret-tool")
{
	// What a user does before writing `password: {secret: {...}}`.
	TempDir home;
	Keyring keyring(home);
	const auto stored = RunSecretTool({"store", "--label=POP3 password", "service",
					   "pop3", "user", "ada@example.com"},
					  password);
	REQUIRE(stored.exit_code == 0);

	CHECK(secret::LookupSecret({{"service", "pop3"}, {"user", "ada@example.com"}}) ==
	      password);
	// As with secret-tool lookup: the attributes given must match, others may
	// differ.
	CHECK(secret::LookupSecret({{"user", "ada@example.com"}}) == password);
	CHECK(secret::LookupSecret({{"service", "pop3"}, {"user", "bob@example.com"}}) ==
	      std::nullopt);
	CHECK(secret::LookupSecret({{"service", "pop3"},
				    {"user", "ada@example.com"},
				    {"host", "mail.example.com"}}) == std::nullopt);
	ExpectThrow<secret::SecretError>(
	    [] { secret::LookupSecret({}); },
	    "cannot look up a secret without attributes to find it by");
}

TEST_CASE("secret.store-lookup-clear")
{
	TempDir home;
	Keyring keyring(home);
	const Attributes attributes = {{"service", "pop3"}, {"user", "bob"}};
	secret::StoreSecret("first", attributes, "old secret");
	secret::StoreSecret("popstream test", attributes, password);
	// Stored again with the same attributes: replaced, not added.
	CHECK(CountItems({"service", "pop3", "user", "bob"}) == 1);
	CHECK(secret::LookupSecret(attributes) == password);
	// secret-tool sees what popstream stored, byte for byte.
	const auto looked_up =
	    RunSecretTool({"lookup", "service", "pop3", "user", "bob"});
	CHECK(looked_up.exit_code == 0);
	CHECK(looked_up.out == password);

	// A NUL byte survives the round trip.
	const std::string binary("a\0b", 3);
	secret::StoreSecret("binary", {{"service", "binary"}}, binary);
	CHECK(secret::LookupSecret({{"service", "binary"}}) == binary);

	CHECK(secret::ClearSecret(attributes));
	CHECK(secret::LookupSecret(attributes) == std::nullopt);
	CHECK_FALSE(secret::ClearSecret(attributes));
	CHECK(RunSecretTool({"lookup", "service", "pop3", "user", "bob"}).exit_code == 1);
}

TEST_CASE("secret.token-store-file-then-keyring")
{
	// Signed in over ssh, without a Secret Service: the grant went to the file.
	TempDir home;
	TempDir state;
	ScopedEnv xdg("XDG_STATE_HOME", state.Path().c_str());
	const std::string key = "work";
	const std::string old_blob = R"({"version":1,"refresh_token":"rt-1-file"})";
	secret::FileStore(secret::DefaultTokenDirectory()).Save(key, old_blob);
	const std::string file = state / "popstream/oauth/work.json";
	REQUIRE(std::filesystem::exists(file));

	// Later the keyring is up: the grant is still found, and the next save (a
	// rotated refresh token) moves it into the keyring.
	Keyring keyring(home);
	const auto store = secret::OpenTokenStore();
	CHECK(store->Where() == "the Secret Service (Login keyring)");
	CHECK(store->Load(key) == old_blob);
	const std::string new_blob = R"({"version":1,"refresh_token":"rt-2-keyring"})";
	store->Save(key, new_blob);
	CHECK_FALSE(std::filesystem::exists(file));
	CHECK(store->Load(key) == new_blob);
	CHECK(RunSecretTool({"lookup", "application", "popstream", "type",
			     "oauth2-refresh-token", "account", key})
		  .out == new_blob);
	store->Clear(key);
	CHECK(store->Load(key) == std::nullopt);
}

TEST_CASE("secret.token-store-keyring")
{
	TempDir home;
	Keyring keyring(home);
	TempDir state;
	ScopedEnv xdg("XDG_STATE_HOME", state.Path().c_str());

	const auto probe = secret::ProbeSecretService();
	CHECK(probe.state == secret::SecretServiceProbe::State::Ready);
	CHECK_FALSE(probe.locked);
	CHECK(probe.collection_label == "Login");

	const auto store = secret::OpenTokenStore();
	CHECK(store->Where() == "the Secret Service (Login keyring)");
	const std::string key =
	    secret::TokenKeyForSpec("ada@example.com@pop.example.com:995");
	CHECK(key == "dl-ada@example.com@pop.example.com:995");
	const std::string blob = R"({"version":1,"refresh_token":"rt-1-abc"})";

	CHECK(store->Load(key) == std::nullopt);
	store->Save(key, blob);
	CHECK(store->Load(key) == blob);
	// The item as the brief names it, found with secret-tool by its attributes.
	const auto looked_up =
	    RunSecretTool({"lookup", "application", "popstream", "type",
			   "oauth2-refresh-token", "account", key});
	CHECK(looked_up.out == blob);
	const auto search = RunSecretTool({"search", "application", "popstream"});
	CHECK(search.out.find("label = popstream OAuth 2.0 refresh token for " + key +
			      "\n") != std::string::npos);

	// A rotated refresh token replaces the old one; another key is another item.
	store->Save(key, R"({"version":1,"refresh_token":"rt-2-def"})");
	store->Save("work", "work blob");
	CHECK(CountItems({"application", "popstream"}) == 2);
	CHECK(store->Load(key) == R"({"version":1,"refresh_token":"rt-2-def"})");
	store->Clear(key);
	CHECK(store->Load(key) == std::nullopt);
	CHECK(store->Load("work") == "work blob");
	store->Clear(key);

	// Nothing went to the file fallback.
	CHECK(ListDir(state.Path()).empty());
}

TEST_CASE("secret.token-store-locked-keyring")
{
	// A login keyring that exists but was not unlocked (a login without PAM's
	// unlock): still the keyring, and Where() says it is locked. The same process
	// used the first gnome-keyring: a cached proxy of libsecret's would still talk
	// to that one.
	TempDir home;
	{
		Keyring first(home);
		secret::SecretServiceStore().Save("work", "blob");
	}
	Keyring keyring(home, false);
	const auto probe = secret::ProbeSecretService();
	CHECK(probe.state == secret::SecretServiceProbe::State::Ready);
	CHECK(probe.locked);
	CHECK(secret::OpenTokenStore()->Where() ==
	      "the Secret Service (Login keyring, locked)");
	// No password prompt can be shown on the test's bus (nor on a server): the
	// token is there but cannot be read, which is not "no token", and nothing can
	// be stored.
	ExpectThrow<secret::SecretError>(
	    [] { secret::SecretServiceStore().Load("work"); },
	    "cannot look up the secret {account=work, application=popstream, "
	    "type=oauth2-refresh-token}: it is in a locked keyring that the Secret "
	    "Service "
	    "could not unlock (unlock it, e.g. by logging in to the desktop)");
	ExpectThrow<secret::SecretError>(
	    [] { secret::SecretServiceStore().Save("home", "blob"); },
	    "cannot store the secret {account=home, application=popstream, "
	    "type=oauth2-refresh-token}: the Secret Service: Cannot create an item in a "
	    "locked collection");
	CHECK(secret::SecretServiceStore().Load("home") == std::nullopt);
}

TEST_CASE("secret.token-store-no-bus")
{
	TempDir state, runtime;
	ScopedEnv xdg("XDG_STATE_HOME", state.Path().c_str());
	ScopedEnv bus("DBUS_SESSION_BUS_ADDRESS", nullptr);
	ScopedEnv run("XDG_RUNTIME_DIR", runtime.Path().c_str());
	const std::string why = "no session bus (DBUS_SESSION_BUS_ADDRESS is not set and "
				"there is no socket " +
				runtime / "bus" + ")";

	const auto probe = secret::ProbeSecretService();
	CHECK(probe.state == secret::SecretServiceProbe::State::NoBus);
	CHECK(probe.detail == why);

	const auto store = secret::OpenTokenStore();
	CHECK(store->Where() ==
	      "a mode 0600 file in " + state / "popstream/oauth: " + why);
	store->Save("work", "the blob");
	CHECK(ReadFile(state / "popstream/oauth/work.json") == "the blob");
	CHECK(ModeOf(state / "popstream/oauth/work.json") == 0600);
	CHECK(ModeOf(state / "popstream/oauth") == 0700);
	CHECK(store->Load("work") == "the blob");

	ExpectThrow<secret::SecretError>(
	    [] { secret::OpenTokenStore(secret::StorePreference::SecretService); },
	    "cannot use the Secret Service: " + why);
	ExpectThrow<secret::SecretError>(
	    [] {
		    secret::LookupSecret({{"service", "pop3"}});
	    },
	    "cannot look up the secret {service=pop3}: " + why +
		", so no Secret Service");

	// Without XDG_RUNTIME_DIR either.
	ScopedEnv no_run("XDG_RUNTIME_DIR", nullptr);
	CHECK(secret::ProbeSecretService().detail ==
	      "no session bus (neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is "
	      "set)");
}

TEST_CASE("secret.token-store-no-service")
{
	// A session bus on which nothing provides org.freedesktop.secrets (session.conf
	// activates nothing).
	TempDir state;
	ScopedEnv xdg("XDG_STATE_HOME", state.Path().c_str());
	const std::string why = "no Secret Service on the session bus (nothing provides "
				"org.freedesktop.secrets)";

	const auto probe = secret::ProbeSecretService();
	CHECK(probe.state == secret::SecretServiceProbe::State::NoService);
	CHECK(probe.detail == why);
	const auto store = secret::OpenTokenStore();
	CHECK(store->Where() ==
	      "a mode 0600 file in " + state / "popstream/oauth: " + why);
	store->Save("work", "the blob");
	CHECK(store->Load("work") == "the blob");

	ExpectThrow<secret::SecretError>(
	    [] {
		    secret::LookupSecret({{"service", "pop3"}, {"user", "ada"}});
	    },
	    "cannot look up the secret {service=pop3, user=ada}: " + why);
	// The file store is what File asks for, whatever the bus has.
	CHECK(secret::OpenTokenStore(secret::StorePreference::File)->Where() ==
	      "a mode 0600 file in " + state / "popstream/oauth");
}

TEST_CASE("secret.service-never-answers")
{
	// Something owns org.freedesktop.secrets but reads nothing: every call ends at
	// its timeout with an error, the probe with a fallback.
	TempDir state;
	ScopedEnv xdg("XDG_STATE_HOME", state.Path().c_str());
	StandIn silent("org.freedesktop.secrets");

	const auto probe = secret::ProbeSecretService(std::chrono::milliseconds(500));
	CHECK(probe.state == secret::SecretServiceProbe::State::NoService);
	CHECK(probe.detail == "the Secret Service did not answer within 500 ms");
	CHECK(secret::OpenTokenStore(secret::StorePreference::Auto,
				     std::chrono::milliseconds(500))
		  ->Where() == "a mode 0600 file in " + state / "popstream/oauth: " +
				   "the Secret Service did not answer within 500 ms");

	ExpectThrow<secret::SecretError>(
	    [] {
		    secret::LookupSecret({{"service", "pop3"}}, std::chrono::seconds(1));
	    },
	    "cannot look up the secret {service=pop3}: the Secret Service did not answer "
	    "within 1 s (is the keyring locked, waiting for its password?)");
	ExpectThrow<secret::SecretError>(
	    [] {
		    secret::StoreSecret("label", {{"service", "pop3"}}, "secret value",
					std::chrono::seconds(1));
	    },
	    "cannot store the secret {service=pop3}: the Secret Service did not answer "
	    "within 1 s (is the keyring locked, waiting for its password?)");
}

TEST_CASE("goa.token")
{
	StandIn goa;
	const auto token = secret::GoaAccessToken("account_ok");
	CHECK(token.access_token == "goa-access-token-1");
	CHECK(token.expires_in == std::chrono::seconds(3600));
	// Asked again, GOA answers again (it refreshes; popstream does not cache here).
	CHECK(secret::GoaAccessToken("account_ok").access_token == "goa-access-token-2");
}

TEST_CASE("goa.no-account")
{
	StandIn goa;
	const auto e = ExpectThrow<secret::GoaError>(
	    [] { secret::GoaAccessToken("account_missing"); },
	    "GNOME Online Accounts has no account with id account_missing; its accounts: "
	    "account_attention (Google, bob@example.org), account_ok (Microsoft, "
	    "ada@example.com), account_password (IMAP and SMTP, carol@example.net)");
	CHECK(e.kind == secret::GoaError::Kind::NoAccount);
}

TEST_CASE("goa.not-oauth2")
{
	StandIn goa;
	const auto e = ExpectThrow<secret::GoaError>(
	    [] { secret::GoaAccessToken("account_password"); },
	    "GNOME Online Accounts account account_password (IMAP and SMTP, "
	    "carol@example.net) has no OAuth 2.0 token to give (no "
	    "org.gnome.OnlineAccounts.OAuth2Based interface)");
	CHECK(e.kind == secret::GoaError::Kind::NotOAuth2);
}

TEST_CASE("goa.needs-attention")
{
	StandIn goa;
	const auto e = ExpectThrow<secret::GoaError>(
	    [] { secret::GoaAccessToken("account_attention"); },
	    "GNOME Online Accounts cannot give a token for account_attention (Google, "
	    "bob@example.org): No credentials found in the keyring "
	    "(org.gnome.OnlineAccounts.Error.NotAuthorized); sign in to the account "
	    "again "
	    "in GNOME Settings, Online Accounts");
	CHECK(e.kind == secret::GoaError::Kind::NeedsAttention);
}

TEST_CASE("goa.no-service")
{
	const auto e = ExpectThrow<secret::GoaError>(
	    [] { secret::GoaAccessToken("account_ok"); },
	    "GNOME Online Accounts is not on the session bus (nothing provides "
	    "org.gnome.OnlineAccounts; is gnome-online-accounts installed, and is this "
	    "the "
	    "desktop's session?)");
	CHECK(e.kind == secret::GoaError::Kind::NoService);
}

TEST_CASE("goa.never-answers")
{
	StandIn silent("org.gnome.OnlineAccounts");
	const auto e = ExpectThrow<secret::GoaError>(
	    [] { secret::GoaAccessToken("account_ok", std::chrono::milliseconds(500)); },
	    "GNOME Online Accounts did not answer within 500 ms");
	CHECK(e.kind == secret::GoaError::Kind::NoService);
}

TEST_CASE("goa.no-bus")
{
	TempDir runtime;
	ScopedEnv bus("DBUS_SESSION_BUS_ADDRESS", nullptr);
	ScopedEnv run("XDG_RUNTIME_DIR", runtime.Path().c_str());
	ExpectThrow<secret::GoaError>(
	    [] { secret::GoaAccessToken("account_ok"); },
	    "cannot ask GNOME Online Accounts for a token: no session bus "
	    "(DBUS_SESSION_BUS_ADDRESS is not set and there is no socket " +
		runtime / "bus" + ")");
}
