// Issue 12: a real Dovecot 2.3 checks popstream's XOAUTH2 and OAUTHBEARER logins with its
// oauth2 passdb, which asks tests/support/fake-oauth2-server (RFC 7662 introspection)
// whether the token is active. The token reaches `popstream dl` through --token-command:
// fake-oauth2-client runs the refresh grant with a refresh token the test got by a
// device grant. Every case starts a Dovecot and an OAuth 2.0 server of its own.

#include "DovecotServer.hxx"
#include "FakeOAuth2Server.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

using namespace popstream::test;

namespace {

const std::string user = "alice";

/** How Dovecot reaches the introspection endpoint. */
enum class Introspection {
	/** plain HTTP (FakeOAuth2Server::IntrospectPort()) */
	http,
	/** https, the OAuth 2.0 server's certificate from Dovecot's test CA */
	https,
	/** https, the certificate from a CA Dovecot does not know */
	https_untrusted,
};

/** Dovecot that accepts tokens of the fake server, mail for alice, a refresh token. */
struct Setup {
	TempDir tmp{0755};
	FakeOAuth2Server oauth;
	std::unique_ptr<DovecotServer> server;
	SampleSet sample;
	std::string refresh_token = tmp / "refresh-token";
	std::string maildir = tmp / "Maildir";

	Setup(unsigned count, unsigned seed, Introspection how = Introspection::http)
	    : oauth(Dir(tmp / "oauth"), Pki(how, Dir(tmp / "srv")))
	{
		oauth.Start();
		DovecotOptions options;
		options.oauth2_introspection_url =
		    oauth.IntrospectionUrl(how != Introspection::http);
		// The passwd-file entry is only the userdb: its password is never asked.
		server = std::make_unique<DovecotServer>(
		    tmp / "srv", std::vector{user + ":unused"}, options);
		sample = server->Fill(user, count, seed);
		oauth.DeviceLogin(refresh_token);
	}

	/** One test CA for both servers (in Dovecot's DIR/pki), unless @p how says
	 * untrusted: then the OAuth 2.0 server makes its own. */
	static FakeOAuth2Options Pki(Introspection how, const std::string &dovecot_dir)
	{
		FakeOAuth2Options o;
		if (how != Introspection::https_untrusted)
			o.pki_dir = dovecot_dir + "/pki";
		return o;
	}

	static std::string Dir(const std::string &path)
	{
		std::filesystem::create_directory(path);
		return path;
	}

	/** `dl --auth METHOD --token-command ...` over implicit TLS. */
	ProcessResult Dl(const std::string &method) const
	{
		return RunPopstream({"dl", "--auth", method, "--token-command",
				     JoinCommand(oauth.TokenCommand(refresh_token)),
				     "--ca-file", server->ca_file,
				     user + "@127.0.0.1!pop.example.com:" +
					 std::to_string(server->pop3s_port),
				     maildir},
				    tmp / "no-netrc", tmp.Path());
	}

	nlohmann::json Log() const { return nlohmann::json::parse(oauth.Log()); }

