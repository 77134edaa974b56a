// Case 08 (test cases.08-split-reads): the same session cut at every awkward byte
// boundary (and, the other way round, coalesced into one segment), in cleartext and
// through implicit TLS with one record per write, must give the same result.

#include "CaseChecks.hxx"

using namespace popstream::test;

namespace {

const std::string message1 = "From: bob@example.com\r\nTo: alice@example.com\r\n"
			     "Subject: split\r\n\r\n.dotted\r\n+OK not a status\r\n";
const std::string message2 = "From: bob@example.com\r\nTo: alice@example.com\r\n"
			     "Subject: two\r\n\r\nbody\r\n";

/**
 * Replays the case under @p schedule and checks the result of an unsplit run.
 * @param check_cpu also check that CPU time stays small (schedule 1: no spinning)
 */
void RunSchedule(WriteSchedule schedule, bool tls, bool check_cpu = false)
{
	REQUIRE(message1.size() == 91);
	REQUIRE(message2.size() == 68);
	FakePop3Server server;
	server.AddMessage(message1, "s-1");
	server.AddMessage(message2, "s-2");
	server.SetWriteSchedule(schedule);
	if (tls)
		server.EnableTls(TestCaDirectory() + "/server.crt",
				 TestCaDirectory() + "/server.key");

	CaseHarness harness;
	DlOptions options;
	options.tls = tls;
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	INFO(DescribeCommands(server));

	CheckOrderlyExit(run);
	// Exit 0 also shows that no read timeout fired: the gaps are 2 ms, --timeout 5 s.
	CHECK(run.ExitCode() == exit_code::ok);
	CheckNewFiles(harness, {CrlfToLf(message1), CrlfToLf(message2)});
	CHECK(server.RemainingUids().empty());
	CHECK(server.ConnectionCount() == 1);
	const auto commands = server.AllCommands();
	CHECK(HasCommand(commands, "DELE 1"));
	CHECK(HasCommand(commands, "DELE 2"));
	CHECK(ContainsNoCase(run.Out(), "2 deleted"));
	if (check_cpu && sanitized_build)
		MESSAGE("CPU time not bounded under AddressSanitizer (the plain build "
			"checks it): ",
			run.cpu_seconds, " s");
	if (check_cpu && !sanitized_build && run.cpu_seconds >= 0) {
		// About 450 one-byte writes 2 ms apart take about a second of wall time.
		// A client that spins on empty reads, or rescans its whole buffer for
		// every byte, burns most of that second; a sound one needs a few ms.
		CHECK(run.cpu_seconds < 0.3);
	}
}

} // namespace

TEST_CASE("08 schedule 1: one byte per write for the whole session")
{
	RunSchedule(WriteSchedule::OneByte, false, true);
}

TEST_CASE("08 schedule 2: every write cut between CR and LF")
{
	RunSchedule(WriteSchedule::SplitCrLf, false);
}

TEST_CASE("08 schedule 3a: terminator cut as \\r\\n. | \\r\\n")
{
	RunSchedule(WriteSchedule::SplitTerminatorAfterDot, false);
}

TEST_CASE("08 schedule 3b: terminator cut as \\r\\n | .\\r\\n")
{
	RunSchedule(WriteSchedule::SplitTerminatorBeforeDot, false);
}

TEST_CASE("08 schedule 3c: terminator cut as \\r\\n.\\r | \\n")
{
	RunSchedule(WriteSchedule::SplitTerminatorBeforeLf, false);
}

TEST_CASE("08 schedule 4: cut between the two dots of ..dotted")
{
	RunSchedule(WriteSchedule::SplitStuffedDots, false);
}

TEST_CASE("08 schedule 5: replies to everything pipelined coalesced into one write")
{
	RunSchedule(WriteSchedule::Coalesced, false);
}

TEST_CASE("08 schedule 6/1: TLS, one byte per record")
{
	RunSchedule(WriteSchedule::OneByte, true, true);
}

TEST_CASE("08 schedule 6/2: TLS, records cut between CR and LF")
{
	RunSchedule(WriteSchedule::SplitCrLf, true);
}

TEST_CASE("08 schedule 6/3a: TLS, terminator cut as \\r\\n. | \\r\\n")
{
	RunSchedule(WriteSchedule::SplitTerminatorAfterDot, true);
}

TEST_CASE("08 schedule 6/3b: TLS, terminator cut as \\r\\n | .\\r\\n")
{
	RunSchedule(WriteSchedule::SplitTerminatorBeforeDot, true);
}

TEST_CASE("08 schedule 6/3c: TLS, terminator cut as \\r\\n.\\r | \\n")
{
	RunSchedule(WriteSchedule::SplitTerminatorBeforeLf, true);
}
