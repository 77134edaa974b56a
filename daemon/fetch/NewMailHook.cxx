#include "NewMailHook.hxx"

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

constexpr std::string_view env_names[] = {
    "POPSTREAM_ACCOUNT=", "POPSTREAM_MESSAGES=", "POPSTREAM_BYTES=", "POPSTREAM_MAILDIR=",
    "POPSTREAM_MBOX="};

/** @return the process's environment without our variables, then ours */
std::vector<std::string> HookEnvironment(const NewMailFacts &facts)
{
	std::vector<std::string> env;
	for (char **e = environ; e != nullptr && *e != nullptr; ++e) {
		const std::string_view entry(*e);
		bool ours = false;
		for (const auto name : env_names)
			ours = ours || entry.starts_with(name);
		if (!ours)
			env.emplace_back(entry);
	}
	env.push_back("POPSTREAM_ACCOUNT=" + facts.account);
	env.push_back("POPSTREAM_MESSAGES=" + std::to_string(facts.messages));
	env.push_back("POPSTREAM_BYTES=" + std::to_string(facts.bytes));
	env.push_back("POPSTREAM_MAILDIR=" + facts.maildir);
	env.push_back("POPSTREAM_MBOX=" + facts.mbox);
	return env;
}

/** Splits @p output into "on_new_mail: LINE" log lines (escaped: it is any bytes). */
void AddOutput(HookOutcome &outcome, const std::string &output, std::uint64_t dropped)
{
	std::size_t start = 0;
	while (start < output.size()) {
		auto end = output.find('\n', start);
		if (end == std::string::npos)
			end = output.size();
		std::string_view line(output.data() + start, end - start);
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		outcome.lines.emplace_back(LogLevel::Info,
					   "on_new_mail: " + Escape(line, 500));
		start = end + 1;
	}
	if (dropped > 0)
		outcome.lines.emplace_back(LogLevel::Info,
					   "on_new_mail: (" + std::to_string(dropped) +
					       " more bytes of output not logged)");
}

} // namespace

