// Issue 9 part 6: `popstream dl` connects first and asks for the password only then.
// A closed port is reported as such (69), not as a missing password; without a
// password and a terminal the run ends with netrc's message (78) before USER; on a
// terminal the password is asked for with echo off, as mpop does, and goes nowhere but
// into PASS. Run with the real binary, a scripted server and a pseudo-terminal.
#include "CaseChecks.hxx"
#include "CaseHarness.hxx"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

constexpr int exit_unavailable = 69;

/** A TCP port on 127.0.0.1 that refuses connections: bound (so nobody else takes it
 * meanwhile) but not listening. */
class ClosedPort {
	int fd_ = -1;
	std::uint16_t port_ = 0;

public:
	ClosedPort()
	{
		fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(fd_ >= 0);
		sockaddr_in address{};
		address.sin_family = AF_INET;
		address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		REQUIRE(bind(fd_, reinterpret_cast<sockaddr *>(&address),
			     sizeof(address)) == 0);
		socklen_t length = sizeof(address);
		REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr *>(&address),
				    &length) == 0);
		port_ = ntohs(address.sin_port);
	}
	~ClosedPort() { close(fd_); }
	ClosedPort(const ClosedPort &) = delete;
	ClosedPort &operator=(const ClosedPort &) = delete;
	std::uint16_t Port() const noexcept { return port_; }
};

std::string Spec(std::uint16_t port)
{
	return "tcp:alice@127.0.0.1:" + std::to_string(port);
}

