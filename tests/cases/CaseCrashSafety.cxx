// Issue 4's promise: popstream can be killed at any instant (kill -9, a power cut)
// and still neither lose nor duplicate a message. Each named point of the delivery
// protocol (see store/CrashPoint.hxx) is hit on its first, second and fifth pass; the
// process dies there with SIGKILL; a second run then completes the job. Afterwards
// every message is in the Maildir exactly once and the server holds none.

#include "CaseChecks.hxx"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

using namespace popstream::test;

namespace {

constexpr unsigned message_count = 8;

std::vector<std::string> Expected()
{
	std::vector<std::string> out;
	for (unsigned n = 1; n <= message_count; ++n)
		out.push_back(CrlfToLf(StandardMessage(n)));
	return out;
}

void Fill(FakePop3Server &server)
{
	for (unsigned n = 1; n <= message_count; ++n)
		server.AddMessage(StandardMessage(n), "c" + std::to_string(n));
}

} // namespace

TEST_CASE("killed at any step of the delivery protocol: no loss, no duplicate")
{
	const char *points[] = {"journal-pending", "published", "dir-synced",
				"dele-sent",       "quit-sent", "quit-confirmed"};
	for (const char *point : points) {
		for (const int pass : {1, 2, 5}) {
			// Points reached once per session only have a first pass.
			const std::string p(point);
			if (pass > 1 && (p == "quit-sent" || p == "quit-confirmed"))
				continue;
			CAPTURE(point);
			CAPTURE(pass);
			FakePop3Server server;
			Fill(server);
			CaseHarness harness;
			// One message per read batch: every message passes every point.
			DlOptions options;
			options.args = {"--pipelining", "off"};
			options.env = {"POPSTREAM_CRASH_AT=" + p + ":" +
				       std::to_string(pass)};
			const auto crashed = harness.Dl(server, options);
			INFO("crashed run: ", crashed.Describe());
			CHECK(crashed.process.signal == SIGKILL);

			const auto again = harness.Dl(server);
			INFO("second run: ", again.Describe());
			INFO(DescribeCommands(server));
			CHECK(again.ExitCode() == exit_code::ok);
			CheckNewFiles(harness, Expected());
			CHECK(server.RemainingUids().empty());
			CHECK(harness.Names("tmp").empty());
		}
	}
}

TEST_CASE(
    "killed while pipelining: the next run deletes what was saved, downloads the rest")
{
	for (const char *point :
	     {"journal-pending", "published", "dir-synced", "dele-sent"}) {
		CAPTURE(point);
		FakePop3Server server;
		Fill(server);
		CaseHarness harness;
		DlOptions options;
		options.env = {std::string("POPSTREAM_CRASH_AT=") + point + ":1"};
		const auto crashed = harness.Dl(server, options);
		INFO("crashed run: ", crashed.Describe());
		CHECK(crashed.process.signal == SIGKILL);
		// What reached new/ before the kill, durable or not yet.
		const auto saved_before = harness.Names("new").size();
		const unsigned before = server.ConnectionCount();
		const auto again = harness.Dl(server);
		INFO("second run: ", again.Describe());
		INFO(DescribeCommands(server));
		CHECK(again.ExitCode() == exit_code::ok);
		CheckNewFiles(harness, Expected());
		CHECK(server.RemainingUids().empty());
		// Whatever the first run put into new/ is recognised (the journal, or TOP
		// for what it had not yet confirmed) and not downloaded again.
		const auto second = CommandsFrom(server, before + 1);
		CHECK(CountVerb(second, "RETR") == message_count - saved_before);
	}
}

