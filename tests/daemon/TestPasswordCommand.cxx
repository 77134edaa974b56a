// popstreamd looks up an account's password only once connected (issue 9 part 6): a
// server that refuses the connection runs no password_command (which may pop up a
// pinentry or unlock a keyring), while a reachable one runs it once per fetch.
#include "DaemonHelpers.hxx"
#include "FakePop3Server.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

bool Exists(const std::string &path)
{
	struct stat st {};
	return stat(path.c_str(), &st) == 0;
}

} // namespace

TEST_CASE("password_command runs only once the connection is up")
{
	// Bound but not listening: connections to it are refused.
	const int closed = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(closed >= 0);
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(bind(closed, reinterpret_cast<sockaddr *>(&address), sizeof(address)) ==
		0);
	socklen_t length = sizeof(address);
	REQUIRE(getsockname(closed, reinterpret_cast<sockaddr *>(&address), &length) ==
		0);
	const auto closed_port = std::to_string(ntohs(address.sin_port));

	FakePop3Server live;
	live.AddMessage("Subject: one\r\n\r\nbody\r\n", "l1");

	TempDir home;
	// Each command leaves a marker, then prints the password.
	const auto command = [&](const std::string &marker) {
		return "[sh, -c, \"touch " + home / marker + "; echo s3cret\"]";
	};
	WriteFile(home / "config.yaml",
		  "defaults:\n  interval: 60s\n  timeout: 10s\naccounts:\n"
		  "  - name: refused\n    server: tcp:alice@127.0.0.1:" +
		      closed_port + "\n    maildir: " + home / "refused" +
		      "\n    password_command: " + command("ran-refused") +
		      "\n  - name: live\n    server: tcp:alice@127.0.0.1:" +
		      std::to_string(live.Port()) + "\n    maildir: " + home / "live" +
		      "\n    password_command: " + command("ran-live") + "\n",
		  0600);

	ProcessOptions options;
	options.argv = {RequireEnv("POPSTREAMD_BIN"), "--config", home / "config.yaml"};
	options.env = {"HOME=" + home.Path(), "NETRC",          "NOTIFY_SOCKET",
		       "JOURNAL_STREAM",      "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
	options.timeout = 120s;
	Child daemon(options);

	REQUIRE(
	    WaitUntil([] { return AccountProp("live", "MessagesFetched") == "t 1"; }));
	REQUIRE(WaitUntil([] {
		return AccountProp("refused", "LastError").find("connection refused") !=
		       std::string::npos;
	}));
	CHECK(Exists(home / "ran-live"));
	CHECK_FALSE(Exists(home / "ran-refused"));
	CHECK(live.ConnectionCount() == 1);

	daemon.Signal(SIGTERM);
	const auto r = daemon.Wait();
	close(closed);
	CHECK(r.exit_code == 0);
	CHECK(r.err.find("s3cret") == std::string::npos);
}
