// rusage-run OUTFILE PROGRAM [ARGS...]
//
// Runs PROGRAM, waits for it with wait4() and writes "MAXRSS_KIB CPU_SECONDS" (user +
// system) to OUTFILE, then exits as the program did. The case tests measure popstream's
// peak memory this way rather than from their own process: Linux records a process's
// peak RSS at execve() from the memory it had before, so a child spawned straight from
// a large test process would inherit the test's own peak. This helper is small, so the
// figure it reports is popstream's. It also dies with its parent's death signal, so a
// test that kills it on timeout does not leave popstream running.

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

pid_t child_pid = -1;

void Forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 3) {
		std::fputs("usage: rusage-run OUTFILE PROGRAM [ARGS...]\n", stderr);
		return 64;
	}
	// If the test kills us, popstream must not outlive us.
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	child_pid = fork();
	if (child_pid < 0) {
		std::perror("rusage-run: fork");
		return 71;
	}
	if (child_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[2], argv + 2);
		std::perror("rusage-run: exec");
		_exit(127);
	}

	struct sigaction action = {};
	action.sa_handler = Forward;
	sigaction(SIGTERM, &action, nullptr);
	sigaction(SIGINT, &action, nullptr);
	sigaction(SIGHUP, &action, nullptr);

	int status = 0;
	rusage usage = {};
	while (wait4(child_pid, &status, 0, &usage) < 0)
		if (errno != EINTR) {
			std::perror("rusage-run: wait4");
			return 71;
		}

	if (FILE *out = std::fopen(argv[1], "w")) {
		const double cpu =
		    static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
		    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) /
			1e6;
		std::fprintf(out, "%ld %.3f\n", usage.ru_maxrss, cpu);
		std::fclose(out);
	}

	if (WIFSIGNALED(status)) {
		// Die the same way, so the test sees the signal and not an exit code.
		const int sig = WTERMSIG(status);
		std::signal(sig, SIG_DFL);
		const rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		raise(sig);
		return 128 + sig;
	}
	return WEXITSTATUS(status);
}
