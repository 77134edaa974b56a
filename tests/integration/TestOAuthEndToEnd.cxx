// Issue 12 end to end: `popstream oauth login`, `popstream dl` and popstreamd against
// a real Dovecot 2.3 whose oauth2 passdb asks tests/support/fake-oauth2-server (RFC 7662
// introspection) about every token, with the refresh token in a 0600 file or in a real
// gnome-keyring-daemon; passwords from that keyring; tokens from the GNOME Online
// Accounts stand-in (tests/secret/GoaStandIn.cxx) that Dovecot accepts.
//
// Each case runs under its own `dbus-run-session --config-file=tests/secret/session.conf`
// (meson.build): a bus on which nothing is activated, so it has a Secret Service or GNOME
// Online Accounts only when the case starts one.

#include "../daemon/DaemonHelpers.hxx"
#include "../secret/SecretHarness.hxx"
#include "DovecotServer.hxx"
#include "FakeOAuth2Server.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

const std::string device_grant = "urn:ietf:params:oauth:grant-type:device_code";

std::string MakeDir(const std::string &path, unsigned mode = 0755)
{
	std::filesystem::create_directories(path);
	std::filesystem::permissions(path, static_cast<std::filesystem::perms>(mode));
	return path;
}

/** @return the permission bits of @p path */
unsigned Mode(const std::string &path)
{
	struct stat st {};
	REQUIRE(stat(path.c_str(), &st) == 0);
	return st.st_mode & 07777;
}

/** @return true if @p text holds something shaped like a token of the fake server */
bool HoldsToken(const std::string &text)
{
	static const std::regex token("(at|rt)-[0-9]+-[A-Za-z0-9_-]{8}");
	return std::regex_search(text, token);
}

/** Prints @p r whole on stderr, which meson keeps in the test log. */
void Show(const char *what, const ProcessResult &r)
{
	std::fprintf(stderr,
		     "----- %s (exit %d) -----\n%s----- its stderr -----\n%s"
		     "----- end of %s -----\n",
		     what, r.exit_code, r.out.c_str(), r.err.c_str(), what);
}

/**
 * A Dovecot (its oauth2 passdb asking the fake OAuth 2.0 server, or plain passwords) and
 * a HOME for popstream, with the config at its default place
 * (HOME/.config/popstream/config.yaml) so that `popstream oauth login NAME` finds it.
 */
struct World {
	TempDir tmp{0755};
	std::unique_ptr<FakeOAuth2Server> oauth;
	std::unique_ptr<DovecotServer> dovecot;
	std::string home = MakeDir(tmp / "home", 0700);
	std::string config = home + "/.config/popstream/config.yaml";
	std::unique_ptr<Child> daemon;

	/**
	 * @param users Dovecot's "NAME:PASSWORD" entries
	 * @param with_oauth start the fake OAuth 2.0 server (its certificate from
	 *        Dovecot's test CA) and let Dovecot check tokens with it
	 */
	World(const std::vector<std::string> &users, bool with_oauth)
	{
		const auto dir = MakeDir(tmp / "srv");
		DovecotOptions options;
		if (with_oauth) {
			FakeOAuth2Options o;
			o.pki_dir = dir + "/pki";
			oauth =
			    std::make_unique<FakeOAuth2Server>(MakeDir(tmp / "oauth"), o);
			oauth->Start();
			options.oauth2_introspection_url = oauth->IntrospectionUrl();
		}
		dovecot = std::make_unique<DovecotServer>(dir, users, options);
	}

	~World()
	{
		if (daemon) {
			daemon->Signal(SIGKILL);
			daemon->Wait();
		}
	}

	/** `popstream ARGS` with this HOME, no netrc, the XDG variables unset unless
	 * @p env sets them */
	ProcessResult Popstream(const std::vector<std::string> &args,
				const std::vector<std::string> &env = {}) const
	{
		ProcessOptions o;
		o.argv = {RequireEnv("POPSTREAM_BIN")};
		o.argv.insert(o.argv.end(), args.begin(), args.end());
		o.env = {"HOME=" + home, "NETRC=" + home + "/no-netrc", "XDG_STATE_HOME",
			 "XDG_CONFIG_HOME"};
		o.env.insert(o.env.end(), env.begin(), env.end());
		o.timeout = 50s;
		return Run(o);
	}

	/** The implicit-TLS spec of @p user for dl and `oauth login SPEC`. */
	std::string Spec(const std::string &user) const
	{
		return user + "@127.0.0.1!pop.example.com:" +
		       std::to_string(dovecot->pop3s_port);
	}

	/** The key `oauth login SPEC` stores the grant under. */
	std::string SpecKey(const std::string &user) const
	{
		return "dl-" + user + "@127.0.0.1:" + std::to_string(dovecot->pop3s_port);
	}

