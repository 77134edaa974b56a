// Servers whose replies get out of step with popstream's pipelined commands (found by
// an adversarial review): a missing reply, a doubled reply. Whatever they do, no
// message may be deleted on the server without a copy in the Maildir, and "deleted"
// may only be claimed when it is certain.

#include "CaseChecks.hxx"

using namespace popstream::test;

namespace {

std::vector<std::string> Messages123()
{
	return {CrlfToLf(StandardMessage(1)), CrlfToLf(StandardMessage(2)),
		CrlfToLf(StandardMessage(3))};
}

} // namespace

TEST_CASE("a reply missing under pipelining, then a stall: the shifted copies do not "
	  "vouch, nothing lost or doubled")
{
	FakePop3Server server;
	// All three messages have the same size, so the size check cannot see the shift:
	// the reply to RETR 2 is taken for message 1's, RETR 3's for message 2's, and
	// the session stalls waiting for a third.
	for (unsigned n = 1; n <= 3; ++n)
		server.AddMessage(StandardMessage(n), "u" + std::to_string(n));
	server.Reply("RETR 1", "", AfterReply::Continue, 1);
	CaseHarness harness;
	DlOptions options;
	options.timeout_seconds = 2;
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	INFO(DescribeCommands(server));

	// Every message is in the Maildir exactly once, and the server is empty.
	for (const auto &m : Messages123())
		CHECK(CountCopies(harness, m) == 1);
	CHECK(server.RemainingUids().empty());
	// A stall is what a missing reply looks like: the copies saved before it no
	// longer vouch, so the next session downloads those messages again (replacing
	// the shifted files) before deleting them. Nothing is compared with TOP.
	const auto next = CommandsFrom(server, 2);
	CHECK(HasCommand(next, "RETR 1"));
	CHECK(HasCommand(next, "RETR 2"));
	CHECK(HasCommand(next, "RETR 3"));
	CHECK(CountVerb(server.AllCommands(), "TOP") == 0);
	CHECK(run.ExitCode() == exit_code::ok);
	CHECK(ContainsNoCase(run.Err(), "downloading it again to replace it"));
}

TEST_CASE("a doubled reply to DELE: no claim of deletion the server did not confirm")
{
	FakePop3Server server;
	for (unsigned n = 1; n <= 3; ++n)
		server.AddMessage(StandardMessage(n), "u" + std::to_string(n));
	server.Reply("DELE 1", "+OK\r\n+OK\r\n");
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckNewFiles(harness, Messages123());
	// The surplus +OK is read as QUIT's, and QUIT's own reply then arrives late:
	// popstream must not say "deleted".
	CHECK(run.ExitCode() == exit_code::temp_fail);
	CHECK(DeletionClaims(run.Out() + run.Err()).empty());
	CHECK(ContainsNoCase(run.Err(), "not confirmed"));
}

TEST_CASE("a server that echoes the password: it appears nowhere in popstream's output")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "u1");
	server.Reply("PASS", "-ERR [AUTH] wrong password \"s3cret\" for alice\r\n");
	CaseHarness harness;
	DlOptions options;
	options.args = {"-v"};
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	CHECK(run.ExitCode() == exit_code::no_perm);
	CHECK(run.Out().find("s3cret") == std::string::npos);
	CHECK(run.Err().find("s3cret") == std::string::npos);
	CHECK(ContainsNoCase(run.Err(), "wrong password"));
}

namespace {

/** Eight messages of one size: the size check cannot see a shifted reply. */
void FillEight(FakePop3Server &server)
{
	for (unsigned n = 1; n <= 8; ++n)
		server.AddMessage(StandardMessage(n), "u" + std::to_string(n));
}

/** Every message exactly once in new/, the server empty. */
void CheckAllOnce(const CaseHarness &harness, const FakePop3Server &server)
{
	for (unsigned n = 1; n <= 8; ++n)
		CHECK(CountCopies(harness, CrlfToLf(StandardMessage(n))) == 1);
	CHECK(harness.Names("new").size() == 8);
	CHECK(server.RemainingUids().empty());
}

} // namespace

TEST_CASE("a doubled reply to RETR, all sizes equal: the session's copies do not vouch "
	  "once it goes out of step")
{
	// Every body after the doubled one is taken for the next message and proven by
	// the well-formed line after it; the first sign of being out of step comes only
	// later. Found by a fresh-user review: the redo then deleted every message
	// unread, and message 8 was lost.
	FakePop3Server server;
	FillEight(server);
	const std::string reply3 =
	    "+OK\r\n" + FakePop3Server::DotStuff(StandardMessage(3)) + ".\r\n";
	server.Reply("RETR 3", reply3 + reply3, AfterReply::Continue, 1);
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckAllOnce(harness, server);
	CHECK(run.ExitCode() == exit_code::ok);
	// The redo downloads what the out-of-step session saved, replacing the files.
	CHECK(CountVerb(CommandsFrom(server, 2), "RETR") == 8);
}

TEST_CASE("a missing reply to RETR, then the server hangs up: the copies do not vouch")
{
	for (const AfterReply after : {AfterReply::Close, AfterReply::Reset}) {
		CAPTURE(after == AfterReply::Close ? "close" : "reset");
		FakePop3Server server;
		FillEight(server);
		server.Reply("RETR 3", "", AfterReply::Continue, 1);
		server.Reply("NOOP", "+OK\r\n", after, 1);
		CaseHarness harness;
		const auto run = harness.Dl(server);
		INFO(run.Describe());
		INFO(DescribeCommands(server));
		CheckAllOnce(harness, server);
		CHECK(run.ExitCode() == exit_code::ok);
	}
}
