#pragma once

#include <systemd/sd-bus.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace popstream::bus {

/**
 * Deleter for BusPtr: writes out what is queued, then drops this reference. The
 * connection closes when the last reference goes; SdBusUv and BusService hold their
 * own, so a BusPtr may be destroyed before them without cutting them off.
 */
struct BusCloser {
	void operator()(sd_bus *bus) const noexcept
	{
		sd_bus_flush(bus);
		sd_bus_unref(bus);
	}
};

/** An owned reference to an sd-bus connection (see BusCloser). */
using BusPtr = std::unique_ptr<sd_bus, BusCloser>;

/**
 * Connects to the user's session bus ($DBUS_SESSION_BUS_ADDRESS, else
 * $XDG_RUNTIME_DIR/bus), as sd_bus_open_user(3) does.
 *
 * @param description the connection's name in sd-bus debug output (may be null)
 * @return the connection, already started (authentication may still be in progress)
 * @throws std::system_error with the errno from sd-bus when the bus cannot be reached
 */
BusPtr OpenUserBus(const char *description);

/**
 * Converts sd_bus_get_timeout(3)'s answer into a libuv timer delay. sd-bus returns an
 * *absolute* CLOCK_MONOTONIC time in µs (UINT64_MAX = no timeout); uv_timer_start()
 * wants a delay in ms relative to now.
 *
 * @param deadline_us absolute CLOCK_MONOTONIC deadline in µs, or UINT64_MAX
 * @param now_us the current CLOCK_MONOTONIC time in µs
 * @return std::nullopt for "no timeout"; 0 if the deadline has passed; otherwise the
 *         delay in ms, rounded up so the timer never fires before the deadline
 */
std::optional<std::uint64_t> DelayUntil(std::uint64_t deadline_us,
					std::uint64_t now_us) noexcept;

/**
 * Drives an sd-bus connection from a libuv loop, without sd-event (one loop, libuv's): a
 * uv_poll on sd_bus_get_fd(3) for the events of sd_bus_get_events(3), a uv_timer for
 * sd_bus_get_timeout(3), and sd_bus_process(3) called until it returns 0 whenever
 * either fires. Both are re-armed after every processing round and before the loop
 * blocks (a uv_prepare handle), so a message queued from outside a bus callback (a
 * signal emitted by the daemon, an asynchronous call) is written and its reply timeout
 * armed without any explicit "kick".
 *
 * The loop is kept alive while the object exists (the connection is a live source of
 * work); destroy it to let uv_run() return.
 *
 * It may be destroyed from inside any callback, including a bus handler running within
 * sd_bus_process() and the disconnect callback. The libuv handles are freed by their
 * close callbacks, so the loop must run once more after destruction (as always with
 * libuv).
 */
class SdBusUv {
public:
	/**
	 * Starts watching @p bus. Takes its own reference on @p bus.
	 *
	 * @param loop the loop to run on; must outlive this object
	 * @param bus a started connection (for example from OpenUserBus())
	 * @param on_disconnect called once, from the loop, when the connection is
	 *        closed (by the peer, by an I/O error, or by sd_bus_close()); the
	 *        argument is the negative errno that ended it (-ENOTCONN when sd-bus
	 *        does not say). Processing has stopped by then; the callback may destroy
	 *        this object.
	 * @throws std::system_error if the connection has no single pollable fd
	 */
	SdBusUv(uv_loop_t &loop, sd_bus *bus,
		std::function<void(int error)> on_disconnect);

	/** Stops watching (nothing is read or written afterwards) and drops the reference
	 * on the bus. Does not close the connection. */
	~SdBusUv();

	SdBusUv(const SdBusUv &) = delete;
	SdBusUv &operator=(const SdBusUv &) = delete;

	/** @return the connection being driven */
	sd_bus *Bus() const noexcept { return bus_; }

	/** @return false once the disconnect callback has been (or is being) called */
	bool IsConnected() const noexcept { return connected_; }

private:
	struct Handles;

	sd_bus *bus_;
	std::function<void(int)> on_disconnect_;
	/** Owned by libuv once closing starts; see ~SdBusUv(). */
	Handles *handles_;
	bool connected_ = true;
	/** The events the poll handle was last started with; -1 = stopped. */
	int armed_events_ = -1;
	/** The sd-bus deadline the timer was last started for; UINT64_MAX = stopped. */
	std::uint64_t armed_deadline_us_ = UINT64_MAX;

	/** Runs sd_bus_process() until it has nothing left, then re-arms. */
	static void Process(Handles &handles) noexcept;
	/**
	 * Brings the poll events and the timer in line with what sd-bus wants now.
	 * @return false if the connection is closed
	 */
	bool Arm() noexcept;
	/** Stops both watchers and reports the end of the connection. */
	void Disconnected(Handles &handles, int error) noexcept;

	static void OnPoll(uv_poll_t *poll, int status, int events) noexcept;
	static void OnTimer(uv_timer_t *timer) noexcept;
	static void OnPrepare(uv_prepare_t *prepare) noexcept;
};

} // namespace popstream::bus
