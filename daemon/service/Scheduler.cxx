#include "Scheduler.hxx"

#include "RetryPolicy.hxx"
#include "auth/GsaslProvider.hxx"
#include "fetch/AccountFetch.hxx"
#include "fetch/NewMailHook.hxx"
#include "posix/Clock.hxx"

#include <algorithm>
#include <chrono>
#include <random>

namespace popstream::service {

namespace {

using std::chrono::milliseconds;

/** Start-up polls are spread over up to this long so accounts don't align. */
constexpr milliseconds startup_jitter{2'000};
/** Progress goes out at most this often (the bus property is throttled to ~1 Hz). */
constexpr std::uint64_t progress_interval_ms = 1000;

std::uint64_t Jitter(milliseconds max)
{
	static std::mt19937_64 random{std::random_device{}()};
	if (max.count() <= 0)
		return 0;
	return std::uniform_int_distribution<std::uint64_t>(
	    0, static_cast<std::uint64_t>(max.count()))(random);
}

} // namespace

namespace {

/** Copies what the bus shows of @p account's settings into @p status. */
void DescribeSettings(const config::Account &account, bus::AccountStatus &status)
{
	if (status.server.empty() || status.server.find('@') == std::string::npos)
		status.server =
		    !account.server.empty()
			? account.server
			: (account.user.empty() ? "" : account.user + "@") +
			      account.host +
			      (account.port != 0 ? ":" + std::to_string(account.port)
						 : "");
	if (!account.mda.empty()) {
		status.delivery_kind = "mda";
		status.delivery.clear();
		for (const auto &arg : account.mda)
			status.delivery += (status.delivery.empty() ? "" : " ") + arg;
	} else if (!account.mbox.empty()) {
		status.delivery_kind = "mbox";
		status.delivery = account.mbox;
	} else {
		status.delivery_kind = "maildir";
		status.delivery = account.maildir;
	}
	status.enabled = account.enabled;
	status.interval_us = static_cast<std::uint64_t>(account.interval.count()) * 1000;
}

} // namespace

/** One account: its config, its status, its timer and its running fetch. */
struct Scheduler::Slot {
	Scheduler &owner;
	config::Account account;
	bus::AccountStatus status;
	/** Heap-allocated: libuv may still hold it after the slot is gone. */
	uv_timer_t *timer = nullptr;
	std::unique_ptr<fetch::FetchJob> job;
	/** The account is being resolved on the thread pool (it reads netrc). */
	bool resolving = false;
	/** Waiting for a free concurrency slot. */
	bool queued = false;
	/** Removed from the config; dropped when its fetch ends. */
	bool retired = false;
	milliseconds backoff{0};
	/** The server's LOGIN-DELAY (RFC 2449 §6.8): no login before this (µs since the
	 * epoch). */
	std::uint64_t not_before_us = 0;
	std::uint64_t last_progress_ms = 0;
	/** user@host:port of the current or last fetch. */
	std::string server;
	/** Its access tokens and TLS session, kept in memory between polls. A reload
	 * that changes `oauth:` or a TLS setting makes the next poll start afresh. */
	fetch::AccountKeep keep;

	Slot(Scheduler &_owner, config::Account _account)
	    : owner(_owner), account(std::move(_account))
	{
		status.name = account.name;
		DescribeSettings(account, status);
		timer = new uv_timer_t;
		uv_timer_init(&owner.loop_, timer);
		timer->data = this;
	}

	~Slot()
	{
		uv_timer_stop(timer);
		uv_close(reinterpret_cast<uv_handle_t *>(timer), [](uv_handle_t *h) {
			delete reinterpret_cast<uv_timer_t *>(h);
		});
	}

	Slot(const Slot &) = delete;
	Slot &operator=(const Slot &) = delete;

