// libFuzzer target: the POP3 session state machine (daemon/core/pop3/Session), fed
// arbitrary server bytes in reads of varying size, driven as FetchJob drives it. It
// checks the promises of daemon/core/README.md that a hostile or broken server must not
// be able to break:
// - no DELE for a message whose body began (or failed) unless the driver reported it
//   durable with Saved() first; none at all with keep (but for expired or oversize
//   ones that were never downloaded); none in a dry run; never twice;
// - no RETR twice, nothing after QUIT, nothing at all once the session has failed;
// - with STLS asked for, no USER or PASS before the TLS handshake;
// - events are well nested (begin, data, end), data is never empty nor longer than
//   what was fed, and the session always ends once the connection does;
// - the counters agree with the commands and events seen.
//
// Input: 5 bytes of settings (see Settings below), then the server's bytes.
#include "FuzzCheck.hxx"

#include "core/pop3/Session.hxx"

#include <charconv>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

using namespace popstream::pop3;
using popstream::fuzz::Bytes;
using popstream::fuzz::Random;

namespace {

constexpr std::string_view password = "s3cret-FUZZ";

/** A plausible login (greeting, CAPA, USER, PASS), prepended when the settings ask, so
 * that mutations of the rest reach the listing and the transaction. */
constexpr std::string_view login_prefix = "+OK POP3 ready\r\n"
					  "+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n"
					  "+OK\r\n"
					  "+OK logged in\r\n";

/** The fuzz input's first bytes, decoded. */
struct Settings {
	SessionConfig config;
	/** 0: no saved copies; 1: some that vouch; 2: some known that cannot vouch
	 * (to download, never to delete unread); 3: both. */
	unsigned already = 0;
	bool expired = false;
	bool end_with_timeout = false;
	bool stop_retrieving = false;
	bool prefix = false;
	std::uint32_t seed = 0;
};

Settings ReadSettings(Bytes &bytes)
{
	Settings s;
	const auto b0 = bytes.Byte();
	const auto b1 = bytes.Byte();
	const auto seed = bytes.Word();
	const auto b4 = bytes.Byte();
	auto &c = s.config;
	c.user = "alice";
	c.password = std::string(password);
	c.pipelining = (b0 & 3) == 1   ? Pipelining::On
		       : (b0 & 3) == 2 ? Pipelining::Off
				       : Pipelining::Auto;
	c.keep = b0 & 4;
	c.secure = b0 & 8;
	c.starttls = b0 & 16;
	c.lock_step = b0 & 32;
	c.skip_capa = b0 & 64;
	c.dry_run = b0 & 128;
	// USER/PASS may go out without TLS: this target is about the transaction; the
	// login's refusals are fuzz-login's.
	c.loopback = true;
	s.already = b1 & 3;
	c.oversize = b1 & 4 ? Oversize::Delete : Oversize::Skip;
	if (b1 & 8)
		c.max_message_size = 64;
	if (b1 & 16)
		c.limit = 2;
	s.end_with_timeout = b1 & 32;
	s.stop_retrieving = b1 & 64;
	if (b1 & 128)
		c.limit_bytes = 100;
	s.prefix = b4 & 1;
	s.expired = b4 & 2;
	c.capa_before_greeting = b4 & 4;
	if (b4 & 8)
		c.first_number = 1 + (seed % 4);
	s.seed = seed;
	return s;
}

std::uint32_t Hash(std::string_view s) noexcept
{
	std::uint32_t h = 2166136261u;
	for (const char c : s)
		h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
	return h;
}

std::optional<std::uint32_t> ParseNumber(std::string_view s) noexcept
{
	std::uint32_t n = 0;
	const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
	if (ec != std::errc() || p != s.data() + s.size())
		return std::nullopt;
	return n;
}

/** Drives one session and checks every command it sends and every event it reports. */
class Driver {
	const Settings &settings_;
	const std::string_view input_;
	Random random_;
	Session session_;

