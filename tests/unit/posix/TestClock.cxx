#include "ScopedEnv.hxx"
#include "posix/Clock.hxx"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>

using namespace popstream::posix;

namespace {

/** Sets $TZ for one scope, so that local time is known to the test. */
class ScopedTimeZone {
	std::optional<popstream::test::ScopedEnv> tz_;

public:
	explicit ScopedTimeZone(const char *tz)
	{
		tz_.emplace("TZ", tz);
		tzset();
	}
	~ScopedTimeZone()
	{
		tz_.reset();
		tzset();
	}
	ScopedTimeZone(const ScopedTimeZone &) = delete;
	ScopedTimeZone &operator=(const ScopedTimeZone &) = delete;
};

constexpr std::uint64_t us_per_s = 1'000'000;
/** 2026-11-29 12:05:00 UTC */
constexpr std::uint64_t at_1205_utc = 1795953900ull * us_per_s;

} // namespace

TEST_CASE("FormatLocalTime: to the minute, with or without the date")
{
	// POSIX TZ strings, so that the test needs no tzdata.
	{
		const ScopedTimeZone utc("UTC0");
		CHECK(FormatLocalTime(at_1205_utc, false) == "12:05");
		CHECK(FormatLocalTime(at_1205_utc, true) == "2026-11-29 12:05");
		// Seconds and microseconds are cut, not rounded.
		CHECK(FormatLocalTime(at_1205_utc + 59'999'999, false) == "12:05");
		CHECK(FormatLocalTime(0, true) == "1970-01-01 00:00");
	}
	{
		// UTC+5:30: the date moves too once local time passes midnight.
		const ScopedTimeZone india("IST-5:30");
		CHECK(FormatLocalTime(at_1205_utc, false) == "17:35");
		CHECK(FormatLocalTime(at_1205_utc + 7ull * 3600 * us_per_s, true) ==
		      "2026-11-30 00:35");
	}
}

TEST_CASE("SameLocalDay compares calendar days in the local time zone")
{
	const std::uint64_t hour = 3600 * us_per_s;
	const std::uint64_t utc_midnight = at_1205_utc - 12 * hour - 5 * 60 * us_per_s;
	{
		const ScopedTimeZone utc("UTC0");
		CHECK(SameLocalDay(utc_midnight, utc_midnight + 24 * hour - 1));
		CHECK_FALSE(SameLocalDay(utc_midnight - 1, utc_midnight));
		CHECK_FALSE(SameLocalDay(utc_midnight, utc_midnight + 24 * hour));
		// The same hour of another year is another day.
		CHECK_FALSE(SameLocalDay(at_1205_utc, at_1205_utc - 365 * 24 * hour));
	}
	{
		// Eight hours behind UTC: 02:00 and 10:00 UTC are the day before and the
		// day itself.
		const ScopedTimeZone pacific("PST8");
		CHECK_FALSE(
		    SameLocalDay(utc_midnight + 2 * hour, utc_midnight + 10 * hour));
		CHECK(SameLocalDay(utc_midnight + 8 * hour, utc_midnight + 31 * hour));
	}
}

TEST_CASE("NowUs is the system clock in microseconds")
{
	const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
				std::chrono::system_clock::now().time_since_epoch())
				.count();
	const auto now = static_cast<std::int64_t>(NowUs());
	const auto after = std::chrono::duration_cast<std::chrono::microseconds>(
			       std::chrono::system_clock::now().time_since_epoch())
			       .count();
	CHECK(before <= now);
	CHECK(now <= after);
}
