#include "Session.hxx"

#include "Listing.hxx"
#include "core/util/Blank.hxx"
#include "core/util/Escape.hxx"

#include <algorithm>
#include <cassert>
#include <charconv>

namespace popstream::pop3 {

namespace {

/** @return the inventory's part of @p config; moves the lookup out of it (the other
 *          fields are plain values, which stay for the session to read) */
InventoryRules TakeInventoryRules(SessionConfig &config)
{
	return std::move(static_cast<InventoryRules &>(config));
}

/** @return the login's part of @p config; moves the credentials out of it */
LoginConfig TakeLoginConfig(SessionConfig &config)
{
	LoginConfig login;
	login.user = std::move(config.user);
	login.password = std::move(config.password);
	login.token = std::move(config.token);
	login.method = config.auth;
	login.allow_plaintext = config.allow_plaintext;
	login.starttls = config.starttls;
	login.secure = config.secure;
	login.loopback = config.loopback;
	login.client_certificate = config.client_certificate;
	login.skip_capa = config.skip_capa;
	login.capa_before_greeting = config.capa_before_greeting && !config.lock_step &&
				     config.pipelining != Pipelining::Off;
	login.host = config.host;
	login.port = config.port;
	login.provider = config.auth_provider;
	return login;
}

ErrorKind KindOf(LoginFailureKind kind) noexcept
{
	switch (kind) {
	case LoginFailureKind::Greeting:
		return ErrorKind::Greeting;
	case LoginFailureKind::StartTls:
		return ErrorKind::StartTls;
	case LoginFailureKind::Auth:
		break;
	case LoginFailureKind::AuthTemporary:
		return ErrorKind::AuthTemporary;
	case LoginFailureKind::Method:
		return ErrorKind::AuthMethod;
	case LoginFailureKind::Protocol:
		return ErrorKind::Protocol;
	}
	return ErrorKind::Auth;
}

/** @return whether a +OK to @p command opens a multi-line body, so that the command
 *          is answered in full only at its end */
bool OpensBody(Command command) noexcept
{
	return command == Command::Capa || command == Command::List ||
	       command == Command::Uidl || command == Command::Retr;
}

} // namespace

std::string Session::Quote(std::string_view server_text) const
{
	return login_.Quote(server_text);
}

std::vector<std::string> Session::RedactLines(std::string_view output)
{
	std::vector<std::string> lines;
	std::size_t pos = 0;
	while (pos < output.size()) {
		const auto eol = output.find('\n', pos);
		lines.push_back(Redact(output.substr(pos, eol - pos)));
		pos = eol == std::string_view::npos ? output.size() : eol + 1;
	}
	return lines;
}

Session::Session(SessionConfig config)
    : config_(std::move(config)), pipeline_(config_.pipelining, config_.lock_step),
      login_(TakeLoginConfig(config_)), inventory_(TakeInventoryRules(config_))
{
	if (config_.show_commands)
		pipeline_.KeepShown();
	pipeline_.Await(Command::Greeting);
	login_.Start(pipeline_);
}

const SessionStats &Session::Stats() const noexcept
{
	// Each counter has one owner; they meet here.
	static_cast<InventoryCounts &>(stats_) = inventory_.Counts();
	stats_.max_in_flight = pipeline_.MostInFlight();
	stats_.rtt_us = link_.RttUs();
	stats_.bytes_per_second = link_.BytesPerSecond();
	stats_.window_bytes = pipeline_.WindowBytes();
	stats_.dele_output = pipeline_.DelesTaken();
	stats_.quit_output = pipeline_.QuitTaken();
	return stats_;
}

void Session::Feed(std::string_view bytes)
{
	// Drop what has been parsed. Between Feed() calls the caller has drained Next(),
	// so at most one partial line (bounded by max_line_bytes) moves.
	if (in_pos_ > 0) {
		in_.erase(0, in_pos_);
		scan_pos_ -= std::min(scan_pos_, in_pos_);
		in_pos_ = 0;
	}
	in_.append(bytes);
	if (!config_.clock_us)
		return;
	now_us_ = config_.clock_us();
	if (phase_ == Phase::Transaction && pipeline_.RetrBytes() > 0)
		link_.Received(now_us_, bytes.size());
	else
		link_.Idle();
	pipeline_.SetWindowBytes(link_.WindowBytes());
}

std::string Session::TakeOutput()
{
	std::string out = pipeline_.TakeOutput();
	// A batch sent with nothing older in flight times one round trip: the next
	// status line answers its first command (LinkEstimate). Not a login: servers
	// delay its answer on purpose (Dovecot by seconds after a wrong password).
	if (config_.clock_us && probe_us_ == 0 && !out.empty() &&
	    !pipeline_.LoginInFlight() &&
	    static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n')) ==
		pipeline_.Size())
		probe_us_ = config_.clock_us();
	return out;
}

std::vector<std::string> Session::TakeShown()
{
	return pipeline_.TakeShown();
}

void Session::TlsStarted()
{
	if (phase_ == Phase::Login)
		OnLogin(login_.TlsStarted(pipeline_));
}

void Session::OnLogin(Login::Step step)
{
	if (login_.TakeListingCue()) {
		// Behind the credentials and the CAPA after login: a refused login earns
		// these -ERR and ends the session at its own reply (invariant 4).
		listing_sent_ = true;
		SendListing();
	}
	switch (step) {
	case Login::Step::Continue:
		return;
	case Login::Step::ReadCapabilities:
		reading_ = Reading::Listing;
		return;
	case Login::Step::StartTls:
		// Bytes after the +OK came in cleartext but would be read as if they
		// came over TLS: a classic injection (CVE-2011-0411 for SMTP).
		if (in_pos_ < in_.size())
			return Fail(
			    ErrorKind::Protocol,
			    "protocol error: server sent data after accepting STLS");
		queued_.push_back(StartTlsEvent{});
		return;
	case Login::Step::LoggedIn:
		phase_ = Phase::Listing;
		if (!listing_sent_)
			SendListing();
		return;
	case Login::Step::Done:
		return AfterReply();
	case Login::Step::Failed: {
		const LoginFailure &failure = login_.Failure();
		return Fail(KindOf(failure.kind), failure.message, failure.reply);
	}
	}
}

void Session::SendListing()
{
	// Behind the CAPA that Login sends after PASS, if any.
	// UIDL before LIST: a server that writes something into each message when it
	// first answers UIDL (GNU mailutils stamps an X-UIDL: header) lists the final
	// sizes only after it, and a size that differs from the listing must remain a
	// sign of replies out of step.
	pending_listing_ = {Command::Stat, Command::Uidl, Command::List};
	Pump();
}

std::optional<std::string_view> Session::TakeLine()
{
	const auto lf = in_.find('\n', std::max(scan_pos_, in_pos_));
	if (lf == std::string::npos) {
		scan_pos_ = in_.size();
		return std::nullopt;
	}
	std::string_view line(in_.data() + in_pos_, lf - in_pos_);
	if (!line.empty() && line.back() == '\r')
		line.remove_suffix(1);
	in_pos_ = scan_pos_ = lf + 1;
	return line;
}

Event Session::Next()
{
	for (;;) {
		if (!queued_.empty()) {
			Event e = std::move(queued_.front());
			queued_.pop_front();
			return e;
		}
		if (Over())
			return NeedDataEvent{};

		if (phase_ == Phase::Closing) {
			if (in_pos_ < in_.size()) {
				Fail(
				    ErrorKind::QuitFailed,
				    "deletions not confirmed: the server sent " +
					Quote(std::string_view(in_).substr(in_pos_, 80)) +
					" after its +OK to QUIT, so that +OK may have "
					"answered another command");
				continue;
			}
			// The server closed (or kept quiet) after +OK to QUIT: done.
			if (eof_ || timed_out_) {
				Finish(true);
				continue;
			}
			return NeedDataEvent{};
		}
		if (reading_ == Reading::Body) {
			if (in_pos_ < in_.size()) {
				HandleBody();
				continue;
			}
		} else if (skipping_line_) {
			if (SkipLongLine())
				continue;
		} else if (const auto line = TakeLine()) {
			if (reading_ == Reading::StatusLine)
				HandleStatus(*line);
			else if (*line == ".")
				HandleListingEnd();
			else
				HandleListingLine(
				    line->substr(line->starts_with('.') ? 1 : 0));
			continue;
		} else if (in_.size() - in_pos_ > limits::max_line_bytes) {
			if (reading_ == Reading::Listing &&
			    pipeline_.Front().command == Command::Uidl) {
				// One message's unique-id cannot block the mailbox: it
				// loses de-duplication, the rest of its line is dropped
				// unread.
				std::string_view head(in_.data() + in_pos_, 16);
				head = head.substr(0, head.find_first_of(" \t"));
				const auto number = LeadingMessageNumber(head);
				skipping_line_ = true;
				skipped_bytes_ = in_.size() - in_pos_;
				in_pos_ = scan_pos_ = in_.size();
				inventory_.BadUidl(
				    number.value_or(0),
				    "its UIDL line is longer than " +
					std::to_string(limits::max_line_bytes) +
					" bytes");
				TakeInventoryWarnings();
				continue;
			}
			Fail(ErrorKind::Protocol,
			     "protocol error: server reply line too long (more than " +
				 std::to_string(limits::max_line_bytes) + " bytes)");
			continue;
		}

		// The input is used up; only now can an end of the connection be judged,
		// since the bytes before it (a final +OK to QUIT) come first. A clean
		// close right after a body is as good a proof of it as a reply.
		if (eof_ && clean_eof_ && unproven_)
			Prove();
		if (eof_)
			FailConnection(ErrorKind::ConnectionLost, end_reason_);
		else if (timed_out_)
			FailConnection(ErrorKind::Timeout, end_reason_);
		else
			return NeedDataEvent{};
	}
}

std::string Session::Describe(const InFlight &f) const
{
	const auto &messages = inventory_.Messages();
	switch (f.command) {
	case Command::Greeting:
		return "the greeting";
	case Command::Capa:
		return "the reply to CAPA";
	case Command::Stls:
		return "the reply to STLS";
	case Command::User:
		return "the reply to USER";
	case Command::Pass:
		return "the reply to PASS";
	case Command::Apop:
		return "the reply to APOP";
	case Command::Auth:
		return "the reply to AUTH";
	case Command::Stat:
		return "the reply to STAT";
	case Command::List:
		return "the reply to LIST";
	case Command::Uidl:
		return "the reply to UIDL";
	case Command::Retr:
		return "message " + std::to_string(messages[f.index].number) + " (RETR " +
		       std::to_string(messages[f.index].number) + ")";
	case Command::Dele:
		return "the reply to DELE " + std::to_string(messages[f.index].number);
	case Command::Noop:
		return "the reply to NOOP";
	case Command::Quit:
		return "the reply to QUIT";
	}
	return "a reply";
}

void Session::HandleStatus(std::string_view line)
{
	// A reply when none is due cannot belong to any command: out of step.
	if (pipeline_.Empty())
		return Fail(ErrorKind::Desync,
			    "protocol error: unexpected data from the server: " +
				Quote(line));
	const InFlight f = pipeline_.Front();
	if (probe_us_ != 0) {
		link_.RttSample(now_us_ - std::min(now_us_, probe_us_));
		probe_us_ = 0;
	}
	auto parsed = ParseReply(line);
	// RFC 5034 §4: during AUTH, "+ " (or a bare "+") is a challenge, not a reply.
	if (!parsed && f.command == Command::Auth && login_.InExchange() &&
	    (line == "+" || line.starts_with("+ "))) {
		pipeline_.Pop();
		return OnLogin(login_.OnContinuation(
		    line.size() > 2 ? line.substr(2) : "", pipeline_));
	}
	// A well-formed status line after a body proves that body ended where the
	// server meant it to; a line that is not one leaves it unproven (never
	// reported, so never saved).
	if (parsed && unproven_)
		Prove();
	if (!parsed) {
		if (f.command == Command::Greeting)
			return Fail(ErrorKind::Protocol,
				    "protocol error: not a POP3 greeting: " +
					Quote(line));
		return Fail(ErrorKind::Desync, "protocol error: expected " + Describe(f) +
						   ", got " + Quote(line));
	}
	Reply reply = std::move(*parsed);
	if (!reply.ok || !OpensBody(f.command))
		pipeline_.Pop();
	if (!login_.Done())
		return OnLogin(login_.OnReply(reply, pipeline_));

	switch (f.command) {
	case Command::Stat:
		if (reply.ok) {
			// "+OK nn mm" (RFC 1939 §5); used only as an early sanity bound.
			std::string_view rest =
			    TrimBlanks(std::string_view(reply.line).substr(3));
			std::uint64_t count = 0;
			const auto [p, ec] = std::from_chars(
			    rest.data(), rest.data() + rest.size(), count);
			if (ec == std::errc() && p != rest.data())
				if (auto error = inventory_.Announced(count))
					return Fail(ErrorKind::Protocol,
						    std::move(*error));
		}
		return AfterReply();

	case Command::List:
		if (!reply.ok)
			return Fail(ErrorKind::Protocol,
				    "LIST failed: " + Quote(reply.line), reply);
		reading_ = Reading::Listing;
		return;

	case Command::Uidl:
		if (reply.ok) {
			reading_ = Reading::Listing;
			return;
		}
		queued_.push_back(WarningEvent{
		    std::string(config_.keep
				    ? "warning: server lacks UIDL: messages kept on it "
				      "cannot be told apart, so every run downloads them "
				      "all again"
				    : "warning: server lacks UIDL: crash de-duplication "
				      "unavailable") +
		    " (UIDL answered " + Quote(reply.line) + ")"});
		return AfterReply();

	case Command::Noop:
		// +OK or -ERR alike: a status line where one was due.
		return AfterReply();

	case Command::Retr: {
		const TrackedMessage &m = inventory_.Messages()[f.index];
		if (reply.ok) {
			reading_ = Reading::Body;
			decoder_.Reset();
			body_bytes_ = 0;
			queued_.push_back(MessageBeginEvent{m.number, m.size, m.Uidl()});
			return;
		}
		++stats_.not_retrieved;
		queued_.push_back(
		    MessageFailedEvent{m.number, m.Uidl(), std::move(reply)});
		Pump();
		return;
	}

	case Command::Dele: {
		if (reply.ok) {
			++stats_.marked;
			progress_[f.index].marked = true;
		} else {
			++stats_.dele_failed;
			const TrackedMessage &m = inventory_.Messages()[f.index];
			queued_.push_back(WarningEvent{
			    "message " + std::to_string(m.number) +
			    (m.uidl ? " (UIDL " + Escape(m.Uidl(), 80) + ")" : "") +
			    ": saved, but DELE failed: " + Quote(reply.line)});
		}
		return AfterReply();
	}

	case Command::Quit:
		if (!reply.ok)
			return Fail(
			    ErrorKind::QuitFailed,
			    "deletions not confirmed by the server: QUIT answered " +
				Quote(reply.line),
			    reply);
		// Not done yet: the server now closes the connection. Anything else it
		// sends would mean this +OK answered an earlier command.
		phase_ = Phase::Closing;
		return;

	case Command::Greeting:
	case Command::Capa:
	case Command::Stls:
	case Command::User:
	case Command::Pass:
	case Command::Apop:
	case Command::Auth:
		// Login's, which is over before any of the session's is sent.
		break;
	}
	assert(false);
}

void Session::HandleListingLine(std::string_view line)
{
	switch (pipeline_.Front().command) {
	case Command::Capa:
		login_.OnCapabilityLine(line);
		break;
	case Command::List: {
		if (TrimBlanks(line).empty())
			break;
		const auto entry = ParseListLine(line);
		if (!entry)
			return Fail(ErrorKind::Protocol,
				    "protocol error: bad LIST line " + Quote(line));
		if (auto error = inventory_.AddSize(entry->number, entry->size))
			return Fail(ErrorKind::Protocol, std::move(*error));
		break;
	}
	case Command::Uidl:
		if (TrimBlanks(line).empty())
			break;
		inventory_.AddUidlLine(
		    line, [this](std::string_view text) { return Quote(text); });
		TakeInventoryWarnings();
		break;
	default:
		assert(false);
	}
}

void Session::HandleListingEnd()
{
	const Command command = pipeline_.Front().command;
	pipeline_.Pop();
	reading_ = Reading::StatusLine;
	if (command == Command::Capa)
		return OnLogin(login_.OnCapabilitiesEnd(pipeline_));
	if (command == Command::Uidl)
		inventory_.UidlEnded();
	if (command == Command::List) {
		inventory_.ListEnded();
		TakeInventoryWarnings();
	}
	return AfterReply();
}

void Session::AfterReply()
{
	if (phase_ == Phase::Listing && pipeline_.Empty() && pending_listing_.empty())
		return StartTransaction();
	Pump();
}

bool Session::SkipLongLine()
{
	const auto lf = in_.find('\n', in_pos_);
	skipped_bytes_ += (lf == std::string::npos ? in_.size() : lf) - in_pos_;
	if (skipped_bytes_ > limits::max_skipped_line_bytes) {
		Fail(ErrorKind::Protocol,
		     "protocol error: server reply line too long (more than " +
			 std::to_string(limits::max_skipped_line_bytes) + " bytes)");
		return true;
	}
	if (lf == std::string::npos) {
		in_pos_ = scan_pos_ = in_.size();
		return false;
	}
	in_pos_ = scan_pos_ = lf + 1;
	skipping_line_ = false;
	return true;
}

void Session::TakeInventoryWarnings()
{
	for (auto &text : inventory_.TakeWarnings())
		queued_.push_back(WarningEvent{std::move(text)});
}

void Session::StartTransaction()
{
	phase_ = Phase::Transaction;
	inventory_.Classify();
	TakeInventoryWarnings();

	const auto &messages = inventory_.Messages();
	progress_.assign(messages.size(), Progress{});
	for (std::uint32_t i = 0; i < messages.size(); ++i) {
		switch (messages[i].plan) {
		case Plan::Fetch:
			pending_retr_.push_back(i);
			break;
		case Plan::Dele:
		case Plan::OversizeDele:
			pending_dele_.push_back(i);
			break;
		case Plan::Keep:
			break;
		}
	}
	const InventoryCounts &counts = inventory_.Counts();
	queued_.push_back(
	    ListedEvent{counts.listed, counts.listed_bytes, inventory_.HaveUidl()});
	if (config_.dry_run) {
		// What would be fetched is counted above; nothing is sent but QUIT.
		pending_retr_.clear();
		pending_dele_.clear();
		return SendQuit();
	}
	Pump();
}

void Session::SendQuit()
{
	pipeline_.Submit(Command::Quit, "QUIT");
	quit_sent_ = true;
	phase_ = Phase::Quitting;
}

void Session::Pump()
{
	const auto &messages = inventory_.Messages();
	for (;;) {
		if (!pending_listing_.empty()) {
			const Command command = pending_listing_.front();
			if (!pipeline_.CanSubmit(command))
				break;
			pending_listing_.pop_front();
			pipeline_.Submit(command, command == Command::Stat   ? "STAT"
						  : command == Command::List ? "LIST"
									     : "UIDL");
			continue;
		}
		if (phase_ != Phase::Transaction)
			break;
		// DELEs first: they are tiny, and a DELE sent early is a deletion that a
		// later failure in this session cannot lose.
		if (!pending_dele_.empty()) {
			if (!pipeline_.CanSubmit(Command::Dele))
				break;
			const auto i = pending_dele_.front();
			pending_dele_.pop_front();
			pipeline_.Submit(Command::Dele,
					 "DELE " + std::to_string(messages[i].number), i);
			continue;
		}
		if (!pending_retr_.empty()) {
			const auto i = pending_retr_.front();
			if (!pipeline_.CanSubmit(Command::Retr, messages[i].size))
				break;
			pending_retr_.pop_front();
			pipeline_.Submit(Command::Retr,
					 "RETR " + std::to_string(messages[i].number), i,
					 messages[i].size);
			continue;
		}
		break;
	}
	// A body is proven whole by the status line after it. The last RETR gets a
	// NOOP (RFC 1939 §5) right behind it when pipelining, so that its proof costs
	// no round trip; one command at a time, NOOP goes out when nothing else is due.
	const bool last_retr_sent = pipeline_.Window() > 1 &&
				    pipeline_.CanSubmit(Command::Noop) &&
				    pending_retr_.empty() && !pipeline_.Empty() &&
				    pipeline_.Back().command == Command::Retr;
	if (phase_ == Phase::Transaction &&
	    (last_retr_sent || (unproven_ && pipeline_.Empty()))) {
		pipeline_.Submit(Command::Noop, "NOOP");
		return;
	}
	// QUIT may follow DELEs still in flight when pipelining (the pipeline's rule).
	if (phase_ == Phase::Transaction && pending_retr_.empty() &&
	    pending_dele_.empty() && awaiting_save_ == 0 &&
	    pipeline_.CanSubmit(Command::Quit))
		SendQuit();
}

void Session::HandleBody()
{
	const InFlight f = pipeline_.Front();
	const TrackedMessage &m = inventory_.Messages()[f.index];
	body_.clear();
	const auto result = decoder_.Decode(std::string_view(in_).substr(in_pos_), body_);
	in_pos_ += result.consumed;
	scan_pos_ = in_pos_;
	body_bytes_ += body_.size();

	// Generous, since some servers misstate sizes; the point is that an endless
	// response ends.
	const std::uint64_t allowed = 16 * m.size + limits::message_overrun_bytes;
	if (body_bytes_ > allowed)
		return Fail(ErrorKind::Protocol,
			    "protocol error: message " + std::to_string(m.number) +
				": server sent more than " + std::to_string(allowed) +
				" bytes for a message listed as " +
				std::to_string(m.size) + " octets");

	if (!body_.empty())
		queued_.push_back(MessageDataEvent{m.number, body_});
	if (!result.done)
		return;

	pipeline_.Pop();
	reading_ = Reading::StatusLine;
	++stats_.retrieved;
	stats_.retrieved_bytes += body_bytes_;

	// RFC 1939 §5: LIST gives the exact size. Under pipelining a body of another
	// size is the first visible sign of replies out of step with the commands (a
	// reply missing or extra, a "." line the server forgot to stuff): this content
	// may not be message n at all, so nothing more may be sent in this session, and
	// the copy is never reported: the redo downloads the message again.
	// A message whose last line lacks a line end arrives with one: POP3's framing
	// adds the CRLF before the terminator (Dovecot does), the listing does not.
	const std::uint64_t octets = body_bytes_ + decoder_.CrlfCount();
	const bool size_matches = octets == m.size || octets == m.size + 2;
	if (!size_matches) {
		++stats_.size_mismatches;
		const std::string what = "message " + std::to_string(m.number) + ": " +
					 std::to_string(octets) +
					 " octets received where the "
					 "listing said " +
					 std::to_string(m.size);
		if (pipeline_.Window() > 1)
			return Fail(
			    ErrorKind::Desync,
			    "protocol error: " + what +
				"; the replies may be out of step with the commands");
		// One command at a time the reply can only be this message's. A server
		// that counts its stored file (LF line ends) instead of the wire is a
		// known loose count, accepted with a warning once the next status line
		// shows the replies in step. Any other size may be a body cut short by a
		// "." line the server forgot to stuff, or run into the next reply: never
		// saved, so never deleted; the message stays on the server.
		if (body_bytes_ != m.size) {
			++stats_.not_retrieved;
			queued_.push_back(MessageDiscardedEvent{
			    m.number, m.Uidl(),
			    "message " + std::to_string(m.number) +
				(m.uidl ? " (UIDL " + Escape(m.Uidl(), 80) + ")" : "") +
				": " + std::to_string(octets) +
				" octets received where the listing said " +
				std::to_string(m.size) +
				": not saved, since it may be cut short or run into the "
				"next "
				"reply; it stays on the server"});
			Pump();
			return;
		}
		progress_[f.index].loose = true;
		queued_.push_back(WarningEvent{
		    "warning: " + what + " (the server counts line ends as one octet)"});
	}
	// Counted now, so that QUIT waits; answerable with Saved() only once proven.
	++awaiting_save_;
	unproven_ = MessageEndEvent{m.number, octets, size_matches};
	// The next command goes out at once: its status line is what proves this body.
	Pump();
}

void Session::Prove()
{
	if (const auto i = inventory_.IndexOf(unproven_->number))
		progress_[*i].awaiting_save = true;
	queued_.push_back(*unproven_);
	unproven_.reset();
}

void Session::Saved(std::uint32_t number)
{
	const auto i = inventory_.IndexOf(number);
	if (!i || !progress_[*i].awaiting_save)
		return;
	progress_[*i].awaiting_save = false;
	--awaiting_save_;
	++stats_.saved;
	if (phase_ != Phase::Transaction)
		return;
	if (!config_.keep)
		pending_dele_.push_back(*i);
	Pump();
}

void Session::NotSaved(std::uint32_t number)
{
	const auto i = inventory_.IndexOf(number);
	if (!i || !progress_[*i].awaiting_save)
		return;
	progress_[*i].awaiting_save = false;
	--awaiting_save_;
	++stats_.not_saved;
	if (phase_ == Phase::Transaction)
		Pump();
}

std::vector<std::string_view> Session::MarkedUidls() const
{
	const auto &messages = inventory_.Messages();
	std::vector<std::string_view> out;
	for (std::size_t i = 0; i < progress_.size(); ++i)
		if (progress_[i].marked && messages[i].uidl)
			out.push_back(messages[i].Uidl());
	return out;
}

bool Session::ShiftSuspect(std::uint32_t number) const
{
	const auto i = inventory_.IndexOf(number);
	return i && (progress_[*i].loose || inventory_.HasSizeTwin(*i));
}

std::vector<std::string_view> Session::DuplicateUidls() const
{
	return inventory_.DuplicateUidls();
}

std::uint32_t Session::ResumeNumber() const noexcept
{
	const std::uint32_t first_deferred = inventory_.FirstDeferred();
	if (first_deferred == 0)
		return 1;
	const auto &messages = inventory_.Messages();
	std::uint32_t deleted_before = 0;
	for (std::size_t i = 0; i < progress_.size(); ++i)
		if (progress_[i].marked && messages[i].number < first_deferred)
			++deleted_before;
	return first_deferred - deleted_before;
}

bool Session::RetrievingMore() const noexcept
{
	// Only a RETR already sent brings data without the caller acting: one still
	// pending may wait for a Saved() (lock-step), which must not wait for it. One
	// command at a time the next body is a round trip away anyway: each message is
	// made durable on its own.
	return pipeline_.Window() > 1 && pipeline_.Has(Command::Retr);
}

void Session::StopRetrieving()
{
	inventory_.StopFetching();
	pending_retr_.clear();
	if (phase_ == Phase::Transaction)
		Pump();
}

void Session::ConnectionClosed(std::string reason, bool clean)
{
	eof_ = true;
	clean_eof_ = clean;
	end_reason_ = std::move(reason);
}

void Session::TimedOut(std::string reason)
{
	timed_out_ = true;
	end_reason_ = std::move(reason);
}

Retry Session::RetryFor(ErrorKind kind) const noexcept
{
	if (kind != ErrorKind::ConnectionLost && kind != ErrorKind::Timeout &&
	    kind != ErrorKind::Desync)
		return Retry::None;
	// Silence instead of a greeting is no hang-up to retry: typically a TLS port
	// spoken to in cleartext, which waits for a ClientHello forever.
	if (kind == ErrorKind::Timeout && !pipeline_.Empty() &&
	    pipeline_.Front().command == Command::Greeting)
		return Retry::None;
	if (phase_ == Phase::Login && kind != ErrorKind::Desync)
		return Retry::Reconnect;
	// Credentials answered by nonsense are not sent again at once: the server may
	// count it as a failed login, and lock the account after a few (case 03 B).
	if (phase_ == Phase::Login && !pipeline_.Empty()) {
		const Command head = pipeline_.Front().command;
		if (head == Command::User || head == Command::Pass ||
		    head == Command::Apop || head == Command::Auth)
			return Retry::None;
	}
	if (kind == ErrorKind::Desync)
		return pipeline_.Pipelined() && !config_.lock_step ? Retry::LockStep
								   : Retry::None;
	// A drop or a stall is what a long link does, not a sign of replies out of
	// step: what was proven stays proven, and the next session goes on as this one.
	return Retry::Resume;
}

void Session::Fail(ErrorKind kind, std::string message, std::optional<Reply> reply)
{
	Error error{kind, std::move(message), std::move(reply), RetryFor(kind), false};
	error.capa_suspect =
	    !pipeline_.Empty() && pipeline_.Front().command == Command::Capa;
	phase_ = Phase::Failed;
	// Nothing more may reach the server: a DELE or QUIT queued in this same pass
	// could now be misattributed or commit what it should not.
	pipeline_.DropOutput();
	queued_.push_back(FailedEvent{std::move(error)});
}

void Session::FailConnection(ErrorKind kind, std::string message)
{
	if (phase_ == Phase::Quitting && !pipeline_.Empty() &&
	    pipeline_.Front().command == Command::Quit)
		return Fail(ErrorKind::QuitFailed,
			    "deletions not confirmed by the server: " + message +
				" before answering QUIT");
	// A reply missing before a body shifts it, and leaves the session waiting for
	// a RETR's (or the NOOP's) reply that never comes, until the link stalls or the
	// server hangs up. An end right after a +OK to RETR counts too: the +OK that
	// answered a later command is taken for it. An end in the middle of a body is
	// what a link does.
	const bool body_due =
	    pipeline_.Has(Command::Retr) || pipeline_.Has(Command::Noop);
	const bool reply_due =
	    body_due && (reading_ == Reading::StatusLine ||
			 (reading_ == Reading::Body && body_bytes_ == 0));
	if (!pipeline_.Empty())
		message += " while waiting for " + Describe(pipeline_.Front());
	Fail(kind, std::move(message));
	std::get<FailedEvent>(queued_.back()).error.ended_where_reply_due = reply_due;
}

void Session::Finish(bool committed)
{
	phase_ = Phase::Done;
	if (committed)
		stats_.deleted = stats_.marked;
	queued_.push_back(FinishedEvent{committed});
}

} // namespace popstream::pop3
