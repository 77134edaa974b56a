// `popstream oauth login` and `oauth logout` as a user runs them, against the scripted
// OAuth 2.0 server over TLS with the test CA: what is printed, the exit status, what is
// stored (mode 0600, the grant's JSON) and what the server was sent. The browser grants
// need a test that reads the output while the program runs: TestOAuthGrants does those
// in-process.
#include "OAuthServer.hxx"

#include "oauth/Qr.hxx"
#include "oauth/StoredGrant.hxx"

#include <doctest/doctest.h>

#include <fstream>
#include <sys/stat.h>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

const std::string spec = "tcp:alice@localhost:1110";
const std::string key = "dl-alice@localhost:1110";

struct Home {
	TempDir dir;
	std::string State() const { return dir / "state"; }
	std::string GrantFile() const
	{
		return State() + "/popstream/oauth/" + key + ".json";
	}
	/** The token store's Where() without a session bus: the file, and why. */
	std::string Where() const
	{
		return "a mode 0600 file in " + State() +
		       "/popstream/oauth: no session bus (neither "
		       "DBUS_SESSION_BUS_ADDRESS "
		       "nor XDG_RUNTIME_DIR is set)";
	}
};

ProcessResult Popstream(const Home &home, std::vector<std::string> args,
			const std::string &input = {})
{
	ProcessOptions options;
	options.argv = {RequireEnv("POPSTREAM_BIN")};
	options.argv.insert(options.argv.end(), args.begin(), args.end());
	// No session bus: the token store is the file, wherever the test runs.
	options.env = {"HOME=" + home.dir.Path(),
		       "XDG_STATE_HOME=" + home.State(),
		       "NETRC=" + (home.dir / "netrc"),
		       "DBUS_SESSION_BUS_ADDRESS",
		       "XDG_RUNTIME_DIR",
		       "XDG_CONFIG_HOME"};
	options.input = input;
	options.timeout = 120s;
	return Run(options);
}

std::vector<std::string> DeviceLogin(const OAuthServer &server)
{
	return {"oauth",
		"login",
		"--provider",
		"custom",
		"--client-id",
		"client-1",
		"--scope",
		"pop offline_access",
		"--token-endpoint",
		server.Url("/token"),
		"--device-endpoint",
		server.Url("/device"),
		"--ca-file",
		server.CaFile(),
		spec};
}

/** @return the user code in the first line of a device login's output */
std::string UserCode(const std::string &out)
{
	const std::string marker = " and enter the code ";
	const auto at = out.find(marker);
	REQUIRE(at != std::string::npos);
	return out.substr(at + marker.size(), 9);
}

unsigned Mode(const std::string &path)
{
	struct stat st {};
	REQUIRE(stat(path.c_str(), &st) == 0);
	return st.st_mode & 07777;
}

/** @return how many times @p needle occurs in @p text */
std::size_t Count(const std::string &text, const std::string &needle)
{
	std::size_t n = 0;
	for (auto at = text.find(needle); at != std::string::npos;
	     at = text.find(needle, at + 1))
		++n;
	return n;
}

} // namespace

TEST_CASE("oauth login SPEC: the device grant as the user sees it, and what is stored")
{
	OAuthServer server;
	server.Control(R"({"pending": 2})");
	Home home;
	auto args = DeviceLogin(server);
	args.insert(args.end() - 1, {"--qr", "always"});
	const auto r = Popstream(home, args);
	INFO("stderr: " << r.err);
	REQUIRE(r.exit_code == 0);
	CHECK(r.err.empty());

	const auto code = UserCode(r.out);
	const auto verify =
	    "https://127.0.0.1:" + server.Url("").substr(18) + "/device-verify";
	CHECK(r.out ==
	      "To sign in, open " + verify + " in a browser and enter the code " + code +
		  "\nor scan this QR code to open it with the code filled in:\n\n" +
		  popstream::oauth::RenderQr(verify + "?user_code=" + code) +
		  "\nWaiting for you to sign in (the code expires in 10 minutes)...\n"
		  "Signed in.\n"
		  "The refresh token for " +
		  key + " is stored in " + home.Where() + ".\n");
	// The session for the closing note of issue 12.
	MESSAGE("popstream oauth login, as the user sees it:\n" << r.out);

	// What was stored: the grant's JSON, 0600 in a 0700 directory.
	CHECK(Mode(home.GrantFile()) == 0600);
	CHECK(Mode(home.State() + "/popstream/oauth") == 0700);
	const auto grant = popstream::oauth::ParseGrant(ReadFile(home.GrantFile()));
	CHECK(grant.settings.provider == popstream::oauth::Provider::Custom);
	CHECK(grant.settings.client_id == "client-1");
	CHECK(grant.settings.token_endpoint == server.Url("/token"));
	CHECK(grant.settings.scope == "pop offline_access");
	CHECK(grant.refresh_token.starts_with("rt-1-"));
	// No secret on the terminal.
	CHECK(r.out.find(grant.refresh_token) == std::string::npos);
	CHECK(r.out.find("at-1-") == std::string::npos);

	// The server saw one device request and three polls (two pending).
	const auto log = server.Log();
	CHECK(Count(log, R"("path": "/device")") == 1);
	CHECK(Count(log, R"("path": "/token")") == 3);
	CHECK(Count(log, R"("error": "authorization_pending")") == 2);

	// Logging out removes it; a second time there is nothing to remove.
	const auto out1 = Popstream(home, {"oauth", "logout", spec});
	CHECK(out1.exit_code == 0);
	CHECK(out1.out ==
	      "Removed the refresh token for " + key + " from " + home.Where() + ".\n");
	CHECK(!std::ifstream(home.GrantFile()).good());
	const auto out2 = Popstream(home, {"oauth", "logout", spec});
	CHECK(out2.exit_code == 0);
	CHECK(out2.out ==
	      "No refresh token is stored for " + key + " in " + home.Where() + ".\n");
}

