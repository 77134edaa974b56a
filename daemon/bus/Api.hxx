#pragma once

#include <cstdint>
#include <string>
#include <string_view>

/**
 * The D-Bus contract of popstreamd, shared by the service (BusService) and the client
 * (`popstream status` / `popstream fetch`). The interface XML installed under
 * $datadir/dbus-1/interfaces (io.github.popstream.Popstream1.xml) documents the same
 * names; tests/bus checks that the two agree.
 */
namespace popstream::bus {

/** Well-known bus name, requested by BusService::RequestName(). */
inline constexpr char bus_name[] = "io.github.popstream.Popstream1";

/** Path of the Manager object, which is also the ObjectManager. */
inline constexpr char manager_path[] = "/io/github/popstream/Popstream1";

/** Parent of the account objects: PREFIX/sd_bus_path_encode(name). */
inline constexpr char account_prefix[] = "/io/github/popstream/Popstream1/account";

/** Interface of the manager object. */
inline constexpr char manager_interface[] = "io.github.popstream.Popstream1.Manager";

/** Interface of each account object. */
inline constexpr char account_interface[] = "io.github.popstream.Popstream1.Account";

/** Error: a call named (by object path) an account the daemon does not have. */
inline constexpr char error_unknown_account[] =
    "io.github.popstream.Popstream1.Error.UnknownAccount";

/** Error: FetchNow() on an account with `enabled: false`. */
inline constexpr char error_account_disabled[] =
    "io.github.popstream.Popstream1.Error.AccountDisabled";

/** Error: FetchNow() or FetchAll() while the daemon is shutting down. */
inline constexpr char error_stopping[] = "io.github.popstream.Popstream1.Error.Stopping";

/** Error: Reload() found errors in the configuration; the old one keeps running. */
inline constexpr char error_invalid_config[] =
    "io.github.popstream.Popstream1.Error.InvalidConfig";

/**
 * Manager property State (type u). 0 means unknown, per the D-Bus API design
 * guidelines for enumerations; clients must accept values they do not know.
 */
enum class ManagerState : std::uint32_t {
	Unknown = 0,
	/** Reading the configuration and setting up; not polling yet. */
	Starting = 1,
	/** Polling accounts. */
	Running = 2,
	/** Reading and applying a new configuration (Reload() or SIGHUP). */
	Reloading = 3,
	/** Shutting down: no new fetches; running ones are finishing. */
	Stopping = 4,
};

/** @return the lower-case name of @p state ("running"), "unknown" for other values */
const char *ManagerStateName(std::uint32_t state) noexcept;

/**
 * @param state an Account State value (AccountState on the wire)
 * @return its lower-case name ("idle", "auth-needed"...), "unknown" for values this
 *         build does not know (a newer daemon)
 */
const char *AccountStateName(std::uint32_t state) noexcept;

/**
 * @return the object path of account @p name: account_prefix + "/" +
 *         sd_bus_path_encode(name), e.g. "my-acct_2" → ".../account/my_2dacct_5f2"
 */
std::string AccountPath(std::string_view name);

/**
 * @return @p text as valid UTF-8 (D-Bus rejects a string that is not): every byte that
 *         is not part of a well-formed sequence becomes U+FFFD, and NUL becomes U+FFFD
 *         too (a D-Bus string cannot hold it)
 */
std::string ToValidUtf8(std::string_view text);

} // namespace popstream::bus
