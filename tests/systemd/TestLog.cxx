// systemd/Log: the stderr format with sd-daemon "<N>" prefixes, one line per entry
// whatever the text holds, secrets redacted, and the $JOURNAL_STREAM decision. Journal
// entries themselves cannot be observed without journald, so only the decision to use
// the journal is tested.

#include "TempDir.hxx"
#include "core/util/Escape.hxx"
#include "systemd/Log.hxx"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace popstream::systemd {
namespace {

/** A pipe whose read end collects what a Logger writes to the write end. */
class Capture {
	int fds_[2] = {-1, -1};

public:
	Capture()
	{
		if (pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0)
			throw std::system_error(errno, std::generic_category(), "pipe2");
	}
	~Capture()
	{
		close(fds_[0]);
		close(fds_[1]);
	}
	Capture(const Capture &) = delete;
	Capture &operator=(const Capture &) = delete;

	int WriteFd() const noexcept { return fds_[1]; }

	/** @return everything written so far */
	std::string Take()
	{
		std::string data;
		char buffer[4096];
		ssize_t n;
		while ((n = read(fds_[0], buffer, sizeof(buffer))) > 0)
			data.append(buffer, static_cast<std::size_t>(n));
		return data;
	}
};

enum class SomeLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

std::size_t CountNewlines(const std::string &text)
{
	std::size_t count = 0;
	for (const char c : text)
		count += c == '\n';
	return count;
}

} // namespace

