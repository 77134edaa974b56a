#pragma once

#include "bus/AccountStatus.hxx"
#include "core/config/Model.hxx"
#include "fetch/FetchJob.hxx"
#include "fetch/NewMailHook.hxx"

#include <uv.h>

#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace popstream::service {

/** Which AccountStatus fields changed, so the bus emits only those in PropertiesChanged.
 */
enum Changed : unsigned {
	ChangedState = 1u << 0,
	ChangedLastAttempt = 1u << 1,
	ChangedLastSuccess = 1u << 2,
	ChangedNextPoll = 1u << 3,
	ChangedLastError = 1u << 4,
	ChangedCounters = 1u << 5,
	ChangedProgress = 1u << 6,
	/** Server, Delivery, Enabled, Interval: what a reload changes. */
	ChangedSettings = 1u << 7,
};

/** Receives a fetch's log line: (account, server label user@host:port, level, text). */
using FetchLog = std::function<void(const std::string &account, const std::string &server,
				    fetch::LogLevel level, const std::string &text)>;

/** Receives what the scheduler does; all calls come from the loop thread. */
class SchedulerObserver {
public:
	virtual ~SchedulerObserver() = default;
	/** An account appeared (start-up or reload). */
	virtual void OnAccountAdded(const bus::AccountStatus &status) noexcept = 0;
	/** An account was removed by a reload. */
	virtual void OnAccountRemoved(const std::string &name) noexcept = 0;
	/** Fields of an account changed; @p what is a mask of Changed bits. Progress is
	 * reported at most about once a second. */
	virtual void OnAccountChanged(const bus::AccountStatus &status,
				      unsigned what) noexcept = 0;
	/**
	 * A fetch ended.
	 * @param name the account
	 * @param server the account's label, user@host:port (empty if it never resolved)
	 * @param result the outcome; result.error is empty on success
	 */
	virtual void OnFetchFinished(const std::string &name, const std::string &server,
				     const fetch::FetchResult &result) noexcept = 0;
	/** Every fetch has ended after Shutdown(). */
	virtual void OnShutdownComplete() noexcept = 0;
};

/**
 * Polls every account on its own libuv timer: first at start-up (with a little jitter
 * so accounts don't align), then every `interval`. At most one fetch per account at a
 * time (RFC 1939 §4: the server locks the maildrop) and at most `max_concurrent` in all.
 * After a failure it retries with a delay doubling from 30 s up to min(interval, 1 h);
 * [IN-USE]/[LOGIN-DELAY] replies and an advertised LOGIN-DELAY are honoured
 * (RFC 2449 §6.8/§8.1); an [AUTH] failure stops polling the account until FetchNow()
 * or a reload.
 */
class Scheduler {
public:
	/**
	 * @param fetch_log receives each fetch's log lines with the account name
	 * @param verbose fetches also log their commands and saves at LogLevel::Debug
	 *        (fetch::FetchOptions::verbose), as `popstream dl -v` does
	 */
	Scheduler(uv_loop_t &loop, SchedulerObserver &observer, FetchLog fetch_log,
		  bool verbose = false);
	~Scheduler();

	/**
	 * Adopts a configuration: adds, removes and updates accounts. A fetch already
	 * running finishes with the settings it started with.
	 */
	void Apply(const config::Config &config);

	/**
	 * Queues a fetch of @p name now (merged with one already queued or running).
	 * @return false if there is no such account
	 */
	bool FetchNow(const std::string &name);

	/** FetchNow() for every enabled account. */
	void FetchAll();

	/** @return the status of every account, in config order */
	std::vector<bus::AccountStatus> Statuses() const;

	/** @return the status of @p name, or nullptr */
	const bus::AccountStatus *Find(const std::string &name) const;

	/** @return the soonest next poll of any account in µs since the epoch, 0 if none
	 */
	std::uint64_t NextPoll() const;

	/**
	 * Stops starting fetches; running ones stop gracefully (no new RETR, DELE what is
	 * saved, QUIT), each within @p deadline_ms, after which they are dropped without
	 * QUIT. OnShutdownComplete() follows.
	 */
	void Shutdown(std::uint64_t deadline_ms);

	/** Drops every running fetch without QUIT (a second SIGTERM). */
	void Abort();

private:
	struct Slot;

	void Reschedule(Slot &slot, std::chrono::milliseconds delay, bool notify = true);
	void Notify(Slot &slot, const bus::AccountStatus &previous);
	/** The account is due; @p asked: by FetchNow(), which a person waits for. */
	void Request(Slot &slot, bool asked = false);
	unsigned Running() const noexcept;
	void StartQueued();
	void Start(Slot &slot);
	void Resolved(Slot &slot, config::Account account,
		      std::optional<PendingCredentials> credentials,
		      const std::string &error);
	void Finished(Slot &slot, const fetch::FetchResult &result);
	/** Runs the account's `on_new_mail` for @p result (which saved mail). */
	void StartHook(Slot &slot, const fetch::FetchResult &result);
	void CheckShutdown();

	uv_loop_t &loop_;
	SchedulerObserver &observer_;
	FetchLog fetch_log_;
	bool verbose_;
	/** The login mechanisms (GNU SASL, APOP), made once and shared by every fetch. */
	std::shared_ptr<const pop3::AuthProvider> auth_provider_;
	/** The configured accounts, in config order. */
	std::vector<std::unique_ptr<Slot>> slots_;
	/** Accounts removed by a reload whose fetch is still running. */
	std::vector<std::unique_ptr<Slot>> retired_;
	/** `on_new_mail` hooks still running (each removed by its completion); a
	 * shutdown kills them and waits for them. */
	std::list<std::unique_ptr<fetch::NewMailHook>> hooks_;
	/** Accounts due but waiting for a free slot, oldest first. */
	std::deque<Slot *> queue_;
	unsigned max_concurrent_ = 4;
	bool shutting_down_ = false;
	bool shutdown_reported_ = false;
	std::uint64_t stopping_deadline_ms_ = 0;
};

} // namespace popstream::service