	/** `popstream oauth login SPEC` for the fake server's custom client. */
	ProcessResult LoginSpec(const std::string &user,
				const std::vector<std::string> &extra,
				const std::vector<std::string> &env = {}) const
	{
		std::vector<std::string> args{"oauth",
					      "login",
					      "--provider",
					      "custom",
					      "--client-id",
					      "popstream-test",
					      "--token-endpoint",
					      oauth->Url("/token"),
					      "--device-endpoint",
					      oauth->Url("/device"),
					      "--ca-file",
					      oauth->CaFile()};
		args.insert(args.end(), extra.begin(), extra.end());
		args.push_back(Spec(user));
		return Popstream(args, env);
	}

	/** `popstream dl --auth xoauth2 SPEC MAILDIR`, no --token-command. */
	ProcessResult DlXoauth2(const std::string &user, const std::string &maildir,
				const std::vector<std::string> &env = {}) const
	{
		return Popstream({"dl", "--auth", "xoauth2", "--ca-file",
				  dovecot->ca_file, Spec(user), maildir},
				 env);
	}

	/** An account entry of the config: implicit TLS to Dovecot as @p user. */
	std::string Account(const std::string &name, const std::string &user,
			    const std::string &rest) const
	{
		return "  - name: " + name + "\n    host: 127.0.0.1\n    port: " +
		       std::to_string(dovecot->pop3s_port) +
		       "\n    tls: implicit\n    sni: pop.example.com\n    user: " +
		       user + "\n    ca_file: " + dovecot->ca_file +
		       "\n    maildir: " + Maildir(name) + "\n" + rest;
	}

	std::string Maildir(const std::string &account) const
	{
		return home + "/Mail/" + account;
	}

	void WriteConfig(const std::string &accounts) const
	{
		MakeDir(home + "/.config/popstream", 0700);
		WriteFile(config,
			  "defaults:\n  interval: 1h\n  timeout: 30s\naccounts:\n" +
			      accounts,
			  0600);
	}

	/** Starts popstreamd on the config; returns once it is on the bus. */
	void StartDaemon()
	{
		daemon = std::make_unique<Child>(DaemonProcess(home, config));
		REQUIRE(WaitUntil([] {
			ProcessOptions o;
			o.argv = {"busctl", "--user", "status", daemon_bus_name};
			o.timeout = 10s;
			return Run(o).exit_code == 0;
		}));
	}

	/** Stops popstreamd (SIGTERM). @return how it ended and what it logged */
	ProcessResult StopDaemon()
	{
		daemon->Signal(SIGTERM);
		auto r = daemon->Wait();
		daemon.reset();
		return r;
	}

	nlohmann::json Log() const { return nlohmann::json::parse(oauth->Log()); }

	/** @return the grant_type of every /token request, with its error if any
	 *          ("refresh_token", "device_code: slow_down") */
	std::vector<std::string> TokenRequests() const
	{
		std::vector<std::string> list;
		const auto log = Log();
		for (const auto &r : log["requests"]) {
			if (r["path"] != "/token")
				continue;
			std::string grant = r.value("grant_type", "");
			if (grant == device_grant)
				grant = "device_code";
			if (r.contains("error"))
				grant += ": " + r["error"].get<std::string>();
			list.push_back(grant);
		}
		return list;
	}

	/** @return the "active" answers of the introspections so far, in order */
	std::vector<std::string> Introspections() const
	{
		std::vector<std::string> answers;
		const auto log = Log();
		for (const auto &r : log["requests"])
			if (r["path"] == "/introspect")
				answers.push_back(r.value("active", false) ? "active"
									   : "inactive");
		return answers;
	}
};

/** @return the JSON the grant store holds for a key */
nlohmann::json Grant(const std::string &text)
{
	auto grant = nlohmann::json::parse(text);
	REQUIRE(grant.is_object());
	return grant;
}

/** Checks a dl that fetched everything from @p user's mailbox. */
void CheckFetchedAll(const World &w, const ProcessResult &r, const std::string &user,
		     const std::string &maildir, const SampleSet &sample)
{
	INFO(Describe(r));
	CHECK(r.exit_code == 0);
	CHECK(r.err.empty());
	CHECK(SavedHashes(maildir + "/new") == sample.FetchedHashes());
	CHECK(ListDir(maildir + "/tmp").empty());
	CHECK(w.dovecot->Count(user) == 0);
	CHECK(!HoldsToken(r.out + r.err));
}

} // namespace

