// Case 02 (test cases.02-uidl-list-line-variants): garbage LIST/UIDL lines fail one
// account cleanly; extra blanks, bare LF and an empty first line in a listing are
// tolerated.
//
// `popstream dl` fetches one account per run, so variant A runs the bad and the good
// account one after the other; that the daemon keeps polling other accounts is for
// the daemon's own tests.

#include "CaseChecks.hxx"

using namespace popstream::test;

namespace {

/** Variant B's listings: several blanks between the fields, trailing blanks. */
void AddPaddedListings(FakePop3Server &server)
{
	server.Reply("LIST", "+OK\r\n1   72\r\n2 72 \r\n.\r\n");
	server.Reply("UIDL", "+OK\r\n1   uid-0001\r\n2 uid-0002  \r\n.\r\n");
}

} // namespace

TEST_CASE("02 A: garbage LIST/UIDL lines fail that account cleanly; the next one works")
{
	FakePop3Server bad, good;
	bad.AddMessage(StandardMessage(1), "bad-1");
	bad.Reply("STAT", "+OK 1 72\r\n");
	bad.Reply("LIST", "+OK\r\n1\r\n.\r\n");
	bad.Reply("UIDL", "+OK\r\nabc def\r\n.\r\n");
	good.AddMessage(StandardMessage(1), "good-1");
	CaseHarness harness;

	DlOptions bad_options;
	bad_options.maildir = harness.Home() + "/Maildir-bad";
	const auto bad_run = harness.Dl(bad, bad_options);
	{
		INFO("bad account: ", bad_run.Describe());
		INFO(DescribeCommands(bad));
		CheckOrderlyExit(bad_run);
		CHECK(bad_run.ExitCode() == exit_code::protocol);
		CHECK(
		    bad_run.Err().find("alice@127.0.0.1:" + std::to_string(bad.Port())) !=
		    std::string::npos);
		CHECK(ContainsNoCase(bad_run.Err(), "protocol error"));
		// The offending line, whichever listing was parsed first.
		CHECK((bad_run.Err().find("LIST line \"1\"") != std::string::npos ||
		       bad_run.Err().find("\"abc def\"") != std::string::npos));
		CHECK(CountVerb(bad.AllCommands(), "DELE") == 0);
		CHECK(bad.RemainingUids() == std::vector<std::string>{"bad-1"});
		CHECK(bad.ConnectionCount() <= 2);
	}

	const auto good_run = harness.Dl(good);
	INFO("good account: ", good_run.Describe());
	INFO(DescribeCommands(good));
	CheckOrderlyExit(good_run);
	CHECK(good_run.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, {CrlfToLf(StandardMessage(1))});
	CHECK(good.RemainingUids().empty());
}

TEST_CASE("02 B: blanks around LIST/UIDL fields are tolerated")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "uid-0001");
	server.AddMessage(StandardMessage(2), "uid-0002");
	AddPaddedListings(server);
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, StoredStandardMessages(1, 2));
	CHECK(server.RemainingUids().empty());
	CHECK(ContainsNoCase(run.Out(), "2 deleted"));
	// Sizes parsed as 72 (a padded size read as garbage would have failed the run).
	CHECK_FALSE(ContainsNoCase(run.Err(), "protocol error"));
}

// Relies on the persistent UIDL journal: the UIDs recorded must be exactly
// "uid-0001" and "uid-0002", which only shows when a later poll recognises them. The
// first poll keeps the messages (-n), and the server offers both again with clean
// listings. (A unique-id whose deletion the server confirmed no longer vouches: after
// a deleting first poll they would be new mail, rightly downloaded.)
//
TEST_CASE("02 B journal holds the trimmed UIDs uid-0001, uid-0002")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "uid-0001");
	server.AddMessage(StandardMessage(2), "uid-0002");
	AddPaddedListings(server);
	CaseHarness harness;
	DlOptions keep;
	keep.args = {"-n"};
	const auto first = harness.Dl(server, keep);
	INFO("first poll: ", first.Describe());
	server.ClearRules();
	const unsigned before = server.ConnectionCount();
	const auto second = harness.Dl(server);
	INFO("second poll: ", second.Describe());
	INFO(DescribeCommands(server));
	CHECK(second.ExitCode() == exit_code::ok);
	CHECK(CountVerb(CommandsFrom(server, before + 1), "RETR") == 0);
	CHECK(CountVerb(CommandsFrom(server, before + 1), "DELE") == 2);
	CheckNewFiles(harness, StoredStandardMessages(1, 2));
}

TEST_CASE(
    "02 C: UIDL with bare LF and an empty first line: accepted, or rejected cleanly")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "1490184700.13481.pop.example.com,S=72");
	server.AddMessage(StandardMessage(2), "1490184832.13551.pop.example.com,S=72");
	AddPaddedListings(server);
	server.Reply("UIDL", "+OK\r\n\n1 1490184700.13481.pop.example.com,S=72\n"
			     "2 1490184832.13551.pop.example.com,S=72\n.\r\n");
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO(DescribeCommands(server));
	CheckOrderlyExit(run);
	if (run.ExitCode() == exit_code::ok) {
		// Preferred: the listing is accepted.
		CheckNewFiles(harness, StoredStandardMessages(1, 2));
		CHECK(server.RemainingUids().empty());
	} else {
		// Acceptable: rejected as a protocol error, nothing deleted.
		MESSAGE("popstream rejected the bare-LF UIDL listing (acceptable)");
		CHECK(run.ExitCode() == exit_code::protocol);
		CHECK(CountVerb(server.AllCommands(), "DELE") == 0);
		CHECK(server.RemainingUids().size() == 2);
		CHECK(harness.Names("new").empty());
	}
}
