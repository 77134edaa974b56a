#include "ConfigTestHelpers.hxx"
#include "core/config/Validate.hxx"

#include <doctest/doctest.h>

using namespace popstream;
using namespace popstream::config;
using namespace std::chrono_literals;

namespace {

std::string DurationError(std::string_view text)
{
	try {
		ParseDuration(text);
	} catch (const ValueError &e) {
		return e.what();
	}
	FAIL("no ValueError for \"" << std::string(text) << "\"");
	return {};
}

std::string ExpandError(std::string_view text)
{
	try {
		ExpandPath(text, test::FakeEnvironment());
	} catch (const ValueError &e) {
		return e.what();
	}
	FAIL("no ValueError for \"" << std::string(text) << "\"");
	return {};
}

template <typename F>
std::string ErrorText(F &&f)
{
	try {
		f();
	} catch (const ValueError &e) {
		return e.what();
	}
	FAIL("no ValueError");
	return {};
}

} // namespace

TEST_CASE("durations: one or more integer+unit parts, or bare seconds")
{
	CHECK(ParseDuration("90s") == 90s);
	CHECK(ParseDuration("5m") == 5min);
	CHECK(ParseDuration("1h") == 1h);
	CHECK(ParseDuration("1d") == 24h);
	CHECK(ParseDuration("1h30m") == 90min);
	CHECK(ParseDuration("1d2h3m4s") == 24h + 2h + 3min + 4s);
	CHECK(ParseDuration("0s") == 0s);
	CHECK(ParseDuration("007m") == 7min);
	// A bare number counts seconds, as in fetchmail, getmail and mpop.
	CHECK(ParseDuration("300") == 300s);
	CHECK(ParseDuration("3650d") == 3650 * 24h);
	CHECK(ParseDuration("315360000") == 3650 * 24h);
}

TEST_CASE("durations: every malformed form is named")
{
	CHECK(DurationError("") == "bad duration \"\": empty (write e.g. 90s, 5m or 1h)");
	CHECK(DurationError("5x") ==
	      "bad duration \"5x\": unknown unit \"x\" (expected s, m, h or d)");
	CHECK(DurationError("5min") ==
	      "bad duration \"5min\": unknown unit \"min\" (expected s, m, h or d)");
	CHECK(DurationError("5 m") ==
	      "bad duration \"5 m\": unknown unit \" m\" (expected s, m, h or d)");
	CHECK(DurationError("1.5h") == "bad duration \"1.5h\": fractions are not allowed "
				       "(write e.g. 90m instead of 1.5h)");
	CHECK(DurationError("-5m") == "bad duration \"-5m\": must not be negative");
	CHECK(DurationError("m") == "bad duration \"m\": expected a number before \"m\" "
				    "(write e.g. 90s, 5m or 1h)");
	CHECK(DurationError("5m1h") ==
	      "bad duration \"5m1h\": each unit at most once, from "
	      "the largest to the smallest (e.g. 1h30m)");
	CHECK(DurationError("5m5m") ==
	      "bad duration \"5m5m\": each unit at most once, from "
	      "the largest to the smallest (e.g. 1h30m)");
	CHECK(DurationError("1m30") ==
	      "bad duration \"1m30\": missing unit after \"30\" (s, m, h or d)");
	CHECK(DurationError("3651d") ==
	      "bad duration \"3651d\": too long (at most 3650d)");
	CHECK(DurationError("99999999999999999999s") ==
	      "bad duration \"99999999999999999999s\": too long (at most 3650d)");
	CHECK(DurationError("315360001") ==
	      "bad duration \"315360001\": too long (at most 3650d)");
}

TEST_CASE("durations are written back in the shortest form")
{
	CHECK(FormatDuration(0s) == "0s");
	CHECK(FormatDuration(90s) == "1m30s");
	CHECK(FormatDuration(5min) == "5m");
	CHECK(FormatDuration(180s) == "3m");
	CHECK(FormatDuration(24h + 1s) == "1d1s");
	CHECK(FormatDuration(1500ms) == "1s500ms");
	for (const auto *text : {"10s", "1m30s", "2h", "1d12h", "7d", "1d1h1m1s"})
		CHECK(FormatDuration(ParseDuration(text)) == text);
}