/** `popstream dl` without a terminal (stdin is a pipe), HOME = @p home. */
ProcessResult DlNoTerminal(const TempDir &home, std::uint16_t port)
{
	ProcessOptions o;
	o.argv = {RequireEnv("POPSTREAM_BIN"),
		  "dl",
		  "--timeout",
		  "5",
		  Spec(port),
		  home / "Maildir"};
	o.env = {"HOME=" + home.Path(), "NETRC", "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
	o.timeout = 30s;
	return Run(o);
}

/** What a run under a pseudo-terminal printed, and how it ended. */
struct PtyRun {
	std::string output;
	int exit_code = -1;
	/** The terminal's ECHO flag when the prompt had been shown, and at the end. */
	bool echo_at_prompt = true, echo_at_end = false;
	/** Connections and commands the server had seen when the prompt was shown. */
	unsigned connections_at_prompt = 0;
	std::size_t commands_at_prompt = 0;
	bool prompted = false;
};

/**
 * Runs `popstream dl -v --timeout @p timeout` on a new pseudo-terminal as its
 * controlling terminal (stdin, stdout and stderr), and once "Password for" shows, types
 * @p typed after @p typing_delay.
 */
PtyRun DlOnTerminal(const TempDir &home, std::uint16_t port, const std::string &typed,
		    FakePop3Server *server = nullptr,
		    std::chrono::milliseconds typing_delay = 0ms,
		    const std::string &timeout = "5")
{
	int master = -1, slave = -1;
	REQUIRE(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
	const std::string bin = RequireEnv("POPSTREAM_BIN");
	const std::string spec = Spec(port), maildir = home / "Maildir";
	const std::string home_env = "HOME=" + home.Path();
	const pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		close(master);
		close(slave);
		unsetenv("NETRC");
		unsetenv("XDG_STATE_HOME");
		unsetenv("XDG_CONFIG_HOME");
		putenv(const_cast<char *>(home_env.c_str()));
		execl(bin.c_str(), bin.c_str(), "dl", "-v", "--timeout", timeout.c_str(),
		      spec.c_str(), maildir.c_str(), static_cast<char *>(nullptr));
		_exit(127);
	}

	// The parent keeps the slave open, so that the terminal's modes can be read
	// after popstream has exited.
	PtyRun run;
	const auto deadline = std::chrono::steady_clock::now() + 30s;
	int status = 0;
	bool exited = false;
	while (std::chrono::steady_clock::now() < deadline) {
		pollfd p{master, POLLIN, 0};
		if (poll(&p, 1, 50) > 0) {
			char buffer[4096];
			const auto n = read(master, buffer, sizeof(buffer));
			if (n > 0)
				run.output.append(buffer, static_cast<std::size_t>(n));
			continue;
		}
		if (exited)
			break;
		if (!run.prompted &&
		    run.output.find("Password for") != std::string::npos) {
			run.prompted = true;
			termios t{};
			REQUIRE(tcgetattr(slave, &t) == 0);
			run.echo_at_prompt = (t.c_lflag & ECHO) != 0;
			if (server != nullptr) {
				run.connections_at_prompt = server->ConnectionCount();
				run.commands_at_prompt = server->Commands(1).size();
			}
			std::this_thread::sleep_for(typing_delay);
			REQUIRE(write(master, typed.data(), typed.size()) ==
				static_cast<ssize_t>(typed.size()));
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			exited = true; // one more round drains the output
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	termios t{};
	REQUIRE(tcgetattr(slave, &t) == 0);
	run.echo_at_end = (t.c_lflag & ECHO) != 0;
	close(master);
	close(slave);
	run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return run;
}

/** @return the files under @p dir that contain @p text */
std::vector<std::string> FilesContaining(const std::string &dir, const std::string &text)
{
	std::vector<std::string> found;
	for (const auto &entry : std::filesystem::recursive_directory_iterator(dir))
		if (entry.is_regular_file() &&
		    ReadFile(entry.path()).find(text) != std::string::npos)
			found.push_back(entry.path());
	return found;
}

} // namespace

TEST_CASE("a refused connection is reported as such, not as a missing password")
{
	TempDir home; // no .netrc
	ClosedPort closed;
	const auto r = DlNoTerminal(home, closed.Port());
	INFO(r.err);
	CHECK(r.exit_code == exit_unavailable);
	CHECK(r.err.find("cannot connect to 127.0.0.1:" + std::to_string(closed.Port()) +
			 ": connection refused") != std::string::npos);
	CHECK(r.err.find("password") == std::string::npos);

	// On a terminal too: nothing to log in to, so nothing is asked.
	const auto t = DlOnTerminal(home, closed.Port(), "never-typed\n");
	INFO(t.output);
	CHECK(t.exit_code == exit_unavailable);
	CHECK_FALSE(t.prompted);
	CHECK(t.output.find("connection refused") != std::string::npos);
}

TEST_CASE("no password and no terminal: netrc's message after connecting, before USER")
{
	FakePop3Server server;
	TempDir home;
	const std::string label = "alice@127.0.0.1:" + std::to_string(server.Port());

	SUBCASE("no netrc file")
	{
		const auto r = DlNoTerminal(home, server.Port());
		server.WaitIdle();
		INFO(r.err);
		CHECK(r.exit_code == exit_code::config);
		CHECK(r.err.find("cannot read " + home / ".netrc" +
				 ": No such file or directory (needed for the password "
				 "of " +
				 label + ")") != std::string::npos);
	}
	SUBCASE("no entry for the account")
	{
		WriteFile(home / ".netrc", "machine other.example.com password x\n",
			  0600);
		const auto r = DlNoTerminal(home, server.Port());
		server.WaitIdle();
		INFO(r.err);
		CHECK(r.exit_code == exit_code::config);
		CHECK(r.err.find(home / ".netrc" + ": no password for " + label +
				 " (looked for machine \"" + label +
				 "\", machine \"127.0.0.1\", default)") !=
		      std::string::npos);
	}
	// The lookup came after the connection (the server saw one), and no login was
	// begun that could not be finished.
	CHECK(server.ConnectionCount() == 1);
	const auto commands = server.Commands(1);
	INFO(Join(commands));
	CHECK(CountVerb(commands, "USER") == 0);
	CHECK(CountVerb(commands, "PASS") == 0);
}

TEST_CASE("on a terminal the password is asked for without echo, and only sent in PASS")
{
	const std::string password = "pr0mpt-Secret-91";
	FakePop3Server server;
	server.SetCredentials("alice", password);
	server.AddMessage(StandardMessage(1), "u1");
	TempDir home; // no .netrc

	// Typed after longer than --timeout: the time spent at the prompt must not count
	// as the server's silence, although the loop's clock stood still meanwhile.
	const auto run =
	    DlOnTerminal(home, server.Port(), password + "\n", &server, 2500ms, "1");
	server.WaitIdle();
	INFO(Escape(run.output));
	REQUIRE(run.prompted);
	CHECK(run.output.find("Password for alice@127.0.0.1: ") != std::string::npos);
	// Asked once connected, before the greeting was answered.
	CHECK(run.connections_at_prompt == 1);
	CHECK(run.commands_at_prompt == 0);
	CHECK_FALSE(run.echo_at_prompt);
	CHECK(run.echo_at_end);
	CHECK(run.exit_code == exit_code::ok);

	const auto commands = server.Commands(1);
	CHECK(HasCommand(commands, "USER alice"));
	CHECK(HasCommand(commands, "PASS " + password));
	CHECK(ReadAllFiles(home / "Maildir/new").size() == 1);
	// Not echoed, not in the verbose log, not in any file the run left.
	CHECK(run.output.find(password) == std::string::npos);
	CHECK(FilesContaining(home.Path(), password).empty());
	CHECK(server.ConnectionCount() == 1);
}

TEST_CASE("Ctrl-C at the password prompt restores the echo and sends nothing")
{
	FakePop3Server server;
	TempDir home;
	const auto run = DlOnTerminal(home, server.Port(), "\x03", &server);
	server.WaitIdle();
	INFO(Escape(run.output));
	REQUIRE(run.prompted);
	CHECK_FALSE(run.echo_at_prompt);
	CHECK(run.echo_at_end);
	CHECK(run.exit_code == exit_code::temp_fail);
	CHECK(run.output.find("interrupted at the password prompt") != std::string::npos);
	const auto commands = server.Commands(1);
	INFO(Join(commands));
	CHECK(CountVerb(commands, "USER") == 0);
	CHECK(CountVerb(commands, "PASS") == 0);
}
