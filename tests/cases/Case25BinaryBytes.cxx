// Case 25 (test cases.25-nul-8bit-control-bytes): NUL, raw 8-bit, invalid UTF-8,
// ESC sequences and a lone CR are stored byte-exact (CRLF -> LF only), and nothing raw
// reaches the terminal, at the highest verbosity, in a UTF-8 and in the C locale.

#include "CaseChecks.hxx"

#include <cstdlib>

using namespace popstream::test;

namespace {

const std::string wire("From: bob@example.com\r\n"
		       "To: alice@example.com\r\n"
		       "Subject: caf\xe9 \xff\xfe raw 8-bit\r\n"
		       "X-Null: a\0b\r\n"
		       "\r\n"
		       "line with NUL \0 in the middle\r\n"
		       "invalid utf-8 \xc3\x28 here\r\n"
		       "\x1b[31mANSI red\x1b[0m\r\n"
		       "lone CR\rinside\r\n",
		       178);

const std::string stored("From: bob@example.com\n"
			 "To: alice@example.com\n"
			 "Subject: caf\xe9 \xff\xfe raw 8-bit\n"
			 "X-Null: a\0b\n"
			 "\n"
			 "line with NUL \0 in the middle\n"
			 "invalid utf-8 \xc3\x28 here\n"
			 "\x1b[31mANSI red\x1b[0m\n"
			 "lone CR\rinside\n",
			 169);

/** @return the number after ",S=" in a Maildir file name, or -1 */
long SizeField(const std::string &name)
{
	const auto at = name.find(",S=");
	if (at == std::string::npos)
		return -1;
	return std::strtol(name.c_str() + at + 3, nullptr, 10);
}

} // namespace

TEST_CASE("25 NUL, 8-bit and control bytes stored byte-exact, logs escaped")
{
	REQUIRE(wire.size() == 178);
	REQUIRE(wire.back() == '\n');
	REQUIRE(CrlfToLf(wire) == stored);

	const char *locales[] = {"LC_ALL=C.UTF-8", "LC_ALL=C"};
	for (const char *locale : locales) {
		SUBCASE(locale)
		{
			FakePop3Server server;
			server.AddMessage(wire, "bin-1");
			CaseHarness harness;
			DlOptions options;
			options.args = {"-v"};
			options.env = {locale};
			const auto run = harness.Dl(server, options);
			INFO(run.Describe());
			INFO(DescribeCommands(server));

			// Also: no raw ESC, CR or NUL on stdout or stderr.
			CheckOrderlyExit(run);
			CHECK(run.ExitCode() == exit_code::ok);
			CheckNewFiles(harness, {stored});
			for (const auto &name : harness.Names()) {
				INFO("file name: ", name);
				const long size = SizeField(name);
				if (size >= 0)
					CHECK(size == static_cast<long>(stored.size()));
			}
			CHECK(server.RemainingUids().empty());
			CHECK(ContainsNoCase(run.Out(), "1 deleted"));
		}
	}
}

TEST_CASE("25 control and invalid bytes in server replies are escaped in the log")
{
	// The same class of bytes, but in text popstream does print: the greeting (at
	// the highest verbosity) and a RETR -ERR (always). A terminal must never see
	// them raw: ESC sequences can retitle or rewrite it, and invalid UTF-8 is
	// what made fetchmail's logging abort.
	const char *locales[] = {"LC_ALL=C.UTF-8", "LC_ALL=C"};
	for (const char *locale : locales) {
		SUBCASE(locale)
		{
			FakePop3Server server;
			server.AddMessage(wire, "bin-1");
			server.AddMessage(StandardMessage(2), "bin-2");
			server.Greeting("+OK \x1b]0;owned\x07 ready \xff\r\n");
			server.Reply("RETR 2",
				     std::string("-ERR \x1b[31mred\x1b[0m \xff\xfe\x7f "
						 "bell\x07 cr\rX caf\xc3\xa9\r\n"));
			CaseHarness harness;
			DlOptions options;
			options.args = {"-v"};
			options.env = {locale};
			const auto run = harness.Dl(server, options);
			INFO(run.Describe());
			INFO(DescribeCommands(server));

			CheckOrderlyExit(run);
			CHECK(IsValidUtf8(run.Out()));
			CHECK(IsValidUtf8(run.Err()));
			CHECK(run.ExitCode() == exit_code::temp_fail);
			CheckNewFiles(harness, {stored});
			CHECK(server.RemainingUids() ==
			      std::vector<std::string>{"bin-2"});
			CHECK(ContainsNoCase(run.Err(), "message 2"));
			// The printable parts of the server's text are still there.
			CHECK(run.Err().find("red") != std::string::npos);
			CHECK(run.Err().find("bell") != std::string::npos);
		}
	}
}
