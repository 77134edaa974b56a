#pragma once

#include <uv.h>

#include <functional>

namespace popstream::cli {

/**
 * SIGINT and SIGTERM for a command that fetches in the foreground (`dl`, `run`),
 * handled on the loop thread. They do not keep the loop running: uv_run() returns once
 * the fetches are done, whether or not a signal came.
 */
class StopSignals {
public:
	/** What to do for a signal: its number, SIGINT or SIGTERM. Called for each one
	 * (the command decides what a second one means). */
	using Handler = std::function<void(int signum)>;

	/**
	 * Starts watching both signals on @p loop.
	 * @param on_signal called on the loop thread, never after destruction
	 */
	StopSignals(uv_loop_t &loop, Handler on_signal);

	/** Closes both handles; the loop must run once more before uv_loop_close(), which
	 * frees them. */
	~StopSignals() noexcept;

	StopSignals(const StopSignals &) = delete;
	StopSignals &operator=(const StopSignals &) = delete;

private:
	Handler on_signal_;
	uv_signal_t *sigint_;
	uv_signal_t *sigterm_;
};

} // namespace popstream::cli
