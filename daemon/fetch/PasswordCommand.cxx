#include "PasswordCommand.hxx"
#include "Credentials.hxx"
#include "Spawn.hxx"
#include "core/util/Escape.hxx"
#include "posix/UniqueFd.hxx"

#include <cassert>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace popstream {

namespace {

using fetch::Reap;
using fetch::ReapBefore;
using fetch::Reaped;
using fetch::SpawnSetup;

using Clock = std::chrono::steady_clock;

CredentialError Failure(const std::string &message)
{
	return CredentialError(ExitCode::Config, message);
}

std::string Quoted(std::string_view text)
{
	return "\"" + Escape(text, 100) + "\"";
}

std::string DurationText(std::chrono::milliseconds duration)
{
	if (duration.count() % 1000 == 0)
		return std::to_string(duration.count() / 1000) + " s";
	return std::to_string(duration.count()) + " ms";
}

/** Wipes the command's output when it goes out of scope, whatever happened. */
class WipedString {
public:
	std::string text;
	WipedString() = default;
	~WipedString() { explicit_bzero(text.data(), text.size()); }
	WipedString(const WipedString &) = delete;
	WipedString &operator=(const WipedString &) = delete;
};

} // namespace

std::string RunPasswordCommand(const std::vector<std::string> &argv,
			       std::string_view account,
			       std::chrono::milliseconds timeout)
{
	return RunSecretCommand(argv, account, "password", timeout);
}

std::string RunSecretCommand(const std::vector<std::string> &argv,
			     std::string_view account, std::string_view secret,
			     std::chrono::milliseconds timeout)
{
	assert(!argv.empty() && !argv.front().empty());
	const std::string who = "account " + Quoted(account) + ": " +
				std::string(secret) + " command " + Quoted(argv.front());

	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		throw Failure(who + ": cannot create a pipe: " + std::strerror(errno));
	posix::UniqueFd read_end(fds[0]), write_end(fds[1]);

	SpawnSetup setup;
	posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	// dup2() clears FD_CLOEXEC on the copy, so only stdout survives the exec.
	posix_spawn_file_actions_adddup2(&setup.actions, write_end.Get(), STDOUT_FILENO);

	std::vector<char *> args;
	for (const auto &arg : argv)
		args.push_back(const_cast<char *>(arg.c_str()));
	args.push_back(nullptr);

	pid_t pid = -1;
	const int spawn_error = posix_spawnp(&pid, argv.front().c_str(), &setup.actions,
					     &setup.attributes, args.data(), environ);
	if (spawn_error != 0)
		throw Failure(who + ": cannot run it: " + std::strerror(spawn_error));
	// Our copy of the write end must go, or the read below never sees EOF.
	write_end.Close();

	const auto deadline = Clock::now() + timeout;
	WipedString output;
	bool timed_out = false, too_long = false;
	int read_error = 0;
	char buffer[4096];
	for (;;) {
		const auto left =
		    std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
		if (left.count() <= 0) {
			timed_out = true;
			break;
		}
		pollfd poll_fd{read_end.Get(), POLLIN, 0};
		const int ready = poll(&poll_fd, 1, static_cast<int>(left.count()));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			read_error = errno;
			break;
		}
		if (ready == 0) {
			timed_out = true;
			break;
		}
		const auto n = read(read_end.Get(), buffer, sizeof(buffer));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			read_error = errno;
			break;
		}
		if (n == 0)
			break;
		output.text.append(buffer, static_cast<std::size_t>(n));
		if (output.text.size() > MAX_PASSWORD_COMMAND_OUTPUT) {
			too_long = true;
			break;
		}
	}
	explicit_bzero(buffer, sizeof(buffer));
	read_end.Close();

	int status = 0, wait_error = 0;
	Reaped reaped = Reaped::Running;
	// A command may close stdout and keep running; it gets what is left of the
	// time.
	if (!timed_out && !too_long && read_error == 0) {
		reaped = ReapBefore(pid, deadline, status);
		wait_error = errno;
		timed_out = reaped == Reaped::Running;
	}
	if (reaped == Reaped::Running) {
		kill(pid, SIGKILL);
		Reap(pid);
	}

	if (timed_out)
		throw Failure(who + ": did not finish within " + DurationText(timeout) +
			      " (killed)");
	if (too_long)
		throw Failure(who + ": printed more than " +
			      std::to_string(MAX_PASSWORD_COMMAND_OUTPUT / 1024) +
			      " KiB (killed)");
	if (read_error != 0)
		throw Failure(who +
			      ": cannot read its output: " + std::strerror(read_error));
	// Without the exit status, the output of a failed command could be taken for
	// the password.
	if (reaped == Reaped::Lost)
		throw Failure(who + ": its exit status is lost (" +
			      std::strerror(wait_error) + "; is SIGCHLD ignored?)");
	if (WIFSIGNALED(status)) {
		const int sig = WTERMSIG(status);
		const char *name = sigabbrev_np(sig);
		throw Failure(who + ": killed by signal " + std::to_string(sig) +
			      (name != nullptr ? std::string(" (SIG") + name + ")" : ""));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		throw Failure(who + ": failed with exit status " +
			      std::to_string(WEXITSTATUS(status)));

	auto &text = output.text;
	auto end = text.find('\n');
	if (end == std::string::npos)
		end = text.size();
	if (end > 0 && text[end - 1] == '\r')
		--end;
	if (end == 0)
		throw Failure(who + ": printed no " + std::string(secret) +
			      " (its first line is empty)");
	const std::string_view line(text.data(), end);
	// The password goes into `PASS password\r\n` (a token into a SASL response): a
	// CR or NUL would cut it short or smuggle in a second command.
	if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos)
		throw Failure(who + ": printed a " + std::string(secret) +
			      " with a CR or NUL, which POP3 cannot send");
	return std::string(line);
}

} // namespace popstream
