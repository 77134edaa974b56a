#pragma once

#include <chrono>
#include <spawn.h>
#include <sys/types.h>

namespace popstream::fetch {

/**
 * The posix_spawn(3) settings of a command popstream runs (password_command,
 * oauth_token_command, on_new_mail), destroyed on every path. The constructor gives
 * the child an empty signal mask and default dispositions: the daemon may block
 * signals or ignore SIGPIPE, ignored dispositions survive exec, and a command that
 * cannot be interrupted or never sees EPIPE is not what its author tested.
 */
class SpawnSetup {
public:
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attributes;

	/** @param own_group also put the child in a process group of its own, so that
	 *        a timeout kills what it started too (KillGroup()) */
	explicit SpawnSetup(bool own_group = false) noexcept;
	~SpawnSetup();
	SpawnSetup(const SpawnSetup &) = delete;
	SpawnSetup &operator=(const SpawnSetup &) = delete;
};

/** Reaps @p pid, retrying on EINTR. */
void Reap(pid_t pid) noexcept;

/** The outcome of ReapBefore(). */
enum class Reaped {
	/** The child exited; the status is valid. */
	Exited,
	/** The deadline passed first. */
	Running,
	/** waitpid() failed (ECHILD: someone else reaped it, e.g. SIGCHLD ignored). */
	Lost,
};

/**
 * Waits for @p pid until @p deadline, polling every 5 ms: there is no portable way to
 * wait for a child with a timeout, and this runs once per fetch at most.
 * @param[out] status the wait status when Exited
 */
Reaped ReapBefore(pid_t pid, std::chrono::steady_clock::time_point deadline,
		  int &status) noexcept;

} // namespace popstream::fetch
