#include "Process.hxx"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

extern char **environ;

namespace popstream::test {

namespace {

[[noreturn]] void Fail(const std::string &what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

std::vector<std::string> BuildEnv(const std::vector<std::string> &overrides)
{
	std::vector<std::string> env;
	for (char **e = environ; *e != nullptr; ++e)
		env.emplace_back(*e);
	for (const auto &o : overrides) {
		const auto eq = o.find('=');
		const std::string name = o.substr(0, eq);
		std::erase_if(env, [&](const std::string &e) {
			return e.compare(0, name.size() + 1, name + "=") == 0;
		});
		if (eq != std::string::npos)
			env.push_back(o);
	}
	return env;
}

std::vector<char *> CStrings(std::vector<std::string> &v)
{
	std::vector<char *> p;
	for (auto &s : v)
		p.push_back(s.data());
	p.push_back(nullptr);
	return p;
}

} // namespace

Child::Child(const ProcessOptions &options)
{
	int in_pipe[2], out_pipe[2], err_pipe[2];
	if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
	    pipe2(err_pipe, O_CLOEXEC) != 0)
		Fail("pipe");

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
	if (!options.cwd.empty())
		posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());

	auto args = options.argv;
	auto env = BuildEnv(options.env);
	auto argv = CStrings(args);
	auto envp = CStrings(env);
	const int rc =
	    posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
	posix_spawn_file_actions_destroy(&fa);
	close(in_pipe[0]);
	close(out_pipe[1]);
	close(err_pipe[1]);
	if (rc != 0) {
		errno = rc;
		close(in_pipe[1]);
		close(out_pipe[0]);
		close(err_pipe[0]);
		Fail("spawn " + options.argv.at(0));
	}

	// Inputs in tests are small; a blocking write is fine, and a child that exits
	// early must not kill us with SIGPIPE.
	signal(SIGPIPE, SIG_IGN);
	size_t done = 0;
	while (done < options.input.size()) {
		const ssize_t n = write(in_pipe[1], options.input.data() + done,
					options.input.size() - done);
		if (n <= 0)
			break;
		done += static_cast<size_t>(n);
	}
	close(in_pipe[1]);
	out_fd_ = out_pipe[0];
	err_fd_ = err_pipe[0];
	deadline_ = std::chrono::steady_clock::now() + options.timeout;
}

Child::~Child()
{
	if (pid_ > 0) {
		kill(pid_, SIGKILL);
		waitpid(pid_, nullptr, 0);
	}
	if (out_fd_ >= 0)
		close(out_fd_);
	if (err_fd_ >= 0)
		close(err_fd_);
}

void Child::Signal(int sig) const noexcept
{
	if (pid_ > 0)
		kill(pid_, sig);
}

ProcessResult Child::Wait()
{
	ProcessResult result;
	bool out_open = true, err_open = true;
	char buf[65536];
	while (out_open || err_open) {
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
		    deadline_ - std::chrono::steady_clock::now());
		if (left.count() <= 0) {
			kill(pid_, SIGKILL);
			result.timed_out = true;
			break;
		}
		pollfd fds[2] = {{out_open ? out_fd_ : -1, POLLIN, 0},
				 {err_open ? err_fd_ : -1, POLLIN, 0}};
		if (poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 1000))) <
		    0) {
			if (errno == EINTR)
				continue;
			Fail("poll");
		}
		for (int i = 0; i < 2; ++i) {
			if (fds[i].revents == 0)
				continue;
			const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
			if (n > 0)
				(i == 0 ? result.out : result.err)
				    .append(buf, static_cast<size_t>(n));
			else if (n == 0 || errno != EINTR)
				(i == 0 ? out_open : err_open) = false;
		}
	}
	int status = 0;
	while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
	}
	pid_ = -1;
	if (WIFEXITED(status))
		result.exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		result.signal = WTERMSIG(status);
	return result;
}

ProcessResult Run(const ProcessOptions &options)
{
	Child child(options);
	return child.Wait();
}

ProcessResult RunOnTerminal(const ProcessOptions &options, unsigned short columns)
{
	auto args = options.argv;
	auto env = BuildEnv(options.env);
	auto argv = CStrings(args);
	auto envp = CStrings(env);
	winsize size{};
	size.ws_row = 24;
	size.ws_col = columns;
	int master = -1;
	const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
	if (pid < 0)
		Fail("forkpty");
	if (pid == 0) {
		if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0)
			_exit(127);
		execvpe(argv[0], argv.data(), envp.data());
		_exit(127);
	}
	ProcessResult result;
	const auto deadline = std::chrono::steady_clock::now() + options.timeout;
	for (;;) {
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
		    deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0) {
			result.timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		pollfd fd{master, POLLIN, 0};
		if (poll(&fd, 1, static_cast<int>(left.count())) <= 0)
			continue;
		char buffer[4096];
		const ssize_t n = read(master, buffer, sizeof(buffer));
		if (n > 0)
			result.out.append(buffer, static_cast<size_t>(n));
		else if (!(n < 0 && errno == EINTR))
			break; // EIO: the child's side is closed
	}
	close(master);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (WIFEXITED(status)) {
		result.exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		result.signal = WTERMSIG(status);
	}
	return result;
}

} // namespace popstream::test
