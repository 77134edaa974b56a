// Session behaviour that transcripts cannot express: deferred saves, state after
// failure, redaction, and the memory bounds of hostile input.
#include "core/pop3/Session.hxx"

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <set>

using namespace popstream::pop3;

namespace {

const std::string login = "+OK\r\n"
			  "+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n"
			  "+OK\r\n";

SessionConfig Config(const char *password)
{
	SessionConfig c;
	c.user = "alice";
	c.password = password;
	// As over an ssh port forward: USER may go out without TLS.
	c.loopback = true;
	return c;
}

/** Drains events, returning them; MessageEnd is not answered. */
std::vector<Event> Drain(Session &s)
{
	std::vector<Event> events;
	for (;;) {
		auto e = s.Next();
		if (std::holds_alternative<NeedDataEvent>(e))
			return events;
		events.push_back(std::move(e));
	}
}

} // namespace

TEST_CASE("QUIT waits for every save; DELE follows Saved(), never MessageEnd")
{
	Session s(Config("pw"));
	s.Feed(login);
	Drain(s);
	s.Feed("+OK\r\n");
	Drain(s);
	CHECK(s.TakeOutput() ==
	      "CAPA\r\nUSER alice\r\nPASS pw\r\nCAPA\r\nSTAT\r\nUIDL\r\nLIST\r\n");
	s.Feed("+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK 2 6\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n"
	       "+OK\r\n1 3\r\n2 3\r\n.\r\n");
	Drain(s);
	// Behind the last RETR, NOOP: its status line proves the last body whole.
	CHECK(s.TakeOutput() == "RETR 1\r\nRETR 2\r\nNOOP\r\n");
	s.Feed("+OK\r\nx\r\n.\r\n+OK\r\ny\r\n.\r\n");
	// Message 2 is complete, but only a status line after it proves that it
	// ended where the server meant it to.
	CHECK(Drain(s).size() == 5);
	s.Feed("+OK\r\n");
	const auto events = Drain(s);
	REQUIRE(events.size() == 1);
	CHECK(std::get<MessageEndEvent>(events[0]).number == 2);
	CHECK(s.TakeOutput().empty()); // nothing is durable yet: no DELE, no QUIT
	CHECK(s.Stats().dele_output == 0);
	s.Saved(2);
	CHECK(s.Stats().dele_output == 0); // queued, not yet taken
	CHECK(s.TakeOutput() == "DELE 2\r\n");
	CHECK(s.Stats().dele_output == 1);
	s.Saved(2); // a duplicate report changes nothing
	CHECK(s.TakeOutput().empty());
	s.Feed("+OK\r\n");
	Drain(s);
	CHECK(s.TakeOutput().empty()); // message 1 is still being saved
	s.NotSaved(1);
	CHECK(!s.Stats().quit_output);
	CHECK(s.TakeOutput() == "QUIT\r\n");
	CHECK(s.Stats().quit_output);
	CHECK(s.Stats().dele_output == 1);
	s.Feed("+OK bye\r\n");
	CHECK(Drain(s).empty()); // not done until the server closes
	CHECK(s.AwaitingClose());
	s.ConnectionClosed();
	const auto end = Drain(s);
	REQUIRE(end.size() == 1);
	CHECK(std::get<FinishedEvent>(end[0]).committed);
	CHECK(s.Stats().deleted == 1);
	CHECK(s.Stats().not_saved == 1);
}

TEST_CASE("a DELE dropped by a failure before it was taken is not counted as output")
{
	Session s(Config("pw"));
	s.Feed(login);
	Drain(s);
	s.Feed("+OK\r\n");
	Drain(s);
	s.TakeOutput();
	s.Feed("+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK 1 3\r\n+OK\r\n1 a\r\n.\r\n"
	       "+OK\r\n1 3\r\n.\r\n+OK\r\nx\r\n.\r\n+OK\r\n");
	Drain(s);
	CHECK(s.TakeOutput() == "RETR 1\r\nNOOP\r\n");
	s.Saved(1); // queues DELE 1
	s.Feed("GARBAGE\r\n");
	const auto events = Drain(s);
	REQUIRE(!events.empty());
	REQUIRE(std::holds_alternative<FailedEvent>(events.back()));
	CHECK(s.TakeOutput().empty());
	CHECK(s.Stats().dele_output == 0);
	CHECK(!s.Stats().quit_output);
}

