#pragma once

#include <string>
#include <string_view>

namespace popstream::store {
struct LedgerOptions;
} // namespace popstream::store

namespace popstream::fetch {

struct FetchOptions;

/**
 * @return the directory holding the journal and lock of an account:
 *         $XDG_STATE_HOME/popstream/KEY (default ~/.local/state/popstream/KEY, per the
 *         XDG Base Directory specification), with KEY made safe as one path component
 *         ('/' and '%' and a leading '.' are %-escaped)
 * @param key the account name (daemon) or "dl/user@host:port" (dl); a '/' after the
 *        first component is escaped too
 */
std::string StateDir(std::string_view key);

/**
 * @return the lock file of a server account, shared by the daemon and `dl` whatever
 *         their journals: $XDG_STATE_HOME/popstream/locks/LABEL, LABEL escaped as in
 *         StateDir()
 * @param label user@host:port
 */
std::string LockPath(std::string_view label);

/**
 * @param path a file's path, relative or through symbolic links; it need not exist
 * @return the same file's absolute path with every link of the part that exists
 *         resolved (weakly_canonical), or @p path if that fails: one mbox spelled
 *         `box`, `./box` or through a link is one place in the journal, so that a
 *         kept message is not appended again for a new spelling
 */
std::string CanonicalPath(const std::string &path);

/**
 * @return where the fetch of @p options keeps its messages, its journal (none without
 *         a state_dir) and its lock (LockPath() of the server account), and the
 *         policy the journal applies (keep, delete_after)
 */
store::LedgerOptions LedgerOptionsFor(const FetchOptions &options);

} // namespace popstream::fetch
