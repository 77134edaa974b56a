#include "FetchJob.hxx"

#include "core/util/Escape.hxx"
#include "store/MaildirWriter.hxx"

#include <cerrno>
#include <cstdio>

namespace popstream::fetch {

namespace {

std::string MessageName(std::uint32_t number, std::string_view uidl)
{
	std::string s = "message " + std::to_string(number);
	if (!uidl.empty())
		s += " (UIDL " + Escape(uidl, 100) + ")";
	return s;
}

/** Errors after which no other message can be saved either. */
bool IsMaildirWide(int error) noexcept
{
	return error == ENOSPC || error == EDQUOT || error == EROFS || error == EIO ||
	       error == EACCES || error == EPERM;
}

} // namespace

ExitCode ExitCodeFor(net::NetErrorKind kind) noexcept
{
	using net::NetErrorKind;
	switch (kind) {
	case NetErrorKind::Resolve:
		return ExitCode::NoHost;
	case NetErrorKind::Refused:
	case NetErrorKind::Connect:
	case NetErrorKind::Tls:
	case NetErrorKind::TlsVerify:
		return ExitCode::Unavailable;
	case NetErrorKind::ConnectTimeout:
	case NetErrorKind::IdleTimeout:
	case NetErrorKind::Closed:
	case NetErrorKind::Io:
		return ExitCode::TempFail;
	}
	return ExitCode::Software;
}

ExitCode ExitCodeFor(pop3::ErrorKind kind) noexcept
{
	using pop3::ErrorKind;
	switch (kind) {
	case ErrorKind::Auth:
		return ExitCode::NoPerm;
	case ErrorKind::Protocol:
	case ErrorKind::Desync:
		return ExitCode::Protocol;
	case ErrorKind::StartTls:
		return ExitCode::Unavailable;
	case ErrorKind::Greeting:
	case ErrorKind::AuthTemporary:
	case ErrorKind::ConnectionLost:
	case ErrorKind::Timeout:
	case ErrorKind::QuitFailed:
		return ExitCode::TempFail;
	}
	return ExitCode::Software;
}

FetchJob::FetchJob(uv_loop_t &loop, FetchOptions options, LogSink log,
		   std::function<void(const FetchResult &)> done)
    : loop_(loop), options_(std::move(options)), log_(std::move(log)),
      done_(std::move(done))
{
	result_.keep = options_.keep;
	result_.dry_run = options_.dry_run;
	result_.maildir = options_.maildir;
}

FetchJob::~FetchJob()
{
	CloseStopTimer();
}

void FetchJob::CloseStopTimer() noexcept
{
	if (stop_timer_ == nullptr)
		return;
	uv_timer_stop(stop_timer_);
	uv_close(reinterpret_cast<uv_handle_t *>(stop_timer_), [](uv_handle_t *handle) {
		delete reinterpret_cast<uv_timer_t *>(handle);
	});
	stop_timer_ = nullptr;
}

void FetchJob::Log(LogLevel level, const std::string &text)
{
	if (log_)
		log_(level, text);
}

void FetchJob::Start()
{
	start_ = std::chrono::steady_clock::now();
	StartSession(false, false);
}

void FetchJob::StartSession(bool lock_step, bool skip_capa)
{
	pop3::SessionConfig config;
	config.user = options_.account.user;
	config.password = options_.account.password;
	config.pipelining = options_.pipelining;
	config.keep = options_.keep;
	config.limit = options_.limit;
	config.dry_run = options_.dry_run;
	config.lock_step = lock_step;
	config.skip_capa = skip_capa;
	config.starttls = options_.starttls;
	config.secure = options_.account.tls;
	config.already_saved = [this](std::string_view uidl, std::uint64_t) {
		return saved_uidls_.find(uidl) != saved_uidls_.end();
	};
	session_ = std::make_unique<pop3::Session>(std::move(config));
	connected_ = false;

	net::Endpoint endpoint;
	endpoint.host = options_.account.host;
	endpoint.port = options_.account.port;
	endpoint.tls = options_.account.tls;
	endpoint.tls_name = options_.account.VerifyName();
	endpoint.ca_file = options_.ca_file;
	connection_ = std::make_unique<net::Connection>(
	    loop_, static_cast<net::ConnectionHandler &>(*this));
	connection_->Connect(endpoint, options_.timeouts);
}

FetchProgress FetchJob::Progress() const noexcept
{
	FetchProgress p;
	if (session_) {
		const auto &s = session_->Stats();
		p.messages_total = s.to_fetch;
		p.bytes_total = s.to_fetch_bytes;
	}
	p.messages_done = result_.saved;
	p.bytes_done = saved_listed_;
	return p;
}

void FetchJob::Stop(std::uint64_t deadline_ms) noexcept
{
	if (finished_ || !session_ || stopping_)
		return;
	stopping_ = true;
	stop_timer_ = new uv_timer_t;
	uv_timer_init(&loop_, stop_timer_);
	stop_timer_->data = this;
	uv_timer_start(
	    stop_timer_,
	    [](uv_timer_t *timer) { static_cast<FetchJob *>(timer->data)->Abort(); },
	    deadline_ms, 0);
	session_->StopRetrieving();
	if (connected_)
		Drive();
}

void FetchJob::Abort() noexcept
{
	if (finished_)
		return;
	CommitPending();
	Finish(ExitCode::TempFail,
	       "interrupted; the connection was dropped without QUIT, so "
	       "nothing was deleted on the server");
}

void FetchJob::OnConnected() noexcept
{
	connected_ = true;
	if (options_.verbose)
		Log(LogLevel::Debug, "connected to " + options_.account.host + ":" +
					 std::to_string(options_.account.port) +
					 (options_.account.tls ? " (TLS)" : ""));
}

void FetchJob::OnTlsStarted() noexcept
{
	if (options_.verbose)
		Log(LogLevel::Debug, "TLS established after STLS");
	session_->TlsStarted();
	Drive();
}

void FetchJob::OnData(std::string_view bytes) noexcept
{
	session_->Feed(bytes);
	Drive();
}

void FetchJob::OnEnd(const net::NetError &error) noexcept
{
	if (!connected_) {
		connection_.reset();
		// On the first connection nothing was said to any server: the network's
		// reason stands as it is. On a retry the run already reached the server
		// once, so the failure is a temporary one of this run (EX_TEMPFAIL).
		const bool retry = redone_ || reconnected_;
		Finish(retry ? ExitCode::TempFail : ExitCodeFor(error.Kind()),
		       retry ? "retry failed: " + std::string(error.what())
			     : error.what());
		return;
	}
	if (error.Kind() == net::NetErrorKind::IdleTimeout)
		session_->TimedOut(error.what());
	else if (error.Kind() == net::NetErrorKind::Closed)
		session_->ConnectionClosed();
	else
		session_->ConnectionClosed(error.what());
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
	CommitPending();
	auto out = session_->TakeOutput();
	if (out.empty())
		return;
	if (options_.verbose) {
		std::size_t pos = 0;
		while (pos < out.size()) {
			const auto eol = out.find('\n', pos);
			Log(LogLevel::Debug,
			    "C: " + pop3::Session::Redact(
					std::string_view(out).substr(pos, eol - pos)));
			pos = eol + 1;
		}
	}
	connection_->Write(std::move(out));
}

bool FetchJob::HandleEvent(pop3::Event &event)
{
	if (auto *data = std::get_if<pop3::MessageDataEvent>(&event)) {
		if (current_failed_)
			return true;
		try {
			delivery_->Write(data->bytes);
		} catch (const store::MaildirError &e) {
			delivery_.reset();
			current_failed_ = true;
			Log(LogLevel::Error, MessageName(current_, current_uidl_) +
						 ": cannot save: " + e.what());
			if (IsMaildirWide(e.Errno()))
				session_->StopRetrieving();
		}
	} else if (auto *begin = std::get_if<pop3::MessageBeginEvent>(&event)) {
		current_ = begin->number;
		current_uidl_ = begin->uidl;
		current_listed_ = begin->size;
		current_failed_ = false;
		try {
			delivery_ = std::make_unique<store::Delivery>(maildir_->Begin());
		} catch (const store::MaildirError &e) {
			current_failed_ = true;
			Log(LogLevel::Error, MessageName(current_, current_uidl_) +
						 ": cannot save: " + e.what());
			if (IsMaildirWide(e.Errno()))
				session_->StopRetrieving();
		}
	} else if (auto *end = std::get_if<pop3::MessageEndEvent>(&event)) {
		if (!current_failed_) {
			try {
				const auto bytes = delivery_->Size();
				const auto name = delivery_->Commit();
				if (options_.verbose)
					Log(LogLevel::Debug,
					    MessageName(end->number, current_uidl_) +
						": " + std::to_string(bytes) +
						" bytes saved as new/" + name);
				pending_.push_back(
				    {end->number, current_uidl_, bytes, current_listed_});
			} catch (const store::MaildirError &e) {
				current_failed_ = true;
				Log(LogLevel::Error,
				    MessageName(end->number, current_uidl_) +
					": cannot save: " + e.what());
				if (IsMaildirWide(e.Errno()))
					session_->StopRetrieving();
			}
		}
		delivery_.reset();
		if (current_failed_) {
			++result_.not_saved;
			session_->NotSaved(end->number);
		}
	} else if (auto *failed = std::get_if<pop3::MessageFailedEvent>(&event)) {
		++result_.not_retrieved;
		Log(LogLevel::Warning,
		    MessageName(failed->number, failed->uidl) +
			": not retrieved: " + Escape(failed->reply.line, 300));
	} else if (auto *listed = std::get_if<pop3::ListedEvent>(&event)) {
		result_.logged_in = true;
		result_.listed = listed->count;
		result_.listed_bytes = listed->bytes;
		// The Maildir is opened (and created) only now: a failed login leaves no
		// trace, and an unusable Maildir is found before the first RETR leaves.
		if (!options_.dry_run && !maildir_) {
			try {
				maildir_ =
				    std::make_unique<store::Maildir>(options_.maildir);
			} catch (const store::MaildirError &e) {
				// Closing without QUIT: nothing can be marked yet, and
				// nothing should be.
				Finish(ExitCode::CantCreate, e.what());
				return false;
			}
		}
		if (progress_)
			progress_(Progress());
		const auto &s = session_->Stats();
		if (options_.verbose || s.already_saved > 0)
			Log(LogLevel::Info,
			    std::to_string(listed->count) + " messages (" +
				std::to_string(listed->bytes) +
				" bytes) on the server; " + std::to_string(s.to_fetch) +
				" to download" +
				(s.already_saved > 0
				     ? ", " + std::to_string(s.already_saved) +
					   " saved earlier in this run"
				     : ""));
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
	if (pending_.empty() || !session_)
		return;
	try {
		maildir_->SyncNew();
	} catch (const store::MaildirError &e) {
		// The files are in new/, but not known to be durable: keep them on the
		// server (a duplicate is better than a loss).
		for (const auto &p : pending_) {
			Log(LogLevel::Error,
			    MessageName(p.number, p.uidl) + ": cannot save: " + e.what());
			++result_.not_saved;
			session_->NotSaved(p.number);
		}
		pending_.clear();
		return;
	}
	for (const auto &p : pending_) {
		++result_.saved;
		result_.saved_bytes += p.bytes;
		saved_listed_ += p.listed;
		if (!p.uidl.empty())
			saved_uidls_.insert(p.uidl);
		session_->Saved(p.number);
	}
	pending_.clear();
	if (progress_)
		progress_(Progress());
}

void FetchJob::SessionOver(const pop3::Event &last)
{
	// Whatever reached new/ is made durable and counted, even if the session failed:
	// the lock-step redo must know it, and the user must not get it twice.
	CommitPending();
	const auto stats = session_->Stats();
	if (session_->Caps().login_delay_s)
		result_.login_delay_s = session_->Caps().login_delay_s;
	connection_.reset();

	if (std::holds_alternative<pop3::FinishedEvent>(last)) {
		result_.committed = true;
		result_.deleted = stats.deleted;
		result_.already_saved = stats.already_saved;
		result_.not_retrieved = stats.not_retrieved;
		ExitCode code = ExitCode::Ok;
		std::string error;
		if (result_.not_saved > 0) {
			code = ExitCode::IoError;
			error = std::to_string(result_.not_saved) +
				" message(s) could not be saved";
		} else if (stats.not_retrieved > 0) {
			code = ExitCode::TempFail;
			error =
			    std::to_string(stats.not_retrieved) +
			    " message(s) could not be retrieved and stay on the server";
		}
		Finish(code, std::move(error));
		return;
	}

	const auto &error = std::get<pop3::FailedEvent>(last).error;
	result_.unconfirmed = stats.marked;
	if (error.reply)
		result_.resp_code = error.reply->code;
	if (error.retry == pop3::Retry::LockStep && !redone_ && !stopping_) {
		redone_ = true;
		result_.redone_lock_step = true;
		Log(LogLevel::Warning,
		    error.message +
			"; abandoning the session without QUIT (nothing it marked is "
			"deleted) "
			"and redoing it one command at a time on a new connection");
		StartSession(true, false);
		return;
	}
	if (error.retry == pop3::Retry::Reconnect && !reconnected_ && !stopping_) {
		reconnected_ = true;
		Log(LogLevel::Warning, error.message + "; reconnecting once" +
					   (error.capa_suspect ? " without CAPA" : ""));
		StartSession(redone_, error.capa_suspect);
		return;
	}
	Finish(ExitCodeFor(error.kind), error.message);
}

void FetchJob::Finish(ExitCode code, std::string error)
{
	if (finished_)
		return;
	finished_ = true;
	result_.code = code;
	result_.error = std::move(error);
	result_.seconds =
	    std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
		.count();
	connection_.reset();
	CloseStopTimer();
	// Last statement: the callback may destroy this job.
	done_(result_);
}

std::string FormatSummary(const std::string &label, const FetchResult &r)
{
	std::string s = label + ": ";
	if (r.dry_run) {
		s += "dry run: " + std::to_string(r.listed) + " messages, " +
		     std::to_string(r.listed_bytes) +
		     " bytes would be downloaded; nothing saved or deleted";
		return s;
	}
	char seconds[32];
	std::snprintf(seconds, sizeof(seconds), "%.2f", r.seconds);
	s += std::to_string(r.saved) + (r.saved == 1 ? " message, " : " messages, ") +
	     std::to_string(r.saved_bytes) + " bytes saved to " + r.maildir + " in " +
	     seconds + " s";
	if (r.keep) {
		s += "; all kept on the server (-n)";
	} else if (r.committed) {
		s += "; " + std::to_string(r.deleted) + " deleted on the server";
		if (r.already_saved > 0)
			s += " (" + std::to_string(r.already_saved) +
			     " of them saved earlier, not downloaded again)";
	} else if (r.saved > 0 || r.unconfirmed > 0) {
		s += "; nothing deleted on the server (no confirmed QUIT), so the saved "
		     "messages will be fetched again";
	}
	return s;
}

} // namespace popstream::fetch
