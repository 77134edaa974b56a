#include "core/netrc/Netrc.hxx"

#include <doctest/doctest.h>

#include <string>

using namespace popstream;

namespace {

/** @return the message of the NetrcError that parsing @p text throws */
std::string ErrorOf(const std::string &text)
{
	try {
		Netrc::Parse(text, "~/.netrc");
	} catch (const NetrcError &e) {
		return e.what();
	}
	FAIL("no NetrcError for \"" << text << "\"");
	return {};
}

} // namespace

TEST_CASE("entries across lines, in file order, with line numbers")
{
	const auto netrc = Netrc::Parse("machine mail.example.com\n"
					"\tlogin alice\n"
					"\tpassword s3cret\n"
					"\n"
					"machine alice@localhost:1110\n"
					"  account alice@mail.example.com\n"
					"  password other\n"
					"default login anonymous password guest\n",
					"~/.netrc");
	const auto &entries = netrc.Entries();
	REQUIRE(entries.size() == 3);

	CHECK_FALSE(entries[0].is_default);
	CHECK(entries[0].machine == "mail.example.com");
	CHECK(entries[0].login == "alice");
	CHECK(entries[0].password == "s3cret");
	CHECK_FALSE(entries[0].account.has_value());
	CHECK(entries[0].line == 1);

	CHECK(entries[1].machine == "alice@localhost:1110");
	CHECK_FALSE(entries[1].login.has_value());
	CHECK(entries[1].account == "alice@mail.example.com");
	CHECK(entries[1].line == 5);

	CHECK(entries[2].is_default);
	CHECK(entries[2].machine.empty());
	CHECK(entries[2].login == "anonymous");
	CHECK(entries[2].line == 8);
}

TEST_CASE("several entries on one line")
{
	const auto netrc =
	    Netrc::Parse("machine a login x password 1 machine b password 2 "
			 "default password 3",
			 "n");
	const auto &entries = netrc.Entries();
	REQUIRE(entries.size() == 3);
	CHECK(entries[0].machine == "a");
	CHECK(entries[0].password == "1");
	CHECK(entries[1].machine == "b");
	CHECK_FALSE(entries[1].login.has_value());
	CHECK(entries[1].password == "2");
	CHECK(entries[2].is_default);
	CHECK(entries[2].password == "3");
	for (const auto &entry : entries)
		CHECK(entry.line == 1);
}

TEST_CASE("quoted tokens and backslash escapes")
{
	const auto netrc =
	    Netrc::Parse(R"(machine "mail.example.com" login "Alice Smith")"
			 "\n"
			 R"(password "a \"quoted\" pass\\word" account "")"
			 "\n"
			 R"(machine b password "login")"
			 "\n"
			 R"(machine c password back\slash)",
			 "n");
	const auto &entries = netrc.Entries();
	REQUIRE(entries.size() == 3);
	CHECK(entries[0].machine == "mail.example.com");
	CHECK(entries[0].login == "Alice Smith");
	CHECK(entries[0].password == "a \"quoted\" pass\\word");
	// An explicit "" is a present, empty value.
	REQUIRE(entries[0].account.has_value());
	CHECK(entries[0].account->empty());
	// Quoting lets a value be a keyword.
	CHECK(entries[1].password == "login");
	CHECK(entries[1].line == 3);
	// Outside quotes a backslash is an ordinary character.
	CHECK(entries[2].password == "back\\slash");
}

TEST_CASE("a quoted token spanning lines counts its line ends")
{
	const auto netrc = Netrc::Parse("machine a password \"x\ny\"\nmachine b\n", "n");
	REQUIRE(netrc.Entries().size() == 2);
	CHECK(netrc.Entries()[0].password == "x\ny");
	CHECK(netrc.Entries()[1].line == 3);
}

TEST_CASE("comments start where a keyword is expected")
{
	const auto netrc = Netrc::Parse("# my accounts\n"
					"machine a # the work server\n"
					"  login alice #also a comment\n"
					"  password #notacomment\n"
					"#machine b password x\n",
					"n");
	REQUIRE(netrc.Entries().size() == 1);
	CHECK(netrc.Entries()[0].machine == "a");
	CHECK(netrc.Entries()[0].login == "alice");
	// A password may start with '#'.
	CHECK(netrc.Entries()[0].password == "#notacomment");
	CHECK(netrc.Entries()[0].line == 2);
}

TEST_CASE("macdef bodies are skipped up to the next empty line")
{
	const auto netrc = Netrc::Parse("machine ftp.example.com login anonymous\n"
					"macdef init\n"
					"cd /pub\n"
					"machine fake password nope\n"
					"\n"
					"machine mail.example.com password real\n"
					"macdef last\r\n"
					"bye\r\n"
					"\r\n"
					"default password d\n",
					"n");
	const auto &entries = netrc.Entries();
	REQUIRE(entries.size() == 3);
	CHECK(entries[0].machine == "ftp.example.com");
	CHECK_FALSE(entries[0].password.has_value());
	CHECK(entries[1].machine == "mail.example.com");
	CHECK(entries[1].line == 6);
	CHECK(entries[2].is_default);
	CHECK(entries[2].line == 10);
	CHECK(netrc.FindMachine("fake") == nullptr);
}

