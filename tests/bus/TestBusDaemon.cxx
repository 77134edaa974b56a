// popstream-test-busd: BusService over a fake Controller on a libuv loop, so tests can
// drive the real D-Bus API with busctl and `popstream status/fetch` without the
// scheduler, the network or a configuration file in the real format.
//
// Usage: popstream-test-busd ACCOUNTS_FILE
//
// ACCOUNTS_FILE has one account per line, "NAME [KEY=VALUE]...", read at start-up and
// again by Reload(). Keys: state=U, last_attempt=US, last_success=US|now,
// next_poll=US, messages=N, bytes=N, fetch_ms=MS (length of a simulated fetch,
// default 300), and, taking the rest of the line: error=TEXT (LastError), fail=TEXT
// (every fetch fails with TEXT). A line "!TEXT" is a configuration error: Reload()
// fails with TEXT and changes nothing. '#' starts a comment line.
//
// A simulated fetch goes connecting → fetching 0/3 → fetching 3/3 → idle (3 messages,
// 3000 bytes) or backoff (fail=), a third of fetch_ms apart, then FetchFinished.
//
// The test interface io.github.popstream.Test at /io/github/popstream/Test (outside
// the ObjectManager's tree) lets tests cause the other notifications:
//   ProgressBurst(s name, u count, u interval_ms)  count Progress updates
//   SetState(s name, u state, s last_error)          one AccountChanged()
//   Touch(s name)                                    AccountChanged() with no change
//   SetManagerState(u state)
//   Sleep(t ms)                                      replies after ms (async reply)
//   EmitMarker()                                     emits signal Marker()
//   Quit()
//
// Exit status: 0 after SIGTERM, Quit() or losing the bus; 75 if the name is owned
// already; 78 for a bad accounts file; 69 without a session bus.
#include "bus/BusService.hxx"
#include "bus/SdBusUv.hxx"
#include "config.h"
#include "service/Scheduler.hxx"

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using popstream::bus::AccountState;
using popstream::bus::AccountStatus;
using popstream::bus::BusService;

std::uint64_t NowUs()
{
	return static_cast<std::uint64_t>(
	    std::chrono::duration_cast<std::chrono::microseconds>(
		std::chrono::system_clock::now().time_since_epoch())
		.count());
}

/** One account of the accounts file. */
struct Spec {
	AccountStatus status;
	std::uint64_t fetch_ms = 300;
	std::string fail;
};

/** @return the accounts, or throws std::runtime_error with the "!" lines */
std::vector<Spec> ReadAccounts(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw std::runtime_error(path + ": cannot open");
	std::vector<Spec> specs;
	std::string errors, line;
	while (std::getline(in, line)) {
		if (line.empty() || line[0] == '#')
			continue;
		if (line[0] == '!') {
			errors += (errors.empty() ? "" : "\n") + line.substr(1);
			continue;
		}
		std::istringstream words(line);
		Spec spec;
		words >> spec.status.name;
		spec.status.state = AccountState::Idle;
		std::string word;
		while (words >> word) {
			const auto eq = word.find('=');
			const std::string key = word.substr(0, eq);
			std::string value =
			    eq == std::string::npos ? "" : word.substr(eq + 1);
			if (key == "error" || key == "fail") {
				std::string rest;
				std::getline(words, rest);
				value += rest;
				(key == "error" ? spec.status.last_error : spec.fail) =
				    value;
				break;
			}
			const std::uint64_t n =
			    value == "now" ? NowUs() : std::stoull(value);
			if (key == "state")
				spec.status.state = static_cast<AccountState>(n);
			else if (key == "last_attempt")
				spec.status.last_attempt_us = n;
			else if (key == "last_success")
				spec.status.last_success_us = n;
			else if (key == "next_poll")
				spec.status.next_poll_us = n;
			else if (key == "messages")
				spec.status.messages_fetched = n;
			else if (key == "bytes")
				spec.status.bytes_fetched = n;
			else if (key == "fetch_ms")
				spec.fetch_ms = n;
			else
				throw std::runtime_error(path + ": unknown key " + key);
		}
		specs.push_back(std::move(spec));
	}
	if (!errors.empty())
		throw std::runtime_error(errors);
	return specs;
}

/** Simulates the scheduler's side of the accounts. */
class FakeController final : public popstream::bus::Controller {
public:
	FakeController(uv_loop_t &loop, std::string path)
	    : loop_(loop), path_(std::move(path))
	{
		for (auto &spec : ReadAccounts(path_))
			accounts_.push_back(
			    std::make_unique<Account>(*this, std::move(spec)));
	}