	/** The message whose body is streaming in, and its decoded bytes so far. */
	std::optional<std::uint32_t> open_;
	std::uint64_t open_bytes_ = 0;
	/** Bodies complete and not yet answered with Saved()/NotSaved(). */
	std::deque<std::uint32_t> unsaved_;
	/** Messages whose RETR was answered (+OK or -ERR): their fate is the driver's. */
	std::set<std::uint32_t> touched_;
	std::set<std::uint32_t> durable_;
	std::set<std::uint32_t> retr_sent_, dele_sent_;
	std::size_t begun_ = 0, ended_ = 0, discarded_ = 0, not_saved_ = 0;
	std::string open_uidl_;
	bool quit_sent_ = false, over_ = false, finished_ = false, tls_started_ = false;
	std::size_t last_feed_ = 0;
	/** FUZZ_VERBOSE=1 in the environment: print commands, events and saves. */
	const bool verbose_ = std::getenv("FUZZ_VERBOSE") != nullptr;

	void CheckCommand(std::string_view line)
	{
		if (verbose_)
			std::fprintf(stderr, "C: %.*s\n", static_cast<int>(line.size()),
				     line.data());
		const auto &c = settings_.config;
		// Once QUIT has gone, or the session failed, nothing more may be sent.
		FUZZ_CHECK(!quit_sent_);
		FUZZ_CHECK(!over_);
		if (line == "CAPA" || line == "STAT" || line == "LIST" ||
		    line == "UIDL" || line == "NOOP")
			return;
		if (line == "STLS") {
			FUZZ_CHECK(c.starttls && !tls_started_);
			return;
		}
		if (line == "QUIT") {
			quit_sent_ = true;
			return;
		}
		if (line.starts_with("USER ") || line.starts_with("PASS ")) {
			FUZZ_CHECK(!c.starttls || tls_started_);
			FUZZ_CHECK(line.starts_with("USER ")
				       ? line.substr(5) == c.user
				       : line.substr(5) == password);
			return;
		}
		FUZZ_CHECK(line.starts_with("RETR ") || line.starts_with("DELE "));
		const auto n = ParseNumber(line.substr(5));
		FUZZ_CHECK(n.has_value() && *n > 0);
		FUZZ_CHECK(!c.dry_run);
		if (line.starts_with("RETR ")) {
			FUZZ_CHECK(retr_sent_.insert(*n).second);
			return;
		}
		// The invariant that matters most: nothing is deleted unless it is
		// durable.
		FUZZ_CHECK(dele_sent_.insert(*n).second);
		if (touched_.count(*n)) {
			FUZZ_CHECK(durable_.count(*n));
			FUZZ_CHECK(!c.keep);
		} else {
			// Never downloaded in this session: only a copy saved earlier or
			// an oversize message may be deleted unread.
			const bool oversize_delete = c.oversize == Oversize::Delete;
			FUZZ_CHECK((settings_.already & 1) || oversize_delete);
			FUZZ_CHECK(!c.keep || settings_.expired || oversize_delete);
		}
	}

	void TakeOutput()
	{
		const std::string out = session_.TakeOutput();
		std::string_view rest = out;
		while (!rest.empty()) {
			const auto end = rest.find("\r\n");
			FUZZ_CHECK(end != std::string_view::npos);
			CheckCommand(rest.substr(0, end));
			rest.remove_prefix(end + 2);
		}
	}

	void CheckText(std::string_view text)
	{
		// The password may reach a message only if the server itself sent it.
		if (text.find(password) != std::string_view::npos)
			FUZZ_CHECK(input_.find(password) != std::string_view::npos);
	}

	void Save(std::uint32_t number, bool ok)
	{
		TakeOutput(); // what was sent before this save must not count on it
		if (verbose_)
			std::fprintf(stderr, "%s %u\n", ok ? "Saved" : "NotSaved",
				     number);
		if (ok) {
			durable_.insert(number);
			session_.Saved(number);
		} else {
			++not_saved_;
			session_.NotSaved(number);
		}
		TakeOutput();
	}

