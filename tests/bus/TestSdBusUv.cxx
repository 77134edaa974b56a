// SdBusUv in-process: the absolute sd-bus timeout converted for a libuv timer, replies
// that arrive later, an idle loop that does not spin, and the end of the connection.
#include "BusHarness.hxx"
#include "bus/Api.hxx"
#include "bus/SdBusUv.hxx"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <uv.h>

#include <chrono>
#include <optional>
#include <string>

using namespace popstream;
using namespace popstream::test;
using Clock = std::chrono::steady_clock;

namespace {

/** A loop with a client connection driven by SdBusUv, and what happened to it. */
struct Client {
	uv_loop_t loop{};
	bus::BusPtr bus;
	std::unique_ptr<bus::SdBusUv> glue;
	/** Stops the loop if the test goes wrong; does not keep the loop alive. */
	uv_timer_t guard{};
	/** Counts loop iterations: a spinning loop iterates thousands of times. */
	uv_check_t check{};
	unsigned long iterations = 0;

	Clock::time_point started;
	std::optional<Clock::duration> replied_after;
	std::string reply_error;
	std::optional<int> disconnect_error;
	unsigned disconnects = 0;
	bool destroy_on_reply = true;

	Client()
	{
		uv_loop_init(&loop);
		bus = bus::OpenUserBus("test-client");
		glue = std::make_unique<bus::SdBusUv>(loop, bus.get(), [this](int error) {
			++disconnects;
			disconnect_error = error;
			glue.reset(); // from inside SdBusUv's own callback
		});
		uv_timer_init(&loop, &guard);
		uv_unref(reinterpret_cast<uv_handle_t *>(&guard));
		uv_check_init(&loop, &check);
		check.data = this;
		uv_check_start(&check, [](uv_check_t *c) {
			++static_cast<Client *>(c->data)->iterations;
		});
		uv_unref(reinterpret_cast<uv_handle_t *>(&check));
	}

	~Client()
	{
		glue.reset();
		uv_close(reinterpret_cast<uv_handle_t *>(&guard), nullptr);
		uv_close(reinterpret_cast<uv_handle_t *>(&check), nullptr);
		uv_run(&loop, UV_RUN_DEFAULT);
		bus.reset();
		CHECK(uv_loop_close(&loop) == 0);
	}

	/** Calls Test.Sleep(@p sleep_ms) with a method timeout of @p timeout_ms. */
	void CallSleep(std::uint64_t sleep_ms, std::uint64_t timeout_ms)
	{
		// CHECK, not REQUIRE: this may run inside a libuv callback, which an
		// exception must not cross.
		sd_bus_message *m = nullptr;
		int r = sd_bus_message_new_method_call(
		    bus.get(), &m, bus::bus_name, "/io/github/popstream/Test",
		    "io.github.popstream.Test", "Sleep");
		CHECK(r >= 0);
		if (r < 0)
			return;
		CHECK(sd_bus_message_append(m, "t", sleep_ms) >= 0);
		started = Clock::now();
		r = sd_bus_call_async(bus.get(), nullptr, m, OnReply, this,
				      timeout_ms * 1000);
		sd_bus_message_unref(m);
		CHECK(r >= 0);
	}

	/**
	 * CallSleep() from a timer @p delay_ms after the loop starts: outside any bus
	 * callback, on a connection with nothing else to do, so only SdBusUv's
	 * re-arming before the loop blocks can start the call's timeout.
	 */
	void CallSleepLater(std::uint64_t delay_ms, std::uint64_t sleep_ms,
			    std::uint64_t timeout_ms)
	{
		later_sleep_ms = sleep_ms;
		later_timeout_ms = timeout_ms;
		uv_timer_init(&loop, &later);
		later.data = this;
		uv_timer_start(
		    &later,
		    [](uv_timer_t *t) {
			    auto &self = *static_cast<Client *>(t->data);
			    self.CallSleep(self.later_sleep_ms, self.later_timeout_ms);
			    uv_close(reinterpret_cast<uv_handle_t *>(t), nullptr);
		    },
		    delay_ms, 0);
	}

	uv_timer_t later{};
	std::uint64_t later_sleep_ms = 0, later_timeout_ms = 0;

	static int OnReply(sd_bus_message *m, void *userdata, sd_bus_error *)
	{
		auto &self = *static_cast<Client *>(userdata);
		self.replied_after = Clock::now() - self.started;
		if (const sd_bus_error *e = sd_bus_message_get_error(m))
			self.reply_error = e->name;
		if (self.destroy_on_reply)
			// Inside sd_bus_process(): SdBusUv must cope with it.
			self.glue.reset();
		return 0;
	}