TEST_CASE("sizes: octets, or a number with a decimal or binary unit")
{
	CHECK(ParseSize("0") == 0);
	CHECK(ParseSize("1048576") == 1048576);
	CHECK(ParseSize("500B") == 500);
	CHECK(ParseSize("25k") == 25'000);
	CHECK(ParseSize("25K") == 25'000);
	CHECK(ParseSize("25kB") == 25'000);
	CHECK(ParseSize("25KB") == 25'000);
	CHECK(ParseSize("25M") == 25'000'000);
	CHECK(ParseSize("25MB") == 25'000'000);
	CHECK(ParseSize("2G") == 2'000'000'000);
	CHECK(ParseSize("2GB") == 2'000'000'000);
	CHECK(ParseSize("25KiB") == 25 * 1024);
	CHECK(ParseSize("25MiB") == 25 * 1024 * 1024);
	CHECK(ParseSize("2GiB") == 2ULL * 1024 * 1024 * 1024);
	CHECK(ParseSize("007MB") == 7'000'000);
	// Blanks between the number and the unit.
	CHECK(ParseSize("50 MiB") == 50 * 1024 * 1024);
	CHECK(ParseSize("50\t MB") == 50'000'000);
	// Up to three decimals with a unit; rounded down to a whole octet.
	CHECK(ParseSize("1.5GiB") == 1536ULL * 1024 * 1024);
	CHECK(ParseSize("2.25MB") == 2'250'000);
	CHECK(ParseSize("1.234kB") == 1234);
	CHECK(ParseSize("0.5KiB") == 512);
	CHECK(ParseSize("1.1KiB") == 1126); // 1126.4
	CHECK(ParseSize("1.0MB") == 1'000'000);
	// The largest: 2^40 octets.
	CHECK(ParseSize("1024GiB") == MAX_SIZE);
	CHECK(ParseSize("1099511627776") == MAX_SIZE);
	CHECK(ParseSize("1099.511GB") == 1'099'511'000'000);
}

TEST_CASE("sizes: every malformed form is named")
{
	CHECK(ErrorText([] { ParseSize(""); }) ==
	      "bad size \"\": empty (write e.g. 25MB or 1.5GiB)");
	CHECK(ErrorText([] { ParseSize("-5MB"); }) ==
	      "bad size \"-5MB\": must not be negative");
	CHECK(ErrorText([] { ParseSize("+5MB"); }) ==
	      "bad size \"+5MB\": expected a number before \"+5MB\" (write e.g. 25MB "
	      "or 1.5GiB)");
	CHECK(ErrorText([] { ParseSize("MB"); }) ==
	      "bad size \"MB\": expected a number before \"MB\" (write e.g. 25MB or "
	      "1.5GiB)");
	CHECK(ErrorText([] { ParseSize(".5MB"); }) ==
	      "bad size \".5MB\": expected a number before \".5MB\" (write e.g. 25MB "
	      "or 1.5GiB)");
	CHECK(ErrorText([] { ParseSize("25XB"); }) ==
	      "bad size \"25XB\": unknown unit \"XB\" (expected B, kB, MB, GB, KiB, "
	      "MiB or GiB)");
	CHECK(ErrorText([] { ParseSize("25mb"); }) ==
	      "bad size \"25mb\": unknown unit \"mb\" (expected B, kB, MB, GB, KiB, "
	      "MiB or GiB); did you mean \"MB\"?");
	// As near to B as to MB, and "Mi" to MB as to MiB: no guess.
	CHECK(ErrorText([] { ParseSize("25m"); }) ==
	      "bad size \"25m\": unknown unit \"m\" (expected B, kB, MB, GB, KiB, MiB "
	      "or GiB)");
	CHECK(ErrorText([] { ParseSize("25Mi"); }) ==
	      "bad size \"25Mi\": unknown unit \"Mi\" (expected B, kB, MB, GB, KiB, "
	      "MiB or GiB)");
	CHECK(ErrorText([] { ParseSize("25 megabytes"); }) ==
	      "bad size \"25 megabytes\": unknown unit \"megabytes\" (expected B, kB, "
	      "MB, GB, KiB, MiB or GiB)");
	CHECK(ErrorText([] { ParseSize("1e6"); }) ==
	      "bad size \"1e6\": unknown unit \"e6\" (expected B, kB, MB, GB, KiB, "
	      "MiB or GiB)");
	CHECK(ErrorText([] { ParseSize("1,5MB"); }) ==
	      "bad size \"1,5MB\": write a decimal point, not a comma");
	CHECK(ErrorText([] { ParseSize("1.MB"); }) ==
	      "bad size \"1.MB\": expected a digit after the decimal point");
	CHECK(ErrorText([] { ParseSize("1.2345MB"); }) ==
	      "bad size \"1.2345MB\": at most 3 digits after the decimal point");
	CHECK(ErrorText([] { ParseSize("1.5"); }) ==
	      "bad size \"1.5\": a fraction needs a unit (write e.g. 1.5MB; a number "
	      "alone counts octets)");
	CHECK(ErrorText([] { ParseSize("1.5B"); }) ==
	      "bad size \"1.5B\": a fraction needs a unit larger than B (write e.g. "
	      "1.5kB)");
	CHECK(ErrorText([] { ParseSize("1025GiB"); }) ==
	      "bad size \"1025GiB\": too large (at most 1024GiB)");
	CHECK(ErrorText([] { ParseSize("1024.001GiB"); }) ==
	      "bad size \"1024.001GiB\": too large (at most 1024GiB)");
	CHECK(ErrorText([] { ParseSize("1099511627777"); }) ==
	      "bad size \"1099511627777\": too large (at most 1024GiB)");
	CHECK(ErrorText([] { ParseSize("99999999999999999999999GiB"); }) ==
	      "bad size \"99999999999999999999999GiB\": too large (at most 1024GiB)");
}

TEST_CASE("sizes are written back exactly, in the shortest form")
{
	CHECK(FormatSize(0) == "0B");
	CHECK(FormatSize(1) == "1B");
	CHECK(FormatSize(999) == "999B");
	CHECK(FormatSize(1000) == "1kB");
	CHECK(FormatSize(1024) == "1KiB");
	// Equally short: the one without a fraction.
	CHECK(FormatSize(1500) == "1500B");
	CHECK(FormatSize(1536) == "1536B");
	CHECK(FormatSize(25'000'000) == "25MB");
	CHECK(FormatSize(26'214'400) == "25MiB");
	CHECK(FormatSize(2'500'000) == "2.5MB");
	CHECK(FormatSize(1536ULL * 1024 * 1024) == "1.5GiB");
	CHECK(FormatSize(1'234'567) == "1234567B");
	// "2.25MB" is as short.
	CHECK(FormatSize(2'250'000) == "2250kB");
	CHECK(FormatSize(MAX_SIZE) == "1024GiB");
	for (const auto *text : {"1kB", "25MB", "25MiB", "1.5GiB", "2.5MB", "1.5MiB",
				 "1234B", "7GB", "1024GiB"})
		CHECK(FormatSize(ParseSize(text)) == text);
	for (const std::uint64_t octets :
	     {std::uint64_t{1}, std::uint64_t{1023}, std::uint64_t{1025},
	      std::uint64_t{999'999'999}, std::uint64_t{1} << 30, MAX_SIZE - 1})
		CHECK(ParseSize(FormatSize(octets)) == octets);
}

TEST_CASE("checkpoint_every: a number of messages, a size, or both joined by or")
{
	using C = CheckpointEvery;
	CHECK(ParseCheckpointEvery("500") == C{500, 0});
	CHECK(ParseCheckpointEvery("500 messages") == C{500, 0});
	CHECK(ParseCheckpointEvery("500messages") == C{500, 0});
	CHECK(ParseCheckpointEvery("1 message") == C{1, 0});
	CHECK(ParseCheckpointEvery("50MiB") == C{0, 50 * 1024 * 1024});
	CHECK(ParseCheckpointEvery("1.5 GB") == C{0, 1'500'000'000});
	CHECK(ParseCheckpointEvery("1000000B") == C{0, 1'000'000});
	CHECK(ParseCheckpointEvery("500 messages or 50MB") == C{500, 50'000'000});
	CHECK(ParseCheckpointEvery("50MB or 500 messages") == C{500, 50'000'000});
	CHECK(ParseCheckpointEvery("500 or 50MB") == C{500, 50'000'000});
	CHECK(ParseCheckpointEvery("500  or  50MB") == C{500, 50'000'000});
	// 0 does not count: alone it means never.
	CHECK(ParseCheckpointEvery("0") == C{0, 0});
	CHECK(ParseCheckpointEvery("0 messages or 50MB") == C{0, 50'000'000});
	CHECK(ParseCheckpointEvery("1000000") == C{MAX_MESSAGE_COUNT_LIMIT, 0});
	CHECK(ParseCheckpointEvery("1kB") == C{0, MIN_SIZE_LIMIT});

	CHECK(FormatCheckpointEvery(C{}) == "0");
	CHECK(FormatCheckpointEvery(C{1, 0}) == "1 message");
	CHECK(FormatCheckpointEvery(C{500, 0}) == "500 messages");
	CHECK(FormatCheckpointEvery(C{0, 50 * 1024 * 1024}) == "50MiB");
	CHECK(FormatCheckpointEvery(C{500, 50'000'000}) == "500 messages or 50MB");
	for (const auto *text : {"0", "1 message", "500 messages", "50MiB", "1234B",
				 "500 messages or 1.5GiB"})
		CHECK(FormatCheckpointEvery(ParseCheckpointEvery(text)) == text);
}

TEST_CASE("checkpoint_every: every malformed form is named")
{
	const auto error = [](std::string_view text) {
		return ErrorText([&] { ParseCheckpointEvery(text); });
	};
	CHECK(error("") == "bad checkpoint \"\": empty (write e.g. 500 messages, 50MB, "
			   "or 500 messages or 50MB)");
	CHECK(error("500 mesages") ==
	      "bad checkpoint \"500 mesages\": unknown unit \"mesages\" (expected "
	      "messages, B, kB, MB, GB, KiB, MiB or GiB); did you mean \"messages\"?");
	CHECK(error("50mb") == "bad checkpoint \"50mb\": unknown unit \"mb\" (expected "
			       "messages, B, kB, MB, GB, KiB, MiB or GiB); did you mean "
			       "\"MB\"?");
	CHECK(error("1.5 messages") ==
	      "bad checkpoint \"1.5 messages\": a number of messages has no fraction");
	CHECK(error("1.5") ==
	      "bad checkpoint \"1.5\": a number of messages has no fraction");
	CHECK(error("500 messages and 50MB") ==
	      "bad checkpoint \"500 messages and 50MB\": join a number of messages and "
	      "a size with \"or\" (whichever comes first)");
	CHECK(error("500 or 600") ==
	      "bad checkpoint \"500 or 600\": two numbers of messages (at most one "
	      "number of messages and one size, joined by \"or\")");
	CHECK(error("50MB or 1GiB") ==
	      "bad checkpoint \"50MB or 1GiB\": two sizes (at most one number of "
	      "messages and one size, joined by \"or\")");
	CHECK(error("500 or 50MB or 1GB") ==
	      "bad checkpoint \"500 or 50MB or 1GB\": two sizes (at most one number of "
	      "messages and one size, joined by \"or\")");
	CHECK(error("500 or") == "bad checkpoint \"500 or\": expected a number of "
				 "messages or a size on both sides of \"or\"");
	CHECK(error("or 50MB") == "bad checkpoint \"or 50MB\": expected a number of "
				  "messages or a size on both sides of \"or\"");
	CHECK(error("500 or or 50MB") ==
	      "bad checkpoint \"500 or or 50MB\": expected a number of messages or a "
	      "size on both sides of \"or\"");
	CHECK(error("messages") == "bad checkpoint \"messages\": expected a number "
				   "before \"messages\" (write e.g. 500 messages or "
				   "50MB)");
	CHECK(error("-5") == "bad checkpoint \"-5\": must not be negative");
	// A size without its unit counts messages, and is then far too many.
	CHECK(error("50000000") ==
	      "bad checkpoint \"50000000\": more than 1000000 messages (a number alone "
	      "counts messages; give a size with its unit, e.g. 50MB)");
	CHECK(error("100B") ==
	      "bad checkpoint \"100B\": the size must be 0 or at least 1kB");
	// As near to kB, MB and GB: no guess.
	CHECK(error("2TB") == "bad checkpoint \"2TB\": unknown unit \"TB\" (expected "
			      "messages, B, kB, MB, GB, KiB, MiB or GiB)");
	CHECK(error("2000GB") ==
	      "bad checkpoint \"2000GB\": too large (at most 1024GiB)");
}

TEST_CASE("account names: [A-Za-z0-9_-], 1 to 64 bytes")
{
	CHECK(IsValidAccountName("work"));
	CHECK(IsValidAccountName("Work-2_old"));
	CHECK(IsValidAccountName(std::string(64, 'a')));
	CHECK_FALSE(IsValidAccountName(""));
	CHECK_FALSE(IsValidAccountName(std::string(65, 'a')));
	CHECK_FALSE(IsValidAccountName("a b"));
	CHECK_FALSE(IsValidAccountName("a.b"));
	CHECK_FALSE(IsValidAccountName("a/b"));
	CHECK_FALSE(IsValidAccountName("B\xc3\xbcro"));
}

TEST_CASE("edit distance counts insertions, deletions, substitutions and swaps")
{
	CHECK(EditDistance("interval", "interval") == 0);
	CHECK(EditDistance("intervall", "interval") == 1);
	CHECK(EditDistance("intreval", "interval") == 1);
	CHECK(EditDistance("Interval", "interval") == 0);
	CHECK(EditDistance("kitten", "sitting") == 3);
	CHECK(EditDistance("", "abc") == 3);
	CHECK(EditDistance("abc", "") == 3);
}

TEST_CASE("the nearest key is suggested only when it is close")
{
	static constexpr std::string_view keys[] = {
	    "server", "host", "port", "tls", "interval", "pipelining", "maildir"};
	CHECK(NearestWord("intervall", keys) == "interval");
	CHECK(NearestWord("Interval", keys) == "interval");
	CHECK(NearestWord("pipelineing", keys) == "pipelining");
	CHECK(NearestWord("sever", keys) == "server");
	CHECK(NearestWord("tsl", keys) == "tls");
	CHECK(NearestWord("mail_dir", keys) == "maildir");
	static constexpr std::string_view port_only[] = {"port"};
	CHECK_FALSE(NearestWord("host", port_only));
	CHECK_FALSE(NearestWord("xyz", keys));
	CHECK_FALSE(NearestWord("password", keys));
}

TEST_CASE("paths: ~, $NAME, ${NAME} and $$ are expanded")
{
	const auto env = test::FakeEnvironment();
	CHECK(ExpandPath("~", env) == "/home/alice");
	CHECK(ExpandPath("~/Mail/work", env) == "/home/alice/Mail/work");
	CHECK(ExpandPath("$MAILROOT/work", env) == "/srv/mail/work");
	CHECK(ExpandPath("${MAILROOT}work", env) == "/srv/mailwork");
	CHECK(ExpandPath("$HOME/a$$b", env) == "/home/alice/a$b");
	CHECK(ExpandPath("/x$EMPTY/y", env) == "/x/y");
	CHECK(ExpandPath("/a/~/b", env) == "/a/~/b");
	CHECK(ExpandPath("", env).empty());
}

TEST_CASE("paths: unsupported forms and unset variables are errors")
{
	CHECK(ExpandError("~bob/Mail") ==
	      "\"~bob/Mail\": ~user is not supported (write the path out)");
	CHECK(ExpandError("$UNSET/x") == "\"$UNSET/x\": $UNSET is not set");
	CHECK(ExpandError("${UNSET}") == "\"${UNSET}\": $UNSET is not set");
	CHECK(ExpandError("/a/${HOME") == "\"/a/${HOME\": unterminated \"${\"");
	CHECK(ExpandError("/a/${1A}") ==
	      "\"/a/${1A}\": \"${1A}\" is not a variable (only ${NAME} is supported)");
	CHECK(
	    ExpandError("/a/${X:-y}") ==
	    "\"/a/${X:-y}\": \"${X:-y}\" is not a variable (only ${NAME} is supported)");
	CHECK(ExpandError("/a/$") ==
	      "\"/a/$\": a '$' must start $NAME or ${NAME} (write $$ for a '$')");
	CHECK(ExpandError("/a/$1") ==
	      "\"/a/$1\": a '$' must start $NAME or ${NAME} (write $$ for a '$')");
	const EnvLookup no_home = [](const std::string &) { return std::nullopt; };
	CHECK(ErrorText([&] { ExpandPath("~/x", no_home); }) ==
	      "\"~/x\": $HOME is not set (needed for ~)");
}

TEST_CASE("commands are split into words without a shell")
{
	using Words = std::vector<std::string>;
	CHECK(SplitCommand("pass show mail/work") == Words{"pass", "show", "mail/work"});
	CHECK(SplitCommand("  a\tb  ") == Words{"a", "b"});
	CHECK(SplitCommand("a 'b c' \"d e\"") == Words{"a", "b c", "d e"});
	CHECK(SplitCommand("a 'it\"s' \"x\\\"y\\\\z\\n\"") ==
	      Words{"a", "it\"s", "x\"y\\z\\n"});
	CHECK(SplitCommand("a\\ b c") == Words{"a b", "c"});
	// In "...", as in sh: \$ and \` are $ and `; \n stays a backslash and an n.
	CHECK(SplitCommand("\"a\\$b\" \"k\\`l\" \"m\\n\"") ==
	      Words{"a$b", "k`l", "m\\n"});
	CHECK(SplitCommand("a '' b") == Words{"a", "", "b"});
	CHECK(SplitCommand("$HOME/bin/pw ~") == Words{"$HOME/bin/pw", "~"});
	CHECK(ErrorText([] { SplitCommand(""); }) == "empty command");
	CHECK(ErrorText([] { SplitCommand("   "); }) == "empty command");
	CHECK(ErrorText([] { SplitCommand("a 'b"); }) == "unterminated ' in the command");
	CHECK(ErrorText([] { SplitCommand("a \"b"); }) ==
	      "unterminated \" in the command");
	CHECK(ErrorText([] { SplitCommand("a\\"); }) ==
	      "trailing backslash in the command");
	CHECK(ErrorText([] { SplitCommand("a\nb"); }) ==
	      "control character in the command");
}

TEST_CASE("hosts follow the spec grammar")
{
	CHECK(CheckHost("mail.example.com") == "mail.example.com");
	CHECK(CheckHost("192.0.2.1") == "192.0.2.1");
	CHECK(CheckHost("::1") == "::1");
	CHECK(CheckHost("[::1]") == "::1");
	CHECK(CheckHost("fe80::1%eth0") == "fe80::1%eth0");
	CHECK(ErrorText([] { CheckHost(""); }) == "empty host");
	CHECK(ErrorText([] { CheckHost("alice@mail.example.com"); }) ==
	      "bad host \"alice@mail.example.com\": a host has no '@' (write the user "
	      "under user:)");
	CHECK(ErrorText([] { CheckHost("mail.example.com:995"); }) ==
	      "bad host \"mail.example.com:995\": a host has no port (write it under "
	      "port:)");
	CHECK(ErrorText([] { CheckHost("localhost!mail.example.com"); }) ==
	      "bad host \"localhost!mail.example.com\": a host has no '!' (write the TLS "
	      "name under sni:)");
	CHECK(ErrorText([] { CheckHost("mail example"); }) ==
	      "bad host \"mail example\": blank or control character");
	CHECK(ErrorText([] { CheckHost("mail/example"); }) ==
	      "bad host \"mail/example\": unexpected character \"/\" in host "
	      "\"mail/example\"");
	CHECK(ErrorText([] { CheckHost("1:2:zz"); }) ==
	      "bad host \"1:2:zz\": \"1:2:zz\" is not an IPv6 address");
}

TEST_CASE("TLS names and users")
{
	CheckTlsName("mail.example.com");
	CHECK(ErrorText([] { CheckTlsName(""); }) == "empty TLS name");
	CHECK(ErrorText([] { CheckTlsName("mail.example.com:995"); }) ==
	      "bad TLS name \"mail.example.com:995\": unexpected character \":\" (a DNS "
	      "name or an IPv4 address)");
	CheckUser("alice@example.com");
	CheckUser("Alice Smith");
	CHECK(ErrorText([] { CheckUser(""); }) == "empty user");
	CHECK(ErrorText([] { CheckUser("a\r\nPASS x"); }) ==
	      "control character in the user");
	CHECK(ErrorText([] { CheckUser(std::string(256, 'a')); }) ==
	      "user longer than 255 bytes");
}

TEST_CASE("server: a spec, or something shaped like a netrc account")
{
	const auto spec = CheckServer("tcp:alice@localhost:1110");
	REQUIRE(spec);
	CHECK_FALSE(spec->tls);
	CHECK(spec->host == "localhost");
	CHECK(spec->Port() == 1110);
	CHECK(CheckServer("work"));
	// Not specs ('+' is no host character), but netrc account names.
	CHECK_FALSE(CheckServer("bob+work"));
	CHECK_FALSE(CheckServer("ssl:bob+work"));
	CHECK_FALSE(CheckServer("B\xc3\xbcro"));
	CHECK(ErrorText([] { CheckServer("imap:alice@mail.example.com"); }) ==
	      "bad connection spec \"imap:alice@mail.example.com\": unknown prefix "
	      "\"imap:\" (expected \"ssl:\", \"tcp:\" or \"starttls:\")");
	CHECK(
	    ErrorText([] { CheckServer("alice@mail.example.com:99999"); }) ==
	    "bad connection spec \"alice@mail.example.com:99999\": port 99999 is not in "
	    "1-65535");
	CHECK(ErrorText([] { CheckServer("@mail.example.com"); }) ==
	      "bad connection spec \"@mail.example.com\": empty user before '@'");
	CHECK(ErrorText([] { CheckServer("alice@"); }) ==
	      "bad connection spec \"alice@\": empty host");
	CHECK(ErrorText([] { CheckServer("work mail"); }) ==
	      "bad connection spec \"work mail\": space in the spec");
}

TEST_CASE("netrc account shape")
{
	CHECK(IsNetrcAccountShape("work"));
	CHECK(IsNetrcAccountShape("alice@mail.example.com"));
	CHECK(IsNetrcAccountShape("bob+work"));
	CHECK_FALSE(IsNetrcAccountShape(""));
	CHECK_FALSE(IsNetrcAccountShape("a b"));
	CHECK_FALSE(IsNetrcAccountShape("a:b"));
	CHECK_FALSE(IsNetrcAccountShape("a!b"));
	CHECK_FALSE(IsNetrcAccountShape("[a]"));
	CHECK_FALSE(IsNetrcAccountShape("a\"b"));
	CHECK_FALSE(IsNetrcAccountShape("@a"));
	CHECK_FALSE(IsNetrcAccountShape("a@"));
	CHECK_FALSE(IsNetrcAccountShape(std::string(256, 'a')));
}

TEST_CASE("enumerations, with the nearest value suggested")
{
	CHECK(ParseTlsMode("implicit") == TlsMode::Implicit);
	CHECK(ParseTlsMode("starttls") == TlsMode::StartTls);
	CHECK(ParseTlsMode("none") == TlsMode::None);
	CHECK(ErrorText([] { ParseTlsMode("startls"); }) ==
	      "bad value \"startls\" (expected implicit, starttls or none); did you mean "
	      "\"starttls\"?");
	CHECK(ErrorText([] { ParseTlsMode("ssl"); }) ==
	      "bad value \"ssl\" (expected implicit, starttls or none)");
	CHECK(ParsePipelining("auto") == pop3::Pipelining::Auto);
	CHECK(ParsePipelining("on") == pop3::Pipelining::On);
	CHECK(ParsePipelining("off") == pop3::Pipelining::Off);
	CHECK(ErrorText([] { ParsePipelining("Off"); }) ==
	      "bad value \"Off\" (expected auto, on or off); did you mean \"off\"?");
	CHECK(ParseOversize("skip") == Oversize::Skip);
	CHECK(ParseOversize("delete") == Oversize::Delete);
	CHECK(ErrorText([] { ParseOversize("delte"); }) ==
	      "bad value \"delte\" (expected skip or delete); did you mean \"delete\"?");
	CHECK(ErrorText([] { ParseOversize("true"); }) ==
	      "bad value \"true\" (expected skip or delete)");
	CHECK(OversizeName(Oversize::Skip) == "skip");
	CHECK(OversizeName(Oversize::Delete) == "delete");
	CHECK(TlsModeName(TlsMode::StartTls) == "starttls");
	CHECK(PipeliningName(pop3::Pipelining::Auto) == "auto");
}

TEST_CASE("marks print as FILE:LINE:COLUMN")
{
	CHECK(Mark{"config.yaml", 12, 5}.ToString() == "config.yaml:12:5");
	CHECK(Mark{"config.yaml", 0, 0}.ToString() == "config.yaml");
}
