// Case 20 (test cases.20-connection-lost-mid-retr): the connection closes, resets
// or stalls 30 000 octets into a 70 000-octet message. No partial message may reach the
// Maildir, no deletion can take effect, and a second poll completes the job.
//
// The scripted failure applies to every connection of the first poll, so the one
// lock-step redo the CLI contract allows meets the same broken server.

#include "CaseChecks.hxx"

using namespace popstream::test;

namespace {

/** Message 2 of the case: 70 000 octets, body lines of 76 'w', the last one padded. */
std::string BigMessage()
{
	std::string m = "From: bob@example.com\r\nTo: alice@example.com\r\n"
			"Subject: big attachment\r\n\r\n";
	while (70000 - m.size() >= 78 + 3)
		m += std::string(76, 'w') + "\r\n";
	m += std::string(70000 - m.size() - 2, 'w') + "\r\n";
	return m;
}

struct Variant {
	const char *name;
	AfterReply after;
};

/** Sets up the three messages and the failure of RETR 2. */
void SetUp(FakePop3Server &server, AfterReply after)
{
	const auto big = BigMessage();
	REQUIRE(big.size() == 70000);
	server.AddMessage(StandardMessage(1), "d-1");
	server.AddMessage(big, "d-2");
	server.AddMessage(StandardMessage(3), "d-3");
	server.Reply("RETR 2", "+OK 70000 octets\r\n" + big.substr(0, 30000), after);
}

/** The stall variant ends at popstream's read timeout; keep it short. */
DlOptions FirstPollOptions(AfterReply after)
{
	DlOptions options;
	if (after == AfterReply::Stall)
		options.timeout_seconds = 2;
	return options;
}

void CheckFirstPoll(const CaseHarness &harness, const FakePop3Server &server,
		    const DlRun &run)
{
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::temp_fail);
	CHECK(ContainsNoCase(run.Err(), "message 2"));
	// Message 1 once; nothing of message 2 in new/ or cur/ (tmp/ may be cleaned up
	// at the next start at the latest, checked after the second poll).
	CheckNewFiles(harness, {CrlfToLf(StandardMessage(1))});
	CHECK(harness.Names("cur").empty());
	// QUIT was impossible, so nothing was deleted.
	CHECK(server.RemainingUids() == std::vector<std::string>{"d-1", "d-2", "d-3"});
	CHECK(CountVerb(server.AllCommands(), "QUIT") == 0);
	// A drop is not out of step: the run resumes pipelined (DELE 1, no RETR 1),
	// and since that resumed session saved nothing before dropping too, at most
	// one lock-step redo follows. None fetches the saved message again.
	CHECK(server.ConnectionCount() <= 3);
	CHECK_FALSE(HasCommand(CommandsFrom(server, 2), "RETR 1"));
	CHECK(DeletionClaims(run.Out() + run.Err()).empty());
}

} // namespace

TEST_CASE("20 connection lost mid-RETR: no partial message, no deletion, second poll")
{
	const Variant variants[] = {
	    {"A close", AfterReply::Close},
	    {"B reset", AfterReply::Reset},
	    {"C stall", AfterReply::Stall},
	};
	for (const auto &variant : variants) {
		SUBCASE(variant.name)
		{
			FakePop3Server server;
			SetUp(server, variant.after);
			CaseHarness harness;
			const auto first =
			    harness.Dl(server, FirstPollOptions(variant.after));
			{
				INFO("first poll: ", first.Describe());
				INFO(DescribeCommands(server));
				CheckFirstPoll(harness, server, first);
			}

			// A healthy server that still holds all three messages.
			server.ClearRules();
			const unsigned before = server.ConnectionCount();
			const auto second = harness.Dl(server);
			INFO("second poll: ", second.Describe());
			INFO(DescribeCommands(server));
			CheckOrderlyExit(second);
			CHECK(second.ExitCode() == exit_code::ok);
			CHECK(server.RemainingUids().empty());
			CHECK(server.ConnectionCount() == before + 1);
			CHECK(harness.Names("tmp").empty());
			CHECK(harness.Names("cur").empty());
			// Messages 2 and 3 exactly once each, byte-exact. (Message 1 once
			// more is the journal's job: see the test below.)
			CHECK(CountCopies(harness, CrlfToLf(BigMessage())) == 1);
			CHECK(CountCopies(harness, CrlfToLf(StandardMessage(3))) == 1);
			CHECK(CountCopies(harness, CrlfToLf(StandardMessage(1))) >= 1);
		}
	}
}

// Relies on the persistent UIDL journal: the second poll (a new process) can only
// recognise d-1 as saved if the first poll recorded it durably.
TEST_CASE("20 second poll recognises d-1 as saved: DELE only, three files in all")
{
	FakePop3Server server;
	SetUp(server, AfterReply::Close);
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
	CheckNewFiles(harness, {CrlfToLf(StandardMessage(1)), CrlfToLf(BigMessage()),
				CrlfToLf(StandardMessage(3))});
	CHECK(server.RemainingUids().empty());
}