TEST_CASE("after a failure nothing more is sent, even for late saves")
{
	Session s(Config("pw"));
	s.Feed(login +
	       "+OK\r\n+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK 1 1\r\n+OK\r\n1 a\r\n.\r\n"
	       "+OK\r\n1 1\r\n.\r\n+OK\r\nx\r\n.\r\nGARBAGE\r\n");
	const auto events = Drain(s);
	REQUIRE(!events.empty());
	// The body was followed by a line that is no status line: never proven, so
	// never reported as complete.
	CHECK(std::none_of(events.begin(), events.end(), [](const Event &e) {
		return std::holds_alternative<MessageEndEvent>(e);
	}));
	REQUIRE(std::holds_alternative<FailedEvent>(events.back()));
	CHECK(std::get<FailedEvent>(events.back()).error.kind == ErrorKind::Desync);
	CHECK(s.Over());
	s.TakeOutput();
	s.Saved(1);
	CHECK(s.TakeOutput().empty());
	s.Feed("+OK\r\n");
	CHECK(Drain(s).empty());
}

TEST_CASE("the password never appears in an event or a redacted transcript")
{
	CHECK(Session::Redact("PASS hunter2\r\n") == "PASS ********");
	CHECK(Session::Redact("pass hunter2") == "PASS ********");
	CHECK(Session::Redact("RETR 1\r\n") == "RETR 1");

	Session s(Config("hunter2"));
	s.Feed("+OK\r\n-ERR\r\n+OK\r\n-ERR [AUTH] bad password hunter?\r\n");
	const auto events = Drain(s);
	REQUIRE(events.size() == 1);
	const auto &msg = std::get<FailedEvent>(events[0]).error.message;
	CHECK(msg.find("hunter2") == std::string::npos);
	CHECK(msg.find("login failed") != std::string::npos);
}

TEST_CASE("a listing line that never ends is cut off (case 10B)")
{
	Session s(Config("pw"));
	s.Feed(login + "+OK\r\n");
	Drain(s);
	s.Feed("+OK\r\nPIPELINING\r\n.\r\n+OK 1 1\r\n+OK\r\n1 a\r\n.\r\n+OK\r\n1 ");
	Drain(s);
	const std::string chunk(4096, 'B');
	bool failed = false;
	for (int i = 0; i < 100 && !failed; ++i) {
		s.Feed(chunk);
		for (const auto &e : Drain(s))
			if (const auto *f = std::get_if<FailedEvent>(&e)) {
				CHECK(f->error.message.find("line too long") !=
				      std::string::npos);
				failed = true;
			}
	}
	CHECK(failed);
}

TEST_CASE("a server claiming a billion messages is refused at STAT")
{
	Session s(Config("pw"));
	s.Feed(login + "+OK\r\n+OK\r\nPIPELINING\r\n.\r\n+OK 1000000000 5\r\n");
	const auto events = Drain(s);
	REQUIRE(!events.empty());
	const auto &f = std::get<FailedEvent>(events.back());
	CHECK(f.error.kind == ErrorKind::Protocol);
	CHECK(f.error.message.find("1000000000") != std::string::npos);
}

TEST_CASE("a 100,000-message mailbox keeps at most a window of commands in flight")
{
	Session s(Config("pw"));
	s.Feed(login + "+OK\r\n+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK 100000 1000000\r\n");
	Drain(s);
	std::string list = "+OK\r\n", uidl = "+OK\r\n";
	for (int i = 1; i <= 100000; ++i) {
		list += std::to_string(i) + " 6\r\n";
		uidl += std::to_string(i) + " u" + std::to_string(i) + "\r\n";
	}
	s.TakeOutput();
	s.Feed(uidl + ".\r\n" + list + ".\r\n");
	Drain(s);
	// A server that answers every command that has arrived, in order.
	std::string pending = s.TakeOutput();
	CHECK(std::count(pending.begin(), pending.end(), '\n') ==
	      static_cast<long>(limits::full_window_commands));
	std::size_t retrs = 0, deles = 0;
	bool finished = false;
	while (!pending.empty() && !finished) {
		std::string replies;
		std::size_t pos = 0;
		while (pos < pending.size()) {
			const auto eol = pending.find("\r\n", pos);
			const auto cmd = pending.substr(pos, eol - pos);
			pos = eol + 2;
			if (cmd.rfind("RETR", 0) == 0) {
				++retrs;
				replies += "+OK\r\nbody\r\n.\r\n";
			} else {
				deles += cmd.rfind("DELE", 0) == 0;
				replies += "+OK\r\n";
			}
		}
		s.Feed(replies);
		for (const auto &e : Drain(s)) {
			if (const auto *end = std::get_if<MessageEndEvent>(&e))
				s.Saved(end->number);
			finished |= std::holds_alternative<FinishedEvent>(e);
		}
		pending = s.TakeOutput();
		if (s.AwaitingClose()) {
			s.ConnectionClosed();
			for (const auto &e : Drain(s))
				finished |= std::holds_alternative<FinishedEvent>(e);
		}
	}
	CHECK(finished);
	CHECK(retrs == 100000);
	CHECK(deles == 100000);
	CHECK(s.Stats().deleted == 100000);
	CHECK(s.Stats().max_in_flight == limits::full_window_commands);
}

