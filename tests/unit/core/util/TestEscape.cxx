#include "core/util/Escape.hxx"

#include <doctest/doctest.h>

using popstream::Escape;

TEST_CASE("server text is printable on one line")
{
	CHECK(Escape("plain text") == "plain text");
	CHECK(Escape("a\r\nb\tc\\") == "a\\r\\nb\\tc\\\\");
	CHECK(Escape(std::string("\x1b[31m\0\xff", 7)) == "\\x1b[31m\\x00\\xff");
}

TEST_CASE("long text is cut without splitting an escape")
{
	CHECK(Escape("abcdefghij", 10) == "abcdefghij");
	CHECK(Escape("abcdefghijk", 10) == "abcdefg...");
	CHECK(Escape("abcde\x01zzzz", 10) == "abcde...");
	CHECK(Escape(std::string(1u << 20, 'A')).size() == 512);
}