	/** @return the "active" answers of every introspection so far, in order,
	 *          each prefixed "https " or "http " by the port it came to */
	std::vector<std::string> Introspections() const
	{
		std::vector<std::string> answers;
		const auto log = Log();
		for (const auto &r : log["requests"])
			if (r["path"] == "/introspect")
				answers.push_back(
				    std::string(r["tls"] ? "https " : "http ") +
				    (r.value("active", false) ? "active" : "inactive"));
		return answers;
	}
};

/** @return true if @p text holds something shaped like a token of the fake server */
bool HoldsToken(const std::string &text)
{
	static const std::regex token("(at|rt)-[0-9]+-[A-Za-z0-9_-]{8}");
	return std::regex_search(text, token);
}

/** Fetches everything with @p method and checks bytes, the server and the OAuth log. */
void FetchAndCheck(const Setup &s, const std::string &method, const std::string &port)
{
	const auto r = s.Dl(method);
	INFO(Describe(r));
	REQUIRE(r.exit_code == 0);
	CHECK(r.err.empty());
	CHECK(SavedHashes(s.maildir + "/new") == s.sample.FetchedHashes());
	CHECK(ListDir(s.maildir + "/tmp").empty());
	CHECK(s.server->Count(user) == 0);
	CHECK(!HoldsToken(r.out));
	// Dovecot asked once, about the token the refresh grant issued, and was told yes.
	CHECK(s.Introspections() == std::vector<std::string>{port + " active"});
	const auto log = s.Log();
	CHECK(log["requests"].back()["path"] == "/introspect");
	const auto &access = log["tokens"]["access"];
	REQUIRE(access.size() == 2); // the device grant's, then the refresh grant's
	CHECK(access[1]["grant"] == "refresh_token");
}

/**
 * popstream itself with the grant `oauth login SPEC` stores: the refresh token in a
 * 0600 file under HOME (no session bus, so no Secret Service, whatever the machine
 * running the tests has), no token command.
 */
struct StoredGrant {
	const Setup &s;
	std::string spec =
	    "tcp:" + user + "@127.0.0.1:" + std::to_string(s.server->pop3_port);

	ProcessResult Popstream(const std::vector<std::string> &args) const
	{
		ProcessOptions options;
		options.argv = {RequireEnv("POPSTREAM_BIN")};
		options.argv.insert(options.argv.end(), args.begin(), args.end());
		options.env = {"HOME=" + s.tmp.Path(), "NETRC=" + s.tmp / "no-netrc",
			       "XDG_STATE_HOME", "DBUS_SESSION_BUS_ADDRESS",
			       "XDG_RUNTIME_DIR"};
		options.timeout = std::chrono::minutes(2);
		return Run(options);
	}

	ProcessResult Login() const
	{
		return Popstream({"oauth", "login", "--qr", "never", "--provider",
				  "custom", "--client-id", "popstream-test",
				  "--token-endpoint", s.oauth.Url("/token"),
				  "--device-endpoint", s.oauth.Url("/device"),
				  "--ca-file", s.oauth.CaFile(), spec});
	}

	/** `dl --auth xoauth2 SPEC` over cleartext to loopback, where it may log in. */
	ProcessResult Dl() const
	{
		return Popstream({"dl", "--auth", "xoauth2", spec, s.maildir});
	}

	/** @return how many refresh grants the OAuth 2.0 server has answered */
	std::size_t Refreshes() const
	{
		std::size_t n = 0;
		const auto log = s.Log();
		for (const auto &r : log["requests"])
			n += r.value("grant_type", "") == "refresh_token";
		return n;
	}
};

} // namespace

