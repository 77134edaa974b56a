#include "RetryPolicy.hxx"

#include <algorithm>

namespace popstream::service {

std::chrono::milliseconds DelayAfterReload(std::uint64_t last_attempt_us,
					   std::chrono::milliseconds interval,
					   std::uint64_t now_us) noexcept
{
	if (last_attempt_us == 0)
		return std::chrono::milliseconds{0};
	const std::uint64_t due_us =
	    last_attempt_us + static_cast<std::uint64_t>(interval.count()) * 1000;
	return std::chrono::milliseconds{due_us > now_us ? (due_us - now_us) / 1000 : 0};
}

RetryDecision DecideRetry(const fetch::FetchResult &result,
			  std::chrono::milliseconds interval,
			  std::chrono::milliseconds backoff) noexcept
{
	using std::chrono::milliseconds;
	if (result.code == ExitCode::Ok)
		return {bus::AccountState::Idle, interval, milliseconds{0}};
	// Only a plain rejection of the login waits for a human; the session marks
	// [IN-USE], [LOGIN-DELAY] and [SYS/TEMP] as temporary (ExitCode::TempFail).
	if (result.code == ExitCode::NoPerm)
		return {bus::AccountState::AuthNeeded, milliseconds{-1}, milliseconds{0}};
	// Not fixed by waiting, but perhaps by the user meanwhile: poll at the interval.
	if (result.code == ExitCode::Config || result.code == ExitCode::CantCreate)
		return {bus::AccountState::Error, interval, milliseconds{0}};

	const auto cap = std::max(backoff_start, std::min(interval, backoff_cap));
	const auto next =
	    backoff.count() <= 0 ? backoff_start : std::min(backoff * 2, cap);
	auto delay = std::min(next, cap);
	if (result.resp_code == "LOGIN-DELAY" && !result.login_delay_s)
		// Told to wait, but not for how long: a full interval.
		delay = std::max(delay, interval);
	return {bus::AccountState::Backoff, delay, next};
}

} // namespace popstream::service