TEST_SUITE("oauth-end-to-end")
{
	TEST_CASE("login-file: oauth login SPEC without a Secret Service, then dl")
	{
		World w({"alice:unused"}, true);
		const auto sample = w.dovecot->Fill("alice", 8, 301);
		// The user takes a while: the first poll is told to slow down, the next
		// two that the user has not signed in yet.
		w.oauth->Control(R"({"pending": 2, "slow_down": 1})");
		const std::string state = MakeDir(w.tmp / "state", 0700);
		const std::vector<std::string> env{"XDG_STATE_HOME=" + state};

		const auto login = w.LoginSpec("alice", {"--qr", "always"}, env);
		// The whole session as the user sees it, for the issue's closing note.
		Show("popstream oauth login (device grant, no Secret Service)", login);
		INFO(Describe(login));
		REQUIRE(login.exit_code == 0);
		CHECK(login.err.empty());

		const std::string key = w.SpecKey("alice");
		const std::string dir = state + "/popstream/oauth";
		const std::string file = dir + "/" + key + ".json";
		REQUIRE(std::filesystem::exists(file));
		CHECK(Mode(file) == 0600);
		CHECK(Mode(dir) == 0700);
		CHECK(ListDir(dir) == std::vector<std::string>{key + ".json"});

		// What the user is told: where to go, the code, that it worked and where
		// the refresh token went.
		const std::regex shown(
		    "^To sign in, open https://127\\.0\\.0\\.1:" +
		    std::to_string(w.oauth->Port()) +
		    "/device-verify in a browser and enter the code [0-9]{4}-[0-9]{4}\n"
		    "or scan this QR code to open it with the code filled in:\n");
		CHECK(std::regex_search(login.out, shown));
		CHECK(login.out.ends_with(
		    "\nWaiting for you to sign in (the code expires in 10 minutes)...\n"
		    "Signed in.\nThe refresh token for " +
		    key + " is stored in a mode 0600 file in " + dir +
		    ": no Secret Service on the session bus (nothing provides "
		    "org.freedesktop.secrets).\n"));

		// The polls honoured slow_down and authorization_pending.
		CHECK(w.TokenRequests() ==
		      std::vector<std::string>{
			  "device_code: slow_down", "device_code: authorization_pending",
			  "device_code: authorization_pending", "device_code"});

		const auto grant = Grant(ReadFile(file));
		const std::string refresh_token = grant.value("refresh_token", "");
		CHECK(refresh_token.starts_with("rt-1-"));
		CHECK(grant.value("token_endpoint", "") == w.oauth->Url("/token"));
		CHECK(grant.value("client_id", "") == "popstream-test");

		const auto maildir = w.tmp / "Maildir";
		const auto dl = w.DlXoauth2("alice", maildir, env);
		CheckFetchedAll(w, dl, "alice", maildir, sample);
		// dl turned the stored refresh token into an access token, which Dovecot
		// found active.
		CHECK(w.TokenRequests().back() == "refresh_token");
		CHECK(w.Introspections() == std::vector<std::string>{"active"});

		for (const auto *text : {&login.out, &login.err, &dl.out, &dl.err})
			CHECK(text->find(refresh_token) == std::string::npos);
		// The store was not changed by dl (no rotation was scripted).
		CHECK(Grant(ReadFile(file))["refresh_token"] == refresh_token);
	}

	TEST_CASE("login-keyring: oauth login SPEC into gnome-keyring, then dl")
	{
		World w({"alice:unused"}, true);
		const auto sample = w.dovecot->Fill("alice", 6, 302);
		TempDir keyring_home;
		Keyring keyring(keyring_home);

		const auto login = w.LoginSpec("alice", {"--qr", "never"});
		Show("popstream oauth login (device grant, gnome-keyring)", login);
		INFO(Describe(login));
		REQUIRE(login.exit_code == 0);
		const std::string key = w.SpecKey("alice");
		CHECK(login.out.ends_with("Signed in.\nThe refresh token for " + key +
					  " is stored in the Secret Service (Login "
					  "keyring).\n"));
		// Nothing went to the file fallback.
		CHECK(!std::filesystem::exists(w.home + "/.local/state/popstream"));

		const auto lookup =
		    RunSecretTool({"lookup", "application", "popstream", "type",
				   "oauth2-refresh-token", "account", key});
		INFO(Describe(lookup));
		REQUIRE(lookup.exit_code == 0);
		const auto grant = Grant(lookup.out);
		const std::string refresh_token = grant.value("refresh_token", "");
		CHECK(refresh_token.starts_with("rt-1-"));

		const auto maildir = w.tmp / "Maildir";
		const auto dl = w.DlXoauth2("alice", maildir);
		CheckFetchedAll(w, dl, "alice", maildir, sample);
		CHECK(w.TokenRequests() ==
		      std::vector<std::string>{"device_code", "refresh_token"});
		CHECK(w.Introspections() == std::vector<std::string>{"active"});
		for (const auto *text : {&login.out, &login.err, &dl.out, &dl.err})
			CHECK(text->find(refresh_token) == std::string::npos);
	}
}
