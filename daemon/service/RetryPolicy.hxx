#pragma once

#include "bus/AccountStatus.hxx"
#include "fetch/FetchJob.hxx"

#include <chrono>

namespace popstream::service {

/** The first retry delay after a failure; it doubles from here. */
inline constexpr std::chrono::milliseconds backoff_start{30'000};
/** The longest backoff, whatever the interval. */
inline constexpr std::chrono::milliseconds backoff_cap{3'600'000};

/** What to do after a fetch. */
struct RetryDecision {
	/** The account's new state. */
	bus::AccountState state = bus::AccountState::Idle;
	/** When to poll next, from now; negative = not until FetchNow() or a reload. */
	std::chrono::milliseconds delay{0};
	/** The backoff to remember for the next failure (0 after a success). */
	std::chrono::milliseconds backoff{0};
};

/**
 * When to poll an account whose `interval` a reload changed: an interval after its last
 * attempt, as if it had always been the new one, not at once (a reload of 1000
 * accounts from 10m to 20m must not log every one of them in again).
 *
 * @param last_attempt_us when its last fetch started, µs since the epoch; 0 = never
 * @param interval the new interval
 * @param now_us now, µs since the epoch
 * @return the delay from now; 0 when that moment has passed or it never ran
 */
std::chrono::milliseconds DelayAfterReload(std::uint64_t last_attempt_us,
					   std::chrono::milliseconds interval,
					   std::uint64_t now_us) noexcept;

/**
 * Decides the next poll after a fetch: the interval after a success; after a failure a
 * delay doubling from 30 s up to min(interval, 1 h); none at all after the server
 * rejected the password (retrying a wrong password gets accounts locked); and at least
 * a full interval after an [LOGIN-DELAY] reply that does not say how long
 * (RFC 2449 §8.1.2). [IN-USE] and [SYS/TEMP] are ordinary temporary failures.
 *
 * @param result the fetch's outcome (code, resp_code, login_delay_s)
 * @param interval the account's polling interval
 * @param backoff the backoff after the previous failure, 0 if it succeeded
 */
RetryDecision DecideRetry(const fetch::FetchResult &result,
			  std::chrono::milliseconds interval,
			  std::chrono::milliseconds backoff) noexcept;

} // namespace popstream::service