TEST_CASE("a macdef body may run to the end of the file")
{
	const auto netrc =
	    Netrc::Parse("machine a password p\nmacdef m\nls\nmachine b", "n");
	REQUIRE(netrc.Entries().size() == 1);
	CHECK(netrc.Entries()[0].machine == "a");
}

TEST_CASE("an empty file or one with only comments has no entries")
{
	CHECK(Netrc::Parse("", "n").Entries().empty());
	CHECK(Netrc::Parse("\n  \n# nothing\n", "n").Entries().empty());
}

TEST_CASE("lookups by machine, account and default")
{
	const auto netrc =
	    Netrc::Parse("machine mail.example.com login bob password b1\n"
			 "machine mail.example.com password any\n"
			 "machine mail.example.com login alice password a1\n"
			 "machine alice@localhost:1110 account alice@mail.example.com "
			 "password s3cret\n"
			 "default login carol password c1\n"
			 "default password d1\n",
			 "n");

	const auto *entry = netrc.FindMachine("mail.example.com");
	REQUIRE(entry != nullptr);
	CHECK(entry->password == "b1");

	// Entries with another login are skipped; one without a login fits anyone.
	entry = netrc.FindMachine("mail.example.com", std::string_view("alice"));
	REQUIRE(entry != nullptr);
	CHECK(entry->password == "any");

	CHECK(netrc.FindMachine("MAIL.example.com") == nullptr);
	CHECK(netrc.FindMachine("") == nullptr);

	entry = netrc.FindAccount("alice@mail.example.com");
	REQUIRE(entry != nullptr);
	CHECK(entry->machine == "alice@localhost:1110");
	CHECK(netrc.FindAccount("alice") == nullptr);

	entry = netrc.FindDefault();
	REQUIRE(entry != nullptr);
	CHECK(entry->password == "c1");
	entry = netrc.FindDefault(std::string_view("dave"));
	REQUIRE(entry != nullptr);
	CHECK(entry->password == "d1");
	CHECK(netrc.FindDefault(std::string_view("carol"))->password == "c1");
}

TEST_CASE("the last of a repeated keyword wins")
{
	const auto netrc = Netrc::Parse("machine a login x login y", "n");
	CHECK(netrc.Entries()[0].login == "y");
}

TEST_CASE("parse errors name the file and line")
{
	CHECK(ErrorOf("machine a\n\nlogin") ==
	      "~/.netrc:3: expected a value after \"login\"");
	CHECK(ErrorOf("machine") == "~/.netrc:1: expected a value after \"machine\"");
	CHECK(ErrorOf("machine a password") ==
	      "~/.netrc:1: expected a value after \"password\"");
	CHECK(ErrorOf("machine a macdef") ==
	      "~/.netrc:1: expected a value after \"macdef\"");
	CHECK(ErrorOf("machine a login\nmachine b") ==
	      "~/.netrc:1: expected a value after \"login\", found \"machine\" (quote it "
	      "if it is the value)");
	CHECK(ErrorOf("\nlogin alice") ==
	      "~/.netrc:2: \"login\" outside a machine or default entry");
	CHECK(ErrorOf("password x") ==
	      "~/.netrc:1: \"password\" outside a machine or default entry");
	CHECK(ErrorOf("machine a\nport 110") ==
	      "~/.netrc:2: unexpected token where a keyword was expected (quote values "
	      "that contain spaces)");
	CHECK(ErrorOf("machine a \"login\" x") ==
	      "~/.netrc:1: unexpected token where a keyword was expected (quote values "
	      "that contain spaces)");
	CHECK(ErrorOf("machine a\npassword \"abc") ==
	      "~/.netrc:2: unterminated quoted token");
	CHECK(ErrorOf("machine a password \"abc\\") ==
	      "~/.netrc:1: unterminated quoted token");
	CHECK(ErrorOf("machine a password \"abc\"def") ==
	      "~/.netrc:1: a closing '\"' must be followed by a space or a line end");
}

TEST_CASE("parse errors never show a password")
{
	// A password with an unquoted space: its second half is where a keyword
	// should be.
	const auto message = ErrorOf("machine a\n  password correct horse battery\n");
	CHECK(message == "~/.netrc:2: unexpected token where a keyword was expected "
			 "(quote values that contain spaces)");
	for (const char *secret : {"correct", "horse", "battery"})
		CHECK(message.find(secret) == std::string::npos);

	const auto unterminated = ErrorOf("machine a password \"hunter2");
	CHECK(unterminated.find("hunter2") == std::string::npos);
	const auto stray = ErrorOf("machine a password \"hunter2\"x");
	CHECK(stray.find("hunter2") == std::string::npos);

	try {
		Netrc::Parse("machine a\nlogin", "n");
		FAIL("no error");
	} catch (const NetrcError &e) {
		CHECK(e.Line() == 2);
	}
}
