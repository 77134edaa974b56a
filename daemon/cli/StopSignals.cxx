#include "StopSignals.hxx"

#include <csignal>

namespace popstream::cli {

namespace {

uv_signal_t *Watch(uv_loop_t &loop, int signum, void *owner, uv_signal_cb callback)
{
	auto *handle = new uv_signal_t;
	uv_signal_init(&loop, handle);
	handle->data = owner;
	uv_signal_start(handle, callback, signum);
	// Signals alone must not keep the loop running once the fetches are done.
	uv_unref(reinterpret_cast<uv_handle_t *>(handle));
	return handle;
}

void Close(uv_signal_t *handle) noexcept
{
	// Closing stops the handle at once, so no callback comes after the destructor.
	uv_close(reinterpret_cast<uv_handle_t *>(handle),
		 [](uv_handle_t *h) { delete reinterpret_cast<uv_signal_t *>(h); });
}

} // namespace

StopSignals::StopSignals(uv_loop_t &loop, Handler on_signal)
    : on_signal_(std::move(on_signal))
{
	const auto callback = [](uv_signal_t *handle, int signum) {
		static_cast<StopSignals *>(handle->data)->on_signal_(signum);
	};
	sigint_ = Watch(loop, SIGINT, this, callback);
	sigterm_ = Watch(loop, SIGTERM, this, callback);
}

StopSignals::~StopSignals() noexcept
{
	Close(sigint_);
	Close(sigterm_);
}

} // namespace popstream::cli
