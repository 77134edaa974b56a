#include "Spawn.hxx"

#include <cerrno>
#include <csignal>
#include <sys/wait.h>
#include <thread>

namespace popstream::fetch {

SpawnSetup::SpawnSetup(bool own_group) noexcept
{
	posix_spawn_file_actions_init(&actions);
	posix_spawnattr_init(&attributes);
	sigset_t mask;
	sigemptyset(&mask);
	posix_spawnattr_setsigmask(&attributes, &mask);
	sigset_t defaults;
	sigemptyset(&defaults);
	for (const int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1,
			      SIGUSR2, SIGALRM})
		sigaddset(&defaults, sig);
	posix_spawnattr_setsigdefault(&attributes, &defaults);
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if (own_group) {
		posix_spawnattr_setpgroup(&attributes, 0);
		flags |= POSIX_SPAWN_SETPGROUP;
	}
	posix_spawnattr_setflags(&attributes, flags);
}

SpawnSetup::~SpawnSetup()
{
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attributes);
}

void Reap(pid_t pid) noexcept
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
}

Reaped ReapBefore(pid_t pid, std::chrono::steady_clock::time_point deadline,
		  int &status) noexcept
{
	for (;;) {
		const pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			return Reaped::Exited;
		if (done < 0 && errno != EINTR)
			return Reaped::Lost;
		if (std::chrono::steady_clock::now() >= deadline)
			return Reaped::Running;
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
}

} // namespace popstream::fetch
