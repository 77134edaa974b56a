// Case 03 (test cases.03-status-line-variants): bare "+OK" replies are positive,
// "+ERR" is not, and an empty reply line to DELE is a protocol violation that must not
// crash the client or cost a duplicate.

#include "CaseChecks.hxx"

#include <algorithm>

using namespace popstream::test;

namespace {

/** Variant A's server: every positive reply as short as RFC 1939 allows. */
void SetUpShortReplies(FakePop3Server &server)
{
	server.AddMessage(StandardMessage(1), "u1");
	server.Greeting("+OK\r\n");
	server.Reply("CAPA", "+OK\r\nUSER\r\nUIDL\r\n.\r\n");
	server.Reply("USER", "+OK\r\n");
	server.Reply("PASS s3cret", "+OK\r\n");
	server.Reply("STAT", "+OK 1 72\r\n");
	server.Reply("LIST", "+OK\r\n1 72\r\n.\r\n");
	server.Reply("UIDL", "+OK\r\n1 u1\r\n.\r\n");
	server.Reply("RETR 1", "+OK\r\n" + FakePop3Server::DotStuff(StandardMessage(1)));
	server.Reply("DELE 1", "+OK\r\n");
	server.Reply("QUIT", "+OK\r\n", AfterReply::Close);
}

/** Variant C: as A, but DELE 1 is answered with an empty line (on every connection of
 * the first poll, so a lock-step redo meets the same server). */
void SetUpEmptyDeleReply(FakePop3Server &server, const char *reply)
{
	SetUpShortReplies(server);
	server.Reply("DELE 1", reply);
}

const char *const empty_replies[] = {"\r\n", "\n"};

} // namespace

TEST_CASE("03 A: bare +OK everywhere is success")
{
	FakePop3Server server;
	SetUpShortReplies(server);
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, {CrlfToLf(StandardMessage(1))});
	CHECK(server.RemainingUids().empty());
	CHECK(ContainsNoCase(run.Out(), "1 deleted"));
}

TEST_CASE("03 B: +ERR to PASS is a failure, and nothing follows PASS but QUIT")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "u1");
	server.Greeting("+OK\r\n");
	server.Reply("CAPA", "+OK\r\nUSER\r\nUIDL\r\n.\r\n");
	server.Reply("PASS", "+ERR Server error: Failed to fetch messages in Inbox.\r\n");
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckOrderlyExit(run);
	// "+ERR" is neither +OK nor -ERR: a failed login (77) or a protocol error (76);
	// the contract does not pin which, and both are failures.
	CHECK((run.ExitCode() == exit_code::no_perm ||
	       run.ExitCode() == exit_code::protocol));
	CHECK(run.Err().find("Failed to fetch messages in Inbox.") != std::string::npos);
	CHECK(harness.Names("new").empty());
	CHECK(server.RemainingUids() == std::vector<std::string>{"u1"});
	// No retry of a rejected login, and nothing pipelined behind PASS.
	CHECK(server.ConnectionCount() == 1);
	const auto commands = server.Commands(1);
	const auto pass =
	    std::find(commands.begin(), commands.end(), std::string("PASS s3cret"));
	REQUIRE(pass != commands.end());
	for (auto it = pass + 1; it != commands.end(); ++it)
		CHECK(*it == "QUIT");
}

TEST_CASE("03 C: empty reply line to DELE: no crash, one copy, no deletion")
{
	for (const char *reply : empty_replies) {
		SUBCASE(reply[0] == '\r' ? "C1 CRLF" : "C2 lone LF")
		{
			FakePop3Server server;
			SetUpEmptyDeleReply(server, reply);
			CaseHarness harness;
			const auto first = harness.Dl(server);
			{
				INFO("first poll: ", first.Describe());
				INFO(DescribeCommands(server));
				CheckOrderlyExit(first);
				CHECK(first.ExitCode() == exit_code::protocol);
				CheckNewFiles(harness, {CrlfToLf(StandardMessage(1))});
				CHECK(harness.Names("tmp").empty());
				// The server never confirmed DELE 1: it still holds u1.
				CHECK(server.RemainingUids() ==
				      std::vector<std::string>{"u1"});
				CHECK(server.ConnectionCount() <= 2);
				CHECK_FALSE(
				    HasCommand(CommandsFrom(server, 2), "RETR 1"));
				CHECK(Join(DeletionClaims(first.Out() + first.Err())) ==
				      "");
			}

			// Second poll against a well-behaved server. Without the journal
			// u1 is stored again (see the test below); what must hold anyway:
			server.ClearRules();
			const auto second = harness.Dl(server);
			INFO("second poll: ", second.Describe());
			INFO(DescribeCommands(server));
			CheckOrderlyExit(second);
			CHECK(second.ExitCode() == exit_code::ok);
			CHECK(server.RemainingUids().empty());
		}
	}
}

// Relies on the persistent UIDL journal: only a durable record of u1 from the
// first poll lets the second poll (a new process) send DELE 1 without RETR 1. Remove
TEST_CASE("03 C second poll recognises u1: DELE 1 + QUIT only, one copy")
{
	for (const char *reply : empty_replies) {
		SUBCASE(reply[0] == '\r' ? "C1 CRLF" : "C2 lone LF")
		{
			FakePop3Server server;
			SetUpEmptyDeleReply(server, reply);
			CaseHarness harness;
			const auto first = harness.Dl(server);
			INFO("first poll: ", first.Describe());
			server.ClearRules();
			const unsigned before = server.ConnectionCount();
			const auto second = harness.Dl(server);
			INFO("second poll: ", second.Describe());
			INFO(DescribeCommands(server));
			CHECK(second.ExitCode() == exit_code::ok);
			const auto commands = CommandsFrom(server, before + 1);
			CHECK_FALSE(HasCommand(commands, "RETR 1"));
			CHECK(HasCommand(commands, "DELE 1"));
			CHECK(HasCommand(commands, "QUIT"));
			CheckNewFiles(harness, {CrlfToLf(StandardMessage(1))});
			CHECK(server.RemainingUids().empty());
		}
	}
}
