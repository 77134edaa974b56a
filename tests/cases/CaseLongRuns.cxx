// Large mailboxes (issue 4, bench/run-memory): a run QUITs after 5000 messages and goes
// on in a new session, so that what it keeps per message, and the deletions one QUIT has
// to apply, stay bounded; and a server that is slow to answer QUIT (it deletes before
// it answers, RFC 1939 §6) is neither raced by a second session nor reported wrongly.

#include "CaseChecks.hxx"

#include <algorithm>

using namespace popstream::test;

namespace {

/** Messages one session takes before it QUITs (max_session_messages in
 * fetch/SessionPlan.cxx). */
constexpr unsigned session_messages = 5000;

/** Two sessions of 5000 fsynced messages take 11 s on an idle 2-CPU machine and over
 * 30 s (the harness's default) on a loaded one: the deadline only catches a hang. */
constexpr std::chrono::seconds long_run_deadline{180};

std::string Small(unsigned n)
{
	return "Message-ID: <long-" + std::to_string(n) +
	       "@popstream.test>\r\nSubject: " + std::to_string(n) + "\r\n\r\nbody " +
	       std::to_string(n) + "\r\n";
}

std::size_t Count(const std::vector<std::string> &commands, std::string_view verb)
{
	return std::count_if(commands.begin(), commands.end(),
			     [&](const std::string &c) { return c.starts_with(verb); });
}

} // namespace

TEST_CASE("5003 messages: QUIT after 5000, the last 3 in a second session, all once")
{
	constexpr unsigned total = session_messages + 3;
	FakePop3Server server;
	std::vector<std::string> expected;
	for (unsigned n = 1; n <= total; ++n) {
		server.AddMessage(Small(n), "long-" + std::to_string(n));
		expected.push_back(CrlfToLf(Small(n)));
	}
	CaseHarness harness;
	DlOptions options;
	options.timeout_seconds = 120;
	options.process_timeout = long_run_deadline;
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	REQUIRE(server.ConnectionCount() == 2);
	const auto first = server.Commands(1);
	const auto second = server.Commands(2);
	CHECK(Count(first, "RETR ") == session_messages);
	CHECK(Count(first, "DELE ") == session_messages);
	CHECK(first.back() == "QUIT");
	CHECK(Count(second, "RETR ") == 3);
	CHECK(Count(second, "DELE ") == 3);
	CHECK(server.RemainingUids().empty());
	CheckNewFiles(harness, expected);
	CHECK(harness.Names("tmp").empty());
	// One summary: everything the two sessions deleted.
	CHECK(run.Out().find(std::to_string(total) + " deleted on the server") !=
	      std::string::npos);
}

TEST_CASE("silence after QUIT with DELE replies outstanding: no second session, the "
	  "outcome is unknown, and the next run finishes without duplicates")
{
	constexpr unsigned total = 6;
	FakePop3Server server;
	std::vector<std::string> expected;
	for (unsigned n = 1; n <= total; ++n) {
		server.AddMessage(StandardMessage(n), "q" + std::to_string(n));
		expected.push_back(CrlfToLf(StandardMessage(n)));
	}
	// Dovecot answers the last DELEs only with QUIT's reply, after deleting: here
	// it never answers, on the first connection only.
	server.Reply("DELE 4", "", AfterReply::Stall, 1);
	CaseHarness harness;
	DlOptions options;
	options.timeout_seconds = 1;
	const auto first = harness.Dl(server, options);
	{
		INFO("first run: ", first.Describe());
		INFO(DescribeCommands(server));
		CheckOrderlyExit(first);
		CHECK(first.ExitCode() == exit_code::temp_fail);
		// A second session would race a server still deleting for its maildrop.
		CHECK(server.ConnectionCount() == 1);
		REQUIRE(!server.Commands(1).empty());
		CHECK(server.Commands(1).back() == "QUIT");
		CHECK(first.Out().find("QUIT was sent but not confirmed") !=
		      std::string::npos);
		CHECK(DeletionClaims(first.Out() + first.Err()).empty());
		CheckNewFiles(harness, expected);
		CHECK(harness.Names("tmp").empty());
	}
	// The stalled session ended without UPDATE here, so the server kept everything;
	// the journal lets the next run delete all six without downloading any.
	const auto second = harness.Dl(server);
	INFO("second run: ", second.Describe());
	INFO(DescribeCommands(server));
	CHECK(second.ExitCode() == exit_code::ok);
	const auto again = CommandsFrom(server, 2);
	CHECK(Count(again, "RETR ") == 0);
	CHECK(Count(again, "DELE ") == total);
	CHECK(server.RemainingUids().empty());
	CheckNewFiles(harness, expected);
}

TEST_CASE("-n on 5002 messages without UIDL: the second session starts after the "
	  "first one's last, and the run ends")
{
	// With keep nothing is deleted and, without unique-ids, nothing recognised: a
	// second session that started from message 1 again would fetch the same 5000
	// forever.
	constexpr unsigned total = session_messages + 2;
	FakePop3Server server;
	server.Reply("UIDL", "-ERR Command not understood\r\n");
	std::vector<std::string> expected;
	for (unsigned n = 1; n <= total; ++n) {
		server.AddMessage(Small(n), "x" + std::to_string(n));
		expected.push_back(CrlfToLf(Small(n)));
	}
	CaseHarness harness;
	DlOptions options;
	options.args = {"-n"};
	options.timeout_seconds = 120;
	options.process_timeout = long_run_deadline;
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	REQUIRE(server.ConnectionCount() == 2);
	CHECK(Count(server.Commands(1), "RETR ") == session_messages);
	const auto second = server.Commands(2);
	CHECK(Count(second, "RETR ") == 2);
	CHECK(std::find(second.begin(), second.end(), "RETR 5001") != second.end());
	CHECK(std::find(second.begin(), second.end(), "RETR 5002") != second.end());
	CHECK(Count(second, "DELE ") == 0);
	CHECK(server.RemainingUids().size() == total);
	CheckNewFiles(harness, expected);
	CHECK(run.Err().find("every run downloads them all again") != std::string::npos);
}

TEST_CASE("a server that confirms deletions but keeps the messages: the second session "
	  "downloads nothing again")
{
	// Without unique-ids only the server's deletions keep a session from fetching
	// what the one before it fetched.
	constexpr unsigned total = session_messages + 3;
	FakePop3Server server;
	server.Reply("UIDL", "-ERR Command not understood\r\n");
	server.SetForgetDeletions(true);
	std::vector<std::string> expected;
	for (unsigned n = 1; n <= total; ++n) {
		server.AddMessage(Small(n), "k" + std::to_string(n));
		if (n <= session_messages)
			expected.push_back(CrlfToLf(Small(n)));
	}
	CaseHarness harness;
	DlOptions options;
	options.timeout_seconds = 120;
	options.process_timeout = long_run_deadline;
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	REQUIRE(server.ConnectionCount() == 2);
	CHECK(Count(server.Commands(1), "RETR ") == session_messages);
	CHECK(Count(server.Commands(2), "RETR ") == 0);
	CHECK(server.RemainingUids().size() == total);
	CheckNewFiles(harness, expected);
	CHECK(run.Err().find("the server lists 5003 messages, more than the 3 left after "
			     "the deletions it confirmed") != std::string::npos);
}
