// popstreamd -v logs what `popstream dl -v` prints: each command a fetch sends, as
// "C: RETR 1", with PASS redacted.
#include "DaemonHelpers.hxx"
#include "FakePop3Server.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>

using namespace popstream::test;
using namespace std::chrono_literals;

TEST_CASE("popstreamd -v logs the commands of its fetches")
{
	FakePop3Server server;
	server.AddMessage("Subject: one\r\n\r\nbody\r\n", "v1");
	const std::string label = "alice@127.0.0.1:" + std::to_string(server.Port());

	TempDir home;
	WriteFile(home / ".netrc", "machine " + label + " password s3cret\n", 0600);
	WriteFile(home / "config.yaml",
		  "defaults:\n  interval: 10m\n  timeout: 10s\naccounts:\n"
		  "  - name: chatty\n    server: tcp:" +
		      label + "\n    maildir: " + home / "Maildir" + "\n",
		  0600);

	Child daemon(DaemonProcess(home.Path(), home / "config.yaml", {"-v"}));
	REQUIRE(
	    WaitUntil([] { return AccountProp("chatty", "MessagesFetched") == "t 1"; }));
	REQUIRE(WaitUntil([] { return AccountProp("chatty", "State") == "u 1"; }));
	daemon.Signal(SIGTERM);
	const auto r = daemon.Wait();
	INFO("stderr: " << r.err);
	CHECK(r.exit_code == 0);
	// The same lines as dl -v, after the account label the daemon puts first.
	for (const char *command :
	     {"C: USER alice", "C: PASS ********", "C: RETR 1", "C: DELE 1", "C: QUIT"})
		CHECK(r.err.find(label + ": " + command + "\n") != std::string::npos);
	CHECK(r.err.find("s3cret") == std::string::npos);
}