TEST_SUITE("log")
{
	TEST_CASE("stderr lines carry the sd-daemon priority prefix")
	{
		CHECK(FormatStderrLine(Priority::Error, "boom") == "<3>boom\n");
		CHECK(FormatStderrLine(Priority::Warning, "slow") == "<4>slow\n");
		CHECK(FormatStderrLine(Priority::Notice, "n") == "<5>n\n");
		CHECK(FormatStderrLine(Priority::Info, "3 messages", "work") ==
		      "<6>work: 3 messages\n");
		CHECK(FormatStderrLine(Priority::Debug, "d") == "<7>d\n");
	}

	TEST_CASE("CR and LF cannot split a line")
	{
		const std::string line =
		    FormatStderrLine(Priority::Warning, "a\nb\r\nc\n<3>forged", "acc\nt");
		CHECK(line == "<4>acc\\nt: a\\nb\\r\\nc\\n<3>forged\n");
		CHECK(CountNewlines(line) == 1);
		CHECK(EscapeLineBreaks("tab\tkept, esc\x1b and nul") ==
		      "tab\tkept, esc\\x1b and nul");
		CHECK(EscapeLineBreaks(std::string("a\0b", 3)) == "a\\x00b");
		// Callers' own escaping is left alone: no second layer of backslashes.
		CHECK(EscapeLineBreaks("already \\n escaped \\x01") ==
		      "already \\n escaped \\x01");
	}

	TEST_CASE("a stderr Logger writes one line per entry and honours the priority")
	{
		Capture capture;
		Logger logger(LogTarget::Stderr, capture.WriteFd());
		CHECK(logger.Target() == LogTarget::Stderr);

		logger.Log(Priority::Info, "two\nlines", LogFields{.account = "work"});
		logger.Log(Priority::Error, "failed",
			   LogFields{.server = "pop.example.com:995"});
		logger.Log(Priority::Debug, "hidden");
		CHECK(capture.Take() == "<6>work: two\\nlines\n<3>failed\n");

		logger.SetMaxPriority(Priority::Debug);
		logger.Log(ToPriority(SomeLevel::Debug), "shown");
		logger.SetMaxPriority(Priority::Warning);
		logger.Log(Priority::Notice, "hidden");
		logger.Log(Priority::Warning, "shown");
		CHECK(capture.Take() == "<7>shown\n<4>shown\n");
	}

	TEST_CASE("ToPriority keeps the syslog numbers")
	{
		CHECK(ToPriority(SomeLevel::Error) == Priority::Error);
		CHECK(ToPriority(SomeLevel::Warning) == Priority::Warning);
		CHECK(ToPriority(SomeLevel::Notice) == Priority::Notice);
		CHECK(ToPriority(SomeLevel::Info) == Priority::Info);
		CHECK(ToPriority(SomeLevel::Debug) == Priority::Debug);
	}

	TEST_CASE(
	    "the per-fetch summary is one line with count, bytes, seconds and errors")
	{
		Capture capture;
		Logger logger(LogTarget::Stderr, capture.WriteFd());

		FetchSummary ok{.account = "work",
				.server = "pop.example.com:995",
				.messages = 3,
				.bytes = 216,
				.seconds = 0.123};
		CHECK(FormatFetchSummary(ok) ==
		      "3 messages, 216 bytes in 0.12 s, no errors");
		logger.LogFetch(ok);

		FetchSummary one{
		    .account = "home", .messages = 1, .bytes = 1, .seconds = 2};
		one.errors = 1;
		CHECK(FormatFetchSummary(one) == "1 message, 1 byte in 2.00 s, 1 error");

		FetchSummary failed{.account = "home", .seconds = 3};
		failed.error = "connection refused";
		CHECK(FormatFetchSummary(failed) ==
		      "0 messages, 0 bytes in 3.00 s, 1 error: connection refused");
		failed.errors = 3;
		CHECK(FormatFetchSummary(failed) ==
		      "0 messages, 0 bytes in 3.00 s, 3 errors: connection refused");
		failed.error = "line\nbreak";
		logger.LogFetch(failed);

		CHECK(capture.Take() ==
		      "<6>work: 3 messages, 216 bytes in 0.12 s, no errors\n"
		      "<4>home: 0 messages, 0 bytes in 3.00 s, 3 errors: line\\nbreak\n");
	}

	TEST_CASE("registered secrets never reach the log, raw or escaped")
	{
		Capture capture;
		Logger logger(LogTarget::Stderr, capture.WriteFd());
		const std::string password = "s3cr\\et\x01pw";
		logger.AddSecret(password);
		logger.AddSecret("abc"); // too short to redact: ignored

		logger.Log(Priority::Error, "PASS " + password + " rejected",
			   LogFields{.account = "work"});
		logger.Log(Priority::Error, "server said: " + Escape(password));
		logger.Log(Priority::Info, "abc stays");
		const std::string out = capture.Take();
		CHECK(out == "<3>work: PASS [redacted] rejected\n"
			     "<3>server said: [redacted]\n"
			     "<6>abc stays\n");
		CHECK(out.find("s3cr") == std::string::npos);

		logger.ForgetSecrets();
		logger.Log(Priority::Info, "token s3cr");
		CHECK(capture.Take() == "<6>token s3cr\n");
	}

	TEST_CASE("JOURNAL_STREAM matches only the same device and inode")
	{
		CHECK(IsJournalStream("12:34", 12, 34));
		CHECK(IsJournalStream("18446744073709551615:1", UINT64_MAX, 1));
		CHECK_FALSE(IsJournalStream("12:34", 12, 35));
		CHECK_FALSE(IsJournalStream("12:34", 13, 34));
		CHECK_FALSE(IsJournalStream("", 0, 0));
		CHECK_FALSE(IsJournalStream("12", 12, 0));
		CHECK_FALSE(IsJournalStream("12:", 12, 0));
		CHECK_FALSE(IsJournalStream(":34", 0, 34));
		CHECK_FALSE(IsJournalStream("12:34x", 12, 34));
		CHECK_FALSE(IsJournalStream(" 12:34", 12, 34));
		CHECK_FALSE(IsJournalStream("+12:34", 12, 34));
		CHECK_FALSE(IsJournalStream("12:34:56", 12, 34));
		CHECK_FALSE(IsJournalStream("18446744073709551616:1", 0, 1));
	}

	TEST_CASE("DetectLogTarget compares $JOURNAL_STREAM with the descriptor")
	{
		test::TempDir dir;
		const std::string path = dir / "stream";
		test::WriteFile(path, "");
		const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
		REQUIRE(fd >= 0);
		struct stat st {};
		REQUIRE(fstat(fd, &st) == 0);
		const std::string same =
		    std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
		const std::string other =
		    std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);

		unsetenv("JOURNAL_STREAM");
		CHECK(DetectLogTarget(fd) == LogTarget::Stderr);
		setenv("JOURNAL_STREAM", same.c_str(), 1);
		CHECK(DetectLogTarget(fd) == LogTarget::Journal);
		// A child whose stderr was redirected still inherits the variable.
		setenv("JOURNAL_STREAM", other.c_str(), 1);
		CHECK(DetectLogTarget(fd) == LogTarget::Stderr);
		setenv("JOURNAL_STREAM", "garbage", 1);
		CHECK(DetectLogTarget(fd) == LogTarget::Stderr);
		setenv("JOURNAL_STREAM", same.c_str(), 1);
		CHECK(DetectLogTarget(-1) == LogTarget::Stderr);
		unsetenv("JOURNAL_STREAM");
		close(fd);
	}
}

} // namespace popstream::systemd
