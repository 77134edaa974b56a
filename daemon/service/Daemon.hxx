#pragma once

#include "Scheduler.hxx"
#include "bus/Controller.hxx"

#include <uv.h>

#include <memory>
#include <string>

namespace popstream::systemd {
class Logger;
class Watchdog;
} // namespace popstream::systemd

namespace popstream::bus {
class BusService;
class SdBusUv;
} // namespace popstream::bus

namespace popstream::service {

/**
 * popstreamd: loads the configuration, runs the Scheduler, exports it on the user bus
 * (io.github.popstream.Popstream1) and talks to systemd (sd_notify(3): READY=1 once the
 * config is loaded, the timers armed and the bus name owned; RELOADING=1 around a
 * reload; STOPPING=1 at shutdown; STATUS= lines; WATCHDOG=1). SIGHUP reloads, SIGTERM
 * stops gracefully within the stop deadline, a second SIGTERM aborts.
 */
class Daemon final : public SchedulerObserver, public bus::Controller {
public:
	/**
	 * @param config_path the YAML file (see popstream.yaml(5))
	 * @param stop_deadline_ms how long running fetches may take to finish after
	 *        SIGTERM before they are dropped without QUIT (below TimeoutStopSec)
	 * @param verbose fetches log every command sent (the password redacted) and
	 *        every message saved at debug priority, as `popstream dl -v` does
	 */
	Daemon(std::string config_path, systemd::Logger &logger,
	       std::uint64_t stop_deadline_ms, bool verbose = false);
	~Daemon() override;
	Daemon(const Daemon &) = delete;
	Daemon &operator=(const Daemon &) = delete;

	/**
	 * Runs until stopped.
	 * @return the exit status: 0, 78 (EX_CONFIG) for a bad config at start-up, 69
	 *         (EX_UNAVAILABLE) without a session bus or if another instance owns the
	 *         bus name
	 */
	int Run();

private:
	// bus::Controller
	std::vector<bus::AccountStatus> Statuses() const override;
	bool FetchNow(const std::string &name) override;
	void FetchAll() override;
	std::string Reload() override;

	// SchedulerObserver
	void OnAccountAdded(const bus::AccountStatus &status) noexcept override;
	void OnAccountRemoved(const std::string &name) noexcept override;
	void OnAccountChanged(const bus::AccountStatus &status,
			      unsigned what) noexcept override;
	void OnFetchFinished(const std::string &name, const std::string &server,
			     const fetch::FetchResult &result) noexcept override;
	void OnShutdownComplete() noexcept override;

	void OnSignal(int signum) noexcept;
	void BeginShutdown() noexcept;
	void UpdateStatus() noexcept;
	void CloseHandles() noexcept;

	std::string config_path_;
	systemd::Logger &logger_;
	std::uint64_t stop_deadline_ms_;
	bool verbose_;
	uv_loop_t loop_;
	std::unique_ptr<Scheduler> scheduler_;
	std::unique_ptr<bus::SdBusUv> bus_;
	std::unique_ptr<bus::BusService> bus_service_;
	std::unique_ptr<systemd::Watchdog> watchdog_;
	uv_signal_t sighup_, sigterm_, sigint_;
	bool signals_open_ = false;
	int term_signals_ = 0;
	bool stopping_ = false;
	std::string last_error_;
	std::size_t accounts_ = 0;
};

} // namespace popstream::service
