#pragma once

#include <optional>
#include <string>

namespace popstream::posix {

/** The fields of a passwd(5) entry that popstream uses. */
struct UserEntry {
	/** The login name; empty if the entry has none. */
	std::string name;
	/** The home directory; empty if the entry has none. */
	std::string home;
};

/**
 * Looks up the effective user (geteuid()) with getpwuid_r(3), so that NSS sources
 * (LDAP, systemd-userdb) count as they do for login. For services started without
 * $HOME or $USER.
 *
 * @return the entry, or nothing if there is none or the lookup failed; the callers fall
 *         back the same way in both cases, so the two are not told apart
 */
std::optional<UserEntry> EffectiveUser();

} // namespace popstream::posix
