#include "Mda.hxx"

#include "Spawn.hxx"
#include "core/util/Escape.hxx"
#include "posix/UniqueFd.hxx"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

namespace popstream::fetch {

namespace {

using Clock = std::chrono::steady_clock;

/** @return the first non-empty line of @p output, escaped, or "" */
std::string FirstLine(const std::string &output)
{
	std::size_t start = 0;
	while (start < output.size()) {
		auto end = output.find('\n', start);
		if (end == std::string::npos)
			end = output.size();
		std::string_view line(output.data() + start, end - start);
		while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
			line.remove_suffix(1);
		if (!line.empty())
			return Escape(line, 300);
		start = end + 1;
	}
	return {};
}

} // namespace

std::vector<std::string> ExpandMdaArgs(const std::vector<std::string> &argv,
				       const std::string &account,
				       const std::string &user)
{
	std::vector<std::string> out;
	for (const auto &arg : argv) {
		std::string expanded;
		for (std::size_t i = 0; i < arg.size(); ++i) {
			if (arg[i] == '%' && i + 1 < arg.size()) {
				const char c = arg[i + 1];
				if (c == 'a' || c == 'u' || c == '%') {
					expanded += c == 'a'   ? account
						    : c == 'u' ? user
							       : "%";
					++i;
					continue;
				}
			}
			expanded += arg[i];
		}
		out.push_back(std::move(expanded));
	}
	return out;
}

store::HandOffResult RunMda(const std::vector<std::string> &argv, int fd,
			    std::chrono::milliseconds timeout)
{
	store::HandOffResult result;
	const std::string who = "the MDA \"" + Escape(argv.front(), 100) + "\"";
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		result.why = who + ": cannot create a pipe: " + std::strerror(errno);
		result.every_save = true;
		return result;
	}
	posix::UniqueFd read_end(fds[0]), write_end(fds[1]);

	SpawnSetup setup(true);
	// dup2() clears FD_CLOEXEC on the copies: the message, and the pipe for what
	// the MDA says.
	posix_spawn_file_actions_adddup2(&setup.actions, fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&setup.actions, write_end.Get(), STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&setup.actions, write_end.Get(), STDERR_FILENO);
	std::vector<char *> args;
	for (const auto &arg : argv)
		args.push_back(const_cast<char *>(arg.c_str()));
	args.push_back(nullptr);

	pid_t pid = -1;
	const int spawn_error = posix_spawnp(&pid, argv.front().c_str(), &setup.actions,
					     &setup.attributes, args.data(), environ);
	if (spawn_error != 0) {
		result.why = who + ": cannot run it: " + std::strerror(spawn_error);
		result.every_save = true;
		return result;
	}
	write_end.Close();

	const auto deadline = Clock::now() + timeout;
	std::string output;
	bool timed_out = false;
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
		if (ready <= 0) {
			timed_out = ready == 0;
			break;
		}
		const auto n = read(read_end.Get(), buffer, sizeof(buffer));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (output.size() < mda_output_max)
			output.append(buffer, std::min(static_cast<std::size_t>(n),
						       mda_output_max - output.size()));
	}
	read_end.Close();

	int status = 0;
	Reaped reaped = Reaped::Running;
	if (!timed_out) {
		reaped = ReapBefore(pid, deadline, status);
		timed_out = reaped == Reaped::Running;
	}
	if (reaped == Reaped::Running) {
		kill(-pid, SIGKILL);
		Reap(pid);
	}
	const auto said = FirstLine(output);
	const std::string tail = said.empty() ? "" : ": " + said;
	if (timed_out) {
		result.why = who + ": did not finish within " +
			     std::to_string(timeout.count() / 1000) + " s (killed)" +
			     tail;
	} else if (reaped == Reaped::Lost) {
		result.why = who + ": its exit status is lost";
	} else if (WIFSIGNALED(status)) {
		const int sig = WTERMSIG(status);
		const char *name = sigabbrev_np(sig);
		result.why = who + ": killed by signal " + std::to_string(sig) +
			     (name != nullptr ? std::string(" (SIG") + name + ")" : "") +
			     tail;
	} else if (WEXITSTATUS(status) == 75) {
		result.why = who + ": exit 75 (EX_TEMPFAIL), try again later" + tail;
		result.deferred = true;
	} else if (WEXITSTATUS(status) != 0) {
		result.why = who + ": failed with exit status " +
			     std::to_string(WEXITSTATUS(status)) + tail;
	} else {
		result.delivered = true;
	}
	return result;
}

} // namespace popstream::fetch
