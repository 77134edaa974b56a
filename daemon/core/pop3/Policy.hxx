#pragma once

#include "Auth.hxx"

#include <chrono>
#include <cstdint>

namespace popstream::pop3 {

/*
 * An account's settings (popstream.yaml(5), or the flags of `popstream dl`) travel in
 * one piece: config::Account is a FetchPolicy, fetch::FetchOptions holds one, and each
 * pop3::SessionConfig is a SessionPolicy. Every hop is one assignment, so a new setting
 * is a field here, a row in config/AccountKeys.cxx and the code that applies it.
 *
 * The structs are bases rather than members so that the code and the tests that name a
 * setting (`account.keep`, `config.keep`) read the same at every layer.
 */

/** --pipelining=auto|on|off, `pipelining:` in the config file. */
enum class Pipelining {
	/** Full window if CAPA lists PIPELINING, a guarded window if CAPA works without
	 * it, one command at a time if CAPA fails. */
	Auto,
	/** Full window whatever CAPA says. */
	On,
	/** One command at a time. */
	Off,
};

/** What to do with a message larger than max_message_size. */
enum class Oversize {
	/** Leave it on the server, untouched, and say so in the log. */
	Skip,
	/** Delete it on the server without downloading it, and say so in the log. */
	Delete,
};

/** The settings a session applies as they are written (pop3::Session, Inventory). */
struct SessionPolicy {
	/** How many commands may be in flight (Pipeline). */
	Pipelining pipelining = Pipelining::Auto;
	/** Leave messages on the server: no DELE, except for copies past delete_after;
	 * the journal makes later sessions fetch only new ones (mpop's keep, getmail's
	 * delete = false, dl -n). */
	bool keep = false;
	/** Messages listed larger than this many octets are not downloaded; 0 = no
	 * limit. */
	std::uint64_t max_message_size = 0;
	/** What happens to a message over max_message_size. */
	Oversize oversize = Oversize::Skip;
	/** How to log in (`auth:`, dl --auth); Login documents what Auto picks. */
	AuthMethod auth = AuthMethod::Auto;
	/** Let a method that reveals the secret (RevealsSecret()) run over a link that
	 * is neither encrypted nor to a loopback address (`allow_plaintext:`,
	 * dl --allow-plaintext). */
	bool allow_plaintext = false;

	/** Field by field, so that a test can show a hop loses none. */
	friend bool operator==(const SessionPolicy &, const SessionPolicy &) = default;
};

/**
 * The settings of one fetch of an account (fetch::FetchJob): the session's, and those
 * of the run and of the journal, which SessionPlan and store::DeliveryLedger apply.
 */
struct FetchPolicy : SessionPolicy {
	/** With keep: delete a message once it has been kept this long after it was
	 * saved (getmail's delete_after); 0 = never. Applied by the journal, which
	 * knows when each copy was saved. */
	std::chrono::seconds delete_after{0};
	/** Most messages / listed octets downloaded in one fetch (dl --limit), over
	 * all its sessions; 0 = no limit. */
	std::uint32_t max_messages_per_session = 0;
	std::uint64_t max_bytes_per_session = 0;
	/** QUIT and reconnect after this many messages or octets, so that a long fetch
	 * on a link that keeps dropping commits its deletions in steps (fetchmail's
	 * expunge); 0 = never. */
	std::uint32_t checkpoint_messages = 0;
	std::uint64_t checkpoint_bytes = 0;

	/** @return the part each session applies as it is */
	const SessionPolicy &Session() const noexcept { return *this; }

	/** Field by field (the session's too). */
	friend bool operator==(const FetchPolicy &, const FetchPolicy &) = default;
};

} // namespace popstream::pop3