	/** Answers the bodies awaiting a save now, or some of them, as FetchJob may
	 * batch saves behind one directory fsync. */
	void ResolveSaves(bool all)
	{
		while (!unsaved_.empty() && (all || random_.Below(2) == 0)) {
			const auto n = unsaved_.front();
			unsaved_.pop_front();
			Save(n, random_.Below(8) != 0);
		}
	}

	void OnEvent(Event &event)
	{
		if (verbose_)
			std::fprintf(stderr, "event %zu\n", event.index());
		if (auto *begin = std::get_if<MessageBeginEvent>(&event)) {
			FUZZ_CHECK(!open_ && !over_);
			FUZZ_CHECK(retr_sent_.count(begin->number));
			FUZZ_CHECK(touched_.insert(begin->number).second);
			open_ = begin->number;
			open_bytes_ = 0;
			open_uidl_ = begin->uidl;
			++begun_;
			CheckText(begin->uidl);
		} else if (auto *data = std::get_if<MessageDataEvent>(&event)) {
			FUZZ_CHECK(open_ && *open_ == data->number);
			FUZZ_CHECK(!data->bytes.empty());
			FUZZ_CHECK(data->bytes.size() <= last_feed_ + 2);
			open_bytes_ += data->bytes.size();
		} else if (auto *end = std::get_if<MessageEndEvent>(&event)) {
			FUZZ_CHECK(open_ && *open_ == end->number);
			FUZZ_CHECK(end->octets >= open_bytes_);
			open_.reset();
			++ended_;
			const auto choice = random_.Below(8);
			if (choice < 5)
				Save(end->number, true);
			else if (choice == 5)
				Save(end->number, false);
			else
				unsaved_.push_back(end->number);
		} else if (auto *failed = std::get_if<MessageFailedEvent>(&event)) {
			FUZZ_CHECK(!open_);
			FUZZ_CHECK(retr_sent_.count(failed->number));
			FUZZ_CHECK(touched_.insert(failed->number).second);
			FUZZ_CHECK(!failed->reply.ok);
		} else if (auto *dropped = std::get_if<MessageDiscardedEvent>(&event)) {
			// Only a body that began and was never proven is discarded.
			FUZZ_CHECK(open_ && *open_ == dropped->number);
			FUZZ_CHECK(dropped->uidl == open_uidl_);
			CheckText(dropped->text);
			open_.reset();
			++discarded_;
		} else if (auto *warning = std::get_if<WarningEvent>(&event)) {
			CheckText(warning->text);
		} else if (auto *finished = std::get_if<FinishedEvent>(&event)) {
			FUZZ_CHECK(!over_);
			over_ = finished_ = true;
			FUZZ_CHECK(!open_);
			FUZZ_CHECK(finished->committed && quit_sent_);
			FUZZ_CHECK(session_.Stats().deleted == session_.Stats().marked);
		} else if (auto *failure = std::get_if<FailedEvent>(&event)) {
			FUZZ_CHECK(!over_);
			over_ = true;
			CheckText(failure->error.message);
			// A body cut short stays unsaved: it can never be DELE'd now.
			open_.reset();
		} else if (std::holds_alternative<StartTlsEvent>(event)) {
			FUZZ_CHECK(settings_.config.starttls && !tls_started_);
			tls_started_ = true;
			session_.TlsStarted();
		} else if (auto *listed = std::get_if<ListedEvent>(&event)) {
			FUZZ_CHECK(listed->count == session_.Stats().listed);
		}
	}

	void Drain()
	{
		for (std::size_t i = 0;; ++i) {
			// Every event consumes input or state: an endless stream is a
			// hang.
			FUZZ_CHECK(i < 10'000'000);
			auto event = session_.Next();
			TakeOutput();
			if (std::holds_alternative<NeedDataEvent>(event))
				break;
			OnEvent(event);
			TakeOutput();
			// Over() may turn true as a failure is queued, before its event.
			FUZZ_CHECK(!over_ || session_.Over());
		}
	}

public:
	/**
	 * @param settings what the session is told and how the driver behaves
	 * @param input the server's bytes
	 */
	Driver(const Settings &settings, std::string_view input)
	    : settings_(settings), input_(input), random_(settings.seed),
	      session_(MakeConfig(settings))
	{
	}

