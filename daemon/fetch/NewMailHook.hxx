#pragma once

#include "core/util/LogLevel.hxx"

#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace popstream::fetch {

/** How long `on_new_mail` may run: `notmuch new` on a large mail store takes a while,
 * but a hook that hangs must not be left behind for ever. Then it and the processes
 * it started (its process group) are killed. */
inline constexpr std::chrono::milliseconds new_mail_hook_timeout{std::chrono::minutes(2)};

/** Most bytes of the hook's output that are logged; the rest is counted. */
inline constexpr std::size_t new_mail_hook_output_max = 4096;

/** What the hook is told, in its environment. */
struct NewMailFacts {
	/** POPSTREAM_ACCOUNT: the account's name. */
	std::string account;
	/** POPSTREAM_MESSAGES: messages saved by the fetch (at least 1). */
	std::uint32_t messages = 0;
	/** POPSTREAM_BYTES: their bytes, as stored. */
	std::uint64_t bytes = 0;
	/** POPSTREAM_MAILDIR: where they went; empty for an mbox or an MDA. */
	std::string maildir;
	/** POPSTREAM_MBOX: the mbox they were appended to, or empty. */
	std::string mbox;
};

/** How a hook ended. */
struct HookOutcome {
	/** Lines to log, in order: its output ("on_new_mail: LINE", escaped, within
	 * new_mail_hook_output_max) then how it ended. */
	std::vector<std::pair<LogLevel, std::string>> lines;
	/** It ran and exited 0. */
	bool ok = false;
};

/**
 * Runs @p argv once, blocking the calling thread: without a shell (argv[0] looked up
 * in PATH), stdin from /dev/null, stdout and stderr read together, the process's
 * environment plus POPSTREAM_ACCOUNT, POPSTREAM_MESSAGES, POPSTREAM_BYTES and
 * POPSTREAM_MAILDIR from @p facts, in a process group of its own. After @p timeout,
 * or as soon as @p cancel is set, the group is killed (SIGKILL).
 * @return its output and how it ended (started or not, its exit status or signal, a
 *         timeout), as lines to log; never throws for anything the command does
 */
HookOutcome RunNewMailHook(const std::vector<std::string> &argv,
			   const NewMailFacts &facts,
			   std::chrono::milliseconds timeout = new_mail_hook_timeout,
			   const std::atomic<bool> *cancel = nullptr);

/**
 * RunNewMailHook() on libuv's thread pool, so that the loop serves other accounts
 * meanwhile. @p done gets the outcome on the loop thread, and may destroy this
 * object. Cancel() kills the hook (a daemon shutting down must not wait two minutes
 * for it).
 */
class NewMailHook {
public:
	NewMailHook(uv_loop_t &loop, std::vector<std::string> argv, NewMailFacts facts,
		    std::function<void(const HookOutcome &)> done);
	NewMailHook(const NewMailHook &) = delete;
	NewMailHook &operator=(const NewMailHook &) = delete;
	/** Cancels the hook; @p done is still called (from the loop) when it is over. */
	~NewMailHook();

	/** Kills the hook if it runs. */
	void Cancel() noexcept;

	/** @return whether @p done has been called */
	bool Done() const noexcept;

private:
	struct Work;
	/** Shared with the thread-pool request, which may outlive this object. */
	std::shared_ptr<Work> work_;
};

} // namespace popstream::fetch
