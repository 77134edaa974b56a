// RunMda() (fetch/Mda.hxx) with real commands: judged by the exit status and by
// whether the whole message was read; a timeout stops what the MDA started too.
#include "TempDir.hxx"
#include "fetch/Mda.hxx"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <thread>
#include <unistd.h>

using namespace popstream;
using popstream::test::ReadFile;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

/** The message, as a file open at offset 0. */
struct Message {
	TempDir dir;
	std::string text;
	int fd = -1;

	explicit Message(std::string body) : text(std::move(body))
	{
		WriteFile(dir / "m", text, 0600);
		fd = open((dir / "m").c_str(), O_RDONLY | O_CLOEXEC);
		REQUIRE(fd >= 0);
	}
	~Message() { close(fd); }

	store::HandOffResult
	Run(const std::vector<std::string> &argv,
	    std::chrono::milliseconds timeout = std::chrono::seconds(30))
	{
		return fetch::RunMda(argv, fd, text.size(), timeout);
	}
};

} // namespace

TEST_CASE("RunMda: exit 0 having read everything delivers, byte for byte, even past "
	  "the pipe's buffer")
{
	Message m("Subject: big\n\n" + std::string(300'000, 'x') + "\n");
	const auto out = m.dir / "out";
	const auto r = m.Run({"sh", "-c", "cat > \"$0\"", out});
	CHECK(r.delivered);
	CHECK(r.why.empty());
	CHECK(ReadFile(out) == m.text);
}

TEST_CASE("RunMda: exit 0 without reading the whole message is not a delivery")
{
	Message m("Subject: s\n\nbody\n");
	auto r = m.Run({"true"});
	CHECK_FALSE(r.delivered);
	CHECK(r.why ==
	      "the MDA \"true\": exited 0 without reading the whole message (0 of " +
		  std::to_string(m.text.size()) +
		  " bytes), so it cannot have delivered it");
	r = m.Run({"head", "-c", "5"});
	CHECK_FALSE(r.delivered);
	CHECK(r.why.find("(5 of " + std::to_string(m.text.size()) + " bytes)") !=
	      std::string::npos);
}

TEST_CASE("RunMda: 75 defers, other statuses fail with the MDA's first line")
{
	Message m("Subject: s\n\nbody\n");
	auto r = m.Run({"sh", "-c", "cat >/dev/null; echo locked >&2; exit 75"});
	CHECK(r.deferred);
	CHECK(r.why == "the MDA \"sh\": exit 75 (EX_TEMPFAIL), try again later: locked");
	r = m.Run({"sh", "-c", "cat >/dev/null; echo; echo no such user; exit 67"});
	CHECK_FALSE(r.deferred);
	CHECK(r.why == "the MDA \"sh\": failed with exit status 67: no such user");
	r = m.Run({"/nonexistent/mda"});
	CHECK(r.every_save);
	CHECK(r.why == "the MDA \"/nonexistent/mda\": cannot run it: No such file or "
		       "directory");
}

TEST_CASE("RunMda: a timeout kills what the MDA started too, so nothing delivers late")
{
	Message m("Subject: s\n\nbody\n");
	const auto late = m.dir / "late";
	const auto started = std::chrono::steady_clock::now();
	const auto r =
	    m.Run({"sh", "-c", "cat >/dev/null; (sleep 1; touch \"$0\") & wait", late},
		  std::chrono::milliseconds(300));
	CHECK_FALSE(r.delivered);
	CHECK(r.why == "the MDA \"sh\": did not finish within 0 s (killed)");
	// A background child left alive would create the file a second after it
	// started; killed with its group, it never does.
	std::this_thread::sleep_until(started + std::chrono::milliseconds(1500));
	CHECK_FALSE(std::filesystem::exists(late));
}

TEST_CASE("ExpandMdaArgs: %a, %u and a leading ~/; %F and %% are left for RunMda")
{
	setenv("HOME", "/home/alice", 1);
	CHECK(fetch::ExpandMdaArgs({"procmail", "-m", "~/.procmailrc", "-a",
				    "%a-%u 100%%", "x~/y", "-f", "%F", "%%F"},
				   "work", "alice") ==
	      std::vector<std::string>{"procmail", "-m", "/home/alice/.procmailrc", "-a",
				       "work-alice 100%%", "x~/y", "-f", "%F", "%%F"});
}

TEST_CASE("RunMda: %F is the message's envelope sender, one argument however it is "
	  "spelled; %% is a percent sign")
{
	Message m("Return-Path: <bob@example.org>\nSubject: x\n\nbody\n");
	const auto out = m.dir / "args";
	// The script writes each argument on a line of its own.
	const auto r =
	    m.Run({"sh", "-c", "cat >/dev/null; printf '%s\\n' \"$@\" > \"$0\"", out,
		   "-f", "%F", "100%%", "%%F"});
	CHECK(r.delivered);
	CHECK(ReadFile(out) == "-f\nbob@example.org\n100%\n%F\n");

	// Whatever a sender wrote, a shell the MDA starts sees nothing it would run.
	Message shell("Return-Path: <a&touch${IFS}x&'\"`$(id)@x>\n\nbody\n");
	CHECK(shell
		  .Run({"sh", "-c", "cat >/dev/null; printf '%s\\n' \"$@\" > \"$0\"", out,
			"%F"})
		  .delivered);
	CHECK(ReadFile(out) == "a_touch__IFS_x______id_@x\n");

	Message hostile("Return-Path: <-oQ/tmp; rm -rf ~@x>\n\nbody\n");
	CHECK(hostile
		  .Run({"sh", "-c", "cat >/dev/null; printf '%s\\n' \"$@\" > \"$0\"", out,
			"%F"})
		  .delivered);
	CHECK(ReadFile(out) == "MAILER-DAEMON\n");
}

TEST_CASE("RunMda: standard input is the staged file itself, so an MDA that outlives "
	  "a killed popstream still reads all of it")
{
	Message m("Subject: file\n\n" + std::string(200'000, 'f') + "\n");
	const auto out = m.dir / "out";
	// A pipe would fail the test; the file is read to its end at the MDA's pace.
	const auto r =
	    m.Run({"sh", "-c",
		   "test -f /proc/self/fd/0 || exit 1; sleep 0.2; cat > \"$0\"", out});
	CHECK(r.delivered);
	CHECK(ReadFile(out) == m.text);
	// The read position is the MDA's, shared: a second run starts from 0 again.
	const auto again = m.Run({"sh", "-c", "cat > \"$0\"", out});
	CHECK(again.delivered);
	CHECK(ReadFile(out) == m.text);
}
