#pragma once

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace popstream::test {

/** What to run. */
struct ProcessOptions {
	/** argv[0] is looked up in PATH when it contains no '/'. */
	std::vector<std::string> argv;
	/** "NAME=value" entries that override or extend the inherited environment;
	 * "NAME" alone removes NAME. */
	std::vector<std::string> env;
	/** Working directory; empty = inherit. */
	std::string cwd;
	/** Bytes written to the child's stdin, which is then closed. */
	std::string input;
	/** The child is killed with SIGKILL after this long. */
	std::chrono::milliseconds timeout{std::chrono::minutes(2)};
};

/** How a process ended and what it printed. */
struct ProcessResult {
	/** Exit status, or -1 if it was killed by a signal. */
	int exit_code = -1;
	/** The signal that killed it, or 0. */
	int signal = 0;
	/** True if it was killed because it outran ProcessOptions::timeout. */
	bool timed_out = false;
	std::string out, err;
};

/**
 * Runs a child to completion, capturing stdout and stderr.
 * @throws std::system_error if it cannot be started
 */
ProcessResult Run(const ProcessOptions &options);

/**
 * Runs a child on a terminal of its own (forkpty(3)), as a person at a shell would:
 * stdin, stdout and stderr are the terminal, @p columns wide. ProcessResult::out holds
 * every byte it wrote to the terminal, carriage returns and escape sequences included
 * (the line discipline turns LF into CR LF); err stays empty.
 * @throws std::system_error if it cannot be started
 */
ProcessResult RunOnTerminal(const ProcessOptions &options, unsigned short columns = 80);

/** A child started in the background, with stdout and stderr captured. */
class Child {
	pid_t pid_ = -1;
	int out_fd_ = -1, err_fd_ = -1;
	std::chrono::steady_clock::time_point deadline_;

public:
	/** Starts the child. @throws std::system_error */
	explicit Child(const ProcessOptions &options);
	/** Kills (SIGKILL) and reaps the child if it is still running. */
	~Child();
	Child(const Child &) = delete;
	Child &operator=(const Child &) = delete;

	pid_t Pid() const noexcept { return pid_; }

	/** Sends @p sig to the child. */
	void Signal(int sig) const noexcept;

	/** Waits for the child (killing it at its deadline) and collects its output. */
	ProcessResult Wait();
};

} // namespace popstream::test
