// The retry policy alone: no loop, no network.
#include "service/RetryPolicy.hxx"

#include <doctest/doctest.h>

using namespace popstream;
using namespace popstream::service;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {

fetch::FetchResult Result(ExitCode code, std::string resp_code = {})
{
	fetch::FetchResult r;
	r.code = code;
	r.resp_code = std::move(resp_code);
	return r;
}

} // namespace

TEST_CASE("success polls again after the interval and forgets the backoff")
{
	const auto d = DecideRetry(Result(ExitCode::Ok), 5min, 240s);
	CHECK(d.state == bus::AccountState::Idle);
	CHECK(d.delay == 5min);
	CHECK(d.backoff == 0ms);
}

TEST_CASE("failures back off from 30 s, doubling up to the interval")
{
	milliseconds backoff{0};
	std::vector<milliseconds> delays;
	for (int i = 0; i < 6; ++i) {
		const auto d = DecideRetry(Result(ExitCode::TempFail), 5min, backoff);
		CHECK(d.state == bus::AccountState::Backoff);
		delays.push_back(d.delay);
		backoff = d.backoff;
	}
	CHECK(delays == std::vector<milliseconds>{30s, 60s, 120s, 240s, 300s, 300s});
}

TEST_CASE("with a long interval the backoff stops at 1 h")
{
	milliseconds backoff{0};
	milliseconds last{0};
	for (int i = 0; i < 12; ++i) {
		const auto d = DecideRetry(Result(ExitCode::Unavailable), 24h, backoff);
		backoff = d.backoff;
		last = d.delay;
	}
	CHECK(last == 1h);
}

TEST_CASE("a rejected password waits for FetchNow or a reload")
{
	const auto d = DecideRetry(Result(ExitCode::NoPerm, "AUTH"), 5min, 0ms);
	CHECK(d.state == bus::AccountState::AuthNeeded);
	CHECK(d.delay < 0ms);
}

TEST_CASE("[IN-USE] is temporary; [LOGIN-DELAY] without a number waits an interval")
{
	auto d = DecideRetry(Result(ExitCode::TempFail, "IN-USE"), 10min, 0ms);
	CHECK(d.state == bus::AccountState::Backoff);
	CHECK(d.delay == 30s);
	d = DecideRetry(Result(ExitCode::TempFail, "LOGIN-DELAY"), 10min, 0ms);
	CHECK(d.delay == 10min);
}

TEST_CASE("config and Maildir errors are errors, retried at the interval")
{
	for (const auto code : {ExitCode::Config, ExitCode::CantCreate}) {
		const auto d = DecideRetry(Result(code), 15min, 60s);
		CHECK(d.state == bus::AccountState::Error);
		CHECK(d.delay == 15min);
		CHECK(d.backoff == 0ms);
	}
}

TEST_CASE("a reload that changes the interval polls an interval after the last "
	  "attempt, not at once")
{
	const std::uint64_t minute_us = 60'000'000;
	const std::uint64_t last = 1'800'000'000'000'000;
	// 10m became 20m, 5 minutes after the last fetch: 15 minutes to go.
	CHECK(DelayAfterReload(last, 20min, last + 5 * minute_us) == 15min);
	// 20m became 10m, 15 minutes after it: overdue, so now.
	CHECK(DelayAfterReload(last, 10min, last + 15 * minute_us) == 0ms);
	// Never fetched: now (the start-up jitter spreads it).
	CHECK(DelayAfterReload(0, 10min, last) == 0ms);
}