	void SetBus(BusService *bus) noexcept { bus_ = bus; }

	std::vector<AccountStatus> Statuses() const override
	{
		std::vector<AccountStatus> v;
		for (const auto &a : accounts_)
			v.push_back(a->spec.status);
		return v;
	}

	bool FetchNow(const std::string &name) override
	{
		Account *a = Find(name);
		if (a == nullptr)
			return false;
		if (a->step == 0) // merged with the fetch under way otherwise
			a->Begin();
		return true;
	}

	void FetchAll() override
	{
		for (auto &a : accounts_)
			if (a->spec.status.state != AccountState::Disabled &&
			    a->step == 0)
				a->Begin();
	}

	std::string Reload() override
	{
		std::vector<Spec> specs;
		try {
			specs = ReadAccounts(path_);
		} catch (const std::exception &e) {
			return e.what();
		}
		bus_->SetManagerState(popstream::bus::ManagerState::Reloading);
		std::vector<std::unique_ptr<Account>> next;
		for (auto &spec : specs) {
			auto it = std::find_if(
			    accounts_.begin(), accounts_.end(), [&](const auto &a) {
				    return a && a->spec.status.name == spec.status.name;
			    });
			if (it != accounts_.end()) {
				// Kept: only its settings change.
				(*it)->spec.fetch_ms = spec.fetch_ms;
				(*it)->spec.fail = spec.fail;
				next.push_back(std::move(*it));
			} else {
				next.push_back(
				    std::make_unique<Account>(*this, std::move(spec)));
				bus_->AccountAdded(next.back()->spec.status);
			}
		}
		for (auto &a : accounts_)
			if (a)
				bus_->AccountRemoved(a->spec.status.name);
		accounts_ = std::move(next);
		bus_->SetManagerState(popstream::bus::ManagerState::Running);
		return {};
	}

	/** Stops every simulated fetch (shutdown). */
	void Clear() noexcept { accounts_.clear(); }

	/** Test interface helpers. */
	struct Account;
	Account *Find(const std::string &name) noexcept
	{
		for (auto &a : accounts_)
			if (a->spec.status.name == name)
				return a.get();
		return nullptr;
	}

	struct Account {
		FakeController &owner;
		Spec spec;
		/** 0 = no fetch; 1..3 = the next step of the simulated fetch. */
		unsigned step = 0;
		/** Updates left in a ProgressBurst(). */
		unsigned burst_left = 0, burst_count = 0, burst_interval_ms = 0;
		uv_timer_t *fetch_timer, *burst_timer;

		Account(FakeController &_owner, Spec _spec)
		    : owner(_owner), spec(std::move(_spec)), fetch_timer(new uv_timer_t),
		      burst_timer(new uv_timer_t)
		{
			uv_timer_init(&owner.loop_, fetch_timer);
			uv_timer_init(&owner.loop_, burst_timer);
			fetch_timer->data = burst_timer->data = this;
		}

		~Account()
		{
			const auto free = [](uv_handle_t *h) {
				delete reinterpret_cast<uv_timer_t *>(h);
			};
			uv_close(reinterpret_cast<uv_handle_t *>(fetch_timer), free);
			uv_close(reinterpret_cast<uv_handle_t *>(burst_timer), free);
		}

		void Changed(unsigned what)
		{
			owner.bus_->AccountChanged(spec.status, what);
		}

		void Begin()
		{
			using namespace popstream::service;
			step = 1;
			spec.status.state = AccountState::Connecting;
			spec.status.last_attempt_us = NowUs();
			Changed(ChangedState | ChangedLastAttempt);
			uv_timer_start(fetch_timer, OnStep, spec.fetch_ms / 3, 0);
		}

		static void OnStep(uv_timer_t *t)
		{
			using namespace popstream::service;
			auto &a = *static_cast<Account *>(t->data);
			auto &s = a.spec.status;
			switch (a.step++) {
			case 1:
				s.state = AccountState::Fetching;
				s.progress = {0, 3, 0, 3000};
				a.Changed(ChangedState | ChangedProgress);
				break;
			case 2:
				s.progress = {3, 3, 3000, 3000};
				a.Changed(ChangedProgress);
				break;
			default:
				a.step = 0;
				s.progress = {};
				if (a.spec.fail.empty()) {
					s.state = AccountState::Idle;
					s.last_success_us = NowUs();
					s.last_error.clear();
					s.messages_fetched += 3;
					s.bytes_fetched += 3000;
					s.next_poll_us = NowUs() + 300'000'000u;
				} else {
					s.state = AccountState::Backoff;
					s.last_error = a.spec.fail;
				}
				a.Changed(ChangedState | ChangedLastSuccess |
					  ChangedLastError | ChangedCounters |
					  ChangedNextPoll | ChangedProgress);
				if (a.spec.fail.empty())
					a.owner.bus_->FetchFinished(s.name, 3, 3000, "");
				else
					a.owner.bus_->FetchFinished(s.name, 0, 0,
								    a.spec.fail);
				return;
			}
			uv_timer_start(t, OnStep, a.spec.fetch_ms / 3, 0);
		}

