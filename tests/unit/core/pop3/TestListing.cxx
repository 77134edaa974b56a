#include "core/pop3/Listing.hxx"

#include <doctest/doctest.h>

using namespace popstream::pop3;

TEST_CASE("LIST lines, padded or not (RFC 1939 section 5, case 02B)")
{
	auto e = ParseListLine("1 72");
	REQUIRE(e);
	CHECK(e->number == 1);
	CHECK(e->size == 72);
	e = ParseListLine("1   72");
	REQUIRE(e);
	CHECK(e->size == 72);
	e = ParseListLine("2 72 ");
	REQUIRE(e);
	CHECK(e->number == 2);
	e = ParseListLine("\t3\t5000000000 future-extension");
	REQUIRE(e);
	CHECK(e->size == 5000000000ull);
}

TEST_CASE("malformed LIST lines are rejected (case 02A)")
{
	CHECK_FALSE(ParseListLine("1"));
	CHECK_FALSE(ParseListLine("abc def"));
	CHECK_FALSE(ParseListLine("0 72"));
	CHECK_FALSE(ParseListLine("-1 72"));
	CHECK_FALSE(ParseListLine("1 -72"));
	CHECK_FALSE(ParseListLine("1 72x"));
	CHECK_FALSE(ParseListLine("99999999999 72"));
	CHECK_FALSE(ParseListLine(""));
}

TEST_CASE("UIDL lines (RFC 1939 section 7, case 02B/02C)")
{
	auto e = ParseUidlLine("1   uid-0001");
	REQUIRE(e);
	CHECK(e->number == 1);
	CHECK(e->uidl == "uid-0001");
	e = ParseUidlLine("2 uid-0002  ");
	REQUIRE(e);
	CHECK(e->uidl == "uid-0002");
	e = ParseUidlLine("1 1490184700.13481.pop.example.com,S=72");
	REQUIRE(e);
	CHECK(e->uidl == "1490184700.13481.pop.example.com,S=72");
	e = ParseUidlLine("7 caf\xc3\xa9");
	REQUIRE(e);
	CHECK(e->uidl == "caf\xc3\xa9");
}

TEST_CASE("malformed UIDL lines are rejected")
{
	CHECK_FALSE(ParseUidlLine("abc def"));
	CHECK_FALSE(ParseUidlLine("1"));
	CHECK_FALSE(ParseUidlLine("1 two words"));
	CHECK_FALSE(ParseUidlLine(std::string("1 a\0b", 5)));
	CHECK_FALSE(ParseUidlLine("1 a\x7f"));
	CHECK_FALSE(ParseUidlLine("1 " + std::string(513, 'u')));
	CHECK(ParseUidlLine("1 " + std::string(512, 'u')));
}
