#include "posix/Passwd.hxx"

#include <doctest/doctest.h>

#include <pwd.h>
#include <unistd.h>

using popstream::posix::EffectiveUser;

TEST_CASE("EffectiveUser is the passwd entry of geteuid()")
{
	// getpwuid() (not reentrant) as an independent source: the test runs one thread.
	const passwd *pw = getpwuid(geteuid());
	REQUIRE(pw != nullptr); // the test user has an entry, or nothing else works
	const auto user = EffectiveUser();
	REQUIRE(user.has_value());
	CHECK(user->name == pw->pw_name);
	CHECK(user->home == pw->pw_dir);
}
