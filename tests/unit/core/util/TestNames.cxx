// Account names as people read them: natural order, and the nearest suggested for a
// name that does not exist, in a message of bounded size however many there are.
#include "core/util/Names.hxx"

#include <doctest/doctest.h>

#include <algorithm>

using namespace popstream;

TEST_CASE("NaturalLess: numbers compare as numbers, u2 before u10")
{
	std::vector<std::string> names = {"u10", "u2",     "u1",      "home",
					  "u02", "work-2", "work-10", "u"};
	std::sort(names.begin(), names.end(),
		  [](const auto &a, const auto &b) { return NaturalLess(a, b); });
	CHECK(names == std::vector<std::string>{"home", "u", "u1", "u2", "u02", "u10",
						"work-2", "work-10"});
	CHECK_FALSE(NaturalLess("a", "a"));
}

TEST_CASE("UnknownNameHint: a few accounts are listed, of thousands the nearest")
{
	CHECK(UnknownNameHint("x", {}) == " (no account is configured)");
	CHECK(UnknownNameHint("nope", {"work", "home"}) == " (accounts: home, work)");

	std::vector<std::string> many;
	for (int i = 0; i < 1000; ++i)
		many.push_back("user" + std::to_string(i));
	many.push_back("work-mail");
	CHECK(UnknownNameHint("user1O", many) ==
	      " (did you mean user1, user10 or user11?)");
	CHECK(UnknownNameHint("work", many) == " (did you mean work-mail?)");
	many.push_back("work1");
	CHECK(UnknownNameHint("wrok1", many) == " (did you mean work1?)");
	const auto none = UnknownNameHint("zzzzzzzzzz", many);
	CHECK(none ==
	      " (none of the 1002 accounts is close; 'popstream status' lists them)");
	// Bounded: never the 6 KB of a thousand names.
	CHECK(UnknownNameHint("user", many).size() < 300);
}
