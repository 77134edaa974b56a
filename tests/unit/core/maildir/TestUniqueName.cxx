#include "core/maildir/UniqueName.hxx"

#include <doctest/doctest.h>

using namespace popstream::maildir;

TEST_CASE("unique names follow the Maildir spec")
{
	CHECK(UniqueName({1700000000, 42, 1234, 7, "mail.example.com"}) ==
	      "1700000000.M42P1234Q7.mail.example.com");
	CHECK(WithSize("1.M2P3Q4.h", 169) == "1.M2P3Q4.h,S=169");
}

TEST_CASE("host names cannot break the name: '/' and ':' are escaped")
{
	CHECK(UniqueName({1, 2, 3, 4, "a/b:c"}) == "1.M2P3Q4.a\\057b\\072c");
	CHECK(UniqueName({1, 2, 3, 4, "x,S=9"}) == "1.M2P3Q4.x\\054S=9");
	CHECK(UniqueName({1, 2, 3, 4, ""}) == "1.M2P3Q4.localhost");
}
