#pragma once

#include <string>
#include <string_view>

namespace popstream::fetch {

/**
 * @return the directory holding the journal and lock of an account:
 *         $XDG_STATE_HOME/popstream/KEY (default ~/.local/state/popstream/KEY, per the
 *         XDG Base Directory specification), with KEY made safe as one path component
 *         ('/' and '%' and a leading '.' are %-escaped)
 * @param key the account name (daemon) or "dl/user@host:port" (dl); a '/' after the
 *        first component is escaped too
 */
std::string StateDir(std::string_view key);

} // namespace popstream::fetch
