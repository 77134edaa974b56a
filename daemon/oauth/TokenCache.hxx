#pragma once

#include "GrantStore.hxx"
#include "StoredGrant.hxx"
#include "Token.hxx"

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace popstream::oauth {

/** An access token handed out by TokenCache. Holds a secret. */
struct AccessToken {
	std::string token;
	/** When it stops being handed out (60 s before the server's expiry). */
	std::chrono::steady_clock::time_point valid_until;
	/** Not empty when a rotated refresh token could not be saved: the token is
	 * good, the new refresh token is kept in memory and saved again at the next
	 * refresh, and the caller should log this one line (no secret in it). */
	std::string save_error;
};

/**
 * One account's access token source: returns the cached access token until shortly
 * before it expires, else refreshes it with the grant from the store (RFC 6749 §6),
 * saving a rotated refresh token back through the store. Thread-safe: callers on
 * several threads share one refresh.
 */
class TokenCache {
public:
	/** Does the refresh grant for a stored grant (RefreshAccessToken() over
	 * HTTP in the program; scripted in tests). Throws OAuthError. */
	using Refresher = std::function<TokenResponse(const StoredGrant &)>;
	using Clock = std::function<std::chrono::steady_clock::time_point()>;

	/** A token is not handed out in its last minute: a login that starts with it
	 * must not find it expired halfway. */
	static constexpr std::chrono::seconds MARGIN{60};

	/**
	 * @param store where the grant is (outlives the cache)
	 * @param key the grant's key in @p store
	 * @param login_command what the user runs to sign in again, quoted in
	 *        NeedsLogin messages ("popstream oauth login alice")
	 * @param refresher the refresh grant
	 * @param clock the time now (monotonic)
	 */
	TokenCache(GrantStore &store, std::string key, std::string login_command,
		   Refresher refresher, Clock clock = std::chrono::steady_clock::now);

	/**
	 * @return a token valid for at least MARGIN more (to the server's word): the
	 *         cached one, else a fresh one. A token without expires_in, or
	 *         living less than MARGIN, is used for this call only (no guess at
	 *         its lifetime).
	 * @throws OAuthError: NeedsLogin if no grant is stored, the stored one is
	 *         unreadable, or the server answered `invalid_grant` (the message
	 *         names the key and @p login_command); Store if the store cannot be
	 *         read; else what the refresher throws
	 */
	AccessToken Get();

	/** Forgets the cached access token (the server rejected it), so that the next
	 * Get() refreshes. */
	void Invalidate() noexcept;

private:
	GrantStore &store_;
	const std::string key_, login_command_;
	const Refresher refresher_;
	const Clock clock_;

	std::mutex mutex_;
	std::optional<AccessToken> cached_;
	/** A rotated grant whose Save() failed: used instead of the store's. */
	std::optional<StoredGrant> unsaved_;

	StoredGrant LoadGrant();
};

/**
 * The refresher of the program: RefreshAccessToken() over one CurlTransport, which
 * TokenCache uses under its lock, so one refresh at a time.
 *
 * @param options the CA file (the account's ca_file; empty = the one the grant was
 *        stored with, StoredGrant::ca_file, else the system store) and the timeout
 * @param client the account's `oauth:` settings, whose client and token endpoint
 *        replace the ones stored with the grant (a changed client_id then shows as
 *        `invalid_grant`, which says to sign in again, rather than the old client
 *        being used silently); nothing = the stored ones (dl)
 * @return a TokenCache::Refresher
 */
TokenCache::Refresher CurlRefresher(HttpOptions options,
				    std::optional<Settings> client = std::nullopt);

} // namespace popstream::oauth