TEST_CASE("killed between a damaged copy and its second download: no loss, no second "
	  "copy, nothing damaged in the Maildir")
{
	// Message 3 holds a line "." that the server forgets to stuff on the first
	// connection: the body ends there, short of the listed size. Under pipelining
	// that copy is never proven, so it stays in tmp/ and the lock-step redo fetches
	// the message again. A kill anywhere in between must not matter.
	const std::string with_dot = "From: bob@example.com\r\nTo: alice@example.com\r\n"
				     "Subject: msg 3\r\n\r\nbefore\r\n.\r\nafter\r\n";
	const std::string broken = "+OK\r\nFrom: bob@example.com\r\nTo: "
				   "alice@example.com\r\nSubject: msg 3\r\n\r\n"
				   "before\r\n.\r\nafter\r\n.\r\n";
	for (const char *point :
	     {"unproven-held:1", "redo-start:1", "journal-pending:2", "dir-synced:2"}) {
		CAPTURE(point);
		FakePop3Server server;
		for (unsigned n = 1; n <= message_count; ++n)
			server.AddMessage(n == 3 ? with_dot : StandardMessage(n),
					  "c" + std::to_string(n));
		server.Reply("RETR 3", broken, AfterReply::Continue, 1);
		CaseHarness harness;
		DlOptions options;
		options.env = {std::string("POPSTREAM_CRASH_AT=") + point};
		const auto crashed = harness.Dl(server, options);
		INFO("crashed run: ", crashed.Describe());
		INFO(DescribeCommands(server));
		CHECK(crashed.process.signal == SIGKILL);
		const auto again = harness.Dl(server);
		INFO("second run: ", again.Describe());
		CHECK(again.ExitCode() == exit_code::ok);
		auto expected = Expected();
		expected[2] = CrlfToLf(with_dot);
		// Exactly these contents: the short copy of message 3 is nowhere.
		CheckNewFiles(harness, expected);
		CHECK(server.RemainingUids().empty());
		CHECK(harness.Names("tmp").empty());
	}
}

TEST_CASE("a server that confirms deletions but keeps the messages: listed again, they "
	  "are downloaded, recognised byte for byte, and not saved twice")
{
	// A unique-id whose deletion the server confirmed vouches for nothing (the
	// server may hand it out again for new mail), so the messages are downloaded;
	// being the very bytes saved before, they are not saved a second time.
	FakePop3Server server;
	Fill(server);
	server.SetForgetDeletions(true);
	CaseHarness harness;
	const auto first = harness.Dl(server);
	INFO("first run: ", first.Describe());
	CHECK(first.ExitCode() == exit_code::ok);
	CHECK(server.RemainingUids().size() == message_count);
	const unsigned before = server.ConnectionCount();
	const auto second = harness.Dl(server);
	INFO("second run: ", second.Describe());
	INFO(DescribeCommands(server));
	CHECK(second.ExitCode() == exit_code::ok);
	const auto commands = CommandsFrom(server, before + 1);
	CHECK(CountVerb(commands, "RETR") == message_count);
	CHECK(CountVerb(commands, "DELE") == message_count);
	CHECK(second.Err().find(
		  "message 1 (UIDL c1): the server confirmed deleting it "
		  "earlier but still has it, byte for byte the copy saved as") !=
	      std::string::npos);
	CheckNewFiles(harness, Expected());
	CHECK(harness.Names("tmp").empty());
}

TEST_CASE("-n twice: the second run downloads only what is new (keep with the journal)")
{
	FakePop3Server server;
	Fill(server);
	CaseHarness harness;
	DlOptions keep;
	keep.args = {"-n"};
	const auto first = harness.Dl(server, keep);
	INFO("first run: ", first.Describe());
	CHECK(first.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, Expected());
	CHECK(server.RemainingUids().size() == message_count);

	server.AddMessage(StandardMessage(9), "c9");
	const unsigned before = server.ConnectionCount();
	const auto second = harness.Dl(server, keep);
	INFO("second run: ", second.Describe());
	INFO(DescribeCommands(server));
	CHECK(second.ExitCode() == exit_code::ok);
	const auto commands = CommandsFrom(server, before + 1);
	CHECK(CountVerb(commands, "RETR") == 1);
	CHECK(HasCommand(commands, "RETR 9"));
	CHECK(CountVerb(commands, "DELE") == 0);
	auto expected = Expected();
	expected.push_back(CrlfToLf(StandardMessage(9)));
	CheckNewFiles(harness, expected);

	// And a normal run then deletes them all without downloading any again.
	const unsigned before3 = server.ConnectionCount();
	const auto third = harness.Dl(server);
	INFO("third run: ", third.Describe());
	CHECK(third.ExitCode() == exit_code::ok);
	CHECK(CountVerb(CommandsFrom(server, before3 + 1), "RETR") == 0);
	CHECK(server.RemainingUids().empty());
	CheckNewFiles(harness, expected);
}

