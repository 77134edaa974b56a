#pragma once

#include "core/pop3/Session.hxx"
#include "core/util/ExitCode.hxx"
#include "fetch/FetchOptions.hxx"
#include "net/Connection.hxx"

#include <cstdint>
#include <optional>
#include <string>

namespace popstream::fetch {

/** What the sessions of a run so far did, as far as the next one's limits care. */
struct RunSoFar {
	/** Messages saved, and their listed octets. */
	std::uint32_t saved = 0;
	std::uint64_t saved_listed = 0;
	/** pop3::SessionConfig::first_number for the next session (a checkpoint with
	 * keep starts where the last one stopped). */
	std::uint32_t first_number = 1;
	/** The last checkpoint's session: messages listed and deleted (0 before any
	 * checkpoint). */
	std::uint32_t checkpoint_listed = 0;
	std::uint32_t checkpoint_deleted = 0;
};

/** Which secret a fetch looks up once connected. */
enum class LoginSecret {
	/** Nothing: SASL EXTERNAL, where the TLS client certificate logs in. */
	None,
	/** The password (FetchOptions::password_source). */
	Password,
	/** The OAuth 2.0 access token (FetchOptions::token_source). */
	Token,
};

/**
 * @return the secret the account's login method uses: the token for XOAUTH2 and
 *         OAUTHBEARER, and for auto when a token source is configured (auto then
 *         prefers the token methods, pop3::Login); none for EXTERNAL; else the
 *         password. Only that one is looked up, so no command runs and no prompt
 *         appears for a secret the login will not send.
 */
LoginSecret NeededSecret(const FetchOptions &options) noexcept;

/** The next session of a run. */
struct SessionPlan {
	/** Everything but already_saved, which the caller sets. */
	pop3::SessionConfig config;
	/** Its limits came from a checkpoint (checkpoint_every, or the 5000 messages
	 * one session takes at most): when it ends with messages left for later, the
	 * run goes on in a new session. */
	bool checkpointing = false;
};

/**
 * @return the configuration of the next session: the run's limits less what earlier
 *         sessions saved, capped by the checkpoint, and the account's login and TLS
 *         settings
 * @param lock_step one command at a time (the redo after a desynchronised session)
 * @param skip_capa no CAPA (a reconnect to a server that hung up on it)
 */
SessionPlan PlanSession(const FetchOptions &options, const RunSoFar &run, bool lock_step,
			bool skip_capa);

/** How a run ends. */
struct RunEnd {
	ExitCode code = ExitCode::Ok;
	/** One line, empty with ExitCode::Ok. */
	std::string error;
};

/**
 * @return how a run ends whose last session was committed (+OK to QUIT, RFC 1939 §6):
 *         74 if messages could not be saved, else 75 for messages the delivery deferred,
 *         messages the server would not send, DELEs it refused, or messages a stop
 *         left on it; else 0
 * @param stats the last session's counters
 * @param not_saved messages of the whole run that could not be saved
 * @param stopping the run was asked to stop (FetchJob::Stop())
 * @param deferred messages of the whole run an MDA deferred (exit 75)
 */
RunEnd CommittedRunEnd(const pop3::SessionStats &stats, std::uint32_t not_saved,
		       bool stopping, std::uint32_t deferred = 0);

/**
 * @return how a run ends that Abort() stopped: 75, since the connection was dropped
 *         without QUIT (nothing deleted) or before QUIT was answered (unknown)
 * @param quit_sent the session had sent QUIT (pop3::Session::QuitSent())
 */
RunEnd AbortedRunEnd(bool quit_sent);

/**
 * @return how a run ends whose connection failed before the session had a server to
 *         talk to (or whose certificate was refused after STLS): the network's own
 *         exit status, or 75 for a retry, since the run reached the server once
 * @param retry the connection was a redo, resume or reconnect of this run
 */
RunEnd UnreachedRunEnd(const net::NetError &error, bool retry);

/**
 * After a committed session whose limits came from a checkpoint: the run goes on in a
 * new session only while each makes progress the next cannot undo (without
 * deletions, messages it cannot recognise would be fetched again).
 * @param stats the committed session's counters
 * @param resume_number where the next session starts: with keep,
 *        pop3::Session::ResumeNumber(), else 1 (what was fetched is gone)
 * @param not_saved messages of the whole run that could not be saved
 * @param stopping the run was asked to stop
 * @param run updated for the next session's PlanSession() if it goes on
 * @return the line to log if the run goes on; nullopt if it ends here
 */
std::optional<std::string> ContinueAfterCheckpoint(const pop3::SessionStats &stats,
						   std::uint32_t resume_number,
						   std::uint32_t not_saved, bool stopping,
						   RunSoFar &run);

/**
 * @return whether the copies a session proved may be of other messages, so that those
 *         another message's body could have passed for (pop3::Session::ShiftSuspect())
 *         no longer vouch. A reply missing or doubled shifts every body after it onto
 *         the wrong message, unnoticed while their sizes match, until the session goes
 *         out of step visibly, or ends where such a reply was due (a stall, a close, a
 *         reset there). An end in the middle of a body is taken as what it says.
 * @param last the session's last event: pop3::FinishedEvent or pop3::FailedEvent
 */
bool CopiesInDoubt(const pop3::Event &last) noexcept;

/** Where a run stands when a session fails, as NextAfterFailure() weighs it. */
struct RunState {
	/** The run was already redone in lock-step / resumed a dropped session and
	 * the current session is that resumption / reconnected after a drop during
	 * login / is stopping. */
	bool redone = false;
	bool resuming = false;
	bool reconnected = false;
	bool stopping = false;
	/** The failed session saved something that stays proven. */
	bool progress = false;
	/** Messages saved in the whole run. */
	std::uint32_t saved = 0;
	/** The failed session sent QUIT (pop3::Session::QuitSent()). */
	bool quit_sent = false;
	/** The failed session ever had more than one command in flight. */
	bool pipelined = false;
	/** The connection uses implicit TLS. */
	bool tls = false;
};

/** What a run does after a failed session. */
struct AfterFailure {
	enum class Step {
		/** The run ends with ExitCodeFor(error.kind) and #message. */
		End,
		/** Redo the session one command at a time: it went out of step
		 * (crash point "redo-start"). */
		Redo,
		/** Redo it one command at a time: a resumed session dropped again
		 * before it saved anything (a server that cannot take pipelined
		 * input). */
		RedoAfterDrops,
		/** Go on in a new session as before (pop3::Retry::Resume). */
		Resume,
		/** Reconnect once (a drop during login), without CAPA if #skip_capa. */
		Reconnect,
	};
	Step step = Step::End;
	/** One line: the warning to log, or with End the error. */
	std::string message;
	bool skip_capa = false;
};

/**
 * @return what to do after a session failed with @p error (pop3::Error::retry says
 *         what the session allows; @p run says whether the run has used it up). A
 *         session that timed out after QUIT is never retried: the server is most
 *         likely still deleting (RFC 1939 §6), and a new session would race it.
 */
AfterFailure NextAfterFailure(const pop3::Error &error, const RunState &run);

} // namespace popstream::fetch