TEST_CASE("data after +OK to QUIT means the deletions are not confirmed")
{
	Session s(Config("pw"));
	s.Feed(login +
	       "+OK\r\n+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK 1 3\r\n+OK\r\n1 a\r\n.\r\n"
	       "+OK\r\n1 3\r\n.\r\n+OK\r\nx\r\n.\r\n+OK\r\n");
	for (const auto &e : Drain(s))
		if (const auto *end = std::get_if<MessageEndEvent>(&e))
			s.Saved(end->number);
	// An extra +OK (a doubled reply to DELE) is taken for QUIT's; QUIT's own reply
	// then arrives as surplus.
	s.Feed("+OK\r\n+OK\r\n+OK bye\r\n");
	const auto events = Drain(s);
	REQUIRE(events.size() == 1);
	const auto &f = std::get<FailedEvent>(events[0]);
	CHECK(f.error.kind == ErrorKind::QuitFailed);
	CHECK(f.error.message.find("not confirmed") != std::string::npos);
	CHECK(s.Stats().deleted == 0);
}

TEST_CASE("a server that echoes the password does not get it into an error")
{
	Session s(Config("hunter2"));
	s.Feed(login.substr(0, login.size() - 5) +
	       "+OK\r\n-ERR wrong password hunter2 for alice\r\n");
	const auto events = Drain(s);
	REQUIRE(events.size() == 1);
	const auto &msg = std::get<FailedEvent>(events[0]).error.message;
	CHECK(msg.find("hunter2") == std::string::npos);
	CHECK(msg.find("wrong password ******** for alice") != std::string::npos);
}

namespace {

/** Logs in and feeds a listing: @p sizes[i] is message i+1's size, @p uidls[i] its
 * unique-id ("" for no UIDL line). @return the events, and the commands sent after
 * UIDL */
std::pair<std::vector<Event>, std::string>
ListOnly(Session &s, const std::vector<std::uint64_t> &sizes,
	 const std::vector<std::string> &uidls)
{
	std::uint64_t total = 0;
	std::string list = "+OK\r\n", uidl = "+OK\r\n";
	for (std::size_t i = 0; i < sizes.size(); ++i) {
		total += sizes[i];
		list += std::to_string(i + 1) + " " + std::to_string(sizes[i]) + "\r\n";
		if (!uidls[i].empty())
			uidl += std::to_string(i + 1) + " " + uidls[i] + "\r\n";
	}
	s.Feed(login + "+OK\r\n+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK " +
	       std::to_string(sizes.size()) + " " + std::to_string(total) + "\r\n" +
	       uidl + ".\r\n" + list + ".\r\n");
	auto events = Drain(s);
	std::string out = s.TakeOutput();
	const auto listing = out.find("UIDL\r\nLIST\r\n");
	REQUIRE(listing != std::string::npos);
	out.erase(0, listing + 6);
	return {std::move(events), out.substr(6)};
}

/** @return how many warnings in @p events contain @p text */
std::size_t Warnings(const std::vector<Event> &events, std::string_view text)
{
	return static_cast<std::size_t>(
	    std::count_if(events.begin(), events.end(), [&](const Event &e) {
		    const auto *w = std::get_if<WarningEvent>(&e);
		    return w != nullptr && w->text.find(text) != std::string::npos;
	    }));
}

/** A saved copy the journal trusts, for messages of @p size. */
std::function<std::optional<SavedCopy>(std::string_view, std::uint64_t)>
SavedWithSize(std::set<std::string> uidls, std::uint64_t size, int *calls = nullptr)
{
	return [uidls, size, calls](std::string_view uidl,
				    std::uint64_t listed) -> std::optional<SavedCopy> {
		if (calls != nullptr)
			++*calls;
		if (!uidls.contains(std::string(uidl)))
			return std::nullopt;
		SavedCopy copy;
		copy.download = listed != size;
		return copy;
	};
}

} // namespace

