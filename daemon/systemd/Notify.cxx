#include "Notify.hxx"
#include "posix/Clock.hxx"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cassert>

namespace popstream::systemd {

int Notify(std::string_view state) noexcept
{
	// Never unset $NOTIFY_SOCKET (first argument 0): every later notification needs
	// it. password_command children inherit it, but the unit's NotifyAccess=main
	// makes the manager ignore anything they send.
	const std::string copy(state);
	return sd_notify(0, copy.c_str());
}

int Ready() noexcept
{
	return Notify("READY=1");
}

int Status(std::string_view line) noexcept
{
	return Notify("STATUS=" + StatusLine(line));
}

int Reloading() noexcept
{
	// Plain RELOADING=1 is the whole protocol on systemd 252 (Debian 12), whose
	// sd_notify(3) defines no other reload field. systemd 253 added MONOTONIC_USEC=
	// (the CLOCK_MONOTONIC time in µs, in the same datagram), but only
	// Type=notify-reload needs it, to tell the reload it signalled from an older one.
	// Our unit is Type=notify with ExecReload=, where the manager does not look at
	// it; switching the unit to notify-reload would mean adding it here.
	return Notify("RELOADING=1");
}

int Stopping() noexcept
{
	return Notify("STOPPING=1");
}

std::string StatusLine(std::string_view text)
{
	std::string line;
	line.reserve(std::min(text.size(), max_status_bytes));
	for (const char c : text) {
		const auto byte = static_cast<unsigned char>(c);
		// A newline would end the assignment and start a new one, and the other
		// control bytes have no business in a status line either.
		line.push_back(byte < 0x20 || byte == 0x7f ? ' ' : c);
	}
	if (line.size() <= max_status_bytes)
		return line;

	static constexpr std::string_view ellipsis = "...";
	std::size_t cut = max_status_bytes - ellipsis.size();
	// Back up over UTF-8 continuation bytes (10xxxxxx), so that the line stays valid
	// UTF-8 as sd_notify(3) asks.
	while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xc0) == 0x80)
		--cut;
	line.resize(cut);
	line += ellipsis;
	return line;
}

std::string FormatStatus(std::size_t accounts, std::uint64_t next_poll_us,
			 std::string_view last_error, std::uint64_t now_us)
{
	std::string status = std::to_string(accounts);
	status += accounts == 1 ? " account" : " accounts";

	static constexpr std::uint64_t day_us = 24ull * 3600 * 1'000'000;
	if (next_poll_us == 0)
		status += ", no poll scheduled";
	else
		status +=
		    ", next poll " +
		    posix::FormatLocalTime(next_poll_us, next_poll_us >= now_us + day_us);

	status += ", last error: ";
	status += last_error.empty() ? std::string_view("none") : last_error;
	return StatusLine(status);
}

Watchdog::Watchdog(uv_loop_t &loop, HealthCheck healthy) : healthy_(std::move(healthy))
{
	std::uint64_t usec = 0;
	// > 0 only when $WATCHDOG_USEC is set and $WATCHDOG_PID is unset or ours. A
	// malformed value (< 0) cannot come from the service manager, so it means no
	// watchdog rather than a failure. The variables stay in the environment: children
	// ignore them because $WATCHDOG_PID is not theirs.
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;

	// Half the interval, as sd_watchdog_enabled(3) recommends: one late ping (a busy
	// loop iteration) still arrives in time.
	period_ = std::max(std::chrono::milliseconds(1),
			   std::chrono::duration_cast<std::chrono::milliseconds>(
			       std::chrono::microseconds(usec / 2)));

	timer_ = new uv_timer_t;
	[[maybe_unused]] const int init_status = uv_timer_init(&loop, timer_);
	assert(init_status == 0);
	timer_->data = this;
	const auto period = static_cast<std::uint64_t>(period_.count());
	[[maybe_unused]] const int start_status =
	    uv_timer_start(timer_, OnTimer, period, period);
	assert(start_status == 0);
	// A background ping must not keep the loop alive once everything else has closed.
	uv_unref(reinterpret_cast<uv_handle_t *>(timer_));
}

Watchdog::~Watchdog()
{
	if (timer_ == nullptr)
		return;
	timer_->data = nullptr;
	uv_close(reinterpret_cast<uv_handle_t *>(timer_), [](uv_handle_t *handle) {
		delete reinterpret_cast<uv_timer_t *>(handle);
	});
}

void Watchdog::OnTimer(uv_timer_t *timer) noexcept
{
	const auto *self = static_cast<const Watchdog *>(timer->data);
	if (self == nullptr)
		return;
	if (self->healthy_ && !self->healthy_())
		return;
	Notify("WATCHDOG=1");
}

} // namespace popstream::systemd
