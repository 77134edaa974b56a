#pragma once

#include <systemd/sd-bus.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

/**
 * The blocking sd-bus calls of the secret layer (the Secret Service probe, GNOME Online
 * Accounts), each bounded by a deadline: the caller is `popstream oauth login` or a
 * worker thread of the daemon, and a session bus whose peer never answers must cost
 * them a clear error, not a hang.
 */
namespace popstream::secret {

/** The clock of every deadline here. */
using Clock = std::chrono::steady_clock;

/** Closes an sd-bus connection (sd_bus_flush_close_unref). */
struct BusCloser {
	void operator()(sd_bus *bus) const noexcept { sd_bus_flush_close_unref(bus); }
};
/** An owned, private connection to the session bus. */
using BusPtr = std::unique_ptr<sd_bus, BusCloser>;

/** Unrefs an sd-bus message. */
struct MessageUnref {
	void operator()(sd_bus_message *m) const noexcept { sd_bus_message_unref(m); }
};
/** An owned message reference. */
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

/** A failed bus operation; what() is one line, naming what failed. */
class BusError : public std::runtime_error {
public:
	/**
	 * @param message the line
	 * @param _name the D-Bus error name
	 * ("org.freedesktop.DBus.Error.ServiceUnknown"), or empty when the failure is
	 * local (no bus, a timeout)
	 * @param _timed_out the deadline passed
	 */
	BusError(const std::string &message, std::string _name = {},
		 bool _timed_out = false)
	    : std::runtime_error(message), name(std::move(_name)), timed_out(_timed_out)
	{
	}
	/** The D-Bus error name, or empty. */
	std::string name;
	/** True if the deadline passed before an answer came. */
	bool timed_out;
};

/**
 * @return why this process has no session bus to talk to, or empty if it may have one:
 *         neither $DBUS_SESSION_BUS_ADDRESS nor a socket at $XDG_RUNTIME_DIR/bus, the
 *         two places sd_bus_open_user(3) looks (and where libsecret's GDBus finds the
 *         bus before it would try X11 autolaunch, which a headless machine must not
 *         attempt)
 */
std::string MissingSessionBus();

/**
 * Connects to the session bus and waits until the connection is ready (authenticated
 * and registered with the bus daemon), at most until @p deadline.
 *
 * @return the connection
 * @throws BusError without a session bus, when connecting fails, or at the deadline
 */
BusPtr OpenSessionBus(Clock::time_point deadline);

/**
 * Sends a method call and waits for its reply until @p deadline.
 *
 * @param bus a connection from OpenSessionBus()
 * @param call the method call (sd_bus_message_new_method_call(3) plus arguments)
 * @return the method return
 * @throws BusError with the D-Bus error name and text the peer answered with, or
 *         timed_out at the deadline
 */
MessagePtr CallMethod(sd_bus *bus, sd_bus_message *call, Clock::time_point deadline);

/**
 * @param error an errno value from sd-bus (positive)
 * @return strerror(3)'s text for it
 */
std::string ErrnoText(int error);

} // namespace popstream::secret
