#pragma once

#include "core/pop3/Session.hxx"
#include "core/util/ExitCode.hxx"
#include "core/util/LogLevel.hxx"
#include "fetch/FetchOptions.hxx"
#include "fetch/FetchResult.hxx"
#include "fetch/SessionPlan.hxx"
#include "net/Connection.hxx"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace popstream::store {
class Destination;
class SaveError;
} // namespace popstream::store

namespace popstream::fetch {

/** How bad a log line is (core/util/LogLevel.hxx; shared with the store). */
using LogLevel = popstream::LogLevel;

/**
 * Receives log lines. @p text is one line, already safe to print (server bytes are
 * escaped), and never contains the password; it does not include the account label.
 */
using LogSink = std::function<void(LogLevel level, const std::string &text)>;

/**
 * One fetch of one account on a libuv loop: resolves and connects (net::Connection),
 * runs a pop3::Session over it, stages each message in a store::Destination (the
 * Maildir's store::DeliveryLedger) as it streams in, and reports to the session as
 * durable (Session::Saved()) exactly the messages the destination's Commit() returns
 * durable, so that DELE never precedes durability (invariant 1, carried out in
 * store/DeliveryLedger).
 *
 * Messages completed in one read share one commit (group commit). If a
 * pipelined session desynchronises, it is abandoned without QUIT and redone once in
 * lock-step, where messages already saved in this run are deleted by UIDL without being
 * downloaded again (RFC 2449 §6.6 leaves no other safe way out). A connection that
 * drops during login is retried once.
 */
class FetchJob : private net::ConnectionHandler {
public:
	/**
	 * @param loop the loop to run on; run it until the job reports completion
	 * @param options what to fetch; the password is only kept in memory
	 * @param log receives progress and warning lines
	 * @param done called once, from the loop, with the outcome
	 */
	FetchJob(uv_loop_t &loop, FetchOptions options, LogSink log,
		 std::function<void(const FetchResult &)> done);

	/**
	 * Sets a callback run when the listing has arrived (the login succeeded) and
	 * after each group of messages is made durable; for status displays.
	 */
	void OnProgress(std::function<void(const FetchProgress &)> callback)
	{
		progress_ = std::move(callback);
	}
	~FetchJob() override;
	FetchJob(const FetchJob &) = delete;
	FetchJob &operator=(const FetchJob &) = delete;

	/** Opens the Maildir and connects. Completion is reported through `done`. */
	void Start();

	/**
	 * Winds down gracefully: no further RETR is sent; messages in flight are saved,
	 * saved ones are DELE'd and the session QUITs so that their deletion counts.
	 * The messages in flight get 3 s plus their listed size at 64 KiB/s, at most
	 * @p max_ms; a server silent for 3 s, or still busy at the deadline, makes it
	 * Abort() instead, so that a stop always ends.
	 */
	void Stop(std::uint64_t max_ms) noexcept;

	/**
	 * Drops the connection without QUIT, so the server deletes nothing (RFC 1939 §6),
	 * and reports completion with ExitCode::TempFail.
	 */
	void Abort() noexcept;

	/** @return progress so far */
	FetchProgress Progress() const noexcept;

private:
	void StartSession(bool lock_step, bool skip_capa);
	/** After a failed session: if the server refused the token and
	 * FetchOptions::token_renewal is still unused, starts a new session that asks it.
	 * @return true if it did (the failure is then no end) */
	bool RenewToken(const pop3::Error &error);
	/** After a TLS handshake: logs whether it resumed, and saves the session in
	 * FetchOptions::tls_sessions. */
	void TlsEstablished() noexcept;
	void OnConnected() noexcept override;
	void OnData(std::string_view bytes) noexcept override;
	void OnTlsStarted() noexcept override;
	void OnEnd(const net::NetError &error) noexcept override;
	/** Calls the source of the secret the login method needs (NeededSecret()),
	 * if any; the job may be gone when it returns. */
	void AskSecret() noexcept;
	void OnSecret(LoginSecret secret, PasswordAnswer answer) noexcept;
	void Drive();
	/** @return false if the job finished (and may be destroyed) */
	bool HandleEvent(pop3::Event &event);
	void SessionOver(const pop3::Event &last);
	/** An MDA finished a message (woken through #hand_off_wake_): its outcome is
	 * committed, and a session that ended while it ran is wound up. */
	void HandOffsProgressed();
	/** Closes #hand_off_wake_ (once the MDA's thread can no longer use it). */
	void CloseHandOffWake() noexcept;
	void Finish(ExitCode code, std::string error);
	/** Commits the destination's staged group and reports each message to the
	 * session as saved or not saved. */
	void CommitPending();
	void Log(LogLevel level, const std::string &text);
	void StartTicking() noexcept;
	void StopTicking() noexcept;
	void OnTick() noexcept;
	void SaveFailed(std::uint32_t number, const std::string &uidl,
			const store::SaveError &error);
	/** Reports that message @p number could not be saved because of @p why; if
	 * @p every_save, no other save can succeed either, so no more are requested. */
	void SaveFailed(std::uint32_t number, const std::string &uidl,
			const std::string &why, bool every_save);