	/** Runs the loop until nothing keeps it alive, at most @p limit_ms. */
	void Run(std::uint64_t limit_ms)
	{
		guard.data = &loop;
		uv_timer_start(
		    &guard,
		    [](uv_timer_t *t) { uv_stop(static_cast<uv_loop_t *>(t->data)); },
		    limit_ms, 0);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_timer_stop(&guard);
	}
};

long Ms(Clock::duration d)
{
	return static_cast<long>(
	    std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

double CpuSeconds()
{
	rusage usage{};
	getrusage(RUSAGE_SELF, &usage);
	return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
	       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

} // namespace

TEST_CASE("sdbusuv.delay-until")
{
	// sd_bus_get_timeout(3): absolute CLOCK_MONOTONIC µs, UINT64_MAX = none.
	CHECK_FALSE(bus::DelayUntil(UINT64_MAX, 5).has_value());
	CHECK(bus::DelayUntil(0, 1'000'000) == 0u);       // "now" (queued messages)
	CHECK(bus::DelayUntil(999'999, 1'000'000) == 0u); // already passed
	CHECK(bus::DelayUntil(1'000'000, 1'000'000) == 0u);
	CHECK(bus::DelayUntil(1'000'001, 1'000'000) == 1u); // rounded up, never early
	CHECK(bus::DelayUntil(1'001'000, 1'000'000) == 1u);
	CHECK(bus::DelayUntil(1'001'001, 1'000'000) == 2u);
	// A deadline 25 s after an uptime of 3 days is 25 s away, not 3 days.
	const std::uint64_t uptime = 3ull * 24 * 3600 * 1'000'000;
	CHECK(bus::DelayUntil(uptime + 25'000'000, uptime) == 25'000u);
}

TEST_CASE("sdbusuv.delayed-reply")
{
	TempDir dir;
	TestDaemon daemon(dir, "work\n");
	Client client;
	client.CallSleep(300, 5000);
	client.Run(5000);
	REQUIRE(client.replied_after.has_value());
	CHECK(client.reply_error.empty());
	CHECK(Ms(*client.replied_after) >= 290);
	CHECK(Ms(*client.replied_after) < 2500);
	CHECK(client.disconnects == 0);
}

TEST_CASE("sdbusuv.call-timeout")
{
	// The reply would come after 5 s; the call gives up after 300 ms. Passing the
	// absolute deadline to uv_timer_start() as if it were relative would wait for
	// about the machine's uptime instead, and the guard would stop the loop first.
	TempDir dir;
	TestDaemon daemon(dir, "work\n");
	Client client;
	client.CallSleepLater(200, 5000, 300);
	client.Run(4000);
	REQUIRE(client.replied_after.has_value());
	CHECK(client.reply_error == "org.freedesktop.DBus.Error.NoReply");
	CHECK(Ms(*client.replied_after) >= 290);
	CHECK(Ms(*client.replied_after) < 2500);
}

TEST_CASE("sdbusuv.idle-does-not-spin")
{
	// While a call is outstanding, the loop has a poll and a timer armed; it must
	// sleep in epoll, not wake up over and over.
	TempDir dir;
	TestDaemon daemon(dir, "work\n");
	Client client;
	const double cpu_before = CpuSeconds();
	client.CallSleep(1200, 10'000);
	client.Run(5000);
	const double cpu = CpuSeconds() - cpu_before;
	REQUIRE(client.replied_after.has_value());
	CHECK(client.reply_error.empty());
	MESSAGE("loop iterations: " << client.iterations << ", CPU: " << cpu << " s");
	CHECK(client.iterations < 50);
	CHECK(cpu < 0.1);
}

TEST_CASE("sdbusuv.peer-disconnect")
{
	// The connection dies under a pending call: the call fails, then the owner hears
	// about it once, and the loop can end.
	TempDir dir;
	TestDaemon daemon(dir, "work\n");
	Client client;
	client.destroy_on_reply = false;
	client.CallSleep(5000, 10'000);
	uv_timer_t cut{};
	uv_timer_init(&client.loop, &cut);
	cut.data = client.bus.get();
	uv_timer_start(
	    &cut,
	    [](uv_timer_t *t) {
		    // As if the bus daemon went away: the socket reads EOF.
		    shutdown(sd_bus_get_fd(static_cast<sd_bus *>(t->data)), SHUT_RDWR);
	    },
	    200, 0);
	client.Run(4000);
	uv_close(reinterpret_cast<uv_handle_t *>(&cut), nullptr);
	REQUIRE(client.replied_after.has_value());
	CHECK_FALSE(client.reply_error.empty());
	CHECK(client.disconnects == 1);
	REQUIRE(client.disconnect_error.has_value());
	CHECK(*client.disconnect_error < 0);
	CHECK(client.glue == nullptr);
}

TEST_CASE("sdbusuv.local-close")
{
	// sd_bus_close() by the owner, outside any callback: noticed before the loop
	// blocks again.
	Client client;
	uv_timer_t close_timer{};
	uv_timer_init(&client.loop, &close_timer);
	close_timer.data = client.bus.get();
	uv_timer_start(
	    &close_timer,
	    [](uv_timer_t *t) { sd_bus_close(static_cast<sd_bus *>(t->data)); }, 100, 0);
	client.Run(3000);
	uv_close(reinterpret_cast<uv_handle_t *>(&close_timer), nullptr);
	CHECK(client.disconnects == 1);
	CHECK(client.glue == nullptr);
}
