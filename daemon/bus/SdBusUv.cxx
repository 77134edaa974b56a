#include "SdBusUv.hxx"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace popstream::bus {

namespace {

/**
 * sd_bus_process() calls per wake-up before the other handles of the loop get a turn.
 * A peer flooding us with messages must not starve the fetches; whatever is left is
 * picked up on the next iteration, because sd_bus_get_timeout() reports 0 while the
 * read queue is not empty.
 */
constexpr unsigned max_rounds_per_wakeup = 64;

std::uint64_t MonotonicNowUs() noexcept
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
	       static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

} // namespace

BusPtr OpenUserBus(const char *description)
{
	sd_bus *bus = nullptr;
	const int r = sd_bus_open_user_with_description(&bus, description);
	if (r < 0)
		throw std::system_error(-r, std::generic_category(),
					"cannot connect to the session bus");
	return BusPtr(bus);
}

std::optional<std::uint64_t> DelayUntil(std::uint64_t deadline_us,
					std::uint64_t now_us) noexcept
{
	if (deadline_us == UINT64_MAX)
		return std::nullopt;
	if (deadline_us <= now_us)
		return 0;
	// Rounded up: a timer that fires a little before the deadline finds nothing to
	// do in sd_bus_process() and has to be armed again for the remainder.
	return (deadline_us - now_us + 999u) / 1000u;
}

/**
 * The libuv side. It lives on the heap apart from SdBusUv because libuv owns the
 * handles until their close callbacks run, which is after ~SdBusUv() returns.
 */
struct SdBusUv::Handles {
	/** Null once the SdBusUv is gone; checked after every call that can run user
	 * code. */
	SdBusUv *owner;
	/**
	 * Our own duplicate of the bus fd. sd-bus closes its fd in the middle of
	 * sd_bus_process() when the connection drops; polling a duplicate means libuv
	 * never watches a closed (and possibly reused) fd number. Closed after the poll
	 * handle.
	 */
	int fd;
	uv_poll_t poll{};
	uv_timer_t timer{};
	uv_prepare_t prepare{};
	/** Handles whose close callback has not run yet. */
	unsigned open = 0;

	static void OnClose(uv_handle_t *handle) noexcept
	{
		auto *self = static_cast<Handles *>(handle->data);
		if (--self->open == 0)
			delete self;
	}
};

SdBusUv::SdBusUv(uv_loop_t &loop, sd_bus *bus,
		 std::function<void(int error)> on_disconnect)
    : bus_(sd_bus_ref(bus)), on_disconnect_(std::move(on_disconnect)), handles_(nullptr)
{
	const int bus_fd = sd_bus_get_fd(bus_);
	const int fd = bus_fd < 0 ? bus_fd : fcntl(bus_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		const int error = bus_fd < 0 ? -bus_fd : errno;
		sd_bus_unref(bus_);
		throw std::system_error(error, std::generic_category(),
					"cannot watch the bus connection");
	}

	handles_ = new Handles{this, fd};
	if (const int r = uv_poll_init(&loop, &handles_->poll, fd); r < 0) {
		close(fd);
		delete handles_;
		sd_bus_unref(bus_);
		throw std::system_error(-r, std::generic_category(),
					"cannot watch the bus connection");
	}
	uv_timer_init(&loop, &handles_->timer);
	uv_prepare_init(&loop, &handles_->prepare);
	handles_->poll.data = handles_->timer.data = handles_->prepare.data = handles_;
	handles_->open = 3;

	uv_prepare_start(&handles_->prepare, OnPrepare);
	// The prepare handle only re-arms; it must not keep the loop alive by itself.
	uv_unref(reinterpret_cast<uv_handle_t *>(&handles_->prepare));
	Arm();
}

SdBusUv::~SdBusUv()
{
	handles_->owner = nullptr;
	uv_close(reinterpret_cast<uv_handle_t *>(&handles_->poll), Handles::OnClose);
	uv_close(reinterpret_cast<uv_handle_t *>(&handles_->timer), Handles::OnClose);
	uv_close(reinterpret_cast<uv_handle_t *>(&handles_->prepare), Handles::OnClose);
	// uv_close() has removed the fd from epoll already, so closing it now cannot
	// confuse libuv even if the number is reused before the close callbacks run.
	close(handles_->fd);
	handles_->fd = -1;
	sd_bus_unref(bus_);
}

