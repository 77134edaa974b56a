// received_header and account_header (fetch/AddedHeaders.hxx): the exact lines put at
// the top of each message, and that no name or user can start a field of its own.
#include "fetch/AddedHeaders.hxx"
#include "fetch/FetchOptions.hxx"

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>

using popstream::fetch::AddedHeaderNames;
using popstream::fetch::AddedHeadersFor;
using popstream::fetch::FetchOptions;
using popstream::fetch::FormatAddedHeaders;

namespace {

/** 2026-12-06 23:00:00 UTC. */
constexpr std::time_t when = 1796598000;

} // namespace

TEST_CASE("added headers: a Received: trace field as mpop writes one, and the account")
{
	setenv("TZ", "UTC", 1);
	tzset();
	CHECK(FormatAddedHeaders("pop.example.com", "laptop", "alice@example.org", "work",
				 true, "", when) ==
	      "Received: from pop.example.com by laptop with POP3 (popstream)\n"
	      "\tfor <alice@example.org>; Sun, 06 Dec 2026 23:00:00 +0000\n");
	// A login name is no mailbox (RFC 5321 §4.4): no "for"; an address in brackets;
	// the ';' before the date all the same (RFC 5322 §3.6.7).
	CHECK(
	    FormatAddedHeaders("192.0.2.7", "laptop", "alice", "work", true, "", when) ==
	    "Received: from [192.0.2.7] by laptop with POP3 (popstream);\n"
	    "\tSun, 06 Dec 2026 23:00:00 +0000\n");
	CHECK(FormatAddedHeaders("::1", "laptop", "alice", "work", true, "", when)
		  .starts_with("Received: from [IPv6:::1] by laptop"));
	CHECK(FormatAddedHeaders("pop.example.com", "laptop", "alice", "work", false,
				 "X-Popstream-Account",
				 when) == "X-Popstream-Account: work\n");
	CHECK(FormatAddedHeaders("h", "l", "u@d", "a", true, "X-A", when) ==
	      "Received: from h by l with POP3 (popstream)\n"
	      "\tfor <u@d>; Sun, 06 Dec 2026 23:00:00 +0000\nX-A: a\n");
	// Neither: the message is stored byte for byte.
	CHECK(FormatAddedHeaders("h", "l", "u", "a", false, "", when).empty());
	// A line break in a user name would start a field of its own.
	CHECK(FormatAddedHeaders("h", "l", "eve@x\nBcc: y>", "a b", true, "X-A", when) ==
	      "Received: from h by l with POP3 (popstream)\n"
	      "\tfor <eve@x?Bcc:?y?>; Sun, 06 Dec 2026 23:00:00 +0000\nX-A: a?b\n");
	// Local time, with its offset.
	setenv("TZ", "EST5", 1);
	tzset();
	CHECK(FormatAddedHeaders("h", "l", "u", "a", true, "", when) ==
	      "Received: from h by l with POP3 (popstream);\n"
	      "\tSun, 06 Dec 2026 18:00:00 -0500\n");
	setenv("TZ", "UTC", 1);
	tzset();
}

TEST_CASE("added headers: off by default; the names the byte comparison skips")
{
	FetchOptions options;
	CHECK_FALSE(AddedHeadersFor(options));
	CHECK(AddedHeaderNames(options) == std::vector<std::string>{"Received"});
	options.account_header = "X-Popstream-Account";
	options.account_name = "work";
	const auto added = AddedHeadersFor(options);
	REQUIRE(added);
	CHECK(added() == "X-Popstream-Account: work\n");
	CHECK(AddedHeaderNames(options) ==
	      std::vector<std::string>{"Received", "X-Popstream-Account"});
}