TEST_CASE("oauth login: slow_down makes the next polls wait 5 s longer")
{
	OAuthServer server;
	server.Control(R"({"slow_down": 1})");
	Home home;
	const auto r = Popstream(home, DeviceLogin(server));
	INFO("stderr: " << r.err);
	CHECK(r.exit_code == 0);
	// No QR code: stdout is not a terminal and --qr was not given.
	CHECK(r.out.find("QR") == std::string::npos);
	CHECK(Count(server.Log(), R"("error": "slow_down")") == 1);
}

TEST_CASE("oauth login: the user declines; the code expires")
{
	OAuthServer server;
	Home home;
	server.Control(R"({"pending": 1, "deny": true})");
	const auto denied = Popstream(home, DeviceLogin(server));
	CHECK(denied.exit_code == 77);
	CHECK(denied.err == "popstream: oauth login: " + server.Url("/token") +
				": the server refused: access_denied\n");
	CHECK(denied.out.ends_with("...\n"));
	CHECK(!std::ifstream(home.GrantFile()).good());

	server.Control(R"({"deny": false, "expire_device": true})");
	const auto expired = Popstream(home, DeviceLogin(server));
	CHECK(expired.exit_code == 75);
	CHECK(expired.err == "popstream: oauth login: " + server.Url("/token") +
				 ": the server refused: expired_token\n");
}

TEST_CASE("oauth login: a malformed token answer, and a server that is not trusted")
{
	OAuthServer server;
	Home home;
	server.Control(R"({"malformed": true})");
	const auto malformed = Popstream(home, DeviceLogin(server));
	CHECK(malformed.exit_code == 76);
	CHECK(malformed.err == "popstream: oauth login: " + server.Url("/token") +
				   ": the answer is not a JSON object\n");

	// Without --ca-file the test CA is unknown: TLS is verified, nothing is sent.
	auto args = DeviceLogin(server);
	args.erase(args.end() - 3, args.end() - 1);
	const auto untrusted = Popstream(home, args);
	CHECK(untrusted.exit_code == 69);
	CHECK(untrusted.err.starts_with(
	    "popstream: oauth login: " + server.Url("/device") + ": "));
	CHECK(untrusted.out.empty());
}

TEST_CASE("oauth login: the client secret comes from a command, never argv or output")
{
	const std::string secret = "cs-VERY-SECRET-4711";
	OAuthServer server(secret);
	Home home;
	WriteFile(home.dir / "secret", secret + "\n", 0600);
	auto args = DeviceLogin(server);
	args.insert(args.end() - 1,
		    {"--client-secret-command", "cat " + (home.dir / "secret")});
	const auto r = Popstream(home, args);
	INFO("stderr: " << r.err);
	CHECK(r.exit_code == 0);
	CHECK(r.out.find(secret) == std::string::npos);
	// The grant keeps it: `dl SPEC` refreshes with nothing but the spec.
	CHECK(popstream::oauth::ParseGrant(ReadFile(home.GrantFile()))
		  .settings.client_secret == secret);

	// A wrong secret: the server refuses the client, and the message has no secret.
	WriteFile(home.dir / "secret", "wrong-" + secret + "\n", 0600);
	const auto wrong = Popstream(home, args);
	CHECK(wrong.exit_code == 78);
	CHECK(wrong.err ==
	      "popstream: oauth login: " + server.Url("/device") +
		  ": the server refused: invalid_client (client authentication "
		  "failed)\n");
	CHECK(wrong.err.find(secret) == std::string::npos);
}

TEST_CASE("oauth login: usage errors, one line each")
{
	Home home;
	const auto ca =
	    Popstream(home, {"oauth", "login", "--provider", "microsoft", "--client-id",
			     "x", "--ca-file", home.dir / "missing.pem", spec});
	CHECK(ca.exit_code == 78);
	CHECK(ca.err == "popstream: oauth login: --ca-file " +
			    (home.dir / "missing.pem") + ": No such file or directory\n");
	const auto none = Popstream(home, {"oauth", "login", spec});
	CHECK(none.exit_code == 64);
	CHECK(none.err ==
	      "popstream: oauth login: --provider microsoft, google or custom is "
	      "needed to sign in for a SPEC (or name a popstreamd account with "
	      "oauth:)\n");
	const auto no_id =
	    Popstream(home, {"oauth", "login", "--provider", "microsoft", spec});
	CHECK(no_id.exit_code == 64);
	CHECK(no_id.err ==
	      "popstream: oauth login: --client-id is needed (register one with "
	      "the provider; popstream ships none)\n");
	const auto goa = Popstream(
	    home, {"oauth", "login", "--provider", "goa", "--client-id", "x", spec});
	CHECK(goa.exit_code == 64);
	CHECK(goa.err == "popstream: oauth login: --provider: \"goa\" is not microsoft, "
			 "google or custom\n");
	const auto custom = Popstream(
	    home, {"oauth", "login", "--provider", "custom", "--client-id", "x", spec});
	CHECK(custom.exit_code == 64);
	CHECK(custom.err == "popstream: oauth login: " + spec +
				": oauth: custom needs token_endpoint\n");
	const auto http =
	    Popstream(home, {"oauth", "login", "--provider", "custom", "--client-id", "x",
			     "--token-endpoint", "http://example.com/token",
			     "--device-endpoint", "https://example.com/device", spec});
	CHECK(http.exit_code == 64);
	CHECK(http.err ==
	      "popstream: oauth login: " + spec +
		  ": oauth: custom: endpoint \"http://example.com/token\" is not "
		  "an https URL\n");
}
