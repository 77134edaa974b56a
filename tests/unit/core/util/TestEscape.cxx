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

TEST_CASE("a secret is hidden wherever it stands, and nothing else is")
{
	using popstream::HideSecret;
	CHECK(HideSecret("-ERR bad password hunter2 for hunter2", "hunter2") ==
	      "-ERR bad password ******** for ********");
	CHECK(HideSecret("no secret here", "hunter2") == "no secret here");
	CHECK(HideSecret("PASS x", "") == "PASS x");
	// A secret that the mask itself contains must not loop or be hidden twice.
	CHECK(HideSecret("a * b", "*") == "a ******** b");
	CHECK(HideSecret("aaa", "aa") == "********a");
}

TEST_CASE("ShellWord: plain words as they are, anything else single-quoted")
{
	CHECK(popstream::ShellWord("alice@mail.example.com:995") ==
	      "alice@mail.example.com:995");
	CHECK(popstream::ShellWord("alice@localhost!mail.example.com") ==
	      "'alice@localhost!mail.example.com'");
	CHECK(popstream::ShellWord("it's") == "'it'\\''s'");
	CHECK(popstream::ShellWord("a b") == "'a b'");
	CHECK(popstream::ShellWord("") == "''");
}
