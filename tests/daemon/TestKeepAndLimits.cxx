// The account settings of issue 4, end to end through popstreamd: keep with
// delete_after, max_message_size with oversize, max_messages_per_session,
// checkpoint_every, and the lock that keeps `dl` off an account the daemon is fetching.
// Scripted fake servers stand in for POP3; a real session bus carries FetchNow.
#include "DaemonHelpers.hxx"
#include "FakePop3Server.hxx"
#include "TempDir.hxx"
#include "core/journal/Journal.hxx"

#include <doctest/doctest.h>

#include <filesystem>

#include <csignal>
#include <ctime>
#include <fstream>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

std::string Message(unsigned n, std::size_t body_bytes = 0)
{
	return "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: msg " +
	       std::to_string(n) + "\r\n\r\nbody " + std::to_string(n) + "\r\n" +
	       std::string(body_bytes, 'x') + (body_bytes ? "\r\n" : "");
}

/** HOME with a netrc for @p server and a config for one account "a". */
class Daemon {
public:
	TempDir home;
	std::unique_ptr<Child> child;

	Daemon(const FakePop3Server &server, const std::string &settings)
	{
		const auto port = std::to_string(server.Port());
		WriteFile(home / ".netrc",
			  "machine alice@127.0.0.1:" + port + " password s3cret\n", 0600);
		WriteFile(home / "config.yaml",
			  "defaults:\n  interval: 1h\n  timeout: 10s\naccounts:\n"
			  "  - name: a\n    server: tcp:alice@127.0.0.1:" +
			      port + "\n    maildir: " + Maildir() + "\n" + settings,
			  0600);
	}

	~Daemon()
	{
		if (child) {
			child->Signal(SIGKILL);
			child->Wait();
		}
	}

	std::string Maildir() const { return home / "Mail"; }

	void Start()
	{
		ProcessOptions o;
		o.argv = {RequireEnv("POPSTREAMD_BIN"), "--config", home / "config.yaml"};
		o.env = {"HOME=" + home.Path(), "NOTIFY_SOCKET", "JOURNAL_STREAM",
			 "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
		o.timeout = 120s;
		child = std::make_unique<Child>(o);
	}

	ProcessResult Stop()
	{
		child->Signal(SIGTERM);
		auto r = child->Wait();
		child.reset();
		return r;
	}

	/** Waits for the account's fetch number @p n to end (MessagesFetched aside). */
	bool WaitIdle()
	{
		return WaitUntil([] {
			const auto s = AccountProp("a", "State");
			return s == "u 1" || s == "u 4" || s == "u 5" || s == "u 6";
		});
	}
};

std::size_t Count(const std::vector<std::string> &commands, const std::string &verb)
{
	std::size_t n = 0;
	for (const auto &c : commands)
		n += c.rfind(verb, 0) == 0;
	return n;
}

} // namespace

TEST_CASE("keep: fetched once, left on the server; delete_after removes old ones")
{
	FakePop3Server server;
	for (unsigned n = 1; n <= 3; ++n)
		server.AddMessage(Message(n), "k" + std::to_string(n));
	{
		Daemon d(server, "    keep: true\n    delete_after: 1h\n");
		d.Start();
		REQUIRE(WaitUntil(
		    [] { return AccountProp("a", "MessagesFetched") == "t 3"; }));
		REQUIRE(d.WaitIdle());
		CHECK(server.RemainingUids().size() == 3);
		CHECK(ListDir(d.Maildir() + "/new").size() == 3);

		// Another poll: nothing new, nothing downloaded again.
		const unsigned before = server.ConnectionCount();
		REQUIRE(CallFetchNow("a") == 0);
		REQUIRE(WaitUntil([&] { return server.ConnectionCount() > before; }));
		REQUIRE(d.WaitIdle());
		CHECK(Count(server.AllCommands(), "RETR") == 3);
		CHECK(Count(server.AllCommands(), "DELE") == 0);
		CHECK(d.Stop().exit_code == 0);

		// Age the journal's record of k1 and k2 by two hours (as if kept that
		// long).
		const std::string journal = d.home / ".local/state/popstream/a/journal";
		popstream::journal::State state;
		REQUIRE(state.Replay(ReadFile(journal)) == 0);
		std::string text;
		for (auto r : state.Snapshot()) {
			if ((r.uidl == "k1" || r.uidl == "k2") && r.saved_at != 0)
				r.saved_at =
				    static_cast<std::int64_t>(std::time(nullptr)) - 7200;
			text += popstream::journal::EncodeRecord(r);
		}
		WriteFile(journal, text, 0600);

		d.Start();
		REQUIRE(WaitUntil([&] { return server.RemainingUids().size() == 1; }));
		CHECK(server.RemainingUids() == std::vector<std::string>{"k3"});
		CHECK(Count(server.AllCommands(), "RETR") == 3); // deleted unread
		CHECK(ListDir(d.Maildir() + "/new").size() == 3);
		CHECK(d.Stop().exit_code == 0);
	}
}