TEST_CASE("a 100,000-message listing: only what the session acts on is kept")
{
	// The listing streams through: saved copies found anywhere in it are DELE'd,
	// the first `limit` new ones fetched, the rest only counted.
	auto config = Config("pw");
	config.limit = 10;
	int calls = 0;
	config.already_saved = SavedWithSize({"u5", "u99999"}, 6, &calls);
	Session s(std::move(config));
	std::vector<std::uint64_t> sizes(100000, 6);
	std::vector<std::string> uidls;
	for (int i = 1; i <= 100000; ++i)
		uidls.push_back("u" + std::to_string(i));
	const auto [events, commands] = ListOnly(s, sizes, uidls);
	CHECK(calls == 100000);
	REQUIRE(!events.empty());
	const auto &listed = std::get<ListedEvent>(events.back());
	CHECK(listed.count == 100000);
	CHECK(listed.bytes == 600000);
	CHECK(commands == "DELE 5\r\nDELE 99999\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nRETR "
			  "4\r\nRETR 6\r\nRETR 7\r\nRETR 8\r\nRETR 9\r\nRETR "
			  "10\r\nRETR 11\r\nNOOP\r\n");
	CHECK(s.Stats().to_fetch == 10);
	CHECK(s.Stats().already_saved == 2);
	CHECK(s.Stats().deferred == 100000 - 12);
	CHECK(s.UidlsComplete());
}

TEST_CASE("once a new message is left for later, so is every later new one")
{
	// Message 3 would fit in limit_bytes, but fetching it before message 2 would
	// let a duplicate unique-id of the two go unnoticed.
	auto config = Config("pw");
	config.limit_bytes = 50;
	Session s(std::move(config));
	const auto [events, commands] = ListOnly(s, {5, 100, 5}, {"a", "b", "c"});
	CHECK(commands == "RETR 1\r\nNOOP\r\n");
	CHECK(s.Stats().deferred == 2);
}

TEST_CASE("a unique-id given to two messages: both are fetched, without it")
{
	SUBCASE("both new, one fetched now, one later")
	{
		auto config = Config("pw");
		config.limit = 1;
		Session s(std::move(config));
		const auto [events, commands] = ListOnly(s, {3, 3}, {"x", "x"});
		CHECK(Warnings(events, "same UIDL") == 1);
		CHECK(commands == "RETR 1\r\nNOOP\r\n");
		s.Feed("+OK\r\nabc\r\n.\r\n+OK\r\n");
		const auto body = Drain(s);
		REQUIRE(!body.empty());
		// No unique-id: the caller must not record it in the journal.
		CHECK(std::get<MessageBeginEvent>(body[0]).uidl.empty());
		s.Saved(1);
		CHECK(s.TakeOutput() == "DELE 1\r\nQUIT\r\n");
		s.Feed("+OK\r\n");
		Drain(s);
		CHECK(s.Stats().marked == 1);
		CHECK(s.MarkedUidls().empty());
	}
	SUBCASE("saved earlier, and again with another size")
	{
		// The journal's copy of "x" cannot tell which message it is: no DELE
		// without a download.
		auto config = Config("pw");
		config.already_saved = SavedWithSize({"x"}, 10);
		Session s(std::move(config));
		const auto [events, commands] =
		    ListOnly(s, {3, 10, 4, 7}, {"a", "x", "b", "x"});
		CHECK(Warnings(events, "same UIDL") == 1);
		CHECK(commands == "RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\nNOOP\r\n");
		CHECK(s.Stats().already_saved == 0);
	}
	SUBCASE("the other size first")
	{
		auto config = Config("pw");
		config.already_saved = SavedWithSize({"x"}, 10);
		Session s(std::move(config));
		const auto [events, commands] = ListOnly(s, {7, 10}, {"x", "x"});
		CHECK(commands == "RETR 1\r\nRETR 2\r\nNOOP\r\n");
	}
	SUBCASE("the other size is left for later, the saved size comes after it")
	{
		// Message 2 is not kept (left for later), yet its unique-id must still
		// stop message 3 from being deleted as the saved copy.
		auto config = Config("pw");
		config.limit = 1;
		config.already_saved = SavedWithSize({"x"}, 10);
		Session s(std::move(config));
		const auto [events, commands] = ListOnly(s, {3, 7, 10}, {"a", "x", "x"});
		CHECK(Warnings(events, "same UIDL") == 1);
		CHECK(commands == "RETR 1\r\nNOOP\r\n");
		CHECK(s.Stats().deferred == 2);
	}
}

