#include "FetchJob.hxx"

#include "Mda.hxx"

#include "StatePaths.hxx"
#include "core/util/Escape.hxx"
#include "store/CrashPoint.hxx"
#include "store/DeliveryLedger.hxx"
#include "store/JournalFile.hxx"

#include <algorithm>
#include <system_error>
#include <utility>

namespace popstream::fetch {

namespace {

using store::CrashPoint;
using store::MessageName;

/** How often the job checks its stop deadline and the wait for the close. */
constexpr std::uint64_t tick_ms = 250;
/** After a stop, a server silent this long (or this long past the deadline) is
 * dropped; also the floor of the stop deadline. */
constexpr std::uint64_t stop_grace_ms = 3000;
/** After +OK to QUIT, how long to wait for the server to close before taking the +OK
 * as final. */
constexpr std::uint64_t close_wait_ms = 2000;

/** Patience for the reply to QUIT, per DELE of the session, on top of the idle
 * timeout, in ms (see Drive()). */
constexpr std::uint64_t quit_ms_per_dele = 20;

/** Most bytes held while the password or token is looked up: a greeting is one line (RFC
 * 2449 §4 allows 512 octets), so more is a server talking out of turn. */
constexpr std::size_t max_held_bytes = 64 * 1024;

} // namespace

FetchJob::FetchJob(uv_loop_t &loop, FetchOptions options, LogSink log,
		   std::function<void(const FetchResult &)> done)
    : loop_(loop), options_(std::move(options)), log_(std::move(log)),
      done_(std::move(done))
{
	result_.keep = options_.policy.keep;
	result_.dry_run = options_.dry_run;
	result_.maildir = !options_.mda.empty()    ? "the MDA " + options_.mda.front()
			  : !options_.mbox.empty() ? "the mbox " + options_.mbox
						   : options_.maildir;
}

FetchJob::~FetchJob()
{
	StopTicking();
	// Joins the MDA's thread: nothing wakes the handle after this.
	destination_.reset();
	CloseHandOffWake();
}

void FetchJob::CloseHandOffWake() noexcept
{
	if (hand_off_wake_ == nullptr)
		return;
	uv_close(
	    reinterpret_cast<uv_handle_t *>(hand_off_wake_),
	    [](uv_handle_t *handle) { delete reinterpret_cast<uv_async_t *>(handle); });
	hand_off_wake_ = nullptr;
}

void FetchJob::StopTicking() noexcept
{
	if (tick_timer_ == nullptr)
		return;
	uv_timer_stop(tick_timer_);
	uv_close(reinterpret_cast<uv_handle_t *>(tick_timer_), [](uv_handle_t *handle) {
		delete reinterpret_cast<uv_timer_t *>(handle);
	});
	tick_timer_ = nullptr;
}

void FetchJob::SaveFailed(std::uint32_t number, const std::string &uidl,
			  const store::SaveError &error)
{
	SaveFailed(number, uidl, error.what(), error.EverySave());
}

void FetchJob::SaveFailed(std::uint32_t number, const std::string &uidl,
			  const std::string &why, bool every_save)
{
	// After a Maildir-wide failure (disk full, read-only) every message in flight
	// fails the same way: one line says it, a count says the rest.
	if (maildir_broken_) {
		++suppressed_save_errors_;
		return;
	}
	Log(LogLevel::Error, MessageName(number, uidl) + ": cannot save: " + why);
	if (every_save) {
		maildir_broken_ = true;
		Log(LogLevel::Error, "no more messages are requested; the saved ones are "
				     "deleted and the rest stay on the server");
		session_->StopRetrieving();
	}
}

void FetchJob::Log(LogLevel level, const std::string &text)
{
	// Server text is quoted into some lines, and a server may echo the password or
	// the token.
	if (log_)
		log_(level, HideSecret(HideSecret(text, options_.account.password),
				       options_.account.token));
}

void FetchJob::Start()
{
	start_ = std::chrono::steady_clock::now();
	auto ledger = LedgerOptionsFor(options_);
	if (ledger.hand_off || ledger.mbox) {
		hand_off_wake_ = new uv_async_t;
		uv_async_init(&loop_, hand_off_wake_, [](uv_async_t *handle) {
			static_cast<FetchJob *>(handle->data)->HandOffsProgressed();
		});
		hand_off_wake_->data = this;
		ledger.wake = [wake = hand_off_wake_] { uv_async_send(wake); };
	}
	try {
		destination_ = std::make_unique<store::DeliveryLedger>(
		    std::move(ledger), [this](LogLevel level, const std::string &text) {
			    Log(level, text);
		    });
	} catch (const store::JournalBusy &e) {
		// Another process on this machine has the account: nothing about the
		// network or the server.
		lock_busy_ = true;
		Finish(ExitCode::TempFail, e.what());
		return;
	} catch (const std::system_error &e) {
		Finish(ExitCode::CantCreate,
		       std::string("cannot use the state directory: ") + e.what());
		return;
	}
	destination_->Recover();
	StartSession(false, false);
}

void FetchJob::StartSession(bool lock_step, bool skip_capa)
{
	lock_step_ = lock_step;
	skip_capa_ = skip_capa;
	idle_allows_mda_ = false; // a new connection starts with the plain idle timeout
	destination_->BeginSession();
	saved_before_session_ = run_.saved = result_.saved;
	saved_listed_before_session_ = run_.saved_listed;
	received_messages_ = 0;
	received_listed_ = current_listed_ = current_received_ = 0;
	net::Endpoint endpoint;
	endpoint.host = options_.account.host;
	endpoint.port = options_.account.port;
	endpoint.tls = options_.account.tls;
	endpoint.tls_name = options_.account.VerifyName();
	endpoint.tls_options = options_.tls;
	tls_key_.clear();
	if (options_.tls_sessions && (options_.account.tls || options_.starttls)) {
		// Computed for each connection: a CA file replaced during a long fetch
		// must not be skipped by the next session's resumption.
		tls_key_ = TlsSessionKey(options_);
		endpoint.tls_session = options_.tls_sessions->Find(
		    tls_key_, std::chrono::system_clock::now());
	}
	tls_offered_ = !endpoint.tls_session.empty();

	auto plan = PlanSession(options_, run_, lock_step, skip_capa);
	checkpointing_ = plan.checkpointing;
	pop3::SessionConfig &config = plan.config;
	config.already_saved = [this](std::string_view uidl, std::uint64_t size) {
		return destination_->AlreadySaved(uidl, size);
	};
	// A resumed handshake lets our first bytes go with our Finished message, but
	// the server sends its greeting only after reading that: CAPA sent now is
	// answered with the greeting, which saves the round trip resumption is for.
	// A server that does not resume finishes in full and gets CAPA at the end of
	// the handshake, no later than otherwise.
	config.capa_before_greeting = tls_offered_ && options_.account.tls;
	session_ = std::make_unique<pop3::Session>(std::move(config));
	connected_ = false;
	held_.clear();

	connection_ = std::make_unique<net::Connection>(
	    loop_, static_cast<net::ConnectionHandler &>(*this));
	// A CAPA sent before the greeting (SessionConfig::capa_before_greeting) leaves
	// as soon as the connection, and its TLS handshake, is up; it is logged once
	// connected (OnConnected()), when it has gone.
	if (auto out = session_->TakeOutput(); !out.empty())
		connection_->Write(std::move(out));
	connection_->Connect(endpoint, options_.timeouts);
	// The connection has its copy; this one holds the master secret too.
	std::fill(endpoint.tls_session.begin(), endpoint.tls_session.end(), '\0');
}

FetchProgress FetchJob::Progress() const noexcept
{
	FetchProgress p;
	if (session_) {
		// A checkpoint or a redo starts a new session, which lists only what
		// earlier sessions of this fetch left.
		const auto &s = session_->Stats();
		p.messages_total = saved_before_session_ + s.to_fetch;
		p.bytes_total = saved_listed_before_session_ + s.to_fetch_bytes;
	}
	// Received counts ahead of saved: group commit makes a batch durable at once.
	p.messages_done = std::max<std::uint64_t>(result_.saved, saved_before_session_ +
								     received_messages_);
	p.bytes_done =
	    std::max(run_.saved_listed, saved_listed_before_session_ + received_listed_ +
					    std::min(current_received_, current_listed_));
	return p;
}

void FetchJob::Stop(std::uint64_t max_ms) noexcept
{
	if (finished_ || !session_ || stopping_)
		return;
	stopping_ = true;
	// Long enough for the messages already requested to arrive at a modest
	// 64 KiB/s, never longer than the caller allows; a server that goes quiet
	// ends it sooner (see OnTick()).
	const std::uint64_t now = uv_now(&loop_);
	const std::uint64_t needed = stop_grace_ms + session_->InFlightRetrBytes() / 64;
	stop_deadline_ms_ = now + std::min(needed, max_ms);
	stop_limit_ms_ = now + max_ms;
	last_data_ms_ = now;
	StartTicking();
	session_->StopRetrieving();
	if (connected_)
		Drive();
}

void FetchJob::StartTicking() noexcept
{
	if (tick_timer_ != nullptr)
		return;
	tick_timer_ = new uv_timer_t;
	uv_timer_init(&loop_, tick_timer_);
	tick_timer_->data = this;
	uv_timer_start(
	    tick_timer_,
	    [](uv_timer_t *timer) { static_cast<FetchJob *>(timer->data)->OnTick(); },
	    tick_ms, tick_ms);
}

void FetchJob::OnTick() noexcept
{
	const std::uint64_t now = uv_now(&loop_);
	if (session_ && session_->AwaitingClose()) {
		// RFC 1939 §6: the server closes after +OK to QUIT. One that lingers has
		// still confirmed; only data instead of the close would cast doubt.
		if (now - close_wait_start_ms_ >= close_wait_ms) {
			session_->TimedOut();
			Drive();
		}
		return;
	}
	// While an MDA works, the silence is ours, not the server's: the messages
	// already here are handed over (up to the caller's limit), then the DELEs and
	// QUIT go out.
	if (stopping_ && destination_ && !destination_->Settled()) {
		last_data_ms_ = now;
		if (now >= stop_limit_ms_)
			Abort();
		return;
	}
	if (stopping_ &&
	    (now >= stop_deadline_ms_ || now - last_data_ms_ >= stop_grace_ms))
		Abort();
}

void FetchJob::Abort() noexcept
{
	if (finished_)
		return;
	CommitPending();
	const bool quit_sent = session_ && session_->QuitSent();
	if (session_)
		result_.unconfirmed = session_->Stats().marked;
	result_.quit_unconfirmed = quit_sent;
	auto end = AbortedRunEnd(quit_sent);
	Finish(end.code, std::move(end.error));
}

void FetchJob::OnConnected() noexcept
{
	connected_ = true;
	// Until the greeting, the connect timeout: a server that accepts and never
	// greets must not hold the account (and a daemon's fetch slot) for the whole
	// idle timeout.
	// The greeting has the shorter of the two timeouts, whichever that is.
	const auto &t = options_.timeouts;
	greeting_ms_ = t.connect_ms > 0 && (t.idle_ms == 0 || t.connect_ms < t.idle_ms)
			   ? t.connect_ms
			   : t.idle_ms;
	if (greeting_ms_ > 0) {
		awaiting_greeting_ = true;
		greeting_deadline_ms_ = uv_now(&loop_) + greeting_ms_;
		connection_->SetIdleTimeout(greeting_ms_);
	}
	// Only the address we reached says whether anyone can read the path: a name
	// such as "localhost" may resolve anywhere.
	session_->SetLoopback(connection_->PeerIsLoopback());
	if (options_.verbose)
		Log(LogLevel::Debug, "connected to " + options_.account.host + ":" +
					 std::to_string(options_.account.port) +
					 (options_.account.tls ? " (TLS)" : ""));
	if (options_.verbose)
		for (const auto &line : session_->TakeShown())
			Log(LogLevel::Debug, "C: " + line);
	if (options_.account.tls)
		TlsEstablished();
	// Looked up only now: an unreachable server then costs no secret and no
	// prompt. The greeting waits in held_, so the login starts only with its
	// secret.
	if (!secret_asked_)
		AskSecret(); // last: its answer may end and destroy the job
}

void FetchJob::AskSecret() noexcept
{
	secret_asked_ = true;
	// Only the secret the method sends: a token login runs no password command
	// and shows no password prompt, EXTERNAL looks up nothing.
	const auto secret = NeededSecret(options_);
	auto &slot = secret == LoginSecret::Token ? options_.token_source
						  : options_.password_source;
	if (secret == LoginSecret::None || !slot)
		return;
	secret_waiting_ = true;
	// Moved out: asked once per fetch, and the job may be destroyed during the
	// call, which must not destroy the function being run.
	auto source = std::move(slot);
	source([this, secret, alive = std::weak_ptr<int>(alive_)](PasswordAnswer answer) {
		if (!alive.expired())
			OnSecret(secret, std::move(answer));
	});
}

void FetchJob::OnSecret(LoginSecret secret, PasswordAnswer answer) noexcept
{
	secret_waiting_ = false;
	if (finished_)
		return;
	if (!answer.password) {
		Finish(answer.code, std::move(answer.error));
		return;
	}
	// Kept for the redo and reconnect sessions of this fetch: never asked twice.
	if (secret == LoginSecret::Token) {
		options_.account.token = std::move(*answer.password);
		session_->SetToken(options_.account.token);
	} else {
		options_.account.password = std::move(*answer.password);
		session_->SetPassword(options_.account.password);
	}
	if (!connected_ || !connection_)
		return; // a reconnect is under way; its session has the secret now
	// A prompt on the terminal blocked the loop, whose clock then lags: restarted
	// on a fresh clock, the idle timer does not count the time spent typing.
	uv_update_time(&loop_);
	connection_->SetIdleTimeout(awaiting_greeting_ ? greeting_ms_
						       : options_.timeouts.idle_ms);
	if (!held_.empty()) {
		const std::string bytes = std::move(held_);
		held_.clear();
		OnData(bytes);
	}
}

void FetchJob::TlsEstablished() noexcept
{
	tls_offered_ = false;
	const auto info = connection_->Tls();
	const bool resumed = info && info->resumed;
	if (options_.verbose)
		Log(LogLevel::Debug, resumed
					 ? "TLS session resumed"
					 : "TLS full handshake, certificate verified");
	if (!options_.tls_sessions)
		return;
	try {
		if (!options_.tls_sessions->Remember(tls_key_, connection_->TlsSession(),
						     resumed,
						     std::chrono::system_clock::now()) &&
		    options_.verbose)
			Log(LogLevel::Debug, "cannot save the TLS session; the next "
					     "connection makes a full handshake");
	} catch (const std::exception &) {
		// std::bad_alloc: the next connection makes a full handshake.
	}
}

void FetchJob::OnTlsStarted() noexcept
{
	if (options_.verbose)
		Log(LogLevel::Debug, "TLS established after STLS");
	TlsEstablished();
	session_->TlsStarted();
	Drive();
}

void FetchJob::OnData(std::string_view bytes) noexcept
{
	last_data_ms_ = uv_now(&loop_);
	if (awaiting_greeting_) {
		// The whole greeting line, not its first byte: a server that trickles
		// it must not hold the account past the connect timeout either.
		if (bytes.find('\n') != std::string_view::npos) {
			awaiting_greeting_ = false;
			connection_->SetIdleTimeout(options_.timeouts.idle_ms);
		} else if (uv_now(&loop_) >= greeting_deadline_ms_) {
			awaiting_greeting_ = false;
			session_->TimedOut("no complete greeting from " +
					   options_.account.host + " within " +
					   std::to_string(greeting_ms_ / 1000) + " s");
			Drive();
			return;
		}
	}
	if (secret_waiting_) {
		if (held_.size() + bytes.size() > max_held_bytes) {
			Finish(ExitCode::Protocol,
			       "the server sent more than 64 KiB before the login");
			return;
		}
		held_.append(bytes);
		return;
	}
	session_->Feed(bytes);
	Drive();
}

void FetchJob::OnEnd(const net::NetError &error) noexcept
{
	// A certificate refused after STLS is no hang-up during login to retry at once:
	// the server would show the same one. It ends the run like one refused at
	// connect time, and the scheduler's backoff decides when to try again.
	const bool refused = error.Kind() == net::NetErrorKind::TlsVerify;
	// A handshake that failed leaves no session worth offering again: whatever the
	// server or the settings now are, the next connection starts afresh.
	// So does a connection that ended while a saved session was on offer: a server
	// that hangs up on a session it cannot resume, instead of falling back to a
	// full handshake, must not be offered it at every retry.
	if (options_.tls_sessions &&
	    (refused || error.Kind() == net::NetErrorKind::Tls || tls_offered_))
		options_.tls_sessions->Forget();
	const bool offered = std::exchange(tls_offered_, false);
	if (!connected_ && offered && error.Kind() == net::NetErrorKind::Tls) {
		// A saved session the server could not take (a damaged file, a server
		// that hangs up instead of falling back) must not cost the run: the
		// full handshake it would have saved is just as good. Once: nothing is
		// offered now.
		Log(LogLevel::Warning, std::string(error.what()) +
					   " with the saved TLS session offered; "
					   "dropped it, connecting again with a full "
					   "handshake");
		StartSession(lock_step_, skip_capa_);
		return;
	}
	if (!connected_ || refused) {
		tls_failed_ = refused || error.Kind() == net::NetErrorKind::Tls;
		connection_.reset();
		auto end = UnreachedRunEnd(error, (redone_ || reconnected_ || resumed_) &&
						      !refused);
		Finish(end.code, std::move(end.error));
		return;
	}
	if (error.Kind() == net::NetErrorKind::IdleTimeout)
		session_->TimedOut(error.what());
	else if (error.Kind() == net::NetErrorKind::Closed)
		session_->ConnectionClosed();
	else
		// A reset may have cut off what would have shown the last body
		// incomplete: only a clean close proves it.
		session_->ConnectionClosed(error.what(), false);
	Drive();
}

void FetchJob::Drive()
{
	for (;;) {
		auto event = session_->Next();
		if (std::holds_alternative<pop3::NeedDataEvent>(event))
			break;
		if (std::holds_alternative<pop3::FinishedEvent>(event) ||
		    std::holds_alternative<pop3::FailedEvent>(event)) {
			// May start another session or report completion; `this` may be
			// gone afterwards.
			SessionOver(event);
			return;
		}
		if (!HandleEvent(event))
			return; // finished; `this` may be gone
	}
	if (session_->AwaitingClose() && close_wait_start_ms_ == 0) {
		close_wait_start_ms_ = uv_now(&loop_);
		StartTicking();
	}
	// Group commit: while more messages are on their way, one fsync of new/ can
	// cover many of them. The DELEs wait meanwhile, which costs nothing (they are
	// only needed before QUIT); messages already renamed but not yet covered are
	// still on the server, so a crash here loses nothing.
	if (destination_->GroupFull() || !session_->RetrievingMore())
		CommitPending();
	if (hand_off_wake_ != nullptr && connection_ && options_.timeouts.idle_ms > 0 &&
	    destination_->Settled() == idle_allows_mda_) {
		idle_allows_mda_ = !idle_allows_mda_;
		connection_->SetIdleTimeout(options_.timeouts.idle_ms +
					    (idle_allows_mda_ ? mda_timeout.count() : 0));
	}
	// The session counts what it hands out: nothing here reads the commands.
	const std::uint32_t deles_before = session_->Stats().dele_output;
	const bool quit_before = session_->Stats().quit_output;
	auto out = session_->TakeOutput();
	if (out.empty())
		return;
	// Stats() is refreshed on each call: read it again after TakeOutput().
	const auto &stats = session_->Stats();
	const bool dele = stats.dele_output > deles_before;
	const bool quit = stats.quit_output && !quit_before;
	const std::uint64_t deles_sent = stats.dele_output;
	if (options_.verbose)
		for (const auto &line : session_->TakeShown())
			Log(LogLevel::Debug, "C: " + line);
	connection_->Write(std::move(out));
	if (quit)
		// RFC 1939 §6: the server removes every marked message before it
		// answers QUIT. Dovecot on a busy disk took 6 ms a message: 100,000
		// deletions outlast any idle timeout that suits a silent server, and a
		// timeout here would leave the outcome unknown.
		connection_->SetIdleTimeout(options_.timeouts.idle_ms +
					    deles_sent * quit_ms_per_dele);
	if (dele)
		CrashPoint("dele-sent");
	if (quit)
		CrashPoint("quit-sent");
}

bool FetchJob::HandleEvent(pop3::Event &event)
{
	if (auto *data = std::get_if<pop3::MessageDataEvent>(&event)) {
		current_received_ += data->bytes.size();
		if (progress_)
			progress_(Progress());
		if (current_failed_)
			return true;
		try {
			destination_->Write(data->bytes);
		} catch (const store::SaveError &e) {
			current_failed_ = true;
			SaveFailed(current_, current_uidl_, e);
		}
	} else if (auto *begin = std::get_if<pop3::MessageBeginEvent>(&event)) {
		current_ = begin->number;
		current_uidl_ = begin->uidl;
		current_listed_ = begin->size;
		current_received_ = 0;
		current_failed_ = false;
		try {
			destination_->Begin(begin->number, begin->uidl, begin->size);
		} catch (const store::SaveError &e) {
			current_failed_ = true;
			SaveFailed(current_, current_uidl_, e);
		}
	} else if (auto *end = std::get_if<pop3::MessageEndEvent>(&event)) {
		if (!current_failed_) {
			try {
				const auto staged = destination_->End();
				if (options_.verbose)
					Log(LogLevel::Debug,
					    MessageName(end->number, current_uidl_) +
						": " + std::to_string(staged.bytes) +
						" bytes " +
						(staged.place.starts_with("queued ")
						     ? ""
						     : "saved as ") +
						staged.place);
			} catch (const store::SaveError &e) {
				current_failed_ = true;
				SaveFailed(end->number, current_uidl_, e);
			}
		}
		if (current_failed_) {
			++result_.not_saved;
			session_->NotSaved(end->number);
		}
		++received_messages_;
		received_listed_ += current_listed_;
		current_listed_ = current_received_ = 0;
	} else if (auto *dropped = std::get_if<pop3::MessageDiscardedEvent>(&event)) {
		destination_->Discard();
		current_failed_ = true;
		Log(LogLevel::Warning, dropped->text);
	} else if (auto *failed = std::get_if<pop3::MessageFailedEvent>(&event)) {
		++result_.not_retrieved;
		Log(LogLevel::Warning,
		    MessageName(failed->number, failed->uidl) +
			": not retrieved: " + Escape(failed->reply.line, 300));
	} else if (auto *listed = std::get_if<pop3::ListedEvent>(&event)) {
		result_.Listed(*listed, session_->Stats());
		// The Maildir is opened (and created) only now: a failed login leaves no
		// trace, and an unusable Maildir is found before the first RETR leaves.
		if (!options_.dry_run) {
			try {
				destination_->Open();
			} catch (const store::SaveError &e) {
				// Closing without QUIT: nothing can be marked yet, and
				// nothing should be.
				Finish(ExitCode::CantCreate, e.what());
				return false;
			}
		}
		if (!destination_->ForgetDuplicates(session_->DuplicateUidls())) {
			// Closing without QUIT: nothing this session marks can be
			// committed while the journal still vouches for those copies.
			Finish(ExitCode::IoError,
			       "cannot write the journal, so nothing is deleted");
			return false;
		}
		if (progress_)
			progress_(Progress());
		if (options_.verbose || session_->Stats().already_saved > 0)
			Log(LogLevel::Info, FormatListing(*listed, session_->Stats()));
	} else if (auto *warning = std::get_if<pop3::WarningEvent>(&event)) {
		Log(LogLevel::Warning, warning->text);
	} else if (std::holds_alternative<pop3::StartTlsEvent>(event)) {
		// The STLS command itself must reach the server before the handshake.
		if (auto out = session_->TakeOutput(); !out.empty())
			connection_->Write(std::move(out));
		connection_->StartTls();
	}
	return true;
}

void FetchJob::CommitPending()
{
	if (!destination_ || !session_)
		return;
	// The destination makes the group durable (invariant 1 is carried out there);
	// what it reports is passed on to the session in the order it happened, so
	// that a failure that stops retrieving does so before any NotSaved().
	const auto outcome = destination_->Commit();
	for (const auto &f : outcome.failed) {
		if (f.deferred) {
			// The MDA's own choice: the message waits on the server.
			Log(LogLevel::Warning,
			    MessageName(f.number, f.uidl) + ": deferred: " + f.why);
			++result_.deferred;
			session_->NotSaved(f.number);
			continue;
		}
		if (f.unsynced)
			// Not the reason of an earlier Maildir-wide failure: said even
			// after that one silenced the others.
			Log(LogLevel::Error,
			    MessageName(f.number, f.uidl) + ": cannot save: " + f.why);
		else
			SaveFailed(f.number, f.uidl, f.why, f.every_save);
		++result_.not_saved;
		session_->NotSaved(f.number);
	}
	for (const auto &d : outcome.durable) {
		if (d.new_copy) {
			++result_.saved;
			result_.saved_bytes += d.bytes;
			run_.saved_listed += d.listed;
			result_.saved_listed += d.listed;
		}
		session_->Saved(d.number);
	}
	if (outcome.completed && progress_)
		progress_(Progress());
}

void FetchJob::HandOffsProgressed()
{
	if (finished_ || !destination_)
		return;
	if (session_over_) {
		// Journaled now, not when the last MDA is done: the next MDA waits
		// for it (HandOffQueue).
		CommitPending();
		if (!destination_->Settled())
			return;
		const auto last = std::move(*session_over_);
		session_over_.reset();
		SessionOver(last); // `this` may be gone afterwards
		return;
	}
	if (session_ && connected_)
		Drive();
}

void FetchJob::SessionOver(const pop3::Event &last)
{
	if (!destination_->Settled()) {
		// An MDA still has a message: what it does decides whether the next
		// session may delete it. The loop goes on meanwhile.
		session_over_ = last;
		return;
	}
	// Whatever reached new/ was proven whole before it got there; it is made durable
	// and counted even if the session failed: the next session must know it, and
	// the user must not get it twice. A body that was still unproven is dropped
	// from tmp/ and downloaded again.
	CommitPending();
	// Copies in doubt are downloaded again (replacing their files) before any DELE.
	const bool stalled = CopiesInDoubt(last);
	if (stalled)
		destination_->EndSession([this](std::uint32_t number) {
			return session_->ShiftSuspect(number);
		});
	else
		destination_->EndSession({});
	const auto stats = session_->Stats();
	if (options_.verbose && stats.rtt_us > 0)
		Log(LogLevel::Debug, DescribeLink(stats));
	if (session_->Caps().login_delay_s)
		result_.login_delay_s = session_->Caps().login_delay_s;
	connection_.reset();

	if (std::holds_alternative<pop3::FinishedEvent>(last)) {
		CrashPoint("quit-confirmed");
		destination_->SessionCommitted(session_->MarkedUidls(),
					       session_->UidlsComplete());
		result_.Committed(stats);
		// A checkpoint: the deletions so far are committed; the rest follows on a
		// new connection, with keep after this session's last message.
		const std::uint32_t resume =
		    options_.policy.keep ? session_->ResumeNumber() : 1;
		const auto next =
		    checkpointing_
			? ContinueAfterCheckpoint(stats, resume, result_.not_saved,
						  stopping_, run_)
			: std::nullopt;
		if (next) {
			Log(LogLevel::Info, *next);
			reconnected_ = false;
			resuming_ = false;
			StartSession(false, false);
			return;
		}
		auto end = CommittedRunEnd(stats, result_.not_saved, stopping_,
					   result_.deferred);
		Finish(end.code, std::move(end.error));
		return;
	}

	destination_->Sync();
	const auto &error = std::get<pop3::FailedEvent>(last).error;
	if (RenewToken(error))
		return;
	result_.Failed(stats, session_->QuitSent(), error);
	RunState run;
	run.redone = redone_;
	run.resuming = resuming_;
	run.reconnected = reconnected_;
	run.stopping = stopping_;
	run.progress = result_.saved > saved_before_session_ && !stalled;
	run.saved = result_.saved;
	run.quit_sent = session_->QuitSent();
	run.pipelined = stats.max_in_flight > 1;
	run.tls = options_.account.tls;
	const auto next = NextAfterFailure(error, run);
	using Step = AfterFailure::Step;
	switch (next.step) {
	case Step::Redo:
		CrashPoint("redo-start");
		[[fallthrough]];
	case Step::RedoAfterDrops:
		redone_ = true;
		resuming_ = false;
		result_.redone_lock_step = true;
		Log(LogLevel::Warning, next.message);
		StartSession(true, false);
		return;
	case Step::Resume:
		resumed_ = resuming_ = true;
		Log(LogLevel::Warning, next.message);
		StartSession(redone_, false);
		return;
	case Step::Reconnect:
		reconnected_ = true;
		Log(LogLevel::Warning, next.message);
		StartSession(redone_, next.skip_capa);
		return;
	case Step::End:
		break;
	}
	Finish(ExitCodeFor(error.kind), next.message);
}

bool FetchJob::RenewToken(const pop3::Error &error)
{
	if (error.kind != pop3::ErrorKind::Auth || result_.logged_in ||
	    !options_.token_renewal || NeededSecret(options_) != LoginSecret::Token)
		return false;
	// Once: a token refused right after it was renewed is no stale token.
	Log(LogLevel::Warning, error.message + "; renewing the access token once");
	options_.token_source = std::move(options_.token_renewal);
	options_.token_renewal = nullptr;
	options_.account.token.clear();
	secret_asked_ = false;
	StartSession(redone_, false);
	return true;
}

void FetchJob::Finish(ExitCode code, std::string error)
{
	if (finished_)
		return;
	finished_ = true;
	if (suppressed_save_errors_ > 0)
		Log(LogLevel::Error,
		    std::to_string(suppressed_save_errors_) +
			" more message(s) could not be saved for the same reason");
	result_.code = code;
	result_.error = std::move(error);
	result_.error_class = lock_busy_
				  ? ErrorClass::Local
				  : ClassifyError(code, tls_failed_, result_.resp_code);
	result_.seconds =
	    std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
		.count();
	connection_.reset();
	StopTicking();
	if (destination_) {
		// Releases the account's lock; what an MDA finished meanwhile was
		// delivered, and counts (the next run deletes it without a download).
		const auto ended = destination_->Close();
		for (const auto &d : ended.durable)
			if (d.new_copy) {
				++result_.saved;
				result_.saved_bytes += d.bytes;
				result_.saved_listed += d.listed;
			}
	}
	// Close() waited for the MDA's thread: the loop need not stay up for it.
	CloseHandOffWake();
	// Last statement: the callback may destroy this job.
	done_(result_);
}

} // namespace popstream::fetch