TEST_CASE("-n into a scratch Maildir, then a run into another: downloaded again, never "
	  "deleted unsaved")
{
	// The journal is the account's: it must not vouch for a copy that is not in
	// the Maildir now in use (a fresh user's natural first try).
	FakePop3Server server;
	Fill(server);
	CaseHarness harness;
	const std::string scratch = harness.Maildir() + "-scratch";
	DlOptions keep;
	keep.args = {"-n"};
	keep.maildir = scratch;
	const auto first = harness.Dl(server, keep);
	INFO("first run: ", first.Describe());
	CHECK(first.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, Expected(), scratch);
	std::filesystem::remove_all(scratch);

	// The real Maildir holds none of them: all are downloaded again.
	const auto real = harness.Maildir();
	for (const char *sub : {"/tmp", "/new", "/cur"})
		std::filesystem::create_directories(real + sub);
	const unsigned before = server.ConnectionCount();
	const auto second = harness.Dl(server);
	INFO("second run: ", second.Describe());
	INFO(DescribeCommands(server));
	CHECK(second.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, Expected());
	CHECK(server.RemainingUids().empty());
	CHECK(CountVerb(CommandsFrom(server, before + 1), "RETR") == message_count);
	CHECK(second.Err().find("downloading it again instead of deleting it") !=
	      std::string::npos);
}

TEST_CASE("a saved copy moved to cur/ with flags still counts: deleted, not downloaded")
{
	FakePop3Server server;
	Fill(server);
	CaseHarness harness;
	DlOptions keep;
	keep.args = {"-n"};
	const auto first = harness.Dl(server, keep);
	INFO("first run: ", first.Describe());
	CHECK(first.ExitCode() == exit_code::ok);
	// A mail reader moves every message to cur/ and marks it seen.
	const auto maildir = harness.Maildir();
	for (const auto &name : harness.Names("new"))
		std::filesystem::rename(maildir + "/new/" + name,
					maildir + "/cur/" + name + ":2,S");
	const unsigned before = server.ConnectionCount();
	const auto second = harness.Dl(server);
	INFO("second run: ", second.Describe());
	INFO(DescribeCommands(server));
	CHECK(second.ExitCode() == exit_code::ok);
	const auto commands = CommandsFrom(server, before + 1);
	CHECK(CountVerb(commands, "RETR") == 0);
	CHECK(CountVerb(commands, "DELE") == message_count);
	CHECK(server.RemainingUids().empty());
	CHECK(harness.Names("new").empty());
	CHECK(harness.Names("cur").size() == message_count);
}

TEST_CASE("-n killed before QUIT: its copies were proven as they arrived, so no later "
	  "run downloads or checks them again")
{
	FakePop3Server server;
	Fill(server);
	CaseHarness harness;
	DlOptions crash;
	crash.args = {"-n"};
	crash.env = {"POPSTREAM_CRASH_AT=quit-sent:1"};
	const auto crashed = harness.Dl(server, crash);
	INFO("crashed run: ", crashed.Describe());
	CHECK(crashed.process.signal == SIGKILL);
	CheckNewFiles(harness, Expected());

	DlOptions keep;
	keep.args = {"-n"};
	unsigned before = server.ConnectionCount();
	const auto second = harness.Dl(server, keep);
	INFO("second run: ", second.Describe());
	INFO(DescribeCommands(server));
	CHECK(second.ExitCode() == exit_code::ok);
	CHECK(CountVerb(CommandsFrom(server, before + 1), "TOP") == 0);
	CHECK(CountVerb(CommandsFrom(server, before + 1), "RETR") == 0);
	CHECK(second.Err().find(std::to_string(message_count) + " saved earlier") !=
	      std::string::npos);

	before = server.ConnectionCount();
	const auto third = harness.Dl(server, keep);
	INFO("third run: ", third.Describe());
	CHECK(third.ExitCode() == exit_code::ok);
	const auto commands = CommandsFrom(server, before + 1);
	CHECK(CountVerb(commands, "TOP") == 0);
	CHECK(CountVerb(commands, "RETR") == 0);
	CheckNewFiles(harness, Expected());
	CHECK(server.RemainingUids().size() == message_count);
}