TEST_CASE("a listing with a hole in its unique-ids is not complete")
{
	auto config = Config("pw");
	config.keep = true;
	Session s(std::move(config));
	const auto [events, commands] = ListOnly(s, {3, 3}, {"a", ""});
	CHECK(commands == "RETR 1\r\nRETR 2\r\nNOOP\r\n");
	CHECK_FALSE(s.UidlsComplete());

	Session whole(Config("pw"));
	ListOnly(whole, {3, 3}, {"a", "b"});
	CHECK(whole.UidlsComplete());
}

TEST_CASE("a listing that names a message twice, or one past the bound, is refused")
{
	const auto failure = [](const std::string &listing) {
		Session s(Config("pw"));
		s.Feed(login + "+OK\r\n+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK 2 6\r\n" +
		       listing);
		const auto events = Drain(s);
		REQUIRE(!events.empty());
		const auto *f = std::get_if<FailedEvent>(&events.back());
		REQUIRE(f != nullptr);
		CHECK(f->error.kind == ErrorKind::Protocol);
		return f->error.message;
	};
	CHECK(failure("+OK\r\n.\r\n+OK\r\n1 3\r\n1 3\r\n.\r\n") ==
	      "protocol error: LIST names message 1 twice");
	CHECK(failure("+OK\r\n.\r\n+OK\r\n1000001 3\r\n.\r\n") ==
	      "protocol error: LIST names message 1000001 (messages are numbered 1 to at "
	      "most 1000000)");
}

TEST_CASE("first_number: a checkpoint with keep goes on where the last session stopped")
{
	auto config = Config("pw");
	config.keep = true;
	config.limit = 2;
	Session first(config);
	auto [events, commands] = ListOnly(first, {3, 3, 3, 3, 3}, {"", "", "", "", ""});
	CHECK(commands == "RETR 1\r\nRETR 2\r\nNOOP\r\n");
	// Nothing deleted before message 3, the first left for later.
	CHECK(first.ResumeNumber() == 3);

	config.first_number = first.ResumeNumber();
	Session next(config);
	std::tie(events, commands) =
	    ListOnly(next, {3, 3, 3, 3, 3}, {"", "", "", "", ""});
	CHECK(commands == "RETR 3\r\nRETR 4\r\nNOOP\r\n");
	CHECK(next.ResumeNumber() == 5);
	CHECK(next.Stats().deferred == 1);

	Session whole(Config("pw"));
	ListOnly(whole, {3, 3}, {"a", "b"});
	CHECK(whole.ResumeNumber() == 1); // nothing was left for later
}

TEST_CASE("a saved copy that turns out to share its unique-id is not skipped by the "
	  "next checkpoint")
{
	// Message 1 is found saved, then message 5 carries the same unique-id: message 1
	// is classified again once the listing ends, after later ones were left for
	// later. The next session must start at 1, not at 4.
	auto config = Config("pw");
	config.keep = true;
	config.limit = 2;
	config.already_saved = SavedWithSize({"x"}, 3);
	Session s(std::move(config));
	const auto [events, commands] =
	    ListOnly(s, {3, 3, 3, 3, 3}, {"x", "a", "b", "c", "x"});
	CHECK(commands == "RETR 2\r\nRETR 3\r\nNOOP\r\n");
	CHECK(s.ResumeNumber() == 1);
	const auto dups = s.DuplicateUidls();
	CHECK(dups == std::vector<std::string_view>{"x"});
}

TEST_CASE("below first_number, unique-ids still reveal duplicates")
{
	// Message 1 was left alone (a previous session handled the numbers below 3);
	// message 3 shares its unique-id, so it must not be recorded under it.
	auto config = Config("pw");
	config.keep = true;
	config.first_number = 3;
	Session s(std::move(config));
	const auto [events, commands] = ListOnly(s, {3, 3, 3}, {"x", "a", "x"});
	CHECK(commands == "RETR 3\r\nNOOP\r\n");
	CHECK(Warnings(events, "same UIDL") == 1);
	s.Feed("+OK\r\nabc\r\n.\r\n");
	const auto body = Drain(s);
	REQUIRE(!body.empty());
	CHECK(std::get<MessageBeginEvent>(body[0]).uidl.empty());
}

