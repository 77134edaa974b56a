// The mbox delivery (store/Mbox.hxx): mboxrd quoting in every split of the input, the
// From line, appends under procmail's and mutt's locks, and what Recover() makes of an
// append a kill interrupted: whole (delivered, not appended again), torn (truncated
// back), or overwritten by another program (left alone).
#include "TempDir.hxx"
#include "store/Mbox.hxx"

#include <doctest/doctest.h>

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace popstream::store;
using popstream::test::ReadFile;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

/** @return @p text quoted by MboxrdQuoter, fed in pieces of @p piece bytes */
std::string Quote(std::string_view text, std::size_t piece)
{
	std::string out;
	MboxrdQuoter q([&](std::string_view b) { out.append(b); });
	for (std::size_t i = 0; i < text.size(); i += piece)
		q.Feed(text.substr(i, piece));
	q.Finish();
	return out;
}

/** mboxrd's reading side: one `>` less on every line of `>`s then "From ". */
std::string Unquote(const std::string &text)
{
	std::string out;
	std::size_t at = 0;
	while (at < text.size()) {
		auto end = text.find('\n', at);
		end = end == std::string::npos ? text.size() : end + 1;
		std::string_view line(text.data() + at, end - at);
		const auto first = line.find_first_not_of('>');
		if (first != 0 && first != std::string_view::npos &&
		    line.substr(first).starts_with("From "))
			line.remove_prefix(1);
		out.append(line);
		at = end;
	}
	return out;
}

struct Box {
	TempDir dir;
	std::string path = dir / "mbox";
	std::string intents = dir / "intents";

	HandOffResult Append(const std::string &text, const std::string &uidl,
			     std::chrono::milliseconds wait = std::chrono::seconds(5))
	{
		WriteFile(dir / "staged", text, 0600);
		const int fd = open((dir / "staged").c_str(), O_RDONLY | O_CLOEXEC);
		REQUIRE(fd >= 0);
		MboxAppender box(path, intents, wait);
		auto r =
		    box.Append({fd, text.size(), text.size() + 1, uidl, dir / "staged"});
		close(fd);
		return r;
	}
};

const std::string one = "Subject: one\n\nFrom here\n>From there\n";

} // namespace

TEST_CASE("mboxrd: every From line gets one more >, in every split of the input, and "
	  "reading strips it again")
{
	const std::string text = "From a\n>From b\n>>From c\nFrom\nFro\n>x\nFrom: hdr\n"
				 "x From y\n>>>\n\nFrom ";
	const std::string quoted = ">From a\n>>From b\n>>>From c\nFrom\nFro\n>x\nFrom: "
				   "hdr\nx From y\n>>>\n\n>From \n";
	for (std::size_t piece = 1; piece <= text.size(); ++piece) {
		INFO("pieces of ", piece);
		CHECK(Quote(text, piece) == quoted);
	}
	CHECK(Unquote(quoted) == text + "\n");
	// A line of a million > costs no memory, and is passed on whole.
	const std::string many(1'000'000, '>');
	CHECK(Quote(many + "From x\n", 4096) == ">" + many + "From x\n");
	CHECK(Quote("no newline", 3) == "no newline\n");
	CHECK(Quote("", 1).empty());
}

TEST_CASE("mbox From line: the envelope sender from Return-Path, else MAILER-DAEMON")
{
	setenv("TZ", "UTC", 1);
	tzset();
	const std::time_t when = 1796598000; // 2026-12-06 23:00:00 UTC
	CHECK(MboxFromLine("Return-Path: <bob@example.org>\nSubject: x\n\nbody", when) ==
	      "From bob@example.org Sun Dec  6 23:00:00 2026\n");
	CHECK(MboxFromLine("Subject: x\n\nReturn-Path: <late@x>\n", when) ==
	      "From MAILER-DAEMON Sun Dec  6 23:00:00 2026\n");
	CHECK(MboxFromLine("return-path: <>\n\n", when) ==
	      "From MAILER-DAEMON Sun Dec  6 23:00:00 2026\n");
	CHECK(MboxFromLine("Return-Path: <a b@x>\n\n", when) ==
	      "From MAILER-DAEMON Sun Dec  6 23:00:00 2026\n");
}

