#include "Daemon.hxx"

#include "bus/BusService.hxx"
#include "bus/SdBusUv.hxx"
#include "config.h"
#include "config/LoadConfig.hxx"
#include "core/util/ExitCode.hxx"
#include "posix/Clock.hxx"
#include "systemd/Log.hxx"
#include "systemd/Notify.hxx"

#include <csignal>

namespace popstream::service {

Daemon::Daemon(std::string config_path, systemd::Logger &logger,
	       std::uint64_t stop_deadline_ms, bool verbose)
    : config_path_(std::move(config_path)), logger_(logger),
      stop_deadline_ms_(stop_deadline_ms), verbose_(verbose)
{
	uv_loop_init(&loop_);
}

Daemon::~Daemon()
{
	CloseHandles();
	// Let libuv finish every close callback (timers, polls, connections).
	while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
	}
	uv_loop_close(&loop_);
}

void Daemon::CloseHandles() noexcept
{
	watchdog_.reset();
	bus_service_.reset();
	bus_.reset();
	scheduler_.reset();
	if (signals_open_) {
		signals_open_ = false;
		for (auto *s : {&sighup_, &sigterm_, &sigint_})
			uv_close(reinterpret_cast<uv_handle_t *>(s), nullptr);
	}
}

int Daemon::Run()
{
	config::Config config;
	try {
		config = config::LoadConfig(config_path_);
	} catch (const config::ConfigError &e) {
		for (const auto &line : e.Messages())
			logger_.Log(systemd::Priority::Error, line);
		systemd::Notify("ERRNO=22");
		return ToInt(ExitCode::Config);
	}

	scheduler_ = std::make_unique<Scheduler>(
	    loop_, *this,
	    [this](const std::string &account, const std::string &server,
		   fetch::LogLevel level, const std::string &text) {
		    logger_.Log(systemd::ToPriority(level), server + ": " + text,
				{account, server, {}, {}});
	    },
	    verbose_);

	try {
		auto connection = bus::OpenUserBus("popstreamd");
		bus_ =
		    std::make_unique<bus::SdBusUv>(loop_, connection.get(), [this](int) {
			    logger_.Log(
				systemd::Priority::Error,
				"lost the connection to the session bus; stopping");
			    BeginShutdown();
		    });
		bus_service_ =
		    std::make_unique<bus::BusService>(loop_, *this, POPSTREAM_VERSION);
		bus_service_->Start(connection.get());
	} catch (const std::exception &e) {
		logger_.Log(systemd::Priority::Error,
			    std::string("cannot use the session bus: ") + e.what());
		return ToInt(ExitCode::Unavailable);
	}

	// Timers are armed here; the first polls come after a short jitter.
	scheduler_->Apply(config);
	accounts_ = config.accounts.size();

	try {
		bus_service_->RequestName();
	} catch (const bus::NameTakenError &e) {
		logger_.Log(systemd::Priority::Error, e.what());
		return ToInt(ExitCode::Unavailable);
	} catch (const std::exception &e) {
		logger_.Log(systemd::Priority::Error,
			    std::string("cannot own the bus name: ") + e.what());
		return ToInt(ExitCode::Unavailable);
	}

	for (auto [handle, signum] :
	     {std::pair{&sighup_, SIGHUP}, std::pair{&sigterm_, SIGTERM},
	      std::pair{&sigint_, SIGINT}}) {
		uv_signal_init(&loop_, handle);
		handle->data = this;
		uv_signal_start(
		    handle,
		    [](uv_signal_t *h, int sig) {
			    static_cast<Daemon *>(h->data)->OnSignal(sig);
		    },
		    signum);
	}
	signals_open_ = true;

	watchdog_ = std::make_unique<systemd::Watchdog>(loop_);
	bus_service_->SetManagerState(bus::ManagerState::Running);
	logger_.Log(systemd::Priority::Notice, "started with " +
						   std::to_string(accounts_) +
						   " account(s) from " + config.path);
	systemd::Ready();
	UpdateStatus();

	uv_run(&loop_, UV_RUN_DEFAULT);
	return ToInt(ExitCode::Ok);
}

