#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

/*
 * The service side of the sd_notify(3) protocol, as a Type=notify user service speaks
 * it: READY=1 once started, STATUS= lines, RELOADING=1 ... READY=1 around a reload,
 * STOPPING=1 at shutdown, and WATCHDOG=1 pings (sd_watchdog_enabled(3)).
 *
 * Every function returns what sd_notify() returns: > 0 if the datagram was sent, 0 if
 * $NOTIFY_SOCKET is unset (not running under a service manager: nothing to do), a
 * negative errno value on failure. sd_notify(3) recommends ignoring it, and the daemon
 * should; it is there for tests and debug logs.
 */
namespace popstream::systemd {

/**
 * Sends "READY=1": start-up, or a reload, is complete (sd_notify(3)). Send it only once
 * the config is loaded, the timers are armed and the bus name is owned.
 * @return as sd_notify()
 */
int Ready() noexcept;

/**
 * Sends "STATUS=<line>", the one line `systemctl --user status` shows (sd_notify(3):
 * "a single-line UTF-8 status string"). @p line goes through StatusLine() first.
 * @return as sd_notify()
 */
int Status(std::string_view line) noexcept;

/**
 * Sends "RELOADING=1": a reload has begun; follow it with Ready() when it is done, even
 * if the new config was rejected and the old one kept (sd_notify(3)).
 * @return as sd_notify()
 */
int Reloading() noexcept;

/**
 * Sends "STOPPING=1": shutdown has begun (sd_notify(3)).
 * @return as sd_notify()
 */
int Stopping() noexcept;

/**
 * Sends @p state as is: newline-separated assignments, such as "ERRNO=2" before a
 * fatal exit (sd_notify(3)). Embedded NUL bytes end it early.
 * @return as sd_notify()
 */
int Notify(std::string_view state) noexcept;

/** Longest STATUS= value sent, in bytes. systemd reads notifications into a buffer of
 * PIPE_BUF bytes (4096 on Linux) and drops longer ones, and a status line is for
 * people: 512 bytes is plenty and leaves room for other fields. */
inline constexpr std::size_t max_status_bytes = 512;

/**
 * Makes @p text safe as a STATUS= value: CR, LF and every other control byte become a
 * space (a newline would start a new assignment), and text longer than
 * max_status_bytes is cut at a UTF-8 character boundary and ends in "...".
 * @return at most max_status_bytes bytes, one line
 */
std::string StatusLine(std::string_view text);

/**
 * Formats the daemon's status line, e.g. "3 accounts, next poll 12:05, last error:
 * none". The time is local; polls more than a day away also show the date
 * ("next poll 2026-12-01 12:05"), and @p next_poll_us 0 shows "no poll scheduled".
 * @param accounts accounts configured
 * @param next_poll_us soonest next poll in µs since the epoch, 0 if none
 * @param last_error the most recent fetch error (one line), empty for none
 * @param now_us the current time in µs since the epoch (to decide whether the date is
 *        needed)
 */
std::string FormatStatus(std::size_t accounts, std::uint64_t next_poll_us,
			 std::string_view last_error, std::uint64_t now_us);

/**
 * Sends "WATCHDOG=1" at half the interval the service manager asked for
 * (sd_watchdog_enabled(3): $WATCHDOG_USEC, honoured only when $WATCHDOG_PID is unset or
 * this process), from a timer on the daemon's libuv loop, so that each ping proves the
 * loop still turns. Without WatchdogSec= it does nothing at all.
 *
 * The timer is unreferenced (uv_unref): it never keeps uv_run() going by itself.
 */
class Watchdog {
public:
	/** Decides before each ping whether the daemon is healthy; returning false skips
	 * the ping, so that the service manager restarts the daemon once the watchdog
	 * interval passes without one (e.g. a fetch stuck past its own hard timeout). */
	using HealthCheck = std::function<bool()>;

	/**
	 * Reads the watchdog settings and, if enabled, starts pinging.
	 * @param loop the daemon's loop; it must outlive this object's close callback
	 * @param healthy optional; called from the loop before each ping
	 */
	explicit Watchdog(uv_loop_t &loop, HealthCheck healthy = {});

	/** Stops pinging. The timer is freed by uv_close()'s callback, so the loop must
	 * run once more (as it does when the daemon closes its handles). */
	~Watchdog();

	Watchdog(const Watchdog &) = delete;
	Watchdog &operator=(const Watchdog &) = delete;

	/** @return true if the service manager expects pings */
	bool Enabled() const noexcept { return timer_ != nullptr; }

	/** @return the time between pings (half of $WATCHDOG_USEC, at least 1 ms), or
	 * zero when disabled */
	std::chrono::milliseconds Period() const noexcept { return period_; }

private:
	static void OnTimer(uv_timer_t *timer) noexcept;

	HealthCheck healthy_;
	std::chrono::milliseconds period_{0};
	/** Heap-allocated so that it can outlive this object until libuv has closed it.
	 */
	uv_timer_t *timer_ = nullptr;
};

} // namespace popstream::systemd