TEST_CASE("EnvelopeSender: never an option, a blank or a control character")
{
	CHECK(EnvelopeSender("Subject: x\r\nReturn-Path: <b@x>\r\n\r\n") == "b@x");
	CHECK(EnvelopeSender("Return-Path: <-oQ/tmp@x>\n\n") == "MAILER-DAEMON");
	CHECK(EnvelopeSender("Return-Path: <a\tb@x>\n\n") == "MAILER-DAEMON");
	CHECK(EnvelopeSender("") == "MAILER-DAEMON");
	// Folded, and without brackets, as some MTAs write it.
	CHECK(EnvelopeSender("Return-Path:\r\n <f@x>\r\nSubject: y\r\n\r\n") == "f@x");
	CHECK(EnvelopeSender("Return-Path: bare@x\n\n") == "bare@x");
	CHECK(EnvelopeSender("Return-Path: two words@x\n\n") == "MAILER-DAEMON");
}

TEST_CASE("mbox append: From line, quoted message, empty line; the intent is logged; "
	  "the dot-lock is gone afterwards")
{
	Box b;
	REQUIRE(b.Append(one, "u1").delivered);
	REQUIRE(b.Append("Subject: two\n\nno newline", "u2").delivered);
	const auto text = ReadFile(b.path);
	const auto second = text.find("\nFrom MAILER-DAEMON ", 1);
	REQUIRE(second != std::string::npos);
	CHECK(text.rfind("From MAILER-DAEMON ", 0) == 0);
	CHECK(text.substr(text.find('\n') + 1, second + 1 - text.find('\n') - 1) ==
	      "Subject: one\n\n>From here\n>>From there\n\n");
	CHECK(text.ends_with("\nSubject: two\n\nno newline\n\n"));
	CHECK_FALSE(std::filesystem::exists(b.path + ".lock"));
	// Both intents logged, until the journal has them.
	MboxAppender box(b.path, b.intents);
	const auto found = box.Recover([](const std::string &) { return false; });
	using Whole = MboxAppender::Recovered::Whole;
	CHECK(found.delivered ==
	      std::vector<Whole>{{"u1", one.size() + 1, b.path}, {"u2", 25, b.path}});
	CHECK(found.notices.empty());
	CHECK(box.Recover([](const std::string &uidl) { return uidl == "u1"; })
		  .delivered.size() == 1);
	box.ClearIntents();
	CHECK(box.Recover([](const std::string &) { return false; }).delivered.empty());
}

TEST_CASE("mbox recovery: a torn append is truncated back; bytes not ours are left")
{
	Box b;
	REQUIRE(b.Append(one, "u1").delivered);
	const auto whole = ReadFile(b.path);
	REQUIRE(b.Append("Subject: two\n\nbody two\n", "u2").delivered);
	// A kill halfway through the second append.
	const auto full = ReadFile(b.path);
	REQUIRE(truncate(b.path.c_str(), static_cast<off_t>(whole.size() + 10)) == 0);
	MboxAppender box(b.path, b.intents);
	auto found = box.Recover([](const std::string &) { return false; });
	using Whole = MboxAppender::Recovered::Whole;
	CHECK(found.delivered == std::vector<Whole>{{"u1", one.size() + 1, b.path}});
	REQUIRE(found.notices.size() == 1);
	CHECK(found.notices[0] ==
	      "the mbox " + b.path + " ended in a torn append of 10 of " +
		  std::to_string(full.size() - whole.size()) +
		  " bytes (a kill during delivery): truncated back; the message is still "
		  "on the server");
	CHECK(ReadFile(b.path) == whole);

	// Another program rewrote the file where u1 was appended: not ours to judge.
	WriteFile(b.path, std::string(whole.size(), 'x'), 0600);
	found = box.Recover([](const std::string &) { return false; });
	CHECK(found.delivered.empty());
	CHECK(found.notices.front() ==
	      "the mbox " + b.path +
		  " holds bytes that are not those of the append of UIDL u1 at offset 0 "
		  "(another program wrote there after a kill): left alone; check the "
		  "message there by hand");
}