TEST_CASE("expect_at_most: a listing that did not shrink after confirmed deletions")
{
	auto config = Config("pw");
	config.expect_at_most = 1;
	Session s(std::move(config));
	const auto [events, commands] = ListOnly(s, {3, 3}, {"", ""});
	CHECK(commands == "QUIT\r\n");
	CHECK(Warnings(events, "the server lists 2 messages, more than the 1 left") == 1);
	CHECK(s.Stats().deferred == 2);
}

TEST_CASE("a UIDL line longer than the line bound costs one message its unique-id")
{
	// Servers have sent unique-ids of 1 MiB. The rest of that line is dropped as it
	// streams, so memory stays bounded, and every message is still fetched.
	Session s(Config("pw"));
	s.Feed(login + "+OK\r\n+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK 3 9\r\n");
	Drain(s);
	s.Feed("+OK\r\n1 a\r\n2 ");
	Drain(s);
	const std::string chunk(64 * 1024, 'u');
	std::vector<Event> events;
	for (int i = 0; i < 16; ++i) {
		s.Feed(chunk);
		for (auto &e : Drain(s)) {
			CHECK_FALSE(std::holds_alternative<FailedEvent>(e));
			events.push_back(std::move(e));
		}
	}
	s.Feed("\r\n3 c\r\n.\r\n+OK\r\n1 3\r\n2 3\r\n3 3\r\n.\r\n");
	for (auto &e : Drain(s))
		events.push_back(std::move(e));
	CHECK(Warnings(events, "message 2: its UIDL line is longer than 8192 bytes; it "
			       "is fetched without de-duplication") == 1);
	REQUIRE(!events.empty());
	CHECK(std::holds_alternative<ListedEvent>(events.back()));
	CHECK(s.TakeOutput().ends_with("RETR 1\r\nRETR 2\r\nRETR 3\r\nNOOP\r\n"));
	CHECK(s.Stats().bad_uidl_lines == 1);
	CHECK_FALSE(s.UidlsComplete());
}

TEST_CASE("a body after which the connection is reset is never reported")
{
	const auto run = [](bool clean) {
		Session s(Config("pw"));
		s.Feed(login + "+OK\r\n+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK 2 6\r\n"
			       "+OK\r\n1 a\r\n2 b\r\n.\r\n+OK\r\n1 3\r\n2 3\r\n.\r\n"
			       "+OK\r\nx\r\n.\r\n");
		Drain(s);
		s.ConnectionClosed("gone", clean);
		std::size_t ends = 0;
		Retry retry = Retry::None;
		for (const auto &e : Drain(s)) {
			ends += std::holds_alternative<MessageEndEvent>(e);
			if (const auto *f = std::get_if<FailedEvent>(&e))
				retry = f->error.retry;
		}
		CHECK(retry == Retry::Resume);
		return ends;
	};
	CHECK(run(true) == 1);  // a clean close proves the last body
	CHECK(run(false) == 0); // a reset does not
}