	/** @return the session's config, with an already_saved lookup that answers
	 * from a hash of the unique-id, so that the input decides which ones */
	static SessionConfig MakeConfig(const Settings &settings)
	{
		SessionConfig config = settings.config;
		if (settings.already == 0)
			return config;
		const unsigned mode = settings.already;
		const bool expired = settings.expired;
		config.already_saved =
		    [mode, expired](std::string_view uidl,
				    std::uint64_t) -> std::optional<SavedCopy> {
			const auto h = Hash(uidl) % 4;
			if (h == 0 && (mode & 1))
				return SavedCopy{false, expired};
			if (h == 2 && (mode & 2))
				return SavedCopy{true, expired};
			return std::nullopt;
		};
		return config;
	}

	void Run()
	{
		TakeOutput();
		const std::size_t stop_at = random_.Below(16);
		std::size_t pos = 0;
		for (std::size_t chunk = 0; pos < input_.size() && !over_; ++chunk) {
			const auto kind = random_.Below(4);
			const std::size_t most = kind == 0 ? 8 : kind == 1 ? 64 : 512;
			const std::size_t n = std::min<std::size_t>(
			    input_.size() - pos, 1 + random_.Below(most));
			last_feed_ = n;
			if (verbose_)
				std::fprintf(stderr, "feed %zu bytes\n", n);
			session_.Feed(input_.substr(pos, n));
			pos += n;
			Drain();
			ResolveSaves(false);
			Drain();
			if (settings_.stop_retrieving && chunk == stop_at) {
				session_.StopRetrieving();
				TakeOutput();
				Drain();
			}
		}
		ResolveSaves(true);
		Drain();
		if (settings_.end_with_timeout)
			session_.TimedOut();
		else
			session_.ConnectionClosed();
		Drain();
		// Once the connection is gone and the input used up, the session is over.
		FUZZ_CHECK(session_.Over() && over_);
		// A clean close proves the last body: it is reported with the failure,
		// and saved after it, as FetchJob commits what is pending when a session
		// ends.
		ResolveSaves(true);
		// Late saves change nothing on the wire.
		for (const auto n : retr_sent_) {
			session_.Saved(n);
			FUZZ_CHECK(session_.TakeOutput().empty());
		}

		const auto &stats = session_.Stats();
		// A body is reported only once proven: the last one may have been cut
		// off unproven by the failure that ended the session.
		// A discarded body counts as retrieved, and is never saved.
		const auto reported = ended_ + discarded_;
		FUZZ_CHECK(reported <= stats.retrieved &&
			   stats.retrieved <= reported + 1);
		FUZZ_CHECK(stats.saved == durable_.size());
		FUZZ_CHECK(stats.not_saved == not_saved_);
		FUZZ_CHECK(stats.saved + stats.not_saved <= stats.retrieved);
		// Only a finished session sent every command it counts a reply for: when
		// a read holds the reply to a DELE queued in the same pass, and then a
		// bad line, the failure discards the DELE unsent after its +OK was
		// counted (FetchJob then reports one more "unconfirmed" deletion than it
		// sent).
		if (finished_)
			FUZZ_CHECK(stats.marked + stats.dele_failed <= dele_sent_.size());
		FUZZ_CHECK(stats.deleted <= stats.marked);
		FUZZ_CHECK(finished_ || stats.deleted == 0);
		FUZZ_CHECK(session_.MarkedUidls().size() <= stats.marked);
		const auto &c = settings_.config;
		if (c.lock_step || c.pipelining == Pipelining::Off)
			FUZZ_CHECK(stats.max_in_flight == 1);
		else
			FUZZ_CHECK(stats.max_in_flight <= limits::full_window_commands);
	}
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	Bytes bytes(data, size);
	const Settings settings = ReadSettings(bytes);
	std::string input;
	if (settings.prefix)
		input = login_prefix;
	input.append(reinterpret_cast<const char *>(bytes.Data()), bytes.Size());
	Driver driver(settings, input);
	driver.Run();
	return 0;
}
