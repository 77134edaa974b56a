#include "SessionPlan.hxx"

#include "FetchResult.hxx"

#include <algorithm>
#include <chrono>

namespace popstream::fetch {

namespace {

/** A session QUITs after this many messages and a new one goes on (a checkpoint,
 * as with checkpoint_every). It bounds what a run keeps per message (the journal's
 * entries, the saves of the session) and the deletions one QUIT must apply. */
constexpr std::uint32_t max_session_messages = 5000;

} // namespace

LoginSecret NeededSecret(const FetchOptions &options) noexcept
{
	const auto method = options.policy.auth;
	if (pop3::UsesToken(method))
		return LoginSecret::Token;
	if (method == pop3::AuthMethod::External)
		return LoginSecret::None;
	if (method == pop3::AuthMethod::Auto &&
	    (options.token_source || !options.account.token.empty()))
		return LoginSecret::Token;
	return LoginSecret::Password;
}

SessionPlan PlanSession(const FetchOptions &options, const RunSoFar &run, bool lock_step,
			bool skip_capa)
{
	SessionPlan plan;
	pop3::SessionConfig &config = plan.config;
	const pop3::FetchPolicy &policy = options.policy;
	config.Policy() = policy.Session();
	config.user = options.account.user;
	config.password = options.account.password;
	config.token = options.account.token;
	// OAUTHBEARER names the server it was meant for (RFC 7628 §3.1).
	config.host = options.account.host;
	config.port = options.account.port;
	config.auth_provider = options.auth_provider;
	// The window of RETR octets follows the link it measures (pop3::LinkEstimate).
	config.clock_us = [] {
		return static_cast<std::uint64_t>(
		    std::chrono::duration_cast<std::chrono::microseconds>(
			std::chrono::steady_clock::now().time_since_epoch())
			.count());
	};
	// Limits are for the whole run: a redo or a checkpoint's next session only takes
	// what is left of them.
	const std::uint32_t limit = policy.max_messages_per_session;
	const std::uint32_t left =
	    limit == 0 ? UINT32_MAX : limit - std::min(limit, run.saved);
	const std::uint64_t limit_bytes = policy.max_bytes_per_session;
	const std::uint64_t left_bytes =
	    limit_bytes == 0 ? 0 : limit_bytes - std::min(limit_bytes, run.saved_listed);
	config.limit = left;
	config.limit_bytes = left_bytes;
	config.first_number = run.first_number;
	// After a checkpoint that deleted messages, the server must list fewer.
	if (run.checkpoint_deleted > 0)
		config.expect_at_most = run.checkpoint_listed - run.checkpoint_deleted;
	if (limit_bytes > 0 && left_bytes == 0)
		config.limit = 0;
	const std::uint32_t every =
	    policy.checkpoint_messages > 0
		? std::min(policy.checkpoint_messages, max_session_messages)
		: max_session_messages;
	if (every < config.limit) {
		config.limit = every;
		plan.checkpointing = true;
	}
	if (policy.checkpoint_bytes > 0 &&
	    (config.limit_bytes == 0 || policy.checkpoint_bytes < config.limit_bytes)) {
		config.limit_bytes = policy.checkpoint_bytes;
		plan.checkpointing = true;
	}
	config.dry_run = options.dry_run;
	config.lock_step = lock_step;
	config.skip_capa = skip_capa;
	config.starttls = options.starttls;
	config.show_commands = options.verbose;
	config.secure = options.account.tls;
	config.client_certificate = !options.tls.cert_file.empty();
	return plan;
}

RunEnd CommittedRunEnd(const pop3::SessionStats &stats, std::uint32_t not_saved,
		       bool stopping, std::uint32_t deferred)
{
	RunEnd end;
	if (not_saved > 0) {
		end.code = ExitCode::IoError;
		end.error = std::to_string(not_saved) + " message(s) could not be saved";
	} else if (deferred > 0) {
		end.code = ExitCode::TempFail;
		end.error =
		    std::to_string(deferred) +
		    " message(s) could not be delivered yet (the MDA's exit 75, or a "
		    "lock on the mbox) and stay on the server for the next run";
	} else if (stats.not_retrieved > 0) {
		end.code = ExitCode::TempFail;
		end.error = std::to_string(stats.not_retrieved) +
			    " message(s) could not be retrieved and stay on the server";
	} else if (stats.dele_failed > 0) {
		// Saved, but the server refused DELE: the user asked for the mail to be
		// moved, and it was not (README: 75 for deletions the server did not
		// confirm). The next run sends DELE again.
		end.code = ExitCode::TempFail;
		end.error = std::to_string(stats.dele_failed) +
			    " saved message(s) could not be deleted (DELE answered "
			    "-ERR) and stay on the server for the next run";
	} else if (stopping && stats.to_fetch > stats.retrieved) {
		end.code = ExitCode::TempFail;
		end.error =
		    "interrupted: " + std::to_string(stats.to_fetch - stats.retrieved) +
		    " message(s) left on the server for the next run";
	}
	return end;
}

RunEnd AbortedRunEnd(bool quit_sent)
{
	return {ExitCode::TempFail,
		quit_sent
		    ? "interrupted after QUIT was sent but before the server "
		      "confirmed it: whether the saved messages were deleted on the "
		      "server is unknown"
		    : "interrupted; the connection was dropped without QUIT, so "
		      "nothing was deleted on the server"};
}

RunEnd UnreachedRunEnd(const net::NetError &error, bool retry)
{
	// On the first connection nothing was said to any server: the network's reason
	// stands as it is. On a retry the run already reached the server once, so the
	// failure is a temporary one of this run (EX_TEMPFAIL).
	if (retry)
		return {ExitCode::TempFail, "retry failed: " + std::string(error.what())};
	return {ExitCodeFor(error.Kind()), error.what()};
}

std::optional<std::string> ContinueAfterCheckpoint(const pop3::SessionStats &stats,
						   std::uint32_t resume_number,
						   std::uint32_t not_saved, bool stopping,
						   RunSoFar &run)
{
	if (stats.deferred == 0 || stopping || stats.retrieved == 0 || not_saved > 0 ||
	    stats.dele_failed > 0)
		return std::nullopt;
	run.first_number = resume_number;
	run.checkpoint_listed = stats.listed;
	run.checkpoint_deleted = stats.deleted;
	return "checkpoint: " + std::to_string(stats.deleted) +
	       " message(s) committed; reconnecting for the remaining " +
	       std::to_string(stats.deferred);
}

bool CopiesInDoubt(const pop3::Event &last) noexcept
{
	const auto *failed = std::get_if<pop3::FailedEvent>(&last);
	return failed != nullptr && (failed->error.ended_where_reply_due ||
				     failed->error.kind == pop3::ErrorKind::Desync);
}

AfterFailure NextAfterFailure(const pop3::Error &error, const RunState &run)
{
	using Step = AfterFailure::Step;
	AfterFailure next;
	// A server silent after QUIT is most likely still deleting (RFC 1939 §6 UPDATE):
	// a new session would race it for the maildrop, so the outcome is left to the
	// next run, which the journal tells what was saved.
	const bool quit_timed_out =
	    run.quit_sent && error.kind == pop3::ErrorKind::Timeout;
	if (error.retry == pop3::Retry::LockStep && !run.redone && !run.stopping &&
	    !quit_timed_out) {
		next.step = Step::Redo;
		next.message = error.message +
			       (run.quit_sent ? "; QUIT had already gone out behind the "
						"last DELEs, so the "
						"server may have applied them (each was "
						"for a saved message); "
					      : "; abandoning the session without QUIT "
						"(nothing it marked is "
						"deleted) and ") +
			       "redoing it one command at a time on a new connection";
		return next;
	}
	if (error.retry == pop3::Retry::Resume && !run.stopping && !quit_timed_out) {
		// A drop is what long links do: the next session goes on pipelined and
		// DELEs what was proven without downloading it again. Only a session
		// that saved nothing and dropped like the one before it (a server that
		// cannot take pipelined input) earns the lock-step redo, or, after that,
		// the end of the run.
		if (run.progress || (!run.resuming && !run.redone)) {
			next.step = Step::Resume;
			next.message = error.message + "; " + std::to_string(run.saved) +
				       " message(s) saved so far; going on "
				       "in a new session on a "
				       "new connection";
			return next;
		}
		if (!run.redone && run.pipelined) {
			next.step = Step::RedoAfterDrops;
			next.message =
			    error.message +
			    "; the connection dropped again before anything was "
			    "saved: redoing it one command at a time on a new "
			    "connection";
			return next;
		}
	}
	if (error.retry == pop3::Retry::Reconnect && !run.reconnected && !run.stopping) {
		next.step = Step::Reconnect;
		next.skip_capa = error.capa_suspect;
		next.message = error.message + "; reconnecting once" +
			       (error.capa_suspect ? " without CAPA" : "");
		return next;
	}
	next.message = error.message;
	if (error.kind == pop3::ErrorKind::Timeout && !run.tls &&
	    next.message.find("the greeting") != std::string::npos)
		next.message += " (no POP3 greeting: if this port speaks TLS, use ssl:)";
	return next;
}

} // namespace popstream::fetch
