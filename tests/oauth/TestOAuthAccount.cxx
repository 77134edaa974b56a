// `oauth login ACCOUNT` and `oauth logout ACCOUNT` in-process, through the CLI11
// registration the program uses (AddOAuth, RunOAuth), with a daemon account supplied by
// OAuthContext::find_account as the config will, against the scripted server.
#include "OAuthServer.hxx"

#include "cli/OAuthLogin.hxx"
#include "oauth/GrantStore.hxx"
#include "oauth/StoredGrant.hxx"

#include <CLI/CLI.hpp>
#include <doctest/doctest.h>

#include <cstdio>
#include <fcntl.h>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace popstream;
using namespace popstream::test;

namespace {

class MapStore final : public oauth::GrantStore {
public:
	std::map<std::string, std::string> *blobs;
	explicit MapStore(std::map<std::string, std::string> &b) : blobs(&b) {}
	std::optional<std::string> Load(const std::string &key) override
	{
		const auto it = blobs->find(key);
		return it == blobs->end() ? std::nullopt : std::optional(it->second);
	}
	void Save(const std::string &key, const std::string &blob) override
	{
		(*blobs)[key] = blob;
	}
	void Clear(const std::string &key) override { blobs->erase(key); }
	std::string Where() const override { return "the test's keyring"; }
};

struct Result {
	int status;
	std::string out, err;
};

/** Sends stderr (fd 2) to a file while it lives; Text() reads what came. */
class CapturedStderr {
	TempDir dir_;
	int saved_;

public:
	CapturedStderr() : saved_(dup(STDERR_FILENO))
	{
		std::fflush(stderr);
		const int fd =
		    open((dir_ / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	~CapturedStderr()
	{
		std::fflush(stderr);
		dup2(saved_, STDERR_FILENO);
		close(saved_);
	}
	std::string Text() const
	{
		std::fflush(stderr);
		return ReadFile(dir_ / "err");
	}
};

/** Runs `popstream ARGS` as far as oauth goes: CLI11 parses, RunOAuth runs. */
Result Run(std::vector<std::string> args, const cli::OAuthContext &context)
{
	CLI::App app("test", "popstream");
	cli::OAuthArgs oauth_args;
	auto *oauth = cli::AddOAuth(app, oauth_args);
	std::vector<std::string> reversed(args.rbegin(), args.rend());
	app.parse(reversed);
	std::ostringstream out;
	std::istringstream in;
	CapturedStderr err;
	const int status =
	    cli::RunOAuth(*oauth, oauth_args, context, "popstream", out, in);
	return {status, out.str(), err.Text()};
}

} // namespace

TEST_CASE("oauth login ACCOUNT: the account's settings, its name as the key")
{
	OAuthServer server;
	std::map<std::string, std::string> blobs;
	cli::OAuthContext context;
	context.find_account =
	    [&](const std::string &word) -> std::optional<cli::OAuthAccount> {
		if (word == "goa-account") {
			cli::OAuthAccount goa{word, {}, {}};
			goa.settings.provider = oauth::Provider::Goa;
			goa.settings.goa_account = "account_1";
			return goa;
		}
		if (word != "work")
			return std::nullopt;
		cli::OAuthAccount account{"work", {}, server.CaFile()};
		account.settings.provider = oauth::Provider::Custom;
		account.settings.client_id = "client-1";
		account.settings.scope = "pop offline_access";
		account.settings.token_endpoint = server.Url("/token");
		account.settings.device_endpoint = server.Url("/device");
		return account;
	};
	context.open_store = [&] { return std::make_unique<MapStore>(blobs); };

	const auto r = Run({"oauth", "login", "--qr", "never", "work"}, context);
	CHECK(r.status == 0);
	CHECK(r.out.ends_with("...\nSigned in.\nThe refresh token for work is stored in "
			      "the test's keyring.\n"));
	REQUIRE(blobs.count("work") == 1);
	const auto grant = oauth::ParseGrant(blobs["work"]);
	CHECK(grant.settings.token_endpoint == server.Url("/token"));
	CHECK(grant.refresh_token.starts_with("rt-1-"));

	// Flags cannot override the config's client.
	CHECK(Run({"oauth", "login", "--client-id", "other", "work"}, context).status ==
	      64);
	// GOA accounts have nothing to log in to.
	CHECK(Run({"oauth", "login", "goa-account"}, context).status == 64);

	const auto out = Run({"oauth", "logout", "work"}, context);
	CHECK(out.status == 0);
	CHECK(out.out == "Removed the refresh token for work from the test's keyring.\n");
	CHECK(blobs.empty());
}

TEST_CASE("oauth login: a config that cannot be read, a store that cannot be opened")
{
	cli::OAuthContext context;
	context.find_account =
	    [](const std::string &) -> std::optional<cli::OAuthAccount> {
		throw std::runtime_error("config.yaml:3:1: bad indentation");
	};
	context.open_store = []() -> std::unique_ptr<oauth::GrantStore> {
		throw std::runtime_error("no Secret Service and no home directory");
	};
	const auto config = Run({"oauth", "login", "work"}, context);
	CHECK(config.status == 78);
	CHECK(config.err == "popstream: oauth login: config.yaml:3:1: bad indentation\n");

	context.find_account =
	    [](const std::string &) -> std::optional<cli::OAuthAccount> {
		cli::OAuthAccount account{"work", {}, {}};
		account.settings.provider = oauth::Provider::Microsoft;
		account.settings.client_id = "client-1";
		return account;
	};
	// The store is opened before anyone signs in: nothing is sent.
	const auto login = Run({"oauth", "login", "work"}, context);
	CHECK(login.status == 73);
	CHECK(login.err ==
	      "popstream: oauth login: cannot open the token store: no Secret "
	      "Service and no home directory\n");
	CHECK(login.out.empty());
	const auto logout = Run({"oauth", "logout", "work"}, context);
	CHECK(logout.status == 73);
	CHECK(logout.err == "popstream: oauth logout: cannot open the token store: no "
			    "Secret Service and no home directory\n");
}
