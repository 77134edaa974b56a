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

/** @return an account's State, MessagesFetched and LastError, for failure messages
 * (doctest evaluates INFO only on failure) */
std::string Props(const std::string &account)
{
	return account + ": State " + AccountProp(account, "State") +
	       ", MessagesFetched " + AccountProp(account, "MessagesFetched") +
	       ", LastError " + AccountProp(account, "LastError");
}

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
		CHECK(std::regex_match(
		    login.out,
		    std::regex(
			"To sign in, open https://127\\.0\\.0\\.1:" +
			std::to_string(w.oauth->Port()) +
			"/device-verify in a browser and enter the code "
			"[0-9]{4}-[0-9]{4}\n"
			"Waiting for you to sign in \\(the code expires in 10 "
			"minutes\\)\\.\\.\\.\n"
			"Signed in\\.\n"
			"The refresh token for " +
			key +
			" is stored in the Secret Service \\(Login keyring\\)\\.\n")));
		CHECK(login.err.empty());
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

	TEST_CASE("daemon-renew-revoke: popstreamd renews a refused token once, then "
		  "waits in auth-needed when the grant is revoked")
	{
		World w({"alice:unused"}, true);
		w.WriteConfig(w.Account(
		    "work", "alice",
		    "    auth: xoauth2\n    oauth: {provider: custom, client_id: "
		    "popstream-test, token_endpoint: \"" +
			w.oauth->Url("/token") + "\", device_endpoint: \"" +
			w.oauth->Url("/device") + "\"}\n"));
		auto sample = w.dovecot->Fill("alice", 3, 311);

		const auto login =
		    w.Popstream({"oauth", "login", "--qr", "never", "work"});
		INFO(Describe(login));
		REQUIRE(login.exit_code == 0);
		const std::string file =
		    w.home + "/.local/state/popstream/oauth/work.json";
		CHECK(login.out.ends_with(
		    "Signed in.\nThe refresh token for work is stored in a mode 0600 "
		    "file in " +
		    w.home +
		    "/.local/state/popstream/oauth: no Secret Service on the session bus "
		    "(nothing provides org.freedesktop.secrets).\n"));
		REQUIRE(std::filesystem::exists(file));
		CHECK(Mode(file) == 0600);
		const std::string refresh_token =
		    Grant(ReadFile(file)).value("refresh_token", "");
		CHECK(refresh_token.starts_with("rt-1-"));

		// The start-up fetch: the stored grant's refresh token buys an access
		// token, which Dovecot finds active.
		w.StartDaemon();
		INFO(Props("work"));
		REQUIRE(WaitUntil([] {
			return AccountProp("work", "MessagesFetched") == "t 3" &&
			       AccountProp("work", "State") == "u 1";
		}));
		CHECK(SavedHashes(w.Maildir("work") + "/new") == sample.FetchedHashes());
		CHECK(w.dovecot->Count("alice") == 0);
		CHECK(w.TokenRequests() ==
		      std::vector<std::string>{"device_code", "refresh_token"});
		CHECK(w.Introspections() == std::vector<std::string>{"active"});

		// The token expires between two polls. The daemon still holds it (no
		// refresh before the login), Dovecot refuses it, and the daemon gets a
		// new one, once, and fetches the new mail without the user.
		const auto more = w.dovecot->Fill("alice", 2, 312);
		sample.messages.insert(sample.messages.end(), more.messages.begin(),
				       more.messages.end());
		w.oauth->Control(R"({"expire_access": true})");
		REQUIRE(CallFetchNow("work") == 0);
		REQUIRE(WaitUntil([] {
			return AccountProp("work", "MessagesFetched") == "t 5" &&
			       AccountProp("work", "State") == "u 1";
		}));
		CHECK(AccountProp("work", "LastError") == "s \"\"");
		CHECK(SavedHashes(w.Maildir("work") + "/new") == sample.FetchedHashes());
		CHECK(w.dovecot->Count("alice") == 0);
		CHECK(w.TokenRequests() == std::vector<std::string>{"device_code",
								    "refresh_token",
								    "refresh_token"});
		CHECK(w.Introspections() ==
		      std::vector<std::string>{"active", "inactive", "active"});

		// The refresh token is revoked and the token expires: the renewal meets
		// invalid_grant, and the account waits for the user to sign in again.
		w.dovecot->Fill("alice", 1, 313);
		w.oauth->Control(R"({"revoke_all": true, "expire_access": true})");
		REQUIRE(CallFetchNow("work") == 0);
		REQUIRE(WaitUntil([] { return AccountProp("work", "State") == "u 5"; }));
		const std::string error =
		    "account \"work\": " + w.oauth->Url("/token") +
		    ": the server refused: invalid_grant (refresh token revoked or "
		    "unknown); the grant of work is no longer valid; run: popstream "
		    "oauth "
		    "login work";
		const auto last_error = AccountProp("work", "LastError");
		CHECK(last_error ==
		      "s \"" + std::regex_replace(error, std::regex("\""), "\\\"") +
			  "\"");
		CHECK(AccountProp("work", "MessagesFetched") == "t 5");
		CHECK(w.dovecot->Count("alice") == 1);
		CHECK(w.TokenRequests().back() == "refresh_token: invalid_grant");
		CHECK(w.Introspections() == std::vector<std::string>{"active", "inactive",
								     "active",
								     "inactive"});

		// popstream status shows the state and the command to run.
		const auto status = w.Popstream({"status"});
		Show("popstream status", status);
		// An account that waits for the user: 77, for a script or a status bar.
		CHECK(status.exit_code == 77);
		const auto row = status.out.find("\nwork ");
		REQUIRE(row != std::string::npos);
		const auto line =
		    status.out.substr(row + 1, status.out.find('\n', row + 1) - row - 1);
		CHECK(std::regex_match(
		    line, std::regex("work +auth-needed +(now|[0-9]+ (s|min|h) "
				     "ago) +- +.*")));
		CHECK(line.ends_with("  " + error));

		// Signing in again resumes the account at once: the running daemon is
		// asked to fetch, and the message waiting on the server arrives.
		const auto again =
		    w.Popstream({"oauth", "login", "--qr", "never", "work"});
		INFO(Describe(again));
		REQUIRE(again.exit_code == 0);
		CHECK(again.out.ends_with("popstreamd is fetching work now.\n"));
		REQUIRE(WaitUntil([] {
			return AccountProp("work", "MessagesFetched") == "t 6" &&
			       AccountProp("work", "State") == "u 1";
		}));
		CHECK(w.dovecot->Count("alice") == 0);

		// oauth logout ends the use of the tokens, though the daemon holds a
		// valid one: the next fetch waits for a sign-in.
		const auto logout = w.Popstream({"oauth", "logout", "work"});
		INFO(Describe(logout));
		REQUIRE(logout.exit_code == 0);
		CHECK(!std::filesystem::exists(file));
		REQUIRE(CallFetchNow("work") == 0);
		REQUIRE(WaitUntil([] { return AccountProp("work", "State") == "u 5"; }));
		CHECK(AccountProp("work", "LastError")
			  .find("no OAuth 2.0 refresh token is stored for work in ") !=
		      std::string::npos);

		// It said why it renewed, once per refused token.
		const auto daemon = w.StopDaemon();
		Show("popstreamd", daemon);
		CHECK(daemon.exit_code == 0);
		const std::string renewing =
		    "<4>work: alice@127.0.0.1:" + std::to_string(w.dovecot->pop3s_port) +
		    R"(: login failed (xoauth2): "-ERR [AUTH] Authentication failed."; )"
		    R"(the server's error: status "401", scope "mail", schemes "bearer"; )"
		    "renewing the access token once\n";
		size_t renewals = 0;
		for (auto at = daemon.err.find(renewing); at != std::string::npos;
		     at = daemon.err.find(renewing, at + 1))
			++renewals;
		CHECK(renewals == 2);
		CHECK(!HoldsToken(daemon.out + daemon.err + status.out + status.err +
				  last_error));
	}

	TEST_CASE("daemon-secret-password: password: {secret: ...} from gnome-keyring, "
		  "and the hint for a missing item")
	{
		World w({"alice:alice-keyring-pw", "bob:bob-keyring-pw"}, false);
		const auto alice = w.dovecot->Fill("alice", 4, 321);
		const auto bob = w.dovecot->Fill("bob", 2, 322);
		TempDir keyring_home;
		Keyring keyring(keyring_home);
		const auto stored = RunSecretTool(
		    {"store", "--label=mail", "service", "pop", "user", "alice"},
		    "alice-keyring-pw");
		REQUIRE(stored.exit_code == 0);
		w.WriteConfig(
		    w.Account("kept", "alice",
			      "    password: {secret: {service: pop, user: alice}}\n") +
		    w.Account("missing", "bob",
			      "    password: {secret: {service: pop, user: bob}}\n"));

		w.StartDaemon();
		INFO(Props("kept"));
		INFO(Props("missing"));
		REQUIRE(WaitUntil([] {
			return AccountProp("kept", "MessagesFetched") == "t 4" &&
			       AccountProp("kept", "State") == "u 1" &&
			       AccountProp("missing", "State") == "u 6";
		}));
		CHECK(SavedHashes(w.Maildir("kept") + "/new") == alice.FetchedHashes());
		CHECK(w.dovecot->Count("alice") == 0);
		CHECK(w.dovecot->Count("bob") == 2);
		const auto last_error = AccountProp("missing", "LastError");
		CHECK(
		    last_error ==
		    "s \"account \\\"missing\\\": no password in the Secret Service with "
		    "service=pop user=bob (store one with: secret-tool store "
		    "--label=mail service pop user bob)\"");

		// The user runs the command the message gives, word for word, and the
		// next fetch works.
		const std::string before = "(store one with: ";
		const auto from = last_error.find(before);
		REQUIRE(from != std::string::npos);
		REQUIRE(last_error.ends_with(")\""));
		const auto hint = last_error.substr(
		    from + before.size(), last_error.size() - 2 - from - before.size());
		std::vector<std::string> words;
		for (size_t at = 0; at < hint.size();) {
			const auto end = std::min(hint.find(' ', at), hint.size());
			words.push_back(hint.substr(at, end - at));
			at = end + 1;
		}
		REQUIRE(words.front() == "secret-tool");
		words.erase(words.begin());
		const auto fixed = RunSecretTool(words, "bob-keyring-pw");
		REQUIRE(fixed.exit_code == 0);
		REQUIRE(CallFetchNow("missing") == 0);
		REQUIRE(WaitUntil([] {
			return AccountProp("missing", "MessagesFetched") == "t 2" &&
			       AccountProp("missing", "State") == "u 1";
		}));
		CHECK(SavedHashes(w.Maildir("missing") + "/new") == bob.FetchedHashes());
		CHECK(w.dovecot->Count("bob") == 0);

		const auto daemon = w.StopDaemon();
		CHECK(daemon.exit_code == 0);
		CHECK(daemon.err.find("keyring-pw") == std::string::npos);
	}

	TEST_CASE(
	    "daemon-goa: oauth: {provider: goa} takes GNOME Online Accounts' token, "
	    "and an account that needs attention waits in auth-needed")
	{
		World w({"alice:unused", "bob:unused"}, true);
		const auto alice = w.dovecot->Fill("alice", 3, 331);
		w.dovecot->Fill("bob", 1, 332);
		// GNOME Online Accounts would have got the token from the provider; the
		// stand-in hands out one the fake server issued, so Dovecot accepts it.
		const std::string refresh_file = w.tmp / "goa-refresh-token";
		w.oauth->DeviceLogin(refresh_file);
		ProcessOptions token_command;
		token_command.argv = w.oauth->TokenCommand(refresh_file);
		const auto token = Run(token_command);
		REQUIRE(token.exit_code == 0);
		REQUIRE(token.out.starts_with("at-2-"));
		WriteFile(w.tmp / "goa-token", token.out, 0600);
		StandIn goa(StandIn::TokenFile{w.tmp / "goa-token"});

		w.WriteConfig(
		    w.Account("desk", "alice",
			      "    auth: oauthbearer\n    oauth: {provider: goa, "
			      "account: account_ok}\n") +
		    w.Account("stale", "bob",
			      "    auth: xoauth2\n    oauth: {provider: goa, "
			      "account: account_attention}\n"));
		w.StartDaemon();
		INFO(Props("desk"));
		INFO(Props("stale"));
		REQUIRE(WaitUntil([] {
			return AccountProp("desk", "MessagesFetched") == "t 3" &&
			       AccountProp("desk", "State") == "u 1" &&
			       AccountProp("stale", "State") == "u 5";
		}));
		CHECK(SavedHashes(w.Maildir("desk") + "/new") == alice.FetchedHashes());
		CHECK(w.dovecot->Count("alice") == 0);
		CHECK(w.dovecot->Count("bob") == 1);
		// Dovecot checked the stand-in's token; popstream itself asked the token
		// endpoint for nothing (both grants are the test's own).
		CHECK(w.Introspections() == std::vector<std::string>{"active"});
		CHECK(w.TokenRequests() ==
		      std::vector<std::string>{"device_code", "refresh_token"});
		CHECK(AccountProp("stale", "LastError") ==
		      "s \"account \\\"stale\\\": GNOME Online Accounts cannot give a "
		      "token "
		      "for account_attention (Google, bob@example.org): No credentials "
		      "found "
		      "in the keyring (org.gnome.OnlineAccounts.Error.NotAuthorized); "
		      "sign in "
		      "to the account again in GNOME Settings, Online Accounts\"");

		const auto daemon = w.StopDaemon();
		CHECK(daemon.exit_code == 0);
		CHECK(!HoldsToken(daemon.out + daemon.err));
	}
}
