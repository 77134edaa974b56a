#pragma once

#include <cstdint>
#include <string>
#include <vector>

/**
 * `popstream status` and `popstream fetch`: clients of popstreamd's D-Bus API
 * (daemon/bus/io.github.popstream.Popstream1.xml) on the user's session bus.
 */
namespace popstream::cli {

/**
 * `popstream status`: prints one table row per account, in natural order of names (u2
 * before u10): NAME, STATE (idle, queued, fetching 12/300, auth-needed...), LAST
 * SUCCESS and NEXT POLL relative to now ("2 h ago", "in 4 min"; "never" / "-" when
 * unset), LAST ERROR; with @p json, a JSON array of the same with times in seconds
 * since the epoch (null = never) and the counters. Does not start the daemon through
 * bus activation: asking for its status should not be what starts it.
 *
 * @param program the name to prefix error lines with ("popstream")
 * @return 0; 77 (EX_NOPERM) if an account waits for a new password (auth-needed), 78
 *         (EX_CONFIG) if one is in error; 69 (EX_UNAVAILABLE) if the session bus or
 *         popstreamd cannot be reached, with one line on stderr
 */
int RunStatus(const std::string &program, bool json = false);

/**
 * `popstream reload`: popstreamd's Manager.Reload(), as `systemctl --user reload
 * popstream` runs it (ExecReload=): the new configuration replaces the old one only if
 * it is valid. Never starts the daemon.
 *
 * @return 0 reloaded; 78 (EX_CONFIG) with the configuration's errors, one per line,
 *         the old configuration still running; 69 (EX_UNAVAILABLE) if popstreamd is
 *         not running or cannot be reached
 */
int RunReload(const std::string &program);

/**
 * @param us a time in µs since the epoch; 0 = unset
 * @param now_us now
 * @param none what to print for 0
 * @return "now", "45 s ago", "in 4 min", "2 h ago", "3 days ago"
 */
std::string FormatRelative(std::uint64_t us, std::uint64_t now_us, const char *none);

/**
 * `popstream fetch [--wait] [ACCOUNT...]`: Account.FetchNow() on each named account,
 * or Manager.FetchAll() when none is named. Names are checked before anything is
 * triggered, so a typo starts no fetch. Starts popstreamd through bus activation if it
 * is not running.
 *
 * With @p wait, waits for the FetchFinished signal of each named account (of every
 * account that is not disabled, for FetchAll) and prints one line per account as it
 * finishes: "NAME: N messages, B bytes" on stdout, or "PROGRAM: NAME: ERROR" on stderr.
 *
 * @param accounts account names as in the configuration; empty = all
 * @param wait wait for the fetches to finish
 * @param program the name to prefix error lines with ("popstream")
 * @return 0 if everything was queued (and, with @p wait, every awaited fetch finished
 *         with an empty error); 75 (EX_TEMPFAIL) if an awaited fetch failed, its
 *         account was removed by a reload, or the daemon is shutting down; 69
 *         (EX_UNAVAILABLE) if popstreamd cannot be reached or exits while waited
 *         for; 64 (EX_USAGE) for an unknown account; 78 (EX_CONFIG) for a disabled
 *         one
 */
int RunFetch(const std::vector<std::string> &accounts, bool wait,
	     const std::string &program);

/**
 * After `popstream oauth login ACCOUNT`: if popstreamd is running (it is not started
 * for this) and has @p account, calls its Account.FetchNow(), which also resumes an
 * account waiting in state auth-needed for this very login.
 *
 * @param account the account's name in the configuration
 * @return whether the daemon was asked; false if it does not run or lacks the account,
 *         or the call failed (the login itself stands either way)
 */
bool FetchAfterLogin(const std::string &account) noexcept;

} // namespace popstream::cli
