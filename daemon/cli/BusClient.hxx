#pragma once

#include <string>
#include <vector>

/**
 * `popstream status` and `popstream fetch`: clients of popstreamd's D-Bus API
 * (daemon/bus/io.github.popstream.Popstream1.xml) on the user's session bus.
 */
namespace popstream::cli {

/**
 * `popstream status`: prints one table row per account, sorted by name: NAME, STATE
 * (idle, fetching 12/300, auth-needed...), LAST SUCCESS and NEXT POLL in local time
 * ("12:05" today, "2026-11-28 12:05" otherwise; "never" / "-" when unset), LAST
 * ERROR. Does not start the daemon through bus activation: asking for its status
 * should not be what starts it.
 *
 * @param program the name to prefix error lines with ("popstream")
 * @return 0; 69 (EX_UNAVAILABLE) if the session bus or popstreamd cannot be reached,
 *         with one line on stderr
 */
int RunStatus(const std::string &program);

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