void SdBusUv::Process(Handles &handles) noexcept
{
	// `handles` outlives this call whatever the bus handlers do: it is only freed by
	// close callbacks, which run in a later phase of the loop.
	int r = 0;
	for (unsigned round = 0; round < max_rounds_per_wakeup; ++round) {
		r = sd_bus_process(handles.owner->bus_, nullptr);
		if (handles.owner == nullptr)
			return; // a handler destroyed us
		if (r <= 0)
			break;
	}
	SdBusUv &self = *handles.owner;
	if (r < 0) {
		// Once the connection is gone (after the synthesized Disconnected
		// signal has been dispatched) sd_bus_process() fails with ENOTCONN.
		self.Disconnected(handles, r);
		return;
	}
	if (!self.Arm())
		self.Disconnected(handles, -ENOTCONN);
}

bool SdBusUv::Arm() noexcept
{
	if (!connected_)
		return false;

	const int events = sd_bus_get_events(bus_);
	if (events < 0)
		return false; // closed locally with sd_bus_close()
	// 0 is legitimate: with messages already in the read queue sd-bus wants no
	// POLLIN, and the 0 timeout below gets them dispatched.
	int wanted = 0;
	if (events & POLLIN)
		wanted |= UV_READABLE;
	if (events & POLLOUT)
		wanted |= UV_WRITABLE;
	if (wanted != armed_events_) {
		if (wanted == 0)
			uv_poll_stop(&handles_->poll);
		else
			uv_poll_start(&handles_->poll, wanted, OnPoll);
		armed_events_ = wanted;
	}

	std::uint64_t deadline_us = UINT64_MAX;
	if (sd_bus_get_timeout(bus_, &deadline_us) < 0)
		deadline_us = UINT64_MAX;
	const bool active =
	    uv_is_active(reinterpret_cast<uv_handle_t *>(&handles_->timer));
	if (deadline_us == UINT64_MAX) {
		if (active)
			uv_timer_stop(&handles_->timer);
	} else if (deadline_us != armed_deadline_us_ || !active) {
		// The libuv timer is relative to the loop's clock; the sd-bus deadline is
		// absolute. A loop clock a few ms behind makes the timer fire early, in
		// which case it is simply armed again here for the rest.
		const auto delay = DelayUntil(deadline_us, MonotonicNowUs());
		uv_timer_start(&handles_->timer, OnTimer, *delay, 0);
	}
	armed_deadline_us_ = deadline_us;
	return true;
}

void SdBusUv::Disconnected(Handles &handles, int error) noexcept
{
	if (!connected_)
		return;
	connected_ = false;
	uv_poll_stop(&handles.poll);
	uv_timer_stop(&handles.timer);
	uv_prepare_stop(&handles.prepare);
	armed_events_ = -1;
	armed_deadline_us_ = UINT64_MAX;
	// The callback may destroy us, and with us the std::function it runs in.
	auto callback = std::move(on_disconnect_);
	if (callback)
		callback(error);
}

void SdBusUv::OnPoll(uv_poll_t *poll, int status, int) noexcept
{
	auto &handles = *static_cast<Handles *>(poll->data);
	if (handles.owner == nullptr)
		return;
	if (status < 0) {
		// epoll reported an error on the socket itself: the connection is
		// unusable, and polling it again would only repeat the error.
		handles.owner->Disconnected(handles, status);
		return;
	}
	Process(handles);
}

void SdBusUv::OnTimer(uv_timer_t *timer) noexcept
{
	auto &handles = *static_cast<Handles *>(timer->data);
	if (handles.owner != nullptr)
		Process(handles);
}

void SdBusUv::OnPrepare(uv_prepare_t *prepare) noexcept
{
	// Runs just before the loop blocks: catches messages queued since the last
	// round (signals emitted by the daemon, asynchronous calls), which may need
	// POLLOUT or a reply timeout.
	auto &handles = *static_cast<Handles *>(prepare->data);
	if (handles.owner != nullptr && !handles.owner->Arm())
		handles.owner->Disconnected(handles, -ENOTCONN);
}

} // namespace popstream::bus
