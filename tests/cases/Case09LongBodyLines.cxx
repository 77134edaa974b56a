// Case 09 (test cases.09-long-body-lines): legitimate messages with lines of 998
// octets, 5000 and 100 000 octets, and 1 MiB are stored byte-exact, with bounded memory.

#include "CaseChecks.hxx"

using namespace popstream::test;

namespace {

/** Peak RSS growth allowed over a one-small-message run, in KiB. The 1 MiB line must be
 * streamed to tmp/, not held: holding it even once (plus the growth of the buffer that
 * collects it) costs 1.5-3 MiB, while streaming costs a few read buffers. */
constexpr long max_rss_growth_kib = 3 * 1024;

} // namespace

TEST_CASE("09 long body lines: 998 octets, 100k and 1 MiB stored byte-exact")
{
	const std::string head = "From: bob@example.com\r\nTo: alice@example.com\r\n";
	const std::string m1 =
	    head + "Subject: L998\r\n\r\n" + std::string(998, 'x') + "\r\n";
	const std::string m2 = head +
			       "Subject: L100k\r\nX-Long: " + std::string(5000, 'h') +
			       "\r\n\r\n" + std::string(100000, 'y') + "\r\n";
	const std::string m3 =
	    head + "Subject: L1M\r\n\r\n" + std::string(1048576, 'z') + "\r\n";
	REQUIRE(m1.size() == 1063);
	REQUIRE(m2.size() == 105076);
	REQUIRE(m3.size() == 1048640);
	REQUIRE(CrlfToLf(m3).size() == 1048635);

	const long baseline = BaselineRssKib();
	FakePop3Server server;
	server.AddMessage(m1, "long-1");
	server.AddMessage(m2, "long-2");
	server.AddMessage(m3, "long-3");
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	INFO("baseline peak RSS ", baseline, " KiB");
	INFO(DescribeCommands(server));

	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	// Large contents compare by size and hash (see DescribeContents).
	CheckNewFiles(harness, {CrlfToLf(m1), CrlfToLf(m2), CrlfToLf(m3)});
	CHECK(harness.Names("tmp").empty());
	CHECK(server.RemainingUids().empty());
	CHECK(ContainsNoCase(run.Out(), "3 deleted"));
	if (baseline > 0 && run.max_rss_kib > 0)
		CHECK(run.max_rss_kib - baseline < max_rss_growth_kib);
	else
		WARN_MESSAGE(false, "peak RSS unknown: memory bound not checked");
}
