// Case 22 (test cases.22-deletions-only-at-quit): RETR 5 fails, QUIT is still sent
// for the other four, and "deleted" is claimed only when QUIT is answered +OK (A); when
// QUIT gets no reply (B) or -ERR (C), the deletions are reported as unconfirmed.

#include "CaseChecks.hxx"

using namespace popstream::test;

namespace {

struct Variant {
	const char *name;
	/** What the server answers to QUIT; nullptr = the built-in +OK that commits. */
	const char *quit_reply;
};

void SetUp(FakePop3Server &server, const Variant &variant)
{
	for (unsigned n = 1; n <= 5; ++n)
		server.AddMessage(StandardMessage(n), "q" + std::to_string(n));
	server.Reply("RETR 5", "-ERR [SYS/TEMP] cannot open message\r\n");
	if (variant.quit_reply != nullptr)
		server.Reply("QUIT", variant.quit_reply, AfterReply::Close);
}

void CheckFirstPoll(const CaseHarness &harness, const FakePop3Server &server,
		    const DlRun &run, bool committed)
{
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::temp_fail);
	CheckNewFiles(harness, StoredStandardMessages(1, 4));
	CHECK(harness.Names("tmp").empty());
	const auto commands = server.AllCommands();
	for (unsigned n = 1; n <= 4; ++n)
		CHECK(HasCommand(commands, "DELE " + std::to_string(n)));
	CHECK_FALSE(HasCommand(commands, "DELE 5"));
	// The failure of message 5 must not skip the QUIT that commits 1-4.
	CHECK(HasCommand(commands, "QUIT"));
	CHECK(server.ConnectionCount() == 1);
	CHECK(ContainsNoCase(run.Err(), "message 5"));
	CHECK(run.Err().find("cannot open message") != std::string::npos);
	if (committed) {
		CHECK(server.RemainingUids() == std::vector<std::string>{"q5"});
		CHECK(ContainsNoCase(run.Out(), "4 deleted"));
	} else {
		CHECK(server.RemainingUids() ==
		      std::vector<std::string>{"q1", "q2", "q3", "q4", "q5"});
		CHECK(ContainsNoCase(run.Err(), "not confirmed"));
		CHECK(Join(DeletionClaims(run.Out() + run.Err())) == "");
	}
}

} // namespace

TEST_CASE("22 A: QUIT +OK commits 1-4 although message 5 failed")
{
	const Variant variant{"A", nullptr};
	FakePop3Server server;
	SetUp(server, variant);
	CaseHarness harness;
	const auto first = harness.Dl(server);
	{
		INFO("first poll: ", first.Describe());
		INFO(DescribeCommands(server));
		CheckFirstPoll(harness, server, first, true);
	}

	server.ClearRules();
	const auto second = harness.Dl(server);
	INFO("second poll: ", second.Describe());
	INFO(DescribeCommands(server));
	CheckOrderlyExit(second);
	CHECK(second.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, StoredStandardMessages(1, 5));
	CHECK(server.RemainingUids().empty());
	CHECK(ContainsNoCase(second.Out(), "1 deleted"));
}

TEST_CASE(
    "22 B/C: QUIT unanswered or -ERR: deletions reported unconfirmed, exit non-zero")
{
	const Variant variants[] = {
	    {"B close without reply", ""},
	    {"C -ERR", "-ERR some deleted messages not removed\r\n"},
	};
	for (const auto &variant : variants) {
		SUBCASE(variant.name)
		{
			FakePop3Server server;
			SetUp(server, variant);
			CaseHarness harness;
			const auto first = harness.Dl(server);
			{
				INFO("first poll: ", first.Describe());
				INFO(DescribeCommands(server));
				CheckFirstPoll(harness, server, first, false);
			}

			// Second poll, RETR 5 works now. Without the journal messages 1-4
			// come again (see the test below); what must hold anyway:
			server.ClearRules();
			const auto second = harness.Dl(server);
			INFO("second poll: ", second.Describe());
			INFO(DescribeCommands(server));
			CheckOrderlyExit(second);
			CHECK(second.ExitCode() == exit_code::ok);
			CHECK(CountCopies(harness, CrlfToLf(StandardMessage(5))) == 1);
			CHECK(server.RemainingUids().empty());
		}
	}
}

// Relies on the persistent UIDL journal: only a durable record of q1-q4 lets the
// second poll (a new process) DELE them without storing them again.
TEST_CASE("22 B/C second poll recognises q1-q4: DELE only, five files in all")
{
	const Variant variants[] = {
	    {"B close without reply", ""},
	    {"C -ERR", "-ERR some deleted messages not removed\r\n"},
	};
	for (const auto &variant : variants) {
		SUBCASE(variant.name)
		{
			FakePop3Server server;
			SetUp(server, variant);
			CaseHarness harness;
			const auto first = harness.Dl(server);
			INFO("first poll: ", first.Describe());
			server.ClearRules();
			const auto second = harness.Dl(server);
			INFO("second poll: ", second.Describe());
			INFO(DescribeCommands(server));
			const auto commands = server.Commands(2);
			for (unsigned n = 1; n <= 4; ++n) {
				CHECK_FALSE(
				    HasCommand(commands, "RETR " + std::to_string(n)));
				CHECK(HasCommand(commands, "DELE " + std::to_string(n)));
			}
			CheckNewFiles(harness, StoredStandardMessages(1, 5));
			CHECK(server.RemainingUids().empty());
		}
	}
}