TEST_CASE("mbox recovery: another program's delivery after a torn append is never cut; "
	  "an mbox that lacks its last newline gets an empty line before the next")
{
	Box b;
	WriteFile(b.path, "From x Sun Dec  6 23:00:00 2026\nSubject: old\n\nno newline",
		  0600);
	REQUIRE(b.Append(one, "u1").delivered);
	const auto text = ReadFile(b.path);
	CHECK(text.find("no newline\n\nFrom MAILER-DAEMON ") != std::string::npos);
	REQUIRE(b.Append("Subject: two\n\nbody two\n", "u2").delivered);
	const auto full = ReadFile(b.path);
	// Killed 10 bytes into the second append; then a local delivery took the
	// stale lock and appended after it.
	const std::string local =
	    "\n\nFrom local Sun Dec  6 23:00:00 2026\nSubject: local\n\n";
	REQUIRE(truncate(b.path.c_str(), static_cast<off_t>(text.size() + 10)) == 0);
	{
		std::ofstream out(b.path, std::ios::app | std::ios::binary);
		out << local;
	}
	const auto before = ReadFile(b.path);
	REQUIRE(before.size() < full.size()); // still shorter than the whole append
	MboxAppender box(b.path, b.intents);
	const auto found = box.Recover([](const std::string &) { return false; });
	REQUIRE(found.notices.size() == 1);
	CHECK(
	    found.notices[0].find("holds bytes that are not those of the append of UIDL "
				  "u2") != std::string::npos);
	CHECK(ReadFile(b.path) == before);
}

TEST_CASE("mbox locks: a live program's dot-lock defers the message; a dead one's is "
	  "taken over")
{
	Box b;
	// A dot-lock held by a running process (this one's parent's child: sleep).
	const pid_t sleeper = fork();
	if (sleeper == 0) {
		execlp("sleep", "sleep", "30", nullptr);
		_exit(127);
	}
	WriteFile(b.path + ".lock", std::to_string(sleeper) + "\n", 0644);
	auto r = b.Append(one, "u1", std::chrono::milliseconds(300));
	CHECK_FALSE(r.delivered);
	CHECK(r.deferred);
	CHECK(r.why ==
	      "the mbox " + b.path + ": locked by another program (" + b.path + ".lock)");
	const bool appended =
	    std::filesystem::exists(b.path) && !ReadFile(b.path).empty();
	CHECK_FALSE(appended);
	kill(sleeper, SIGKILL);
	waitpid(sleeper, nullptr, 0);
	// Its process is gone: the lock is stale.
	r = b.Append(one, "u1", std::chrono::milliseconds(300));
	CHECK(r.delivered);
	CHECK_FALSE(std::filesystem::exists(b.path + ".lock"));

	// An fcntl lock held by another process: deferred too.
	const pid_t holder = fork();
	if (holder == 0) {
		const int fd = open(b.path.c_str(), O_RDWR);
		struct flock fl {};
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fcntl(fd, F_SETLK, &fl);
		sleep(30);
		_exit(0);
	}
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	r = b.Append(one, "u2", std::chrono::milliseconds(300));
	CHECK(r.deferred);
	CHECK(r.why == "the mbox " + b.path + ": locked by another program (fcntl)");
	kill(holder, SIGKILL);
	waitpid(holder, nullptr, 0);
}
