#include "fetch/Credentials.hxx"
#include "fetch/PasswordCommand.hxx"

#include <doctest/doctest.h>

#include <csignal>

using namespace popstream;
using namespace std::chrono_literals;

namespace {

using Argv = std::vector<std::string>;

std::string ErrorOf(const Argv &argv, std::chrono::milliseconds timeout = 10s)
{
	try {
		RunPasswordCommand(argv, "work", timeout);
	} catch (const CredentialError &e) {
		CHECK(e.Code() == ExitCode::Config);
		return e.what();
	}
	FAIL("no CredentialError for " << argv.front());
	return {};
}

/** Output the failing commands print; it must never reach a message. */
constexpr const char *secret = "hunter2-secret";

} // namespace

TEST_CASE("the first line of stdout is the password")
{
	CHECK(RunPasswordCommand({"printf", "pw\\nrest"}, "work") == "pw");
	CHECK(RunPasswordCommand({"printf", "pw\\r\\n"}, "work") == "pw");
	CHECK(RunPasswordCommand({"printf", "no newline"}, "work") == "no newline");
	CHECK(RunPasswordCommand({"printf", " spaced out \\n"}, "work") ==
	      " spaced out ");
	// No shell: the metacharacters reach the program as they are.
	CHECK(RunPasswordCommand({"printf", "%s", "$HOME;`x`|y"}, "work") ==
	      "$HOME;`x`|y");
}

TEST_CASE("stdin is /dev/null, so a command reading it does not hang")
{
	CHECK(RunPasswordCommand({"sh", "-c", "cat; echo pw"}, "work", 5s) == "pw");
}

TEST_CASE("signals the daemon ignores are not ignored by the command")
{
	// Ignored dispositions survive exec: a command that never dies of SIGPIPE is
	// not what its author tested.
	const auto old = std::signal(SIGPIPE, SIG_IGN);
	const auto line =
	    RunPasswordCommand({"grep", "SigIgn", "/proc/self/status"}, "work");
	std::signal(SIGPIPE, old);
	REQUIRE(line.rfind("SigIgn:\t", 0) == 0);
	const auto ignored = std::stoull(line.substr(8), nullptr, 16);
	CHECK((ignored & (1ULL << (SIGPIPE - 1))) == 0);
}

TEST_CASE("a failing command: its status, never its output")
{
	const auto message =
	    ErrorOf({"sh", "-c", std::string("echo ") + secret + "; exit 3"});
	CHECK(message ==
	      "account \"work\": password command \"sh\": failed with exit status 3");
	CHECK(message.find(secret) == std::string::npos);
}

TEST_CASE("a command killed by a signal")
{
	CHECK(ErrorOf({"sh", "-c", std::string("echo ") + secret + "; kill -TERM $$"}) ==
	      "account \"work\": password command \"sh\": killed by signal 15 (SIGTERM)");
}

TEST_CASE("a command that does not exist")
{
	CHECK(ErrorOf({"/nonexistent/popstream-password"}) ==
	      "account \"work\": password command \"/nonexistent/popstream-password\": "
	      "cannot run it: No such file or directory");
	CHECK(ErrorOf({"popstream-no-such-command-in-path"}) ==
	      "account \"work\": password command \"popstream-no-such-command-in-path\": "
	      "cannot run it: No such file or directory");
}

TEST_CASE("a command that prints no password")
{
	CHECK(
	    ErrorOf({"true"}) ==
	    "account \"work\": password command \"true\": printed no password (its first "
	    "line is empty)");
	CHECK(ErrorOf({"printf", "\\npw\\n"}) ==
	      "account \"work\": password command \"printf\": printed no password (its "
	      "first "
	      "line is empty)");
	CHECK(ErrorOf({"printf", "\\r\\n"}) ==
	      "account \"work\": password command \"printf\": printed no password (its "
	      "first "
	      "line is empty)");
}

TEST_CASE("a password POP3 cannot send")
{
	const auto message = ErrorOf({"printf", "hunter\\r2-secret\\n"});
	CHECK(message ==
	      "account \"work\": password command \"printf\": printed a password "
	      "with a CR or NUL, which POP3 cannot send");
	CHECK(ErrorOf({"printf", "a\\0b\\n"}) ==
	      "account \"work\": password command \"printf\": printed a password with a "
	      "CR or "
	      "NUL, which POP3 cannot send");
}

TEST_CASE("a hanging command is killed at the timeout")
{
	const auto start = std::chrono::steady_clock::now();
	CHECK(
	    ErrorOf({"sleep", "30"}, 300ms) ==
	    "account \"work\": password command \"sleep\": did not finish within 300 ms "
	    "(killed)");
	CHECK(std::chrono::steady_clock::now() - start < 5s);

	// It printed its password but does not exit: still a failure, and silent.
	const auto message = ErrorOf(
	    {"sh", "-c", std::string("echo ") + secret + "; exec sleep 30"}, 300ms);
	CHECK(message ==
	      "account \"work\": password command \"sh\": did not finish within "
	      "300 ms (killed)");
	CHECK(message.find(secret) == std::string::npos);
}

TEST_CASE("endless output is cut off")
{
	const auto message = ErrorOf({"yes", secret});
	CHECK(message ==
	      "account \"work\": password command \"yes\": printed more than 64 KiB "
	      "(killed)");
	CHECK(message.find(secret) == std::string::npos);
}

TEST_CASE("the default timeout is 10 s")
{
	CHECK(PASSWORD_COMMAND_TIMEOUT == 10s);
}
