// popstreamd honours what the server says about logins (RFC 2449 §6.8 and §8.1): an
// [IN-USE] reply means "later" (backoff from 30 s, not auth-needed), and a LOGIN-DELAY
// capability is a floor under the time between logins, even for FetchNow. Scripted
// fake servers play the part, since a real Dovecot sends neither on demand.
#include "DaemonHelpers.hxx"
#include "FakePop3Server.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <sys/stat.h>
#include <thread>

using namespace popstream::test;
using namespace std::chrono_literals;

TEST_CASE("IN-USE means backoff, LOGIN-DELAY bounds every login, FetchNow included")
{
	FakePop3Server in_use, delayed;
	in_use.Reply("PASS", "-ERR [IN-USE] Mailbox locked by another session\r\n");
	delayed.SetCapabilities(
	    {"USER", "UIDL", "PIPELINING", "RESP-CODES", "LOGIN-DELAY 900"});
	delayed.AddMessage("Subject: one\r\n\r\nbody\r\n", "d1");

	TempDir home;
	WriteFile(home / ".netrc",
		  "machine alice@127.0.0.1:" + std::to_string(in_use.Port()) +
		      " password s3cret\nmachine alice@127.0.0.1:" +
		      std::to_string(delayed.Port()) + " password s3cret\n",
		  0600);
	WriteFile(home / "config.yaml",
		  "defaults:\n  interval: 60s\n  timeout: 10s\naccounts:\n"
		  "  - name: inuse\n    server: tcp:alice@127.0.0.1:" +
		      std::to_string(in_use.Port()) + "\n    maildir: " + home / "inuse" +
		      "\n  - name: delayed\n    server: tcp:alice@127.0.0.1:" +
		      std::to_string(delayed.Port()) +
		      "\n    maildir: " + home / "delayed" + "\n",
		  0600);

	Child daemon(DaemonProcess(home.Path(), home / "config.yaml"));

	// [IN-USE] is temporary: backoff from 30 s, not auth-needed.
	REQUIRE(WaitUntil([] { return AccountProp("inuse", "State") == "u 4"; }));
	CHECK(AccountProp("inuse", "LastError").find("IN-USE") != std::string::npos);
	const auto attempt = PropNumber(AccountProp("inuse", "LastAttempt"));
	const auto next = PropNumber(AccountProp("inuse", "NextPoll"));
	CHECK(next >= attempt + 29'000'000);
	CHECK(next <= attempt + 35'000'000);

	// The delayed account fetched its message; its next login may not come before
	// LOGIN-DELAY (900 s) has passed, although the interval is 60 s.
	REQUIRE(
	    WaitUntil([] { return AccountProp("delayed", "MessagesFetched") == "t 1"; }));
	REQUIRE(WaitUntil([] { return AccountProp("delayed", "State") == "u 1"; }));
	const auto login = PropNumber(AccountProp("delayed", "LastAttempt"));
	CHECK(PropNumber(AccountProp("delayed", "NextPoll")) >= login + 900'000'000);
	const unsigned connections = delayed.ConnectionCount();
	CHECK(CallFetchNow("delayed") == 0);
	std::this_thread::sleep_for(1s);
	CHECK(delayed.ConnectionCount() == connections);
	CHECK(PropNumber(AccountProp("delayed", "NextPoll")) >= login + 900'000'000);

	// FetchNow on the in-use account retries at once: the user asked.
	const unsigned tries = in_use.ConnectionCount();
	CHECK(CallFetchNow("inuse") == 0);
	CHECK(WaitUntil([&] { return in_use.ConnectionCount() == tries + 1; }, 10s));

	daemon.Signal(SIGTERM);
	const auto r = daemon.Wait();
	CHECK(r.exit_code == 0);
	CHECK(r.err.find("s3cret") == std::string::npos);
}

TEST_CASE("a server that never greets holds a fetch slot for connect_timeout only; the "
	  "account behind it shows queued, then is fetched")
{
	FakePop3Server silent, healthy;
	silent.Greeting("", AfterReply::Stall);
	healthy.AddMessage("Subject: one\r\n\r\nbody\r\n", "h1");

	TempDir home;
	WriteFile(home / ".netrc",
		  "machine alice@127.0.0.1:" + std::to_string(silent.Port()) +
		      " password s3cret\nmachine alice@127.0.0.1:" +
		      std::to_string(healthy.Port()) + " password s3cret\n",
		  0600);
	// One slot: the silent server takes it first (its poll is due at once, the
	// healthy one's a few seconds later).
	WriteFile(home / "config.yaml",
		  "max_concurrent: 1\ndefaults:\n  interval: 1h\n  timeout: 3m\n"
		  "  connect_timeout: 3s\naccounts:\n"
		  "  - name: silent\n    server: tcp:alice@127.0.0.1:" +
		      std::to_string(silent.Port()) +
		      "\n    maildir: " + home / "silent" +
		      "\n  - name: healthy\n    server: tcp:alice@127.0.0.1:" +
		      std::to_string(healthy.Port()) +
		      "\n    maildir: " + home / "healthy" + "\n",
		  0600);

	Child daemon(DaemonProcess(home.Path(), home / "config.yaml"));
	// Either account may poll first (start-up jitter); the silent one connecting
	// holds the one slot.
	REQUIRE(WaitUntil([] { return AccountProp("silent", "State") == "u 2"; }, 20s));
	// A FetchNow for the other account waits for the slot, and says so.
	CHECK(CallFetchNow("healthy") == 0);
	CHECK(WaitUntil([] { return AccountProp("healthy", "State") == "u 8"; }, 5s));
	// Not the idle timeout of 3 minutes: the greeting had 3 s.
	REQUIRE(WaitUntil(
	    [] {
		    return AccountProp("silent", "LastError").find("3 s") !=
			   std::string::npos;
	    },
	    20s));
	INFO(AccountProp("silent", "LastError"));
	CHECK(AccountProp("silent", "LastErrorClass") == "s \"network\"");
	// Then the queued FetchNow is served.
	REQUIRE(WaitUntil(
	    [] {
		    return AccountProp("healthy", "MessagesFetched") == "t 1" &&
			   AccountProp("healthy", "State") == "u 1";
	    },
	    20s));

	daemon.Signal(SIGTERM);
	const auto r = daemon.Wait();
	CHECK(r.exit_code == 0);
}