namespace {

/** Runs a session over a link of @p bytes_per_s with a 600 ms round trip, on a fake
 * clock, for @p count messages of 100,000 octets: the server answers each RETR as its
 * turn comes, in 10 ms slices. Checks at every step that the RETR octets in flight
 * stay within the window the session had when it sent them. */
SessionStats RunOnLink(std::uint64_t bytes_per_s, std::uint32_t count,
		       std::uint64_t &most_in_flight_after_measuring)
{
	std::uint64_t now = 1'000'000;
	SessionConfig config = Config("pw");
	config.clock_us = [&now] { return now; };
	Session s(config);
	s.Feed("+OK\r\n");
	Drain(s);
	s.TakeOutput(); // CAPA, alone: its reply times the round trip
	now += 600'000;
	s.Feed("+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n");
	Drain(s);
	s.TakeOutput();
	now += 600'000;
	std::string listing = "+OK\r\n+OK\r\n+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK " +
			      std::to_string(count) + " " +
			      std::to_string(count * 100000ull) + "\r\n+OK\r\n";
	std::string list = "+OK\r\n";
	for (std::uint32_t i = 1; i <= count; ++i) {
		listing += std::to_string(i) + " u" + std::to_string(i) + "\r\n";
		list += std::to_string(i) + " 100000\r\n";
	}
	s.Feed(listing + ".\r\n" + list + ".\r\n");
	Drain(s);
	std::string body;
	for (int line = 0; line < 100; ++line)
		body += std::string(998, 'x') + "\r\n";
	const std::string reply = "+OK\r\n" + body + ".\r\n";
	// Replies the server will have ready after the round trip, and those ready and
	// not yet sent: the link carries bytes_per_s of them.
	std::deque<std::pair<std::uint64_t, std::string>> asked;
	std::string wire;
	most_in_flight_after_measuring = 0;
	const std::size_t slice = std::max<std::uint64_t>(bytes_per_s / 100, 1);
	for (int step = 0; step < 100000 && !s.Over(); ++step) {
		for (const auto &command : Session::RedactLines(s.TakeOutput()))
			asked.emplace_back(now + 600'000, command.starts_with("RETR")
							      ? reply
							      : std::string("+OK\r\n"));
		while (!asked.empty() && asked.front().first <= now) {
			wire += asked.front().second;
			asked.pop_front();
		}
		if (s.AwaitingClose()) {
			s.ConnectionClosed();
			Drain(s);
			break;
		}
		if (s.Stats().bytes_per_second > 0)
			most_in_flight_after_measuring = std::max(
			    most_in_flight_after_measuring, s.InFlightRetrBytes());
		now += 10'000;
		const std::size_t n = std::min(slice, wire.size());
		s.Feed(std::string_view(wire).substr(0, n));
		wire.erase(0, n);
		for (const auto &e : Drain(s))
			if (const auto *end = std::get_if<MessageEndEvent>(&e))
				s.Saved(end->number);
	}
	return s.Stats();
}

} // namespace

TEST_CASE("the window of RETR octets follows the link the clock measures")
{
	constexpr std::uint64_t mib = 1u << 20;
	std::uint64_t most = 0;
	SUBCASE("20 Mbit/s at 600 ms: the window shrinks to the floor, and holds")
	{
		const auto stats = RunOnLink(2'500'000, 600, most);
		CHECK(stats.deleted == 600);
		CHECK(stats.rtt_us == 600'000);
		CHECK(stats.bytes_per_second >= 2'400'000);
		CHECK(stats.bytes_per_second <= 2'600'000);
		CHECK(stats.window_bytes == limits::min_window_bytes);
		// 32 MiB went out before the link was measured; once the in-flight octets
		// drained below the measured window, new RETRs kept within it.
		CHECK(stats.max_in_flight >= 32 * mib / 100000);
	}
	SUBCASE("a fast long link: the window grows past the initial one")
	{
		const auto stats = RunOnLink(200'000'000, 2000, most);
		CHECK(stats.deleted == 2000);
		CHECK(stats.window_bytes > limits::initial_window_bytes);
		CHECK(stats.window_bytes <= limits::max_window_bytes);
		CHECK(most > limits::initial_window_bytes);
	}
}

TEST_CASE("a login the server answers late does not time the round trip")
{
	// Dovecot holds its answer to a wrong password for seconds: taken for the link's
	// round trip, that would size the RETR window for a link it is not.
	std::uint64_t now = 1'000'000;
	SessionConfig config = Config("pw");
	config.capa_before_greeting = true;
	config.secure = true;
	config.clock_us = [&now] { return now; };
	Session s(config);
	CHECK(s.TakeOutput() == "CAPA\r\n"); // before the connection is up: no probe
	now += 600'000;
	s.Feed("+OK\r\n+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n");
	Drain(s);
	CHECK(s.TakeOutput() ==
	      "USER alice\r\nPASS pw\r\nCAPA\r\nSTAT\r\nUIDL\r\nLIST\r\n");
	now += 4'000'000;
	s.Feed("+OK\r\n+OK\r\n+OK\r\nUIDL\r\nPIPELINING\r\n.\r\n+OK 1 5\r\n"
	       "+OK\r\n1 u1\r\n.\r\n+OK\r\n1 5\r\n.\r\n");
	Drain(s);
	CHECK(s.Stats().rtt_us == 0);
	CHECK(s.TakeOutput().starts_with("RETR 1\r\n"));
	now += 600'000;
	s.Feed("+OK\r\none\r\n.\r\n");
	Drain(s);
	CHECK(s.Stats().rtt_us == 600'000);
}
