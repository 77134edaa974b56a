#pragma once

#include <iosfwd>
#include <string>

namespace popstream::cli {

/**
 * `popstream check-config [FILE]`: loads a config file (popstream.yaml(5)) as the daemon
 * would and prints the resolved accounts, with defaults applied and paths expanded:
 * name, server spec, host:port, TLS mode, user, where the password comes from ("from
 * netrc" or "from command ARGV0": never the password, never the rest of the command),
 * then every other key in the order of the key table (config::AccountKey::show, which
 * leaves out keys without effect, such as delete_after without keep), each as the file
 * would write it ("(no limit)", "(never)" for 0). Host,
 * user and TLS are resolved as a fetch would (ResolveAccountConnection(): netrc
 * accounts and logins), but no password is looked up, no command is run and nothing
 * connects; an account that cannot be resolved yet (no such netrc account, unsafe
 * netrc) gets a "warning:" line and does not change the exit status.
 *
 * @param path the file; empty = DefaultConfigPath()
 * @param program the name to prefix messages that have no file position with
 * @return 0 if the file is valid; 78 (EX_CONFIG) otherwise, after printing every
 *         error (one line each, `FILE:LINE:COLUMN: KEY: PROBLEM`) on stderr
 */
int RunCheckConfig(const std::string &path, const std::string &program);

/**
 * RunCheckConfig() writing to the given streams instead of stdout and stderr (tests).
 *
 * @param out receives the resolved accounts
 * @param err receives the errors
 */
int RunCheckConfig(const std::string &path, const std::string &program, std::ostream &out,
		   std::ostream &err);

} // namespace popstream::cli