	uv_loop_t &loop_;
	FetchOptions options_;
	/** TlsSessionKey() of the current connection; empty without TLS. */
	std::string tls_key_;
	/** A saved session was offered and the handshake has not completed yet. */
	bool tls_offered_ = false;
	/** StartSession()'s arguments for the session in progress, for a connection
	 * that must be made again as it was. */
	bool lock_step_ = false;
	bool skip_capa_ = false;
	LogSink log_;
	std::function<void(const FetchResult &)> done_;
	std::function<void(const FetchProgress &)> progress_;
	/** Where messages go and what is known of earlier ones; from Start() on. */
	std::unique_ptr<store::Destination> destination_;
	std::unique_ptr<net::Connection> connection_;
	std::unique_ptr<pop3::Session> session_;
	/** The message being received and its unique-id. */
	std::uint32_t current_ = 0;
	std::string current_uidl_;
	/** What the sessions so far did, for the next one's plan; its saved_listed
	 * (listed octets of the messages saved) is also FetchProgress::bytes_done. */
	RunSoFar run_;
	/** result_.saved and run_.saved_listed when the current session started. */
	std::uint32_t saved_before_session_ = 0;
	std::uint64_t saved_listed_before_session_ = 0;
	/** What this session has received, saved or not yet: the messages whole, their
	 * listed octets, and the bytes of the one arriving (at most its listed size),
	 * so that progress moves while group commit holds the saves back. */
	std::uint32_t received_messages_ = 0;
	std::uint64_t received_listed_ = 0, current_listed_ = 0, current_received_ = 0;
	/** The current message cannot be saved: its data is not passed on. */
	bool current_failed_ = false;
	/** The current session's limits came from checkpoint_every. */
	bool checkpointing_ = false;
	/** A dropped session was resumed on a new connection in this run. */
	bool resumed_ = false;
	/** The current session resumes a dropped one: if it saves nothing (nothing
	 * that stays proven) and drops too, the server may not take pipelined input,
	 * and the run falls back to lock-step (see SessionOver()). */
	bool resuming_ = false;
	bool redone_ = false;
	bool reconnected_ = false;
	/** The password or token source has been asked, and has not answered yet. */
	bool secret_asked_ = false;
	bool secret_waiting_ = false;
	/** What the server sent while the secret was being looked up (the greeting),
	 * fed to the session once it is known. */
	std::string held_;
	/** Expires with the job, so that a late secret answer finds it gone. */
	std::shared_ptr<int> alive_ = std::make_shared<int>(0);
	bool finished_ = false;
	bool connected_ = false;
	bool stopping_ = false;
	/** A save failed in a way that fails every save (disk full, read-only, the
	 * journal cannot be written). */
	bool maildir_broken_ = false;
	unsigned suppressed_save_errors_ = 0;
	/** Heap-allocated so that it can outlive the job until libuv has closed it;
	 * ticks while stopping and while waiting for the close after QUIT. */
	uv_timer_t *tick_timer_ = nullptr;
	/** With an MDA: woken from the MDA's thread after each message (heap-allocated
	 * as tick_timer_ is). */
	uv_async_t *hand_off_wake_ = nullptr;
	/** The session ended while an MDA still had a message: SessionOver() waits for
	 * it with this event. */
	std::optional<pop3::Event> session_over_;
	/** The idle timeout allows for an MDA's time (mda_timeout) while one has a
	 * message: the server is silent then because nothing was asked of it. */
	bool idle_allows_mda_ = false;
	std::uint64_t stop_deadline_ms_ = 0;
	/** The caller's limit for a stop (Stop()'s max_ms), which an MDA still
	 * handing over messages may use up; uv_now() ms. */
	std::uint64_t stop_limit_ms_ = 0;
	/** Connected, the greeting line not complete yet: the idle timer runs the
	 * connect timeout, and #greeting_deadline_ms_ (uv_now) bounds the whole
	 * greeting. */
	bool awaiting_greeting_ = false;
	std::uint64_t greeting_deadline_ms_ = 0;
	/** The greeting's timeout: the shorter of the connect and idle timeouts. */
	std::uint64_t greeting_ms_ = 0;
	/** The connection failed in TLS: the handshake or the certificate. */
	bool tls_failed_ = false;
	/** Another process held the account's lock. */
	bool lock_busy_ = false;
	std::uint64_t last_data_ms_ = 0;
	std::uint64_t close_wait_start_ms_ = 0;
	FetchResult result_;
	std::chrono::steady_clock::time_point start_;
};

} // namespace popstream::fetch
