// Case 24 (test cases.24-uidl-capa-unsupported): UIDL advertised only after login,
// UIDL refused, no CAPA and no pipelining (a server that loses pipelined commands), and
// a hang-up right after CAPA. Mail is fetched in every variant.

#include "CaseChecks.hxx"

using namespace popstream::test;

namespace {

void AddTwoMessages(FakePop3Server &server, const char *prefix)
{
	server.AddMessage(StandardMessage(1), std::string(prefix) + "1");
	server.AddMessage(StandardMessage(2), std::string(prefix) + "2");
}

/** Checks the common outcome: both messages stored once and deleted, exit 0. */
void CheckFetchedBoth(const CaseHarness &harness, const FakePop3Server &server,
		      const DlRun &run)
{
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, StoredStandardMessages(1, 2));
	CHECK(harness.Names("tmp").empty());
	CHECK(server.RemainingUids().empty());
	CHECK(ContainsNoCase(run.Out(), "2 deleted"));
}

ScriptedReply Plain(std::string bytes)
{
	return ScriptedReply(std::move(bytes));
}

} // namespace

TEST_CASE("24 A: UIDL listed only in the CAPA after login; the UIDs are used")
{
	FakePop3Server server;
	AddTwoMessages(server, "late-");
	server.AddRule({"CAPA", 0, Phase::Authorization, Plain("+OK\r\nUSER\r\n.\r\n")});
	server.AddRule({"CAPA", 0, Phase::Transaction,
			Plain("+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n")});
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckFetchedBoth(harness, server, run);
	const auto commands = server.AllCommands();
	// Re-issuing CAPA after login or simply trying UIDL are both fine; not using
	// UIDL at all is not.
	CHECK(CountVerb(commands, "UIDL") >= 1);
	CHECK_FALSE(ContainsNoCase(run.Err(), "lacks UIDL"));
}

TEST_CASE("24 B: UIDL refused: mail still fetched, with a warning")
{
	FakePop3Server server;
	AddTwoMessages(server, "u");
	server.Reply("CAPA", "+OK\r\nUSER\r\n.\r\n");
	server.Reply("UIDL", "-ERR Command not understood\r\n");
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckFetchedBoth(harness, server, run);
	CHECK(ContainsNoCase(run.Err(), "lacks UIDL"));
	CHECK(server.ConnectionCount() == 1);
}

TEST_CASE("24 C: no CAPA, server loses pipelined commands: strict lock-step")
{
	FakePop3Server server;
	AddTwoMessages(server, "u");
	server.Reply("CAPA", "-ERR unknown command\r\n");
	server.SetOneCommandPerRead(true);
	CaseHarness harness;
	DlOptions options;
	// A client that pipelines anyway waits for replies that never come: fail fast.
	options.timeout_seconds = 3;
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckFetchedBoth(harness, server, run);
	for (unsigned i = 1; i <= server.ConnectionCount(); ++i)
		CHECK(Join(server.DiscardedCommands(i)) == "");
	CHECK(server.ConnectionCount() == 1);
}

TEST_CASE("24 D: hang-up right after CAPA: one reconnect, then a normal session")
{
	FakePop3Server server;
	AddTwoMessages(server, "u");
	server.Reply("CAPA", "+OK\r\nUSER\r\nUIDL\r\n.\r\n", AfterReply::Close, 1);
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckFetchedBoth(harness, server, run);
	// One reconnect, no loop.
	CHECK(server.ConnectionCount() == 2);
}
