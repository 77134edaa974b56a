// Case 19 (test cases.19-retr-err-single-message): two RETRs of a pipelined batch
// answered with a single-line -ERR. The others are saved and deleted, the two are kept,
// and every -ERR is consumed as exactly one line.

#include "CaseChecks.hxx"

using namespace popstream::test;

TEST_CASE("19 RETR -ERR for two messages of a pipelined batch; the rest is saved")
{
	FakePop3Server server;
	for (unsigned n = 1; n <= 4; ++n)
		server.AddMessage(StandardMessage(n), "e-" + std::to_string(n));
	server.Reply("RETR 2", "-ERR Message 2 expunged.\r\n");
	server.Reply("RETR 3", "-ERR Can't get the letter xtbB0003, try again later\r\n");
	server.Reply("DELE 2", "-ERR no such message\r\n");
	server.Reply("DELE 3", "-ERR no such message\r\n");
	CaseHarness harness;

	const auto first = harness.Dl(server);
	{
		INFO("first poll: ", first.Describe());
		INFO(DescribeCommands(server));
		CheckOrderlyExit(first);
		CHECK(first.ExitCode() == exit_code::temp_fail);
		// RETR 4's reply was parsed correctly after the two single-line -ERRs.
		CheckNewFiles(harness, {CrlfToLf(StandardMessage(1)),
					CrlfToLf(StandardMessage(4))});
		CHECK(harness.Names("tmp").empty());
		CHECK(server.RemainingUids() == std::vector<std::string>{"e-2", "e-3"});
		const auto commands = server.AllCommands();
		CHECK(HasCommand(commands, "RETR 4"));
		CHECK(HasCommand(commands, "DELE 1"));
		CHECK(HasCommand(commands, "DELE 4"));
		CHECK_FALSE(HasCommand(commands, "DELE 2"));
		CHECK_FALSE(HasCommand(commands, "DELE 3"));
		CHECK(HasCommand(commands, "QUIT"));
		// An -ERR is not a desynchronisation: no redo.
		CHECK(server.ConnectionCount() == 1);
		CHECK(ContainsNoCase(first.Err(), "message 2"));
		CHECK(first.Err().find("Message 2 expunged.") != std::string::npos);
		CHECK(ContainsNoCase(first.Err(), "message 3"));
		CHECK(first.Err().find("try again later") != std::string::npos);
		CHECK(ContainsNoCase(first.Out(), "2 deleted"));
	}

	// Meanwhile another session expunged message 2; message 3 can be read now.
	server.RemoveMessage("e-2");
	server.ClearRules();
	const auto second = harness.Dl(server);
	INFO("second poll: ", second.Describe());
	INFO(DescribeCommands(server));
	CheckOrderlyExit(second);
	CHECK(second.ExitCode() == exit_code::ok);
	CHECK(HasCommand(server.Commands(2), "RETR 1"));
	CHECK(HasCommand(server.Commands(2), "DELE 1"));
	// Message 3 once; 1 and 4 not again (they were deleted); 2 is simply gone.
	CheckNewFiles(harness,
		      {CrlfToLf(StandardMessage(1)), CrlfToLf(StandardMessage(3)),
		       CrlfToLf(StandardMessage(4))});
	CHECK(server.RemainingUids().empty());
	CHECK_FALSE(ContainsNoCase(second.Err(), "message 2"));
	CHECK_FALSE(ContainsNoCase(second.Err(), "expunged"));
}
