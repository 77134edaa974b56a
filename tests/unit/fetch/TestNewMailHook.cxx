// on_new_mail (issue 14): the command runs without a shell with the POPSTREAM_*
// variables, its output and its end are lines to log, and a timeout or a cancel kills
// it and what it started.
#include "TempDir.hxx"
#include "fetch/NewMailHook.hxx"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <unistd.h>

using namespace popstream;
using namespace popstream::fetch;
using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

NewMailFacts Facts()
{
	return {"work", 3, 4096, "/home/a/Mail/work", ""};
}

/** @return the lines of @p outcome, one per line, "LEVEL text" (W, I or D) */
std::string Lines(const HookOutcome &outcome)
{
	std::string text;
	for (const auto &[level, line] : outcome.lines)
		text += std::string(level == LogLevel::Warning ? "W "
				    : level == LogLevel::Info  ? "I "
							       : "D ") +
			line + "\n";
	return text;
}

} // namespace

TEST_CASE("on_new_mail gets the facts in its environment and its output is logged")
{
	TempDir dir;
	// An inherited value of ours is replaced, not doubled.
	setenv("POPSTREAM_ACCOUNT", "stale", 1);
	const auto out = dir / "env";
	const auto outcome = RunNewMailHook(
	    {"sh", "-c",
	     "env | grep -E '^POPSTREAM_(ACCOUNT|MESSAGES|BYTES|MAILDIR|MBOX)=' | sort > "
	     "\"$0\"; "
	     "echo 'one line'; echo 'to stderr' "
	     ">&2; printf 'bad\\033byte'",
	     out},
	    Facts());
	unsetenv("POPSTREAM_ACCOUNT");
	CHECK(outcome.ok);
	CHECK(ReadFile(out) == "POPSTREAM_ACCOUNT=work\nPOPSTREAM_BYTES=4096\n"
			       "POPSTREAM_MAILDIR=/home/a/Mail/work\nPOPSTREAM_MBOX=\n"
			       "POPSTREAM_MESSAGES=3\n");
	CHECK(Lines(outcome) ==
	      "I on_new_mail: one line\nI on_new_mail: to stderr\n"
	      "I on_new_mail: bad\\x1bbyte\nD on_new_mail \"sh\": done\n");
}

TEST_CASE("on_new_mail that fails, is missing or is killed: one warning saying so")
{
	CHECK(Lines(RunNewMailHook({"sh", "-c", "echo nope; exit 3"}, Facts())) ==
	      "I on_new_mail: nope\nW on_new_mail \"sh\": failed with exit status 3\n");
	CHECK(Lines(RunNewMailHook({"/nonexistent/hook"}, Facts())) ==
	      "W on_new_mail \"/nonexistent/hook\": cannot run it: No such file or "
	      "directory\n");
	CHECK(Lines(RunNewMailHook({"sh", "-c", "kill -SEGV $$"}, Facts())) ==
	      "W on_new_mail \"sh\": killed by signal 11 (SIGSEGV)\n");
}

TEST_CASE("on_new_mail past its timeout is killed with what it started")
{
	TempDir dir;
	const auto pid_file = dir / "child";
	// The hook leaves a background child holding its output open: both must go.
	const auto start = std::chrono::steady_clock::now();
	const auto outcome = RunNewMailHook(
	    {"sh", "-c", "sleep 30 & echo $! > \"$0\"; wait", pid_file}, Facts(), 300ms);
	CHECK(std::chrono::steady_clock::now() - start < 10s);
	CHECK(Lines(outcome) ==
	      "W on_new_mail \"sh\": did not finish within 0 s (killed)\n");
	const pid_t child = std::atoi(ReadFile(pid_file).c_str());
	REQUIRE(child > 0);
	bool gone = false;
	for (int i = 0; i < 100 && !gone; ++i) {
		gone = kill(child, 0) != 0;
		std::this_thread::sleep_for(20ms);
	}
	CHECK(gone);
}

TEST_CASE("a cancelled on_new_mail is killed at once")
{
	std::atomic<bool> cancel{false};
	std::thread canceller([&] {
		std::this_thread::sleep_for(200ms);
		cancel = true;
	});
	const auto start = std::chrono::steady_clock::now();
	const auto outcome = RunNewMailHook({"sleep", "30"}, Facts(), 60s, &cancel);
	canceller.join();
	CHECK(std::chrono::steady_clock::now() - start < 10s);
	CHECK(Lines(outcome) ==
	      "W on_new_mail \"sleep\": killed: popstream is stopping\n");
}

TEST_CASE("on_new_mail is judged by its own exit, not by a child it leaves behind")
{
	TempDir dir;
	const auto pid_file = dir / "child";
	const auto start = std::chrono::steady_clock::now();
	// The background child keeps the output pipe open for 30 s.
	const auto outcome = RunNewMailHook(
	    {"sh", "-c", "sleep 30 & echo $! > \"$0\"; echo notified", pid_file}, Facts(),
	    20s);
	CHECK(std::chrono::steady_clock::now() - start < 10s);
	CHECK(outcome.ok);
	CHECK(Lines(outcome) == "I on_new_mail: notified\nD on_new_mail \"sh\": done\n");
	kill(std::atoi(ReadFile(pid_file).c_str()), SIGKILL);
}
