#pragma once

#include "Process.hxx"
#include "TempDir.hxx"

#include <systemd/sd-bus.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

/**
 * Helpers for the D-Bus tests. Every test runs under its own `dbus-run-session`
 * (tests/bus/meson.build), so "the session bus" below is private to one test.
 */
namespace popstream::test {

/** Path of popstream-test-busd (see TestBusDaemon.cxx). */
extern const char *const test_busd_path;
/** Path of popstream-test-bus-client (RunStatus()/RunFetch() without CLI11). */
extern const char *const test_bus_client_path;
/** The interface XML in the source tree. */
extern const char *const bus_xml_path;
/** The D-Bus service file configured into the build tree. */
extern const char *const bus_service_file_path;

/** Unrefs an sd_bus_message. */
struct MessageUnref {
	void operator()(sd_bus_message *m) const noexcept { sd_bus_message_unref(m); }
};
/** An owned message reference. */
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

/** Runs `busctl --user ARGS...` to completion (30 s limit). */
ProcessResult Busctl(const std::vector<std::string> &args);

/** @return busctl's output for one property, without the final newline ("u 1") */
std::string GetProperty(const std::string &path, const std::string &interface,
			const std::string &property);

/**
 * popstream-test-busd on the test's bus, with an accounts file in @p dir. The
 * constructor returns once the daemon owns the bus name.
 */
class TestDaemon {
public:
	/**
	 * @param accounts the content of the accounts file (format in TestBusDaemon.cxx)
	 * @param env extra environment for the daemon ("NAME=value")
	 * @throws std::runtime_error if the daemon does not own the name within 10 s
	 */
	TestDaemon(const TempDir &dir, const std::string &accounts,
		   std::vector<std::string> env = {});
	/** Stops the daemon if it still runs. */
	~TestDaemon();
	TestDaemon(const TestDaemon &) = delete;
	TestDaemon &operator=(const TestDaemon &) = delete;

	/** @return the daemon's process id */
	pid_t Pid() const noexcept { return child_->Pid(); }

	/** Replaces the accounts file; the daemon reads it on Reload(). */
	void WriteAccounts(const std::string &accounts) const;

	/** Sends SIGTERM and waits for the exit; @return how it ended */
	ProcessResult Stop();

	/** Sends SIGKILL and waits, like a crash; @return how it ended */
	ProcessResult Kill();

private:
	std::string file_;
	std::unique_ptr<Child> child_;
};

/** @return whether some connection owns io.github.popstream.Popstream1 */
bool NameHasOwner();

/**
 * @return user + system CPU time consumed so far by process @p pid, in clock ticks
 *         (/proc/PID/stat; 1 tick = 10 ms on Linux)
 */
unsigned long CpuTicks(pid_t pid);

/** One signal as received. */
struct ReceivedSignal {
	std::string path, interface, member;
	std::chrono::steady_clock::time_point when;
	MessagePtr message;
};

/**
 * A bus connection of its own that records the signals matching the rules given,
 * driven synchronously by WaitFor() and Pump().
 */
class SignalRecorder {
public:
	/** @throws std::system_error without a session bus */
	SignalRecorder();
	~SignalRecorder();
	SignalRecorder(const SignalRecorder &) = delete;
	SignalRecorder &operator=(const SignalRecorder &) = delete;

	/** Adds a match rule; the bus daemon has installed it when this returns. */
	void Match(const std::string &rule);

	/** Processes messages until @p done returns true or @p timeout passes.
	 * @return done() */
	bool WaitFor(const std::function<bool()> &done,
		     std::chrono::milliseconds timeout);

	/** Processes messages for @p duration. */
	void Pump(std::chrono::milliseconds duration);

	/** @return the signals named @p member received so far */
	std::vector<const ReceivedSignal *> Named(const std::string &member) const;

	/** @return this connection, for method calls */
	sd_bus *Bus() const noexcept { return bus_; }

	/** Everything received so far, in order. */
	std::vector<ReceivedSignal> received;

private:
	sd_bus *bus_ = nullptr;
	std::vector<sd_bus_slot *> slots_;
	static int OnSignal(sd_bus_message *m, void *userdata, sd_bus_error *) noexcept;
};

/**
 * Calls a method of the test interface io.github.popstream.Test on the test daemon.
 * @throws std::runtime_error with the D-Bus error message if the call fails
 */
void CallTest(sd_bus *bus, const char *method, const char *signature = "", ...);

/**
 * Calls @p method on @p path of the daemon.
 * @return the D-Bus error name, empty on success; @p message receives the error text
 */
std::string CallDaemon(sd_bus *bus, const std::string &path, const char *interface,
		       const char *method, std::string *message = nullptr);

/**
 * @return the value of the variant at the read position of @p m, rendered the way
 *         `busctl get-property` prints it ("u 1", "s \"x\"", "(tttt) 1 2 3 4");
 *         supports the types of the popstream API
 */
std::string ReadVariantText(sd_bus_message *m);

/** A PropertiesChanged signal, decoded. */
struct PropertiesChanged {
	std::string interface;
	/** Property name → ReadVariantText() of its value. */
	std::map<std::string, std::string> changed;
	std::vector<std::string> invalidated;
};

/** @return the arguments of a PropertiesChanged signal (read from the start) */
PropertiesChanged ParsePropertiesChanged(sd_bus_message *m);

/** An InterfacesAdded signal, decoded: object path, interface → property → value. */
struct InterfacesAdded {
	std::string path;
	std::map<std::string, std::map<std::string, std::string>> interfaces;
};

/** @return the arguments of an InterfacesAdded signal */
InterfacesAdded ParseInterfacesAdded(sd_bus_message *m);

/** @return the arguments of an InterfacesRemoved signal: path, interfaces */
std::pair<std::string, std::vector<std::string>>
ParseInterfacesRemoved(sd_bus_message *m);

} // namespace popstream::test