TEST_CASE("a saved unique-id that two messages now carry: the journal forgets it, and "
	  "neither is deleted unread")
{
	// P is saved under "x" (kept). Then the server lists Q and P, both "x", of one
	// size: the saved copy could be either. Trusting it later, once P is gone, would
	// delete Q unread.
	const std::string p = "Subject: P\r\n\r\nthe body of p\r\n";
	const std::string q = "Subject: Q\r\n\r\nthe body of q\r\n";
	REQUIRE(p.size() == q.size());
	FakePop3Server server;
	server.AddMessage(p, "x");
	CaseHarness harness;
	DlOptions keep;
	keep.args = {"-n"};
	const auto first = harness.Dl(server, keep);
	INFO("first run: ", first.Describe());
	CHECK(first.ExitCode() == exit_code::ok);

	server.RemoveMessage("x");
	server.AddMessage(q, "x");
	server.AddMessage(p, "x");
	DlOptions one;
	one.args = {"--limit", "1"};
	for (int run = 0; run < 4 && !server.RemainingUids().empty(); ++run) {
		const unsigned before = server.ConnectionCount();
		const auto next = harness.Dl(server, one);
		INFO("run ", run + 2, ": ", next.Describe());
		INFO(DescribeCommands(server));
		CHECK(next.ExitCode() == exit_code::ok);
		// Every DELE is for a message this same session downloaded.
		const auto commands = CommandsFrom(server, before + 1);
		for (const auto &c : commands)
			if (c.starts_with("DELE "))
				CHECK(HasCommand(commands, "RETR " + c.substr(5)));
		if (run == 0)
			CHECK(next.Err().find("is given to several messages") !=
			      std::string::npos);
	}
	CHECK(server.RemainingUids().empty());
	// Q arrived; P may be there twice (a duplicate is better than a loss).
	std::size_t qs = 0, ps = 0;
	for (const auto &name : harness.Names("new")) {
		const auto text = ReadFile(harness.Maildir() + "/new/" + name);
		qs += text == CrlfToLf(q);
		ps += text == CrlfToLf(p);
	}
	CHECK(qs == 1);
	CHECK(ps >= 1);
}

TEST_CASE("two runs on one account at once: the second says so and exits 75")
{
	FakePop3Server server;
	Fill(server);
	// The first run stalls in the middle of message 1, holding the account's lock.
	server.Reply("RETR 1", "+OK\r\nFrom: x\r\n", AfterReply::Stall);
	CaseHarness harness;
	DlOptions slow;
	slow.timeout_seconds = 4;
	ProcessOptions first = harness.DlProcess(server, slow);
	Child child(first);
	std::this_thread::sleep_for(std::chrono::milliseconds(800));
	DlOptions options;
	const auto second = harness.Dl(server, options);
	INFO("second run: ", second.Describe());
	CHECK(second.ExitCode() == exit_code::temp_fail);
	// Named by the pid the first wrote into the lock file.
	CHECK(ContainsNoCase(second.Err(), "popstream (pid "));
	CHECK(ContainsNoCase(second.Err(), ") is fetching alice@127.0.0.1:"));
	child.Signal(SIGKILL);
	child.Wait();
}
