// The window of RETR octets follows the link: measured round trip x throughput, twice
// over, within its bounds; growing like a slow start while the window is the limit.
#include "core/pop3/LinkEstimate.hxx"

#include <doctest/doctest.h>

#include <algorithm>

using namespace popstream::pop3;

namespace {

constexpr std::uint64_t mib = 1u << 20;
constexpr std::uint64_t ms = 1000; // microseconds

/** Feeds @p bytes_per_s for @p seconds in 10 ms reads, from @p start_us. */
std::uint64_t Stream(LinkEstimate &link, std::uint64_t start_us,
		     std::uint64_t bytes_per_s, unsigned seconds)
{
	std::uint64_t now = start_us;
	for (unsigned i = 0; i < seconds * 100; ++i) {
		now += 10 * ms;
		link.Received(now, bytes_per_s / 100);
	}
	return now;
}

} // namespace

TEST_CASE("before the link is measured the window is the initial one")
{
	LinkEstimate link;
	CHECK(link.WindowBytes() == limits::initial_window_bytes);
	link.RttSample(600 * ms);
	CHECK(link.WindowBytes() == limits::initial_window_bytes);
	CHECK(link.RttUs() == 600 * ms);
}

TEST_CASE("the round trip is the smallest sample: queueing only adds to one")
{
	LinkEstimate link;
	link.RttSample(900 * ms);
	link.RttSample(600 * ms);
	link.RttSample(2000 * ms);
	link.RttSample(0); // a reply already buffered says nothing
	CHECK(link.RttUs() == 600 * ms);
}

TEST_CASE("a satellite link at 20 Mbit/s: twice 1.5 MB is below the floor")
{
	LinkEstimate link;
	link.RttSample(600 * ms);
	Stream(link, 1'000'000, 2'500'000, 5);
	CHECK(link.BytesPerSecond() == 2'500'000);
	CHECK(link.WindowBytes() == limits::min_window_bytes);
}

TEST_CASE("a fast long link: twice the bandwidth-delay product")
{
	LinkEstimate link;
	link.RttSample(600 * ms);
	Stream(link, 1'000'000, 20'000'000, 5); // 160 Mbit/s: 12 MB in flight
	CHECK(link.WindowBytes() == 2 * 20'000'000 / 1000 * 600);
	// Faster still, the bound holds.
	Stream(link, 10'000'000, 1'000'000'000, 2);
	CHECK(link.WindowBytes() == limits::max_window_bytes);
}

TEST_CASE("a burst shorter than half a round trip is not taken for a rate")
{
	LinkEstimate link;
	link.RttSample(600 * ms);
	link.Received(1'000'000, 1);
	link.Received(1'001'000, 64 * mib); // 1 ms later: 64 GB/s if believed
	CHECK(link.BytesPerSecond() == 0);
	link.Received(1'300'000, 0);
	CHECK(link.BytesPerSecond() == 64 * mib * 1'000'000 / 300'000);
}

TEST_CASE("an idle gap is not averaged into the rate")
{
	LinkEstimate link;
	link.RttSample(100 * ms);
	std::uint64_t now = Stream(link, 1'000'000, 10'000'000, 1);
	link.Idle();
	// 60 s later the data flows again: the first read only opens an interval.
	now += 60'000'000;
	link.Received(now, 1'000'000);
	CHECK(link.BytesPerSecond() == 10'000'000);
	Stream(link, now, 10'000'000, 1);
	CHECK(link.BytesPerSecond() == 10'000'000);
}

TEST_CASE("a window that is the limit grows by its factor per interval")
{
	// Whatever the window lets through in one round trip is measured as the rate,
	// so the next window is twice as large, as TCP's slow start: from the floor to
	// the bound in a handful of round trips, never beyond it.
	LinkEstimate link;
	link.RttSample(600 * ms);
	std::uint64_t window = limits::min_window_bytes;
	std::uint64_t now = 1'000'000;
	link.Received(now, 0);
	for (int round = 0; round < 12; ++round) {
		now += 600 * ms;
		link.Received(now, window);
		const std::uint64_t next = link.WindowBytes();
		CHECK(next >= std::min(window * 2 * 99 / 100, limits::max_window_bytes));
		CHECK(next <= limits::max_window_bytes);
		window = next;
	}
	CHECK(window == limits::max_window_bytes);
}