HookOutcome RunNewMailHook(const std::vector<std::string> &argv,
			   const NewMailFacts &facts, std::chrono::milliseconds timeout,
			   const std::atomic<bool> *cancel)
{
	HookOutcome outcome;
	const std::string who = "on_new_mail \"" + Escape(argv.front(), 100) + "\"";
	auto fail = [&](const std::string &why) {
		outcome.lines.emplace_back(LogLevel::Warning, who + ": " + why);
		return outcome;
	};
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return fail(std::string("cannot create a pipe: ") + std::strerror(errno));
	posix::UniqueFd read_end(fds[0]), write_end(fds[1]);

	SpawnSetup setup(true);
	posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	// dup2() clears FD_CLOEXEC on the copies, so only stdout and stderr survive.
	posix_spawn_file_actions_adddup2(&setup.actions, write_end.Get(), STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&setup.actions, write_end.Get(), STDERR_FILENO);

	std::vector<char *> args;
	for (const auto &arg : argv)
		args.push_back(const_cast<char *>(arg.c_str()));
	args.push_back(nullptr);
	auto env = HookEnvironment(facts);
	std::vector<char *> envp;
	for (auto &entry : env)
		envp.push_back(entry.data());
	envp.push_back(nullptr);

	pid_t pid = -1;
	const int spawn_error = posix_spawnp(&pid, argv.front().c_str(), &setup.actions,
					     &setup.attributes, args.data(), envp.data());
	if (spawn_error != 0)
		return fail(std::string("cannot run it: ") + std::strerror(spawn_error));
	// Our copy of the write end must go, or the read below never sees EOF.
	write_end.Close();

	const auto deadline = Clock::now() + timeout;
	std::string output;
	std::uint64_t dropped = 0;
	bool timed_out = false, cancelled = false;
	char buffer[4096];
	int status = 0;
	bool exited = false;
	for (;;) {
		if (cancel != nullptr && cancel->load()) {
			cancelled = true;
			break;
		}
		const auto left =
		    std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
		if (left.count() <= 0) {
			timed_out = true;
			break;
		}
		// In slices, so that a cancel is seen within a tenth of a second.
		pollfd poll_fd{read_end.Get(), POLLIN, 0};
		const int ready = poll(
		    &poll_fd, 1, static_cast<int>(std::min<long>(left.count(), 100)));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			break;
		if (ready == 0) {
			// The hook is judged by its own exit: a child it left in the
			// background (a notifier) may hold the output open for ever.
			if (waitpid(pid, &status, WNOHANG) == pid) {
				exited = true;
				break;
			}
			continue;
		}
		const auto n = read(read_end.Get(), buffer, sizeof(buffer));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		const auto got = static_cast<std::size_t>(n);
		const auto room = new_mail_hook_output_max -
				  std::min(output.size(), new_mail_hook_output_max);
		output.append(buffer, std::min(got, room));
		dropped += got - std::min(got, room);
	}
	read_end.Close();

	Reaped reaped = exited ? Reaped::Exited : Reaped::Running;
	if (!exited && !timed_out && !cancelled) {
		// It may close its output and go on: it gets what is left of the time,
		// still watching for a cancel.
		for (;;) {
			const auto slice = std::min(
			    deadline, Clock::now() + std::chrono::milliseconds(100));
			reaped = ReapBefore(pid, slice, status);
			if (reaped != Reaped::Running || Clock::now() >= deadline)
				break;
			if (cancel != nullptr && cancel->load()) {
				cancelled = true;
				break;
			}
		}
		timed_out = reaped == Reaped::Running && !cancelled;
	}
	if (reaped == Reaped::Running) {
		// The whole group: what it started in the background goes too.
		kill(-pid, SIGKILL);
		Reap(pid);
	}
	AddOutput(outcome, output, dropped);

	if (cancelled)
		return fail("killed: popstream is stopping");
	if (timed_out)
		return fail("did not finish within " +
			    std::to_string(timeout.count() / 1000) + " s (killed)");
	if (reaped == Reaped::Lost)
		return fail("its exit status is lost");
	if (WIFSIGNALED(status)) {
		const int sig = WTERMSIG(status);
		const char *name = sigabbrev_np(sig);
		return fail("killed by signal " + std::to_string(sig) +
			    (name != nullptr ? std::string(" (SIG") + name + ")" : ""));
	}
	if (WEXITSTATUS(status) != 0)
		return fail("failed with exit status " +
			    std::to_string(WEXITSTATUS(status)));
	outcome.ok = true;
	outcome.lines.emplace_back(LogLevel::Debug, who + ": done");
	return outcome;
}

struct NewMailHook::Work {
	uv_work_t request;
	std::vector<std::string> argv;
	NewMailFacts facts;
	std::function<void(const HookOutcome &)> done;
	std::atomic<bool> cancel{false};
	HookOutcome outcome;
	bool finished = false;
	/** Keeps this alive while the thread pool holds #request. */
	std::shared_ptr<Work> self;
};

NewMailHook::NewMailHook(uv_loop_t &loop, std::vector<std::string> argv,
			 NewMailFacts facts,
			 std::function<void(const HookOutcome &)> done)
    : work_(std::make_shared<Work>())
{
	work_->argv = std::move(argv);
	work_->facts = std::move(facts);
	work_->done = std::move(done);
	work_->request.data = work_.get();
	work_->self = work_;
	uv_queue_work(
	    &loop, &work_->request,
	    [](uv_work_t *request) {
		    auto &w = *static_cast<Work *>(request->data);
		    w.outcome =
			RunNewMailHook(w.argv, w.facts, new_mail_hook_timeout, &w.cancel);
	    },
	    [](uv_work_t *request, int) {
		    auto &w = *static_cast<Work *>(request->data);
		    const auto keep = std::move(w.self);
		    w.finished = true;
		    // Moved out first: the callback may destroy the NewMailHook, whose
		    // destructor clears #done.
		    const auto callback = std::move(w.done);
		    w.done = nullptr;
		    if (callback)
			    callback(w.outcome);
	    });
}

NewMailHook::~NewMailHook()
{
	work_->done = nullptr;
	Cancel();
}

void NewMailHook::Cancel() noexcept
{
	work_->cancel = true;
}

bool NewMailHook::Done() const noexcept
{
	return work_->finished;
}

} // namespace popstream::fetch
