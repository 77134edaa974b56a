#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace popstream::cli {

/** Arguments of `popstream run`. */
struct RunArgs {
	/** -c: the configuration; empty = config::DefaultConfigPath(). */
	std::string config_path;
	/** The accounts to fetch, by name; empty = every enabled account. */
	std::vector<std::string> accounts;
	/** -q: print nothing about an account that saved nothing and did not fail. */
	bool quiet = false;
	/** -v: also the commands sent (the secrets hidden) and each message saved. */
	bool verbose = false;
	/** --dry-run: connect, log in and list; nothing saved or deleted
	 * (check-config --connect). */
	bool dry_run = false;
};

/** Adds the `run` subcommand to @p app, filling @p args. @return the subcommand */
CLI::App *AddRun(CLI::App &app, RunArgs &args);

/**
 * `popstream run [ACCOUNT...]`: fetches configured accounts once, in this process and
 * without the daemon, with the settings, journal and lock the daemon uses (so the two
 * never fetch one account at the same time: the second says which process holds
 * it), at most the config's max_concurrent at a time. Prints the log lines of each
 * account prefixed with its name on stderr and one summary line per account on
 * stdout; with -q only those of accounts that saved mail or failed.
 *
 * SIGINT or SIGTERM stops gracefully (the messages in flight are saved and deleted,
 * then QUIT; accounts not started yet are not started); a second one aborts.
 *
 * @return the worst account's status (sysexits.h): any failure before 75
 *         (EX_TEMPFAIL, which the next run may fix) before 0; among failures, the
 *         first account's in config order. 64 for an account the config does not
 *         have, 78 (EX_CONFIG) for a config that does not load or has no enabled
 *         account.
 */
int RunAccounts(const RunArgs &args, const std::string &program);

} // namespace popstream::cli