void Daemon::OnSignal(int signum) noexcept
{
	if (signum == SIGHUP) {
		// Manager.Reload() reports its own; a SIGHUP has nobody to answer.
		const auto problems = Reload();
		if (bus_service_)
			bus_service_->ReloadFinished(problems, posix::NowUs());
		return;
	}
	if (++term_signals_ == 1) {
		logger_.Log(systemd::Priority::Notice,
			    std::string(signum == SIGINT ? "interrupted" : "terminated") +
				": finishing the fetches under way (again to abort)");
		BeginShutdown();
	} else if (scheduler_) {
		logger_.Log(systemd::Priority::Warning,
			    "aborting the fetches under way without QUIT; nothing they "
			    "marked is deleted");
		scheduler_->Abort();
	}
}

void Daemon::BeginShutdown() noexcept
{
	if (stopping_)
		return;
	stopping_ = true;
	systemd::Stopping();
	if (bus_service_)
		bus_service_->SetManagerState(bus::ManagerState::Stopping);
	if (scheduler_)
		scheduler_->Shutdown(stop_deadline_ms_);
	else
		OnShutdownComplete();
}

void Daemon::OnShutdownComplete() noexcept
{
	logger_.Log(systemd::Priority::Notice, "stopped");
	// Called from deep inside the scheduler: tear down once the stack has unwound.
	auto *idle = new uv_idle_t;
	uv_idle_init(&loop_, idle);
	idle->data = this;
	uv_idle_start(idle, [](uv_idle_t *handle) {
		static_cast<Daemon *>(handle->data)->CloseHandles();
		uv_idle_stop(handle);
		uv_close(reinterpret_cast<uv_handle_t *>(handle),
			 [](uv_handle_t *h) { delete reinterpret_cast<uv_idle_t *>(h); });
	});
}

std::vector<bus::AccountStatus> Daemon::Statuses() const
{
	return scheduler_ ? scheduler_->Statuses() : std::vector<bus::AccountStatus>{};
}

bool Daemon::FetchNow(const std::string &name)
{
	return scheduler_ && scheduler_->FetchNow(name);
}

void Daemon::FetchAll()
{
	if (scheduler_)
		scheduler_->FetchAll();
}

std::string Daemon::Reload()
{
	if (stopping_ || !scheduler_)
		return "popstreamd is stopping";
	systemd::Reloading();
	if (bus_service_)
		bus_service_->SetManagerState(bus::ManagerState::Reloading);
	std::string error;
	try {
		const auto config = config::LoadConfig(config_path_);
		scheduler_->Apply(config);
		accounts_ = config.accounts.size();
		logger_.Log(systemd::Priority::Notice, "reloaded " + config.path + ": " +
							   std::to_string(accounts_) +
							   " account(s)");
	} catch (const config::ConfigError &e) {
		for (const auto &line : e.Messages())
			logger_.Log(systemd::Priority::Error, line);
		logger_.Log(systemd::Priority::Error,
			    "reload failed; still running the previous configuration");
		error = e.what();
	}
	if (bus_service_)
		bus_service_->SetManagerState(bus::ManagerState::Running);
	systemd::Ready();
	UpdateStatus();
	return error;
}

void Daemon::OnAccountAdded(const bus::AccountStatus &status) noexcept
{
	if (bus_service_)
		bus_service_->AccountAdded(status);
}

void Daemon::OnAccountRemoved(const std::string &name) noexcept
{
	if (bus_service_)
		bus_service_->AccountRemoved(name);
}

void Daemon::OnAccountChanged(const bus::AccountStatus &status, unsigned what) noexcept
{
	if (bus_service_)
		bus_service_->AccountChanged(status, what);
}

void Daemon::OnFetchFinished(const std::string &name, const std::string &server,
			     const fetch::FetchResult &result) noexcept
{
	systemd::FetchSummary summary;
	summary.account = name;
	summary.server = server;
	summary.messages = result.saved;
	summary.bytes = result.saved_bytes;
	summary.seconds = result.seconds;
	summary.errors = result.not_retrieved + result.not_saved +
			 (result.code == ExitCode::Ok ? 0 : 1);
	summary.error = result.error;
	logger_.LogFetch(summary);
	if (result.code != ExitCode::Ok)
		last_error_ = name + ": " + result.error;
	if (bus_service_)
		bus_service_->FetchFinished(name, result.saved, result.saved_listed,
					    result.code == ExitCode::Ok ? std::string()
									: result.error);
	UpdateStatus();
}

void Daemon::UpdateStatus() noexcept
{
	if (!scheduler_)
		return;
	systemd::Status(systemd::FormatStatus(accounts_, scheduler_->NextPoll(),
					      last_error_, posix::NowUs()));
}

} // namespace popstream::service
