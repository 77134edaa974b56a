// Case 05 (test cases.05-dot-unstuffing): exactly one leading dot is removed from
// every dot-stuffed line, and only from those.

#include "CaseChecks.hxx"

using namespace popstream::test;

TEST_CASE("05 dot-unstuffing: one leading dot removed from every stuffed line, no more")
{
	const std::string original = "From: bob@example.com\r\n"
				     "To: alice@example.com\r\n"
				     "Subject: dots\r\n"
				     "\r\n"
				     ".\r\n"
				     "..\r\n"
				     ".hidden\r\n"
				     "...three\r\n"
				     " .space-dot\r\n"
				     "end.\r\n"
				     ".\r\n";
	REQUIRE(original.size() == 111);
	// The server sends exactly the stuffed body of the case's script.
	REQUIRE(
	    FakePop3Server::DotStuff(original) ==
	    "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: dots\r\n\r\n"
	    "..\r\n...\r\n..hidden\r\n....three\r\n .space-dot\r\nend.\r\n..\r\n.\r\n");

	FakePop3Server server;
	server.AddMessage(original, "dots-1");
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));

	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	CheckNewFiles(harness,
		      {"From: bob@example.com\nTo: alice@example.com\nSubject: dots\n\n"
		       ".\n..\n.hidden\n...three\n .space-dot\nend.\n.\n"});
	CHECK(harness.Names("tmp").empty());
	CHECK(server.RemainingUids().empty());
	const auto commands = server.AllCommands();
	CHECK(HasCommand(commands, "RETR 1"));
	CHECK(HasCommand(commands, "DELE 1"));
	// Retrieval uses RETR; TOP would be a second, separately stuffed path.
	CHECK(CountVerb(commands, "TOP") == 0);
	CHECK(ContainsNoCase(run.Out(), "1 deleted"));
}