	bool Busy() const noexcept { return job != nullptr || resolving; }
};

Scheduler::Scheduler(uv_loop_t &loop, SchedulerObserver &observer, FetchLog fetch_log,
		     bool verbose)
    : loop_(loop), observer_(observer), fetch_log_(std::move(fetch_log)),
      verbose_(verbose), auth_provider_(auth::MakeAuthProvider())
{
}

Scheduler::~Scheduler() = default;

void Scheduler::Apply(const config::Config &config)
{
	max_concurrent_ = std::max(1u, config.max_concurrent);
	std::vector<std::unique_ptr<Slot>> next;
	for (const auto &account : config.accounts) {
		auto it =
		    std::find_if(slots_.begin(), slots_.end(), [&](const auto &slot) {
			    return slot && slot->account.name == account.name;
		    });
		if (it != slots_.end()) {
			// A running fetch keeps the settings it started with (they were
			// copied into its FetchJob); the next one uses these.
			auto slot = std::move(*it);
			const auto &was = slot->account;
			const bool server_changed =
			    was.server != account.server || was.host != account.host ||
			    was.port != account.port || was.user != account.user;
			const bool interval_changed =
			    slot->account.interval != account.interval;
			const bool enabled_changed =
			    slot->account.enabled != account.enabled;
			slot->account = account;
			{
				const auto before = slot->status;
				// A new server is described afresh, not by the last
				// fetch.
				if (server_changed)
					slot->status.server.clear();
				DescribeSettings(account, slot->status);
				Notify(*slot, before);
			}
			const auto state = slot->status.state;
			// A reload is the user's way of saying "I fixed it".
			if (state == bus::AccountState::AuthNeeded ||
			    state == bus::AccountState::Error)
				slot->backoff = milliseconds{0};
			if (enabled_changed || state == bus::AccountState::AuthNeeded ||
			    state == bus::AccountState::Error ||
			    state == bus::AccountState::Disabled)
				Reschedule(*slot, milliseconds(Jitter(startup_jitter)));
			else if (interval_changed && state == bus::AccountState::Idle &&
				 !slot->Busy())
				// From the last attempt: a new interval is no reason to
				// poll now. A backoff keeps its own delay.
				Reschedule(*slot,
					   DelayAfterReload(slot->status.last_attempt_us,
							    account.interval,
							    posix::NowUs()) +
					       milliseconds(Jitter(startup_jitter)));
			next.push_back(std::move(slot));
			continue;
		}
		auto slot = std::make_unique<Slot>(*this, account);
		Slot &ref = *slot;
		next.push_back(std::move(slot));
		Reschedule(ref, milliseconds(Jitter(startup_jitter)), false);
		observer_.OnAccountAdded(ref.status);
	}
	for (auto &slot : slots_) {
		if (!slot)
			continue;
		observer_.OnAccountRemoved(slot->account.name);
		if (slot->Busy()) {
			slot->retired = true;
			uv_timer_stop(slot->timer);
			queue_.erase(
			    std::remove(queue_.begin(), queue_.end(), slot.get()),
			    queue_.end());
			retired_.push_back(std::move(slot));
		} else {
			queue_.erase(
			    std::remove(queue_.begin(), queue_.end(), slot.get()),
			    queue_.end());
		}
	}
	slots_ = std::move(next);
	StartQueued();
}

void Scheduler::Reschedule(Slot &slot, milliseconds delay, bool notify)
{
	uv_timer_stop(slot.timer);
	const auto previous = slot.status;
	if (!slot.account.enabled) {
		slot.status.state = bus::AccountState::Disabled;
		slot.status.next_poll_us = 0;
	} else if (slot.status.state == bus::AccountState::AuthNeeded &&
		   delay.count() < 0) {
		slot.status.next_poll_us = 0;
	} else {
		const std::uint64_t now_us = posix::NowUs();
		std::uint64_t due_us =
		    now_us +
		    static_cast<std::uint64_t>(std::max<long long>(0, delay.count())) *
			1000;
		due_us = std::max(due_us, slot.not_before_us);
		slot.status.next_poll_us = due_us;
		if (slot.status.state == bus::AccountState::Unknown ||
		    slot.status.state == bus::AccountState::Disabled ||
		    slot.status.state == bus::AccountState::AuthNeeded ||
		    slot.status.state == bus::AccountState::Error)
			slot.status.state = bus::AccountState::Idle;
		uv_timer_start(
		    slot.timer,
		    [](uv_timer_t *timer) {
			    auto &s = *static_cast<Slot *>(timer->data);
			    s.owner.Request(s);
		    },
		    (due_us - now_us) / 1000, 0);
	}
	if (notify)
		Notify(slot, previous);
}

void Scheduler::Notify(Slot &slot, const bus::AccountStatus &previous)
{
	if (slot.retired)
		return;
	const auto &s = slot.status;
	unsigned what = 0;
	if (s.state != previous.state)
		what |= ChangedState;
	if (s.last_attempt_us != previous.last_attempt_us)
		what |= ChangedLastAttempt;
	if (s.last_success_us != previous.last_success_us)
		what |= ChangedLastSuccess;
	if (s.next_poll_us != previous.next_poll_us)
		what |= ChangedNextPoll;
	if (s.last_error != previous.last_error)
		what |= ChangedLastError;
	if (s.messages_fetched != previous.messages_fetched ||
	    s.bytes_fetched != previous.bytes_fetched)
		what |= ChangedCounters;
	if (!(s.progress == previous.progress))
		what |= ChangedProgress;
	if (s.server != previous.server || s.delivery != previous.delivery ||
	    s.delivery_kind != previous.delivery_kind || s.enabled != previous.enabled ||
	    s.interval_us != previous.interval_us ||
	    s.last_error_class != previous.last_error_class)
		what |= ChangedSettings;
	if (what != 0)
		observer_.OnAccountChanged(s, what);
}

void Scheduler::Request(Slot &slot, bool asked)
{
	if (shutting_down_ || slot.retired || !slot.account.enabled)
		return;
	if (slot.Busy() || slot.queued)
		return; // merged with the fetch already under way or queued
	if (Running() < max_concurrent_) {
		Start(slot);
		return;
	}
	slot.queued = true;
	// Someone waits for a FetchNow: it goes before the polls that are merely due.
	if (asked)
		queue_.push_front(&slot);
	else
		queue_.push_back(&slot);
	// Visible: a due account or a FetchNow waiting for a slot is not idle.
	const auto previous = slot.status;
	slot.status.state = bus::AccountState::Queued;
	slot.status.next_poll_us = 0;
	Notify(slot, previous);
}

unsigned Scheduler::Running() const noexcept
{
	unsigned n = 0;
	for (const auto &slot : slots_)
		n += slot->Busy() ? 1 : 0;
	for (const auto &slot : retired_)
		n += slot->Busy() ? 1 : 0;
	return n;
}

void Scheduler::StartQueued()
{
	while (!shutting_down_ && !queue_.empty() && Running() < max_concurrent_) {
		Slot *slot = queue_.front();
		queue_.pop_front();
		slot->queued = false;
		Start(*slot);
	}
}

void Scheduler::Start(Slot &slot)
{
	const auto previous = slot.status;
	uv_timer_stop(slot.timer);
	slot.resolving = true;
	slot.status.state = bus::AccountState::Connecting;
	slot.status.last_attempt_us = posix::NowUs();
	slot.status.next_poll_us = 0;
	slot.status.progress = {};
	slot.server.clear();
	Notify(slot, previous);

	// The account is resolved off the loop thread; its password is looked up once the
	// fetch is connected (PoolPasswordSource()).
	fetch::ResolveAccountOnPool(loop_, slot.account,
				    [&slot](config::Account account,
					    std::optional<PendingCredentials> credentials,
					    const std::string &error) {
					    slot.owner.Resolved(slot, std::move(account),
								std::move(credentials),
								error);
				    });
}

void Scheduler::Resolved(Slot &slot, config::Account account,
			 std::optional<PendingCredentials> credentials,
			 const std::string &error)
{
	slot.resolving = false;
	if (!credentials) {
		fetch::FetchResult result;
		result.code = ExitCode::Config;
		result.error = error;
		Finished(slot, result);
		return;
	}
	if (shutting_down_) {
		fetch::FetchResult result;
		result.code = ExitCode::TempFail;
		result.error = "not started: shutting down";
		Finished(slot, result);
		return;
	}

	auto options = fetch::AccountFetchOptions(loop_, account, std::move(*credentials),
						  slot.keep, auth_provider_, verbose_);

	const std::string name = account.name;
	slot.server = options.account.Label();
	auto log = [this, name, server = slot.server](fetch::LogLevel level,
						      const std::string &text) {
		if (fetch_log_)
			fetch_log_(name, server, level, text);
	};
	slot.job =
	    std::make_unique<fetch::FetchJob>(loop_, std::move(options), std::move(log),
					      [&slot](const fetch::FetchResult &result) {
						      // The job is destroyed after this
						      // callback returns, from the loop.
						      slot.owner.Finished(slot, result);
					      });
	slot.job->OnProgress([&slot](const fetch::FetchProgress &p) {
		auto &owner = slot.owner;
		const auto previous = slot.status;
		slot.status.state = bus::AccountState::Fetching;
		slot.status.progress = {p.messages_done, p.messages_total, p.bytes_done,
					p.bytes_total};
		const std::uint64_t now = uv_now(&owner.loop_);
		if (previous.state == bus::AccountState::Fetching &&
		    now - slot.last_progress_ms < progress_interval_ms) {
			// Throttled: keep the new figures, tell later.
			return;
		}
		slot.last_progress_ms = now;
		owner.Notify(slot, previous);
	});
	if (stopping_deadline_ms_ > 0)
		slot.job->Stop(stopping_deadline_ms_);
	slot.job->Start();
}

void Scheduler::Finished(Slot &slot, const fetch::FetchResult &result)
{
	// The FetchJob calls us from inside itself: let it unwind before it is freed.
	if (slot.job) {
		auto *job = slot.job.release();
		auto *idle = new uv_idle_t;
		uv_idle_init(&loop_, idle);
		idle->data = job;
		uv_idle_start(idle, [](uv_idle_t *handle) {
			delete static_cast<fetch::FetchJob *>(handle->data);
			uv_idle_stop(handle);
			uv_close(reinterpret_cast<uv_handle_t *>(handle),
				 [](uv_handle_t *h) {
					 delete reinterpret_cast<uv_idle_t *>(h);
				 });
		});
	}

	const auto previous = slot.status;
	const std::uint64_t now_us = posix::NowUs();
	auto &s = slot.status;
	s.messages_fetched += result.saved;
	// Octets as listed, the unit of Progress: one unit on the bus.
	s.bytes_fetched += result.saved_listed;
	if (result.login_delay_s)
		slot.not_before_us =
		    s.last_attempt_us + *result.login_delay_s * 1'000'000;

	const auto decision = DecideRetry(result, slot.account.interval, slot.backoff);
	slot.backoff = decision.backoff;
	s.state = decision.state;
	const milliseconds delay = decision.delay;
	if (!slot.server.empty())
		s.server = slot.server; // resolved: user@host:port
	if (result.code == ExitCode::Ok) {
		s.last_success_us = now_us;
		s.last_error.clear();
		s.last_error_class.clear();
	} else {
		s.last_error = result.error.empty() ? "fetch failed" : result.error;
		s.last_error_class = fetch::ErrorClassName(
		    result.error_class != fetch::ErrorClass::None
			? result.error_class
			: fetch::ClassifyError(result.code, false, result.resp_code));
		// Partial success (some messages failed) still counts as progress made.
		if (result.logged_in && result.saved > 0)
			s.last_success_us = now_us;
	}

	observer_.OnFetchFinished(slot.account.name, slot.server, result);
	if (result.saved > 0 && !slot.account.on_new_mail.empty())
		StartHook(slot, result);

	if (slot.retired) {
		auto it = std::find_if(retired_.begin(), retired_.end(),
				       [&](const auto &p) { return p.get() == &slot; });
		if (it != retired_.end()) {
			// Freed from the loop, after this call chain unwinds.
			auto *dead = it->release();
			retired_.erase(it);
			auto *idle = new uv_idle_t;
			uv_idle_init(&loop_, idle);
			idle->data = dead;
			uv_idle_start(idle, [](uv_idle_t *handle) {
				delete static_cast<Slot *>(handle->data);
				uv_idle_stop(handle);
				uv_close(reinterpret_cast<uv_handle_t *>(handle),
					 [](uv_handle_t *h) {
						 delete reinterpret_cast<uv_idle_t *>(h);
					 });
			});
		}
	} else if (!shutting_down_) {
		if (s.state == bus::AccountState::AuthNeeded) {
			s.next_poll_us = 0;
			uv_timer_stop(slot.timer);
		} else {
			Reschedule(slot, delay, false);
			// Reschedule() turns Error into Idle, as a reload or FetchNow
			// should; a fetch that just failed this way shows Error (and its
			// LastError) until the next one starts.
			if (decision.state == bus::AccountState::Error &&
			    s.state == bus::AccountState::Idle)
				s.state = bus::AccountState::Error;
		}
		Notify(slot, previous);
	} else {
		s.next_poll_us = 0;
		Notify(slot, previous);
	}

	StartQueued();
	CheckShutdown();
}

bool Scheduler::FetchNow(const std::string &name)
{
	auto it = std::find_if(slots_.begin(), slots_.end(), [&](const auto &slot) {
		return slot->account.name == name;
	});
	if (it == slots_.end())
		return false;
	Slot &slot = **it;
	if (slot.Busy() || slot.queued || shutting_down_ || !slot.account.enabled)
		return true;
	if (slot.status.state == bus::AccountState::AuthNeeded)
		slot.status.state = bus::AccountState::Idle;
	slot.backoff = milliseconds{0};
	if (slot.not_before_us > posix::NowUs()) {
		// The server said how often it may be logged into; a FetchNow cannot
		// change that, so it is queued for the earliest allowed moment.
		Reschedule(slot, milliseconds{0});
		return true;
	}
	Request(slot, true);
	return true;
}

void Scheduler::FetchAll()
{
	for (const auto &slot : slots_)
		if (slot->account.enabled)
			FetchNow(slot->account.name);
}

std::vector<bus::AccountStatus> Scheduler::Statuses() const
{
	std::vector<bus::AccountStatus> out;
	for (const auto &slot : slots_)
		out.push_back(slot->status);
	return out;
}

const bus::AccountStatus *Scheduler::Find(const std::string &name) const
{
	for (const auto &slot : slots_)
		if (slot->account.name == name)
			return &slot->status;
	return nullptr;
}

std::uint64_t Scheduler::NextPoll() const
{
	std::uint64_t next = 0;
	for (const auto &slot : slots_)
		if (slot->status.next_poll_us != 0 &&
		    (next == 0 || slot->status.next_poll_us < next))
			next = slot->status.next_poll_us;
	return next;
}

void Scheduler::Shutdown(std::uint64_t deadline_ms)
{
	if (shutting_down_)
		return;
	shutting_down_ = true;
	stopping_deadline_ms_ = std::max<std::uint64_t>(1, deadline_ms);
	for (auto *slot : queue_)
		slot->queued = false;
	queue_.clear();
	for (auto *list : {&slots_, &retired_})
		for (auto &slot : *list) {
			uv_timer_stop(slot->timer);
			if (slot->job)
				slot->job->Stop(stopping_deadline_ms_);
		}
	// A hook has no mail to finish: it is killed, and reports so.
	for (auto &hook : hooks_)
		hook->Cancel();
	CheckShutdown();
}

void Scheduler::Abort()
{
	for (auto *list : {&slots_, &retired_})
		for (auto &slot : *list)
			if (slot->job)
				slot->job->Abort();
}

void Scheduler::StartHook(Slot &slot, const fetch::FetchResult &result)
{
	fetch::NewMailFacts facts{slot.account.name, result.saved, result.saved_bytes,
				  slot.account.maildir, slot.account.mbox};
	hooks_.emplace_back();
	const auto it = std::prev(hooks_.end());
	// The hook's lines go to the journal with the account, as the fetch's did.
	auto done = [this, it, name = slot.account.name,
		     server = slot.server](const fetch::HookOutcome &outcome) {
		for (const auto &[level, text] : outcome.lines)
			if (fetch_log_ && (level != fetch::LogLevel::Debug || verbose_))
				fetch_log_(name, server, level, text);
		hooks_.erase(it);
		CheckShutdown();
	};
	*it = std::make_unique<fetch::NewMailHook>(loop_, slot.account.on_new_mail,
						   std::move(facts), std::move(done));
}

void Scheduler::CheckShutdown()
{
	if (shutting_down_ && !shutdown_reported_ && Running() == 0 && hooks_.empty()) {
		shutdown_reported_ = true;
		observer_.OnShutdownComplete();
	}
}

} // namespace popstream::service
