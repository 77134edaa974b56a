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
