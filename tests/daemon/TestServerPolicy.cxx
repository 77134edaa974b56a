// popstreamd honours what the server says about logins (RFC 2449 §6.8 and §8.1): an
// [IN-USE] reply means "later" (backoff from 30 s, not auth-needed), and a LOGIN-DELAY
// capability is a floor under the time between logins, even for FetchNow. Scripted
// fake servers play the part, since a real Dovecot sends neither on demand.
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

namespace {

const std::string bus_name = "io.github.popstream.Popstream1";
const std::string path = "/io/github/popstream/Popstream1/account/";
const std::string interface = "io.github.popstream.Popstream1.Account";

bool WaitFor(const std::function<bool()> &ready, std::chrono::milliseconds limit = 30s)
{
	const auto deadline = std::chrono::steady_clock::now() + limit;
	while (std::chrono::steady_clock::now() < deadline) {
		if (ready())
			return true;
		std::this_thread::sleep_for(50ms);
	}
	return ready();
}

std::string Property(const std::string &account, const std::string &property)
{
	ProcessOptions o;
	o.argv = {"busctl",       "--user",  "get-property", bus_name,
		  path + account, interface, property};
	o.timeout = 20s;
	auto r = Run(o);
	while (!r.out.empty() && r.out.back() == '\n')
		r.out.pop_back();
	return r.exit_code == 0 ? r.out : "error: " + r.err;
}

/** The number in busctl's "t 123" output. */
std::uint64_t Number(const std::string &text)
{
	return text.size() > 2 ? std::stoull(text.substr(2)) : 0;
}

} // namespace

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

	ProcessOptions options;
	options.argv = {RequireEnv("POPSTREAMD_BIN"), "--config", home / "config.yaml"};
	options.env = {"HOME=" + home.Path(), "NOTIFY_SOCKET", "JOURNAL_STREAM",
		       "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
	options.timeout = 120s;
	Child daemon(options);

	// [IN-USE] is temporary: backoff from 30 s, not auth-needed.
	REQUIRE(WaitFor([] { return Property("inuse", "State") == "u 4"; }));
	CHECK(Property("inuse", "LastError").find("IN-USE") != std::string::npos);
	const auto attempt = Number(Property("inuse", "LastAttempt"));
	const auto next = Number(Property("inuse", "NextPoll"));
	CHECK(next >= attempt + 29'000'000);
	CHECK(next <= attempt + 35'000'000);

	// The delayed account fetched its message; its next login may not come before
	// LOGIN-DELAY (900 s) has passed, although the interval is 60 s.
	REQUIRE(WaitFor([] { return Property("delayed", "MessagesFetched") == "t 1"; }));
	REQUIRE(WaitFor([] { return Property("delayed", "State") == "u 1"; }));
	const auto login = Number(Property("delayed", "LastAttempt"));
	CHECK(Number(Property("delayed", "NextPoll")) >= login + 900'000'000);
	const unsigned connections = delayed.ConnectionCount();
	ProcessOptions call;
	call.argv = {"busctl",         "--user",  "call",    bus_name,
		     path + "delayed", interface, "FetchNow"};
	CHECK(Run(call).exit_code == 0);
	std::this_thread::sleep_for(1s);
	CHECK(delayed.ConnectionCount() == connections);
	CHECK(Number(Property("delayed", "NextPoll")) >= login + 900'000'000);

	// FetchNow on the in-use account retries at once: the user asked.
	const unsigned tries = in_use.ConnectionCount();
	call.argv = {"busctl",       "--user",  "call",    bus_name,
		     path + "inuse", interface, "FetchNow"};
	CHECK(Run(call).exit_code == 0);
	CHECK(WaitFor([&] { return in_use.ConnectionCount() == tries + 1; }, 10s));

	daemon.Signal(SIGTERM);
	const auto r = daemon.Wait();
	CHECK(r.exit_code == 0);
	CHECK(r.err.find("s3cret") == std::string::npos);
}
