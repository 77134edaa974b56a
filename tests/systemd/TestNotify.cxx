// sd_notify(3) datagrams from systemd/Notify, caught on a fake $NOTIFY_SOCKET: an
// AF_UNIX datagram socket in a temporary directory, standing in for the service manager.

#include "TempDir.hxx"
#include "systemd/Notify.hxx"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace popstream::systemd {
namespace {

/** Binds a datagram socket, points $NOTIFY_SOCKET at it, and restores the environment
 * (no $NOTIFY_SOCKET, no watchdog) when destroyed. */
class FakeNotifySocket {
	test::TempDir dir_;
	int fd_ = -1;

public:
	FakeNotifySocket()
	{
		const std::string path = dir_ / "notify";
		fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd_ < 0)
			throw std::system_error(errno, std::generic_category(), "socket");
		sockaddr_un address{};
		address.sun_family = AF_UNIX;
		REQUIRE(path.size() < sizeof(address.sun_path));
		path.copy(address.sun_path, path.size());
		if (bind(fd_, reinterpret_cast<const sockaddr *>(&address),
			 sizeof(address)) != 0)
			throw std::system_error(errno, std::generic_category(),
						"bind " + path);
		setenv("NOTIFY_SOCKET", path.c_str(), 1);
	}

	~FakeNotifySocket()
	{
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		unsetenv("WATCHDOG_PID");
		close(fd_);
	}

	FakeNotifySocket(const FakeNotifySocket &) = delete;
	FakeNotifySocket &operator=(const FakeNotifySocket &) = delete;

	/** @return the next datagram, or nothing if none arrives within @p timeout_ms */
	std::optional<std::string> Receive(int timeout_ms = 2000)
	{
		pollfd pfd{fd_, POLLIN, 0};
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return std::nullopt;
		char buffer[8192];
		const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
		if (n < 0)
			throw std::system_error(errno, std::generic_category(), "recv");
		return std::string(buffer, static_cast<std::size_t>(n));
	}

	/** @return every datagram already queued */
	std::vector<std::string> Drain()
	{
		std::vector<std::string> datagrams;
		while (auto datagram = Receive(0))
			datagrams.push_back(std::move(*datagram));
		return datagrams;
	}
};

/** Runs @p loop for about @p ms milliseconds (a referenced timer keeps it alive). */
void RunFor(uv_loop_t &loop, std::uint64_t ms)
{
	uv_timer_t stop;
	uv_timer_init(&loop, &stop);
	uv_timer_start(
	    &stop, [](uv_timer_t *timer) { uv_stop(timer->loop); }, ms, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close(reinterpret_cast<uv_handle_t *>(&stop), nullptr);
	uv_run(&loop, UV_RUN_DEFAULT);
}

/** A libuv loop closed (with its handles' close callbacks run) when destroyed. */
struct Loop {
	uv_loop_t loop;
	Loop() { uv_loop_init(&loop); }
	~Loop()
	{
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
	}
	Loop(const Loop &) = delete;
	Loop &operator=(const Loop &) = delete;
};

std::uint64_t CountPings(const std::vector<std::string> &datagrams)
{
	std::uint64_t pings = 0;
	for (const auto &datagram : datagrams) {
		CHECK(datagram == "WATCHDOG=1");
		pings += datagram == "WATCHDOG=1";
	}
	return pings;
}

} // namespace