		void Burst(unsigned count, unsigned interval_ms)
		{
			burst_left = burst_count = count;
			burst_interval_ms = interval_ms;
			spec.status.state = AccountState::Fetching;
			Changed(popstream::service::ChangedState);
			uv_timer_start(burst_timer, OnBurst, 0, 0);
		}

		static void OnBurst(uv_timer_t *t)
		{
			auto &a = *static_cast<Account *>(t->data);
			const std::uint64_t done = a.burst_count - a.burst_left + 1;
			a.spec.status.progress = {done, a.burst_count, done * 1000,
						  a.burst_count * 1000u};
			a.Changed(popstream::service::ChangedProgress);
			if (--a.burst_left > 0)
				uv_timer_start(t, OnBurst, a.burst_interval_ms, 0);
		}
	};

private:
	uv_loop_t &loop_;
	const std::string path_;
	BusService *bus_ = nullptr;
	std::vector<std::unique_ptr<Account>> accounts_;
};

/** Everything the daemon runs; torn down by Shutdown(). */
struct Daemon {
	uv_loop_t loop{};
	popstream::bus::BusPtr bus;
	std::unique_ptr<FakeController> controller;
	std::unique_ptr<BusService> service;
	std::unique_ptr<popstream::bus::SdBusUv> glue;
	sd_bus_slot *test_slot = nullptr;
	uv_signal_t sigterm{}, sigint{};
	bool down = false;

	void Shutdown() noexcept
	{
		if (down)
			return;
		down = true;
		if (service)
			service->SetManagerState(popstream::bus::ManagerState::Stopping);
		test_slot = sd_bus_slot_unref(test_slot);
		controller->Clear();
		service.reset();
		glue.reset();
		uv_close(reinterpret_cast<uv_handle_t *>(&sigterm), nullptr);
		uv_close(reinterpret_cast<uv_handle_t *>(&sigint), nullptr);
	}
};

Daemon *the_daemon;

FakeController::Account *FindOrFail(const char *name, sd_bus_error *error)
{
	auto *a = the_daemon->controller->Find(name);
	if (a == nullptr)
		sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "no account %s",
				  name);
	return a;
}

int OnProgressBurst(sd_bus_message *m, void *, sd_bus_error *error)
{
	const char *name = nullptr;
	std::uint32_t count = 0, interval = 0;
	int r = sd_bus_message_read(m, "suu", &name, &count, &interval);
	if (r < 0)
		return r;
	auto *a = FindOrFail(name, error);
	if (a == nullptr)
		return -EINVAL;
	a->Burst(count, interval);
	return sd_bus_reply_method_return(m, "");
}

int OnSetState(sd_bus_message *m, void *, sd_bus_error *error)
{
	const char *name = nullptr, *last_error = nullptr;
	std::uint32_t state = 0;
	int r = sd_bus_message_read(m, "sus", &name, &state, &last_error);
	if (r < 0)
		return r;
	auto *a = FindOrFail(name, error);
	if (a == nullptr)
		return -EINVAL;
	a->spec.status.state = static_cast<AccountState>(state);
	a->spec.status.last_error = last_error;
	a->Changed(popstream::service::ChangedState |
		   popstream::service::ChangedLastError);
	return sd_bus_reply_method_return(m, "");
}

int OnTouch(sd_bus_message *m, void *, sd_bus_error *error)
{
	const char *name = nullptr;
	int r = sd_bus_message_read(m, "s", &name);
	if (r < 0)
		return r;
	auto *a = FindOrFail(name, error);
	if (a == nullptr)
		return -EINVAL;
	a->Changed(~0u);
	return sd_bus_reply_method_return(m, "");
}

int OnSetManagerState(sd_bus_message *m, void *, sd_bus_error *)
{
	std::uint32_t state = 0;
	int r = sd_bus_message_read(m, "u", &state);
	if (r < 0)
		return r;
	the_daemon->service->SetManagerState(
	    static_cast<popstream::bus::ManagerState>(state));
	return sd_bus_reply_method_return(m, "");
}

