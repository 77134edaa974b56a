#pragma once

#include "core/pop3/Session.hxx"
#include "core/util/ExitCode.hxx"
#include "net/Connection.hxx"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace popstream::fetch {

/** What kind of failure ended a fetch, for a client to act on without parsing
 * FetchResult::error: ask for a password (Auth), look at the certificate (Tls), wait
 * for the network or the server (Network, Protocol), fix the disk (Local) or the
 * configuration (Config). */
enum class ErrorClass { None, Auth, Tls, Network, Protocol, Local, Config };

/** @return "", "auth", "tls", "network", "protocol", "local" or "config" */
const char *ErrorClassName(ErrorClass error_class) noexcept;

/**
 * @param code the fetch's exit status
 * @param tls whether the connection failed in TLS (handshake or certificate)
 * @param resp_code the server's response code (RFC 2449 §8), or empty
 * @return the class of a fetch that ended so
 */
ErrorClass ClassifyError(ExitCode code, bool tls, std::string_view resp_code) noexcept;

/** The outcome of a fetch. */
struct FetchResult {
	/** Exit status per sysexits.h; Ok only if nothing failed. */
	ExitCode code = ExitCode::Ok;
	/** The error that ended the fetch (one line), or empty. */
	std::string error;
	/** Its kind; None when it succeeded. */
	ErrorClass error_class = ErrorClass::None;
	/** From the listing: messages and octets on the server. */
	std::uint32_t listed = 0;
	std::uint64_t listed_bytes = 0;
	/** Messages and octets chosen for download (after --limit and earlier saves). */
	std::uint32_t to_fetch = 0;
	std::uint64_t to_fetch_bytes = 0;
	/** Messages made durable in the Maildir, and their size in bytes (LF form). */
	std::uint32_t saved = 0;
	std::uint64_t saved_bytes = 0;
	/** The same messages in octets as the server listed them (RFC 1939 LIST, CRLF
	 * line ends): the unit of the D-Bus Progress, BytesFetched and FetchFinished. */
	std::uint64_t saved_listed = 0;
	/** Messages that could not be retrieved (RETR -ERR) or saved. */
	std::uint32_t not_retrieved = 0;
	std::uint32_t not_saved = 0;
	/** Messages an MDA deferred (exit 75): on the server for the next run. */
	std::uint32_t deferred = 0;
	/** Messages found already saved (by UIDL) and only deleted now. */
	std::uint32_t already_saved = 0;
	/** Messages the server really deleted: confirmed by +OK to QUIT. */
	std::uint32_t deleted = 0;
	/** Messages marked with DELE whose deletion the server did not confirm. */
	std::uint32_t unconfirmed = 0;
	/** The final session reached UPDATE state (QUIT +OK). */
	bool committed = false;
	/** QUIT went out but its +OK never came (or was in doubt): deletions unknown. */
	bool quit_unconfirmed = false;
	/** The session was redone in lock-step after a desynchronised pipelined one. */
	bool redone_lock_step = false;
	/** Wall-clock duration in seconds. */
	double seconds = 0;
	/** The response code of the reply that ended the fetch ("IN-USE",
	 * "LOGIN-DELAY", "AUTH", "SYS/TEMP"...; RFC 2449 §8, RFC 3206), or empty. */
	std::string resp_code;
	/** LOGIN-DELAY from the server's CAPA (RFC 2449 §6.8), in seconds, if given. */
	std::optional<std::uint64_t> login_delay_s;
	/** The server accepted the login (so a failure came later). */
	bool logged_in = false;
	/** Messages (not) kept on the server because of --limit or -n. */
	bool keep = false;
	bool dry_run = false;
	std::string maildir;

	/** Takes what a session's listing showed: the server accepted the login.
	 * @param stats the session's counters once it has listed */
	void Listed(const pop3::ListedEvent &listing, const pop3::SessionStats &stats);
	/** Adds the counters of a session the server committed (+OK to QUIT). */
	void Committed(const pop3::SessionStats &stats);
	/** Takes how a session ended without +OK to QUIT: its deletions unconfirmed
	 * (in doubt if @p quit_sent), and the response code of @p ended, its error. */
	void Failed(const pop3::SessionStats &stats, bool quit_sent,
		    const pop3::Error &ended);
};

/** Progress figures, for status displays. Bytes are listed octets (the server's
 * count, CRLF line ends) on both sides, so that done reaches total. */
struct FetchProgress {
	std::uint64_t messages_done = 0, messages_total = 0;
	std::uint64_t bytes_done = 0, bytes_total = 0;
};

/** @return a one-line summary of @p result for @p label, e.g. "alice@host:995: 3
 * messages, 216 bytes saved to /m in 0.12 s; 3 deleted on the server", or
 * "alice@host:995: no new mail" when nothing was saved or deleted and nothing failed */
std::string FormatSummary(const std::string &label, const FetchResult &result);

/** @return the log line about a listing: "N messages (B bytes) on the server; M to
 *          download[, K saved earlier]" */
std::string FormatListing(const pop3::ListedEvent &listed,
			  const pop3::SessionStats &stats);

/** @return the verbose log line about the link a session measured (its
 *          pop3::SessionStats::rtt_us and the rest): "link: round trip 612 ms,
 *          2500000 bytes/s; RETR window 4194304 octets" */
std::string DescribeLink(const pop3::SessionStats &stats);

/** @return the exit status for a network failure of @p kind (sysexits.h) */
ExitCode ExitCodeFor(net::NetErrorKind kind) noexcept;

/** @return the exit status for a session that failed with @p kind (sysexits.h) */
ExitCode ExitCodeFor(pop3::ErrorKind kind) noexcept;

} // namespace popstream::fetch