TEST_CASE("max_message_size: skip leaves it, delete removes it unread; both are logged")
{
	for (const bool remove : {false, true}) {
		CAPTURE(remove);
		FakePop3Server server;
		server.AddMessage(Message(1), "s1");
		server.AddMessage(Message(2, 5000), "s2");
		server.AddMessage(Message(3), "s3");
		Daemon d(server, std::string("    max_message_size: 2kB\n") +
				     (remove ? "    oversize: delete\n" : ""));
		d.Start();
		REQUIRE(WaitUntil(
		    [] { return AccountProp("a", "MessagesFetched") == "t 2"; }));
		REQUIRE(d.WaitIdle());
		REQUIRE(WaitUntil([&] { return server.RemainingUids().size() <= 1; }));
		CHECK(server.RemainingUids() == (remove
						     ? std::vector<std::string>{}
						     : std::vector<std::string>{"s2"}));
		CHECK_FALSE(popstream::test::ReadAllFiles(d.Maildir() + "/new").empty());
		for (const auto &c : server.AllCommands())
			CHECK(c != "RETR 2");
		const auto r = d.Stop();
		CHECK(r.exit_code == 0);
		CHECK(r.err.find("over max_message_size") != std::string::npos);
		CHECK(r.err.find(remove ? "deleted without downloading"
					: "left on the server") != std::string::npos);
	}
}

TEST_CASE(
    "checkpoint_every: QUIT and reconnect every 2 messages; all delivered in one poll")
{
	FakePop3Server server;
	for (unsigned n = 1; n <= 5; ++n)
		server.AddMessage(Message(n), "c" + std::to_string(n));
	Daemon d(server, "    checkpoint_every: 2\n");
	d.Start();
	REQUIRE(WaitUntil([] { return AccountProp("a", "MessagesFetched") == "t 5"; }));
	REQUIRE(d.WaitIdle());
	CHECK(server.RemainingUids().empty());
	CHECK(server.ConnectionCount() == 3);
	for (unsigned c = 1; c <= 3; ++c) {
		CAPTURE(c);
		const auto commands = server.Commands(c);
		CHECK(Count(commands, "RETR") == (c < 3 ? 2u : 1u));
		CHECK(Count(commands, "QUIT") == 1);
	}
	CHECK(ListDir(d.Maildir() + "/new").size() == 5);
	CHECK(d.Stop().exit_code == 0);
}

TEST_CASE("max_messages_per_session: 2 per poll, the rest on the next")
{
	FakePop3Server server;
	for (unsigned n = 1; n <= 5; ++n)
		server.AddMessage(Message(n), "m" + std::to_string(n));
	Daemon d(server, "    max_messages_per_session: 2\n");
	d.Start();
	REQUIRE(WaitUntil([] { return AccountProp("a", "MessagesFetched") == "t 2"; }));
	REQUIRE(d.WaitIdle());
	CHECK(server.RemainingUids().size() == 3);
	REQUIRE(CallFetchNow("a") == 0);
	REQUIRE(WaitUntil([] { return AccountProp("a", "MessagesFetched") == "t 4"; }));
	CHECK(server.RemainingUids().size() == 1);
	CHECK(d.Stop().exit_code == 0);
}

TEST_CASE("dl is kept off an account the daemon is fetching (exit 75), and back after")
{
	FakePop3Server server;
	server.AddMessage(Message(1), "l1");
	// The daemon's first session stalls in message 1, holding the account.
	server.Reply("RETR 1", "+OK\r\nFrom: x\r\n", AfterReply::Stall, 1);
	Daemon d(server, "");
	d.Start();
	REQUIRE(WaitUntil([] { return AccountProp("a", "State") == "u 3"; }));
	ProcessOptions o;
	o.argv = {RequireEnv("POPSTREAM_BIN"), "dl",
		  "tcp:alice@127.0.0.1:" + std::to_string(server.Port()),
		  d.home / "Other"};
	o.env = {"HOME=" + d.home.Path(), "XDG_STATE_HOME", "NETRC"};
	o.timeout = 30s;
	const auto r = Run(o);
	CHECK(r.exit_code == 75);
	CHECK(r.err.find("popstreamd (pid ") != std::string::npos);
	d.Stop();
}

TEST_CASE("on_new_mail: the daemon runs it after a poll that saved mail; a stop kills a "
	  "hung one")
{
	FakePop3Server server;
	for (unsigned n = 1; n <= 2; ++n)
		server.AddMessage(Message(n), "h" + std::to_string(n));
	{
		TempDir out;
		const auto facts = out / "facts";
		Daemon d(server, "    on_new_mail: [sh, -c, 'echo $POPSTREAM_ACCOUNT "
				 "$POPSTREAM_MESSAGES >> \"$0\"; echo hooked', '" +
				     facts + "']\n");
		d.Start();
		REQUIRE(WaitUntil(
		    [] { return AccountProp("a", "MessagesFetched") == "t 2"; }));
		REQUIRE(WaitUntil([&] {
			return std::filesystem::exists(facts) &&
			       ReadFile(facts) == "a 2\n";
		}));
		const auto r = d.Stop();
		CHECK(r.exit_code == 0);
		CHECK(r.err.find("on_new_mail: hooked") != std::string::npos);
	}
	server.AddMessage(Message(3), "h3");
	{
		// A hook that would run for 10 minutes does not hold the daemon's stop.
		Daemon d(server, "    on_new_mail: [sleep, '600']\n");
		d.Start();
		REQUIRE(WaitUntil(
		    [] { return AccountProp("a", "MessagesFetched") == "t 1"; }));
		REQUIRE(d.WaitIdle());
		const auto start = std::chrono::steady_clock::now();
		const auto r = d.Stop();
		CHECK(std::chrono::steady_clock::now() - start < 20s);
		CHECK(r.exit_code == 0);
		CHECK(
		    r.err.find("on_new_mail \"sleep\": killed: popstream is stopping") !=
		    std::string::npos);
	}
}
