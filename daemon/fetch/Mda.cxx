#include "Mda.hxx"

#include "Spawn.hxx"
#include "core/util/Escape.hxx"
#include "posix/UniqueFd.hxx"
#include "store/Mbox.hxx"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
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

/**
 * @return @p sender with every character but letters, digits and `@ . _ + = : , / -`
 *         replaced by '_', as fetchmail does for its %F: an MDA run through a shell
 *         (`[sh, -c, "procmail -f %F"]`, or ssh to another host) must not be made to
 *         run anything by a Return-Path, which whoever sent the message chose
 */
std::string ShellSafe(std::string sender)
{
	for (char &c : sender)
		if (!std::isalnum(static_cast<unsigned char>(c)) &&
		    std::string_view("@._+=:,/-").find(c) == std::string_view::npos)
			c = '_';
	return sender;
}

/** @return @p argv with `%F` replaced by @p sender and `%%` by `%` */
std::vector<std::string> ExpandSender(const std::vector<std::string> &argv,
				      const std::string &sender)
{
	std::vector<std::string> out;
	for (const auto &arg : argv) {
		std::string expanded;
		for (std::size_t i = 0; i < arg.size(); ++i) {
			if (arg[i] == '%' && i + 1 < arg.size() &&
			    (arg[i + 1] == 'F' || arg[i + 1] == '%')) {
				expanded += arg[i + 1] == 'F' ? sender : "%";
				++i;
				continue;
			}
			expanded += arg[i];
		}
		out.push_back(std::move(expanded));
	}
	return out;
}

} // namespace

std::vector<std::string> ExpandMdaArgs(const std::vector<std::string> &argv,
				       const std::string &account,
				       const std::string &user)
{
	std::vector<std::string> out;
	const char *home = std::getenv("HOME");
	for (const auto &arg : argv) {
		std::string expanded;
		// As a shell would: `mda: [procmail, -m, ~/.procmailrc]` works.
		if (arg.starts_with("~/") && home != nullptr && *home != '\0') {
			out.push_back(
			    ExpandMdaArgs({arg.substr(1)}, account, user).front());
			out.back().insert(0, home);
			continue;
		}
		for (std::size_t i = 0; i < arg.size(); ++i) {
			if (arg[i] == '%' && i + 1 < arg.size()) {
				const char c = arg[i + 1];
				if (c == 'a' || c == 'u') {
					expanded += c == 'a' ? account : user;
					++i;
					continue;
				}
				if (c == '%' || c == 'F') {
					// RunMda()'s, per message.
					expanded += arg.substr(i, 2);
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

store::HandOffResult RunMda(const std::vector<std::string> &command, int fd,
			    std::uint64_t size, std::chrono::milliseconds timeout)
{
	store::HandOffResult result;
	std::string head(std::min<std::uint64_t>(size, 64 * 1024), '\0');
	const auto got = pread(fd, head.data(), head.size(), 0);
	head.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
	const auto argv = ExpandSender(command, ShellSafe(store::EnvelopeSender(head)));
	const std::string who = "the MDA \"" + Escape(argv.front(), 100) + "\"";
	// The staged file itself is the MDA's standard input, not a pipe fed from
	// here: an MDA that outlives a killed popstream (it is in a group of its own)
	// still reads the whole message, never a cut-off one it would take for all.
	// Its read position, shared with this descriptor, shows how much it read.
	if (lseek(fd, 0, SEEK_SET) != 0) {
		result.why =
		    who + ": cannot read the staged message: " + std::strerror(errno);
		result.every_save = true;
		return result;
	}
	int out[2];
	if (pipe2(out, O_CLOEXEC) != 0) {
		result.why = who + ": cannot create a pipe: " + std::strerror(errno);
		result.every_save = true;
		return result;
	}
	posix::UniqueFd out_read(out[0]), out_write(out[1]);

	// In a group of its own, so that the timeout stops what it started too (a
	// wrapper script's procmail would otherwise deliver after all). A Ctrl-C does
	// not reach it: popstream lets it finish the message it has, and records it.
	SpawnSetup setup(true);
	// dup2() clears FD_CLOEXEC on the copies only.
	posix_spawn_file_actions_adddup2(&setup.actions, fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&setup.actions, out_write.Get(), STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&setup.actions, out_write.Get(), STDERR_FILENO);
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
	out_write.Close();
	fcntl(out_read.Get(), F_SETFL, O_NONBLOCK);
	// Without pidfd_open (Linux < 5.3) the exit is polled every 5 ms.
	posix::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

	const auto deadline = Clock::now() + timeout;
	std::string output;
	bool timed_out = false;
	int status = 0;
	bool exited = false;
	const auto drain_output = [&] {
		char buffer[4096];
		for (;;) {
			const auto n = read(out_read.Get(), buffer, sizeof(buffer));
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				out_read.Close();
			if (n <= 0)
				return;
			if (output.size() < mda_output_max)
				output.append(buffer,
					      std::min(static_cast<std::size_t>(n),
						       mda_output_max - output.size()));
		}
	};
	while (!exited) {
		const auto left =
		    std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
		if (left.count() <= 0) {
			timed_out = true;
			break;
		}
		pollfd fds[2] = {{pidfd.Get(), POLLIN, 0}, {out_read.Get(), POLLIN, 0}};
		const int wait_ms =
		    pidfd.Get() >= 0
			? static_cast<int>(std::min<long long>(left.count(), 60'000))
			: 5;
		if (poll(fds, 2, wait_ms) < 0 && errno != EINTR)
			break;
		if (fds[1].revents != 0)
			drain_output();
		const pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			exited = true;
		else if (done < 0 && errno != EINTR)
			break; // lost: ECHILD
	}
	if (!exited) {
		kill(-pid, SIGKILL);
		exited = waitpid(pid, &status, 0) == pid;
		while (!exited && errno == EINTR)
			exited = waitpid(pid, &status, 0) == pid;
	}
	if (out_read.Get() >= 0)
		drain_output(); // what it said before it exited, without waiting for EOF
	// A child it left behind may still read, but what counts is what the MDA had
	// read when it said it was done.
	const off_t position = lseek(fd, 0, SEEK_CUR);
	const std::uint64_t unread =
	    position < 0
		? size
		: size -
		      std::min<std::uint64_t>(size, static_cast<std::uint64_t>(position));

	const auto said = FirstLine(output);
	const std::string tail = said.empty() ? "" : ": " + said;
	if (timed_out) {
		result.why = who + ": did not finish within " +
			     std::to_string(timeout.count() / 1000) + " s (killed)" +
			     tail;
	} else if (!exited) {
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
	} else if (unread > 0) {
		result.why = who + ": exited 0 without reading the whole message (" +
			     std::to_string(size - unread) + " of " +
			     std::to_string(size) + " bytes), so it cannot have " +
			     "delivered it" + tail;
	} else {
		result.delivered = true;
	}
	return result;
}

} // namespace popstream::fetch
