#include "Session.hxx"

#include "Listing.hxx"
#include "core/util/Escape.hxx"

#include <algorithm>
#include <cassert>
#include <charconv>

namespace popstream::pop3 {

namespace {

std::string QuoteRaw(std::string_view server_text)
{
	return "\"" + Escape(server_text, 200) + "\"";
}

bool IsTemporaryAuthFailure(const Reply &reply) noexcept
{
	// RFC 2449 §8.1.1-2 and RFC 3206 §4: these say "not now", not "wrong password".
	return reply.HasCode("IN-USE") || reply.HasCode("LOGIN-DELAY") ||
	       reply.HasCode("SYS/TEMP");
}

} // namespace

std::string Session::Quote(std::string_view server_text) const
{
	// A server may echo the password back ("wrong password 'x'"); it must not reach
	// a log through us.
	if (config_.password.empty() ||
	    server_text.find(config_.password) == std::string_view::npos)
		return QuoteRaw(server_text);
	std::string text(server_text);
	for (auto pos = text.find(config_.password); pos != std::string::npos;
	     pos = text.find(config_.password, pos + 8))
		text.replace(pos, config_.password.size(), "********");
	return QuoteRaw(text);
}

Session::Session(SessionConfig config)
    : config_(std::move(config)), pipeline_(config_.pipelining, config_.lock_step)
{
	pipeline_.Await(Command::Greeting);
	stats_.max_in_flight = pipeline_.MostInFlight();
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
}

std::string Session::TakeOutput()
{
	return pipeline_.TakeOutput();
}

std::string Session::Redact(std::string_view line)
{
	if (line.size() >= 5) {
		std::string head(line.substr(0, 5));
		for (char &c : head)
			if (c >= 'a' && c <= 'z')
				c = static_cast<char>(c - 'a' + 'A');
		if (head == "PASS ")
			return "PASS ********";
	}
	while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
		line.remove_suffix(1);
	return Escape(line);
}

void Session::Send(Command command, std::string line, std::uint32_t index)
{
	pipeline_.Submit(command, line, index,
			 command == Command::Retr ? messages_[index].size : 0);
	stats_.max_in_flight = pipeline_.MostInFlight();
}

void Session::AfterCapabilities()
{
	if (config_.starttls && !tls_started_)
		Send(Command::Stls, "STLS");
	else
		SendLogin();
}

void Session::TlsStarted()
{
	if (phase_ != Phase::Login || tls_started_)
		return;
	tls_started_ = true;
	// RFC 2595 §4: what the server said before TLS could have been forged.
	caps_ = Capabilities{};
	pipeline_.Negotiate(caps_);
	if (!capa_failed_ && !config_.skip_capa)
		Send(Command::Capa, "CAPA");
	else
		SendLogin();
}

void Session::SendLogin()
{
	Send(Command::User, "USER " + config_.user);
	// On a cleartext link PASS waits for USER's +OK: a server that refuses USER there
	// ("use TLS") must not receive the password. Over TLS nobody else sees it, so a
	// pipelining server gets both at once, saving a round trip.
	if ((config_.secure || tls_started_) && pipeline_.Window() > 1) {
		Send(Command::Pass, "PASS " + config_.password);
		pass_sent_ = true;
	}
}

void Session::SendListing()
{
	if (!capa_failed_ && !config_.skip_capa)
		Send(Command::Capa, "CAPA");
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
				BadUidl(number.value_or(0),
					"its UIDL line is longer than " +
					    std::to_string(limits::max_line_bytes) +
					    " bytes");
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
	case Command::Stat:
		return "the reply to STAT";
	case Command::List:
		return "the reply to LIST";
	case Command::Uidl:
		return "the reply to UIDL";
	case Command::Retr:
		return "message " + std::to_string(messages_[f.index].number) +
		       " (RETR " + std::to_string(messages_[f.index].number) + ")";
	case Command::Dele:
		return "the reply to DELE " + std::to_string(messages_[f.index].number);
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
	auto parsed = ParseReply(line);
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

	switch (f.command) {
	case Command::Greeting:
		pipeline_.Pop();
		if (!reply.ok)
			return Fail(ErrorKind::Greeting,
				    "server not ready: " + Quote(reply.line), reply);
		if (config_.skip_capa)
			AfterCapabilities();
		else
			Send(Command::Capa, "CAPA");
		return;

	case Command::Capa:
		if (reply.ok) {
			caps_ = Capabilities{};
			caps_.known = true;
			reading_ = Reading::Listing;
			return;
		}
		pipeline_.Pop();
		if (phase_ == Phase::Login) {
			capa_failed_ = true;
			AfterCapabilities();
			return;
		}
		return AfterReply();

	case Command::Stls:
		pipeline_.Pop();
		if (!reply.ok)
			return Fail(ErrorKind::StartTls,
				    "server refused STLS: " + Quote(reply.line) +
					"; not logging in without TLS",
				    reply);
		// Bytes after the +OK came in cleartext but would be read as if they
		// came over TLS: a classic injection (CVE-2011-0411 for SMTP).
		if (in_pos_ < in_.size())
			return Fail(
			    ErrorKind::StartTls,
			    "protocol error: server sent data after accepting STLS");
		queued_.push_back(StartTlsEvent{});
		return;

	case Command::User:
		pipeline_.Pop();
		if (!reply.ok)
			return Fail(IsTemporaryAuthFailure(reply)
					? ErrorKind::AuthTemporary
					: ErrorKind::Auth,
				    "login failed: " + Quote(reply.line), reply);
		if (!pass_sent_)
			Send(Command::Pass, "PASS " + config_.password);
		return;

	case Command::Pass:
		pipeline_.Pop();
		if (!reply.ok)
			return Fail(IsTemporaryAuthFailure(reply)
					? ErrorKind::AuthTemporary
					: ErrorKind::Auth,
				    "login failed: " + Quote(reply.line), reply);
		phase_ = Phase::Listing;
		SendListing();
		return;

	case Command::Stat:
		pipeline_.Pop();
		if (reply.ok) {
			// "+OK nn mm" (RFC 1939 §5); used only as an early sanity bound.
			std::string_view rest =
			    TrimBlanks(std::string_view(reply.line).substr(3));
			std::uint64_t count = 0;
			const auto [p, ec] = std::from_chars(
			    rest.data(), rest.data() + rest.size(), count);
			if (ec == std::errc() && p != rest.data() &&
			    count > limits::max_messages)
				return Fail(
				    ErrorKind::Protocol,
				    "protocol error: server claims " +
					std::to_string(count) + " messages (more than " +
					std::to_string(limits::max_messages) + ")");
			if (ec == std::errc() && p != rest.data())
				sizes_.reserve(count);
		}
		return AfterReply();

	case Command::List:
		if (!reply.ok) {
			pipeline_.Pop();
			return Fail(ErrorKind::Protocol,
				    "LIST failed: " + Quote(reply.line), reply);
		}
		reading_ = Reading::Listing;
		return;

	case Command::Uidl:
		if (reply.ok) {
			reading_ = Reading::Listing;
			return;
		}
		pipeline_.Pop();
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
		pipeline_.Pop();
		return AfterReply();

	case Command::Retr: {
		const Message &m = messages_[f.index];
		if (reply.ok) {
			reading_ = Reading::Body;
			decoder_.Reset();
			body_bytes_ = 0;
			queued_.push_back(MessageBeginEvent{m.number, m.size, Uidl(m)});
			return;
		}
		pipeline_.Pop();
		++stats_.not_retrieved;
		queued_.push_back(
		    MessageFailedEvent{m.number, Uidl(m), std::move(reply)});
		Pump();
		return;
	}

	case Command::Dele: {
		pipeline_.Pop();
		if (reply.ok) {
			++stats_.marked;
			marked_[f.index] = true;
		} else {
			++stats_.dele_failed;
			const Message &m = messages_[f.index];
			queued_.push_back(WarningEvent{
			    "message " + std::to_string(m.number) +
			    (m.uidl ? " (UIDL " + Escape(Uidl(m), 80) + ")" : "") +
			    ": saved, but DELE failed: " + Quote(reply.line)});
		}
		return AfterReply();
	}

	case Command::Quit:
		pipeline_.Pop();
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
	}
	return;
}

void Session::HandleListingLine(std::string_view line)
{
	switch (pipeline_.Front().command) {
	case Command::Capa:
		caps_.AddLine(line);
		break;
	case Command::List: {
		if (TrimBlanks(line).empty())
			break;
		const auto entry = ParseListLine(line);
		if (!entry)
			return Fail(ErrorKind::Protocol,
				    "protocol error: bad LIST line " + Quote(line));
		HandleListEntry(entry->number, entry->size);
		break;
	}
	case Command::Uidl:
		if (!TrimBlanks(line).empty())
			HandleUidlLine(line);
		break;
	default:
		assert(false);
	}
	return;
}

void Session::HandleListingEnd()
{
	const Command command = pipeline_.Front().command;
	pipeline_.Pop();
	reading_ = Reading::StatusLine;
	if (command == Command::Capa)
		// The capabilities are complete: they size the window.
		pipeline_.Negotiate(caps_);
	if (command == Command::Capa && phase_ == Phase::Login) {
		AfterCapabilities();
		return;
	}
	if (command == Command::Uidl)
		have_uidl_ = true;
	if (command == Command::List && stats_.listed > config_.expect_at_most) {
		deferring_ = true;
		queued_.push_back(WarningEvent{
		    "warning: the server lists " + std::to_string(stats_.listed) +
		    " messages, more than the " + std::to_string(config_.expect_at_most) +
		    " left after the deletions it confirmed: it may not have applied "
		    "them, so nothing more is downloaded in this run"});
	}
	return AfterReply();
}

void Session::AfterReply()
{
	if (phase_ == Phase::Listing && pipeline_.Empty() && pending_listing_.empty())
		return StartTransaction();
	Pump();
	return;
}

void Session::HandleListEntry(std::uint32_t number, std::uint64_t size)
{
	// RFC 1939 §5: a session starts with messages 1..n, so n bounds the numbers.
	if (number == 0 || number > limits::max_messages)
		return Fail(ErrorKind::Protocol,
			    "protocol error: LIST names message " +
				std::to_string(number) +
				" (messages are numbered 1 to at most " +
				std::to_string(limits::max_messages) + ")");
	if (sizes_.size() < number)
		sizes_.resize(number, no_message);
	std::uint32_t &slot = sizes_[number - 1];
	if (slot != no_message)
		return Fail(ErrorKind::Protocol, "protocol error: LIST names message " +
						     std::to_string(number) + " twice");
	if (size < big_size) {
		slot = static_cast<std::uint32_t>(size);
	} else {
		slot = big_size;
		big_sizes_[number] = size;
	}
	++stats_.listed;
	stats_.listed_bytes += size;
}

std::uint64_t Session::ListedSize(std::uint32_t number) const
{
	const std::uint32_t slot = sizes_[number - 1];
	return slot == big_size ? big_sizes_.at(number) : slot;
}

const std::string *Session::IndexUidl(std::string_view uidl)
{
	if (uidl.empty())
		return nullptr;
	const auto [it, inserted] = uidl_index_.try_emplace(std::string(uidl), 1u);
	return &it->first;
}

void Session::Track(std::uint32_t number, Plan plan, std::uint64_t size,
		    const std::string *uidl, bool expired)
{
	messages_.push_back({number, plan, expired, uidl, size});
}

void Session::HandleUidlLine(std::string_view line)
{
	const auto number = LeadingMessageNumber(line);
	if (!number)
		return BadUidl(0, "its UIDL line " + Quote(line) +
				      " does not start with a message number");
	if (*number > limits::max_messages)
		return BadUidl(0, "UIDL names message " + std::to_string(*number) +
				      " (messages are numbered 1 to at most " +
				      std::to_string(limits::max_messages) + ")");
	if (uidl_at_.size() < *number)
		uidl_at_.resize(*number, 0);
	std::uint32_t &at = uidl_at_[*number - 1];
	if (at != 0) {
		if (at != bad_uidl)
			BadUidl(*number, "UIDL names it twice");
		return;
	}
	const auto entry = ParseUidlLine(line);
	if (!entry)
		return BadUidl(*number, "its UIDL line " + Quote(line) +
					    " holds no usable unique-id");
	if (uidl_arena_.size() >= bad_uidl - entry->uidl.size() - 2)
		return BadUidl(*number, "the UIDL listing is too large");
	at = static_cast<std::uint32_t>(uidl_arena_.size() + 1);
	uidl_arena_ += entry->uidl;
	uidl_arena_ += ' ';
}

void Session::BadUidl(std::uint32_t number, const std::string &why)
{
	++stats_.bad_uidl_lines;
	if (number > 0 && number <= uidl_at_.size())
		uidl_at_[number - 1] = bad_uidl;
	else if (number > 0) {
		uidl_at_.resize(number, 0);
		uidl_at_[number - 1] = bad_uidl;
	}
	// A server can send a million bad lines; a few say it, a count says the rest.
	static constexpr std::uint32_t max_reported = 10;
	if (stats_.bad_uidl_lines > max_reported) {
		++unreported_bad_uidls_;
		return;
	}
	queued_.push_back(WarningEvent{"warning: " +
				       (number > 0 ? "message " + std::to_string(number)
						   : std::string("a message")) +
				       ": " + why +
				       "; it is fetched without de-duplication"});
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

void Session::ClassifyListed(std::uint32_t number, std::uint64_t size,
			     std::string_view uidl)
{
	if (const auto it = uidl_index_.find(uidl); it != uidl_index_.end()) {
		// Several messages with one unique-id: none of them can be told apart by
		// it. The earlier ones lose it when the listing ends.
		++it->second;
		return ClassifyNew(number, size, {}, false);
	}
	std::optional<SavedCopy> copy;
	if (config_.already_saved)
		copy = config_.already_saved(uidl, size);
	if (!copy || copy->download)
		return ClassifyNew(number, size, uidl, copy.has_value());
	Track(number, config_.keep && !copy->expired ? Plan::Keep : Plan::Dele, size,
	      IndexUidl(uidl), copy->expired);
}

void Session::ClassifyNew(std::uint32_t number, std::uint64_t size, std::string_view uidl,
			  bool index_anyway)
{
	if (number < config_.first_number) {
		// Handled by the session before this one in the same run, or moved
		// down by deletions since: either way a message acted on later that
		// shares its unique-id must be seen as a duplicate.
		IndexUidl(uidl);
		return;
	}
	if (config_.max_message_size > 0 && size > config_.max_message_size) {
		const std::string what =
		    "message " + std::to_string(number) +
		    (uidl.empty() ? "" : " (UIDL " + Escape(uidl, 80) + ")") + ": " +
		    std::to_string(size) + " octets, over max_message_size (" +
		    std::to_string(config_.max_message_size) + "): ";
		if (config_.oversize_delete) {
			Track(number, Plan::OversizeDele, size, IndexUidl(uidl));
			queued_.push_back(WarningEvent{
			    what + "deleted without downloading it (oversize: delete)"});
		} else {
			++stats_.oversize_skipped;
			if (index_anyway)
				IndexUidl(uidl);
			queued_.push_back(WarningEvent{what + "left on the server"});
		}
		return;
	}
	const bool over_bytes = config_.limit_bytes > 0 && stats_.to_fetch > 0 &&
				stats_.to_fetch_bytes + size > config_.limit_bytes;
	if (deferring_ || stats_.to_fetch >= config_.limit || stop_retrieving_ ||
	    over_bytes) {
		// Not kept, so that a mailbox of any size costs the same. Its unique-id
		// is only looked up: whatever the session acts on came before it, so a
		// duplicate of it is seen here. first_deferred_ is the lowest, not the
		// first: a saved copy found to share its unique-id is classified again
		// when the listing ends, after higher-numbered ones.
		if (first_deferred_ == 0 || number < first_deferred_)
			first_deferred_ = number;
		deferring_ = true;
		++stats_.deferred;
		if (index_anyway)
			IndexUidl(uidl);
		return;
	}
	Track(number, Plan::Fetch, size, IndexUidl(uidl));
	++stats_.to_fetch;
	stats_.to_fetch_bytes += size;
}

void Session::StartTransaction()
{
	phase_ = Phase::Transaction;

	// Each listed message in number order, by its unique-id if it has a usable one.
	// A unique-id for a message LIST did not give has nothing to act on.
	bool every_uidl = have_uidl_;
	for (std::uint32_t i = 0; i < sizes_.size() && !Over(); ++i) {
		if (sizes_[i] == no_message)
			continue;
		const std::uint32_t at = i < uidl_at_.size() ? uidl_at_[i] : 0;
		if (at == 0 || at == bad_uidl) {
			every_uidl = false;
			ClassifyNew(i + 1, ListedSize(i + 1), {}, false);
			continue;
		}
		const std::string_view rest =
		    std::string_view(uidl_arena_).substr(at - 1);
		ClassifyListed(i + 1, ListedSize(i + 1), rest.substr(0, rest.find(' ')));
	}
	uidls_complete_ = every_uidl;
	if (unreported_bad_uidls_ > 0)
		queued_.push_back(WarningEvent{
		    "warning: " + std::to_string(unreported_bad_uidls_) +
		    " more message(s) with an unusable UIDL line are fetched without "
		    "de-duplication"});

	// Two messages with one unique-id defeat de-duplication; treat them as having
	// none rather than risk skipping one of them.
	std::vector<Message> known_duplicates;
	for (auto &m : messages_)
		if (m.uidl && uidl_index_.at(*m.uidl) > 1) {
			m.uidl = nullptr;
			if (m.plan != Plan::Fetch && m.plan != Plan::OversizeDele)
				known_duplicates.push_back(m);
		}
	if (std::any_of(uidl_index_.begin(), uidl_index_.end(),
			[](const auto &e) { return e.second > 1; }))
		queued_.push_back(WarningEvent{
		    "warning: server gives the same UIDL to several messages; "
		    "those are fetched without de-duplication"});
	if (!known_duplicates.empty()) {
		std::erase_if(messages_, [](const Message &m) {
			return !m.uidl && m.plan != Plan::Fetch &&
			       m.plan != Plan::OversizeDele;
		});
		for (const auto &m : known_duplicates)
			ClassifyNew(m.number, m.size, {}, false);
	}

	// The per-message listing is no longer needed.
	sizes_ = {};
	big_sizes_.clear();
	uidl_arena_ = {};
	uidl_at_ = {};

	std::sort(messages_.begin(), messages_.end(),
		  [](const Message &a, const Message &b) { return a.number < b.number; });
	messages_.shrink_to_fit();
	awaiting_.assign(messages_.size(), false);
	marked_.assign(messages_.size(), false);
	loose_.assign(messages_.size(), false);
	for (std::uint32_t i = 0; i < messages_.size(); ++i) {
		switch (messages_[i].plan) {
		case Plan::Fetch:
			pending_retr_.push_back(i);
			break;
		case Plan::Dele:
			++stats_.already_saved;
			pending_dele_.push_back(i);
			break;
		case Plan::Keep:
			++stats_.already_saved;
			break;
		case Plan::OversizeDele:
			++stats_.oversize_deleted;
			pending_dele_.push_back(i);
			break;
		}
	}
	queued_.push_back(ListedEvent{stats_.listed, stats_.listed_bytes, have_uidl_});
	if (config_.dry_run) {
		// What would be fetched is counted above; nothing is sent but QUIT.
		pending_retr_.clear();
		pending_dele_.clear();
		Send(Command::Quit, "QUIT");
		quit_sent_ = true;
		phase_ = Phase::Quitting;
		return;
	}
	Pump();
}

void Session::Pump()
{
	for (;;) {
		if (!pending_listing_.empty()) {
			const Command command = pending_listing_.front();
			if (!pipeline_.CanSubmit(command))
				break;
			pending_listing_.pop_front();
			Send(command, command == Command::Stat   ? "STAT"
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
			Send(Command::Dele, "DELE " + std::to_string(messages_[i].number),
			     i);
			continue;
		}
		if (!pending_retr_.empty()) {
			const auto i = pending_retr_.front();
			if (!pipeline_.CanSubmit(Command::Retr, messages_[i].size))
				break;
			pending_retr_.pop_front();
			Send(Command::Retr, "RETR " + std::to_string(messages_[i].number),
			     i);
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
		Send(Command::Noop, "NOOP");
		return;
	}
	// QUIT may follow DELEs still in flight when pipelining (the pipeline's rule).
	if (phase_ == Phase::Transaction && pending_retr_.empty() &&
	    pending_dele_.empty() && awaiting_save_ == 0 &&
	    pipeline_.CanSubmit(Command::Quit)) {
		Send(Command::Quit, "QUIT");
		quit_sent_ = true;
		phase_ = Phase::Quitting;
	}
}

void Session::HandleBody()
{
	const InFlight f = pipeline_.Front();
	const Message &m = messages_[f.index];
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
			    m.number, Uidl(m),
			    "message " + std::to_string(m.number) +
				(m.uidl ? " (UIDL " + Escape(Uidl(m), 80) + ")" : "") +
				": " + std::to_string(octets) +
				" octets received where the listing said " +
				std::to_string(m.size) +
				": not saved, since it may be cut short or run into the "
				"next "
				"reply; it stays on the server"});
			Pump();
			return;
		}
		loose_[f.index] = true;
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
	if (const auto i = IndexOf(unproven_->number))
		awaiting_[*i] = true;
	queued_.push_back(*unproven_);
	unproven_.reset();
}

std::optional<std::uint32_t> Session::IndexOf(std::uint32_t number) const noexcept
{
	const auto it = std::lower_bound(
	    messages_.begin(), messages_.end(), number,
	    [](const Message &m, std::uint32_t n) { return m.number < n; });
	if (it == messages_.end() || it->number != number)
		return std::nullopt;
	return static_cast<std::uint32_t>(it - messages_.begin());
}

void Session::Saved(std::uint32_t number)
{
	const auto i = IndexOf(number);
	if (!i || !awaiting_[*i])
		return;
	awaiting_[*i] = false;
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
	const auto i = IndexOf(number);
	if (!i || !awaiting_[*i])
		return;
	awaiting_[*i] = false;
	--awaiting_save_;
	++stats_.not_saved;
	if (phase_ == Phase::Transaction)
		Pump();
}

std::vector<std::string_view> Session::MarkedUidls() const
{
	std::vector<std::string_view> out;
	for (std::size_t i = 0; i < marked_.size(); ++i)
		if (marked_[i] && messages_[i].uidl)
			out.push_back(Uidl(messages_[i]));
	return out;
}

bool Session::ShiftSuspect(std::uint32_t number) const
{
	const auto i = IndexOf(number);
	if (!i)
		return false;
	if (loose_[*i])
		return true;
	const std::uint64_t size = messages_[*i].size;
	return std::any_of(messages_.begin(), messages_.end(), [&](const Message &m) {
		return m.number != number && m.plan == Plan::Fetch &&
		       m.size + 2 >= size && m.size <= size + 2;
	});
}

std::vector<std::string_view> Session::DuplicateUidls() const
{
	std::vector<std::string_view> out;
	for (const auto &[uidl, count] : uidl_index_)
		if (count > 1)
			out.push_back(uidl);
	return out;
}

std::uint32_t Session::ResumeNumber() const noexcept
{
	if (first_deferred_ == 0)
		return 1;
	std::uint32_t deleted_before = 0;
	for (std::size_t i = 0; i < marked_.size(); ++i)
		if (marked_[i] && messages_[i].number < first_deferred_)
			++deleted_before;
	return first_deferred_ - deleted_before;
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
	stop_retrieving_ = true;
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
