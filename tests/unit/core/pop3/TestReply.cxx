#include "core/pop3/Reply.hxx"

#include <doctest/doctest.h>

using popstream::pop3::ParseReply;

TEST_CASE("+OK and -ERR with and without text (RFC 1939 section 3, case 03A)")
{
	auto r = ParseReply("+OK");
	REQUIRE(r);
	CHECK(r->ok);
	CHECK(r->code.empty());
	r = ParseReply("+OK 2 320");
	REQUIRE(r);
	CHECK(r->ok);
	CHECK(r->line == "+OK 2 320");
	r = ParseReply("-ERR no such message");
	REQUIRE(r);
	CHECK_FALSE(r->ok);
	r = ParseReply("-ERR");
	REQUIRE(r);
	CHECK_FALSE(r->ok);
}

TEST_CASE("lines that only look like replies are not replies (case 03B, 03C)")
{
	CHECK_FALSE(ParseReply("+ERR Server error"));
	CHECK_FALSE(ParseReply("+OKAY"));
	CHECK_FALSE(ParseReply("+ok"));
	CHECK_FALSE(ParseReply(""));
	CHECK_FALSE(ParseReply(" +OK"));
	CHECK_FALSE(ParseReply("-ERRx"));
	CHECK_FALSE(ParseReply("OK"));
}

TEST_CASE("response codes (RFC 2449 section 8, RFC 3206)")
{
	auto r = ParseReply("-ERR [IN-USE] Mailbox locked");
	REQUIRE(r);
	CHECK(r->code == "IN-USE");
	CHECK(r->HasCode("IN-USE"));
	CHECK_FALSE(r->HasCode("AUTH"));

	r = ParseReply("-ERR [sys/temp] later");
	REQUIRE(r);
	CHECK(r->code == "SYS/TEMP");
	CHECK(r->HasCode("SYS"));
	CHECK(r->HasCode("SYS/TEMP"));
	CHECK_FALSE(r->HasCode("SYS/PERM"));
	CHECK_FALSE(r->HasCode("SY"));

	r = ParseReply("-ERR [unterminated code");
	REQUIRE(r);
	CHECK(r->code.empty());
	r = ParseReply("-ERR not [AUTH] at the start");
	REQUIRE(r);
	CHECK(r->code.empty());
}