TEST_SUITE("dovecot-oauth")
{
	TEST_CASE("xoauth2: Dovecot's oauth2 passdb accepts the token and every message "
		  "arrives")
	{
		Setup s(25, 201, Introspection::https);
		FetchAndCheck(s, "xoauth2", "https");
	}

	TEST_CASE("oauthbearer: Dovecot accepts the token of a rotated refresh grant")
	{
		Setup s(25, 202);
		s.oauth.Control(R"({"rotate": true})");
		const std::string before = ReadFile(s.refresh_token);
		FetchAndCheck(s, "oauthbearer", "http");
		// The token command used the refresh token and saved its successor.
		CHECK(ReadFile(s.refresh_token) != before);
		const auto refresh = s.Log()["tokens"]["refresh"];
		REQUIRE(refresh.size() == 2);
		CHECK(refresh[0]["valid"] == false);
		CHECK(refresh[1]["valid"] == true);
	}

	TEST_CASE("an expired token is refused by Dovecot with 77 and its reply")
	{
		for (const std::string method : {"xoauth2", "oauthbearer"}) {
			CAPTURE(method);
			Setup s(5, method == "xoauth2" ? 203 : 204);
			// Tokens issued from now on expire as they are issued (exp ==
			// iat), so introspection calls the one dl gets inactive.
			s.oauth.Control(R"({"access_ttl": 0})");
			const auto r = s.Dl(method);
			INFO(Describe(r));
			CHECK(r.exit_code == 77);
			CHECK(s.Introspections() ==
			      std::vector<std::string>{"http inactive"});
			// One line: what failed, Dovecot's -ERR and the error status it
			// sent as a challenge (RFC 7628 §3.2.2), decoded.
			const std::string reply =
			    method == "xoauth2"
				? R"(status "401", scope "mail", schemes "bearer")"
				: R"(status "invalid_token")";
			CHECK(r.err ==
			      "popstream: " + user +
				  "@127.0.0.1:" + std::to_string(s.server->pop3s_port) +
				  ": login failed (" + method +
				  R"(): "-ERR [AUTH] Authentication failed."; the )"
				  "server's error: " +
				  reply + "\n");
			CHECK(!HoldsToken(r.err));
			CHECK(!std::filesystem::exists(s.maildir));
			CHECK(s.server->Count(user) == 5);
		}
	}

	TEST_CASE("an introspection endpoint Dovecot cannot verify fails the login "
		  "temporarily")
	{
		Setup s(5, 205, Introspection::https_untrusted);
		const auto r = s.Dl("xoauth2");
		INFO(Describe(r));
		// Dovecot never got an answer, so it reports its own trouble, not ours.
		CHECK(s.Introspections().empty());
		CHECK(r.exit_code == 75);
		// Dovecot's line ends in a timestamp of its own ([host:date time]).
		CHECK(r.err.starts_with(
		    "popstream: " + user +
		    "@127.0.0.1:" + std::to_string(s.server->pop3s_port) +
		    R"(: login failed (xoauth2): "-ERR [SYS/TEMP] Temporary authentication )"
		    "failure. ["));
		CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
		CHECK(!HoldsToken(r.err));
		CHECK(s.server->Count(user) == 5);
	}
}

TEST_CASE("dovecot-oauth: a token Dovecot refuses is renewed once; refused again, the "
	  "fetch ends with 77")
{
	Setup s(3, 206);
	const StoredGrant grant{s};
	const auto login = grant.Login();
	INFO(Describe(login));
	REQUIRE(login.exit_code == 0);

	// Every access token is inactive as soon as it is issued: the first is refused,
	// renewed once, and the renewed one refused too. A second renewal would only
	// repeat that, and a login refused twice is no stale token.
	s.oauth.Control(R"({"access_ttl": 0})");
	const auto refused = grant.Dl();
	INFO(Describe(refused));
	CHECK(refused.exit_code == 77);
	CHECK(grant.Refreshes() == 2);
	CHECK(s.Introspections() ==
	      std::vector<std::string>{"http inactive", "http inactive"});
	const std::string label =
	    user + "@127.0.0.1:" + std::to_string(s.server->pop3_port);
	const std::string failed = "login failed (xoauth2): \"-ERR [AUTH] Authentication "
				   "failed.\"; the server's error: status \"401\", scope "
				   "\"mail\", schemes \"bearer\"";
	CHECK(refused.err == "popstream: " + label + ": " + failed +
				 "; renewing the access token once\n"
				 "popstream: " +
				 label + ": " + failed + "\n");
	CHECK(!HoldsToken(refused.err));
	CHECK(s.server->Count(user) == 3);

	// Tokens that live again: the same stored grant fetches everything.
	s.oauth.Control(R"({"access_ttl": 3600})");
	const auto fetched = grant.Dl();
	INFO(Describe(fetched));
	CHECK(fetched.exit_code == 0);
	CHECK(SavedHashes(s.maildir + "/new") == s.sample.FetchedHashes());
	CHECK(s.server->Count(user) == 0);
	CHECK(!HoldsToken(fetched.out + fetched.err));
}
