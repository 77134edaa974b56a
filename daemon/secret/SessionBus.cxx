#include "SessionBus.hxx"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

namespace popstream::secret {

namespace {

/** @return the time left until @p deadline in µs, at least 1 while any is left */
std::uint64_t MicrosecondsLeft(Clock::time_point deadline)
{
	const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
	    deadline - Clock::now());
	return left.count() > 0 ? static_cast<std::uint64_t>(left.count()) : 0;
}

} // namespace

std::string ErrnoText(int error)
{
	return std::strerror(error);
}

std::string MissingSessionBus()
{
	if (const char *address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
	    address != nullptr && address[0] != '\0')
		return {};
	const char *runtime = std::getenv("XDG_RUNTIME_DIR");
	if (runtime == nullptr || runtime[0] == '\0')
		return "no session bus (neither DBUS_SESSION_BUS_ADDRESS nor "
		       "XDG_RUNTIME_DIR is set)";
	const std::string socket = std::string(runtime) + "/bus";
	struct stat st {};
	if (stat(socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
		return "no session bus (DBUS_SESSION_BUS_ADDRESS is not set and there is "
		       "no socket " +
		       socket + ")";
	return {};
}

BusPtr OpenSessionBus(Clock::time_point deadline)
{
	if (const auto missing = MissingSessionBus(); !missing.empty())
		throw BusError(missing);
	sd_bus *raw = nullptr;
	int r = sd_bus_open_user_with_description(&raw, "popstream-secret");
	if (r < 0)
		throw BusError("cannot connect to the session bus: " + ErrnoText(-r));
	BusPtr bus(raw);
	// sd_bus_call() would wait for the connection's set-up without any limit
	// (sd_bus_call(3) applies its timeout to the reply only), so the hand-shake is
	// driven here, under the deadline.
	while ((r = sd_bus_is_ready(bus.get())) == 0) {
		r = sd_bus_process(bus.get(), nullptr);
		if (r < 0)
			throw BusError("cannot connect to the session bus: " +
				       ErrnoText(-r));
		if (r > 0)
			continue;
		const auto left = MicrosecondsLeft(deadline);
		if (left == 0)
			throw BusError(
			    "the session bus did not complete the connection in "
			    "time",
			    {}, true);
		r = sd_bus_wait(bus.get(), left);
		if (r < 0 && r != -EINTR)
			throw BusError("cannot connect to the session bus: " +
				       ErrnoText(-r));
	}
	if (r < 0)
		throw BusError("cannot connect to the session bus: " + ErrnoText(-r));
	return bus;
}

MessagePtr CallMethod(sd_bus *bus, sd_bus_message *call, Clock::time_point deadline)
{
	const auto left = MicrosecondsLeft(deadline);
	if (left == 0)
		throw BusError("no time left for the call", {}, true);
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = nullptr;
	// A timeout of 0 would mean sd-bus's default (25 s); left is at least 1 µs.
	const int r = sd_bus_call(bus, call, left, &error, &reply);
	MessagePtr owned(reply);
	if (r >= 0) {
		sd_bus_error_free(&error);
		return owned;
	}
	const std::string name = error.name != nullptr ? error.name : "";
	std::string message = error.message != nullptr ? error.message : ErrnoText(-r);
	sd_bus_error_free(&error);
	const bool timed_out = r == -ETIMEDOUT || name == SD_BUS_ERROR_NO_REPLY ||
			       name == SD_BUS_ERROR_TIMEOUT;
	throw BusError(message, name, timed_out);
}

} // namespace popstream::secret
