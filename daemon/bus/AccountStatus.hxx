#pragma once

#include <cstdint>
#include <string>

namespace popstream::bus {

/**
 * What an account is doing, as exported on D-Bus (property State, type u). 0 means
 * unknown, per the D-Bus API design guidelines for enumerations. The names for logs and
 * `popstream status` are AccountStateName()'s (Api.hxx), which also names values that
 * this build does not know. It lives in bus/, not in service/, because it is the bus's
 * API: the service fills it in, the bus exports it and the client reads it back, and
 * the bus is below the service.
 */
enum class AccountState : std::uint32_t {
	Unknown = 0,
	/** Waiting for its next poll. */
	Idle = 1,
	/** Resolving, connecting, TLS handshake, logging in. */
	Connecting = 2,
	/** Logged in and transferring. */
	Fetching = 3,
	/** The last fetch failed; retrying after a growing delay. */
	Backoff = 4,
	/** The server rejected the login ([AUTH] or no code): no polling until FetchNow
	 * or Reload, since retrying a wrong password gets accounts locked. */
	AuthNeeded = 5,
	/** A failure that retrying will not fix by itself (bad netrc, Maildir unusable).
	 */
	Error = 6,
	/** `enabled: false` in the config. */
	Disabled = 7,
	/** Due (its poll, or a FetchNow), waiting for one of the max_concurrent fetch
	 * slots. */
	Queued = 8,
};

/** Messages and bytes done and to do in the current fetch (D-Bus Progress (tttt)). */
struct Progress {
	std::uint64_t messages_done = 0, messages_total = 0;
	std::uint64_t bytes_done = 0, bytes_total = 0;
	bool operator==(const Progress &) const = default;
};

/** Everything the bus exports about one account. Times are µs since the epoch, 0 = never.
 */
struct AccountStatus {
	std::string name;
	AccountState state = AccountState::Unknown;
	std::uint64_t last_attempt_us = 0;
	std::uint64_t last_success_us = 0;
	std::uint64_t next_poll_us = 0;
	/** One line, empty if the last fetch succeeded. */
	std::string last_error;
	/** The kind of #last_error (fetch::ErrorClassName()): auth, tls, network,
	 * protocol, local or config; empty with it. */
	std::string last_error_class;
	/** Where the account fetches from: user@host:port once a fetch has resolved
	 * it, the configuration's `server` (or host) before. */
	std::string server;
	/** Where its mail goes: "maildir", "mbox" or "mda", and the path or command. */
	std::string delivery_kind, delivery;
	/** `enabled` in the configuration. */
	bool enabled = true;
	/** `interval` in µs. */
	std::uint64_t interval_us = 0;
	/** Totals since the daemon started. */
	std::uint64_t messages_fetched = 0;
	std::uint64_t bytes_fetched = 0;
	Progress progress;
};

} // namespace popstream::bus
