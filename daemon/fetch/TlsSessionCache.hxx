#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace popstream::fetch {

struct FetchOptions;

/**
 * @return the key a TLS session of @p options is saved and found under: the server's
 *         host and port, implicit TLS or STLS, and net::TlsTrustKey() of the name the
 *         certificate is checked against and the TLS settings (CA file and its
 *         identity, pins, oldest version, client certificate). Holds no secret.
 */
std::string TlsSessionKey(const FetchOptions &options);

/**
 * One account's saved TLS session (RFC 5246 §7.3 session id, RFC 5077 ticket), so that
 * the next connection resumes it with an abbreviated handshake instead of a full one:
 * one round trip less, and no certificate sent or checked. It is kept in memory (the
 * daemon, between polls) or also in a file (`dl`, between runs).
 *
 * A session is resumed only under the trust it was verified with: each entry carries
 * a key (net::TlsTrustKey() plus the server's address), and a lookup under any other
 * key, or after #kMaxAge, finds nothing and drops the entry. The session bytes hold
 * the master secret: they are never logged, the file is mode 0600, written whole
 * (temporary file, fsync, rename) and refused unless it is the user's and private.
 *
 * Not thread-safe; one fetch at a time uses it (the account lock says so).
 */
class TlsSessionCache {
public:
	/** How long after the last full (verified) handshake a session may still be
	 * resumed. */
	static constexpr std::chrono::hours kMaxAge{24};

	/** An empty cache kept in memory only (the daemon's, one per account). */
	TlsSessionCache() = default;

	/**
	 * A cache also kept in @p path (`dl`: STATE_DIR/tls-session), read at the first
	 * Find(), written at each Remember() and removed by Forget(). Nothing is read or
	 * written here.
	 */
	explicit TlsSessionCache(std::string path) : path_(std::move(path)) {}

	/** Wipes the session bytes. */
	~TlsSessionCache();
	TlsSessionCache(const TlsSessionCache &) = delete;
	TlsSessionCache &operator=(const TlsSessionCache &) = delete;

	/**
	 * @param key what decides trust for the coming connection (see the class)
	 * @param now the wall clock
	 * @return the saved session to offer (net::Endpoint::tls_session), or empty
	 *         when there is none, it was saved under another key, it is older than
	 *         #kMaxAge (counted from its last full handshake) or from the future;
	 *         in those cases the entry (and the file) is dropped. A file that is
	 *         unreadable, malformed, not the user's or readable by others counts as
	 *         none and is removed. Never throws.
	 */
	std::string Find(std::string_view key, std::chrono::system_clock::time_point now);

	/**
	 * Records the session of a successful handshake under @p key, replacing any
	 * other (a session the server refused to resume is so replaced by the new one).
	 * @param session net::Connection::TlsSession(); empty = nothing to resume, the
	 *        entry is dropped
	 * @param resumed the handshake resumed the entry found under the same key: its
	 *        age keeps counting from that entry's full handshake, so that the
	 *        certificate is verified again at least every #kMaxAge
	 * @param now the wall clock
	 * @return false if the file could not be written (the session is still kept in
	 *         memory); never throws
	 */
	bool Remember(std::string_view key, std::string session, bool resumed,
		      std::chrono::system_clock::time_point now);

	/** Drops the entry and removes the file (after a failed handshake). Never
	 * throws. */
	void Forget() noexcept;

	/** @return whether an entry is held in memory (for tests) */
	bool Empty() const noexcept { return session_.empty(); }

private:
	/** Reads path_ into the entry, once. */
	void Load() noexcept;
	/** Writes the entry to path_. @return false on failure */
	bool Save() const noexcept;
	/** Clears the entry, wiping the session bytes. */
	void Clear() noexcept;

	std::string path_;
	bool loaded_ = false;
	std::string key_;
	/** The serialized session; empty = no entry. A secret. */
	std::string session_;
	/** When the session's certificate was last verified (its full handshake),
	 * seconds since the epoch. */
	std::int64_t verified_ = 0;
};

} // namespace popstream::fetch