TEST_SUITE("notify")
{
	TEST_CASE("each state change is exactly one datagram with exactly that text")
	{
		FakeNotifySocket manager;
		CHECK(Ready() > 0);
		CHECK(manager.Receive() == "READY=1");
		CHECK(Status("3 accounts, next poll 12:05, last error: none") > 0);
		CHECK(manager.Receive() ==
		      "STATUS=3 accounts, next poll 12:05, last error: none");
		// systemd 252 (Type=notify): no MONOTONIC_USEC=, see Reloading().
		CHECK(Reloading() > 0);
		CHECK(manager.Receive() == "RELOADING=1");
		CHECK(Ready() > 0);
		CHECK(manager.Receive() == "READY=1");
		CHECK(Stopping() > 0);
		CHECK(manager.Receive() == "STOPPING=1");
		CHECK(Notify("STATUS=config error\nERRNO=22") > 0);
		CHECK(manager.Receive() == "STATUS=config error\nERRNO=22");
		CHECK(manager.Drain().empty());
	}

	TEST_CASE("a status cannot smuggle in another assignment")
	{
		FakeNotifySocket manager;
		Status("oops\nREADY=1\r\nSTOPPING=1");
		CHECK(manager.Receive() == "STATUS=oops READY=1  STOPPING=1");
		CHECK(manager.Drain().empty());
	}

	TEST_CASE("without $NOTIFY_SOCKET nothing is sent and nothing fails")
	{
		unsetenv("NOTIFY_SOCKET");
		CHECK(Ready() == 0);
		CHECK(Status("x") == 0);
		CHECK(Reloading() == 0);
		CHECK(Stopping() == 0);
	}

	TEST_CASE("StatusLine keeps one line and a bounded, valid UTF-8 length")
	{
		CHECK(StatusLine("plain") == "plain");
		CHECK(StatusLine("a\tb\x1b[31mc\x7f") == "a b [31mc ");

		const std::string long_ascii = StatusLine(std::string(2000, 'a'));
		CHECK(long_ascii.size() == max_status_bytes);
		CHECK(long_ascii.ends_with("..."));

		// "é" is two bytes: the cut must not fall between them.
		std::string accents;
		for (int i = 0; i < 1000; ++i)
			accents += "\xc3\xa9";
		const std::string cut = StatusLine(accents);
		CHECK(cut.size() <= max_status_bytes);
		REQUIRE(cut.ends_with("..."));
		const std::string body = cut.substr(0, cut.size() - 3);
		CHECK(body.size() % 2 == 0);
		CHECK(body == accents.substr(0, body.size()));
	}

	TEST_CASE("FormatStatus")
	{
		setenv("TZ", "UTC", 1);
		tzset();
		// 2026-11-29 12:05:00 UTC, and 11:00 the same day.
		const std::uint64_t at_1205 = 1795953900ull * 1'000'000;
		const std::uint64_t at_1100 = at_1205 - 65ull * 60 * 1'000'000;
		CHECK(FormatStatus(3, at_1205, "", at_1100) ==
		      "3 accounts, next poll 12:05, last error: none");
		CHECK(FormatStatus(1, at_1205, "work: connection refused", at_1100) ==
		      "1 account, next poll 12:05, last error: work: connection refused");
		CHECK(FormatStatus(0, 0, "", at_1100) ==
		      "0 accounts, no poll scheduled, last error: none");
		const std::uint64_t two_days_before = at_1205 - 48ull * 3600 * 1'000'000;
		CHECK(FormatStatus(2, at_1205, "", two_days_before) ==
		      "2 accounts, next poll 2026-11-29 12:05, last error: none");
		CHECK(FormatStatus(2, at_1205, "a\nb", at_1100) ==
		      "2 accounts, next poll 12:05, last error: a b");
		unsetenv("TZ");
		tzset();
	}

	TEST_CASE("the watchdog pings at about half of WATCHDOG_USEC from the loop")
	{
		FakeNotifySocket manager;
		// 200 ms: a ping every 100 ms, so about 10 in one second. The bounds are
		// wide because the test machine may be busy; what matters is that pings
		// repeat, and not much faster than asked.
		setenv("WATCHDOG_USEC", "200000", 1);
		setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
		Loop loop;
		{
			Watchdog watchdog(loop.loop);
			CHECK(watchdog.Enabled());
			CHECK(watchdog.Period() == std::chrono::milliseconds(100));
			RunFor(loop.loop, 1000);
		}
		const auto pings = CountPings(manager.Drain());
		CHECK(pings >= 3);
		CHECK(pings <= 15);
	}

	TEST_CASE("the watchdog timer does not keep the loop running")
	{
		FakeNotifySocket manager;
		setenv("WATCHDOG_USEC", "200000", 1);
		setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
		Loop loop;
		Watchdog watchdog(loop.loop);
		REQUIRE(watchdog.Enabled());
		const auto start = uv_hrtime();
		uv_run(&loop.loop, UV_RUN_DEFAULT);
		// Returns at once: the only active handle is the unreferenced timer.
		CHECK(uv_hrtime() - start < 1'000'000'000ull);
	}

	TEST_CASE("no WATCHDOG_USEC, or a WATCHDOG_PID of another process: no pings")
	{
		FakeNotifySocket manager;
		Loop loop;
		SUBCASE("unset")
		{
			unsetenv("WATCHDOG_USEC");
			unsetenv("WATCHDOG_PID");
		}
		SUBCASE("another process's")
		{
			setenv("WATCHDOG_USEC", "200000", 1);
			setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
		}
		SUBCASE("malformed")
		{
			setenv("WATCHDOG_USEC", "soon", 1);
			unsetenv("WATCHDOG_PID");
		}
		{
			Watchdog watchdog(loop.loop);
			CHECK_FALSE(watchdog.Enabled());
			CHECK(watchdog.Period() == std::chrono::milliseconds(0));
			RunFor(loop.loop, 300);
		}
		CHECK(manager.Drain().empty());
	}

	TEST_CASE("an unhealthy daemon stops pinging, and resumes when healthy")
	{
		FakeNotifySocket manager;
		setenv("WATCHDOG_USEC", "100000", 1);
		setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
		bool healthy = false;
		unsigned checks = 0;
		Loop loop;
		{
			Watchdog watchdog(loop.loop, [&] {
				++checks;
				return healthy;
			});
			RunFor(loop.loop, 500);
			CHECK(checks >= 2);
			CHECK(manager.Drain().empty());
			healthy = true;
			RunFor(loop.loop, 500);
		}
		const auto pings = CountPings(manager.Drain());
		CHECK(pings >= 2);
		CHECK(pings <= 15);
	}
}

} // namespace popstream::systemd