int OnSleep(sd_bus_message *m, void *, sd_bus_error *)
{
	std::uint64_t ms = 0;
	int r = sd_bus_message_read(m, "t", &ms);
	if (r < 0)
		return r;
	// The reply is sent from a timer, outside sd_bus_process(): SdBusUv must notice
	// the queued message on its own.
	auto *timer = new uv_timer_t;
	uv_timer_init(&the_daemon->loop, timer);
	timer->data = sd_bus_message_ref(m);
	// A pending reply must not hold up the exit after SIGTERM.
	uv_unref(reinterpret_cast<uv_handle_t *>(timer));
	uv_timer_start(
	    timer,
	    [](uv_timer_t *t) {
		    auto *call = static_cast<sd_bus_message *>(t->data);
		    sd_bus_reply_method_return(call, "");
		    sd_bus_message_unref(call);
		    uv_close(reinterpret_cast<uv_handle_t *>(t), [](uv_handle_t *h) {
			    delete reinterpret_cast<uv_timer_t *>(h);
		    });
	    },
	    ms, 0);
	return 1;
}

int OnEmitMarker(sd_bus_message *m, void *, sd_bus_error *)
{
	sd_bus_emit_signal(sd_bus_message_get_bus(m), "/io/github/popstream/Test",
			   "io.github.popstream.Test", "Marker", "");
	return sd_bus_reply_method_return(m, "");
}

int OnQuit(sd_bus_message *m, void *, sd_bus_error *)
{
	sd_bus_reply_method_return(m, "");
	// Destroys the SdBusUv whose sd_bus_process() is running this handler.
	the_daemon->Shutdown();
	return 1;
}

const sd_bus_vtable test_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("ProgressBurst", "suu", "", OnProgressBurst, 0),
    SD_BUS_METHOD("SetState", "sus", "", OnSetState, 0),
    SD_BUS_METHOD("Touch", "s", "", OnTouch, 0),
    SD_BUS_METHOD("SetManagerState", "u", "", OnSetManagerState, 0),
    SD_BUS_METHOD("Sleep", "t", "", OnSleep, 0),
    SD_BUS_METHOD("EmitMarker", "", "", OnEmitMarker, 0),
    SD_BUS_METHOD("Quit", "", "", OnQuit, 0),
    SD_BUS_SIGNAL("Marker", "", 0),
    SD_BUS_VTABLE_END,
};

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: popstream-test-busd ACCOUNTS_FILE\n");
		return 64;
	}
	Daemon d;
	the_daemon = &d;
	uv_loop_init(&d.loop);

	try {
		d.controller = std::make_unique<FakeController>(d.loop, argv[1]);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "popstream-test-busd: %s\n", e.what());
		return 78;
	}
	try {
		d.bus = popstream::bus::OpenUserBus("popstream-test-busd");
	} catch (const std::exception &e) {
		std::fprintf(stderr, "popstream-test-busd: %s\n", e.what());
		return 69;
	}
	d.service =
	    std::make_unique<BusService>(d.loop, *d.controller, POPSTREAM_VERSION);
	d.controller->SetBus(d.service.get());
	d.glue =
	    std::make_unique<popstream::bus::SdBusUv>(d.loop, d.bus.get(), [&d](int) {
		    std::fprintf(stderr, "popstream-test-busd: lost the bus\n");
		    d.Shutdown();
	    });
	d.service->Start(d.bus.get());
	sd_bus_add_object_vtable(d.bus.get(), &d.test_slot, "/io/github/popstream/Test",
				 "io.github.popstream.Test", test_vtable, nullptr);

	int status = 0;
	try {
		d.service->RequestName();
		d.service->SetManagerState(popstream::bus::ManagerState::Running);
	} catch (const popstream::bus::NameTakenError &e) {
		std::fprintf(stderr, "popstream-test-busd: %s\n", e.what());
		status = 75;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "popstream-test-busd: %s\n", e.what());
		status = 69;
	}

	uv_signal_init(&d.loop, &d.sigterm);
	uv_signal_init(&d.loop, &d.sigint);
	const auto on_signal = [](uv_signal_t *, int) { the_daemon->Shutdown(); };
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	if (status != 0)
		d.Shutdown();

	uv_run(&d.loop, UV_RUN_DEFAULT);
	d.bus.reset();
	uv_loop_close(&d.loop);
	return status;
}
