#include "TokenCache.hxx"
#include "Error.hxx"

#include "core/util/Escape.hxx"

#include <memory>

namespace popstream::oauth {

TokenCache::TokenCache(GrantStore &store, std::string key, std::string login_command,
		       Refresher refresher, Clock clock)
    : store_(store), key_(std::move(key)), login_command_(std::move(login_command)),
      refresher_(std::move(refresher)), clock_(std::move(clock))
{
}

StoredGrant TokenCache::LoadGrant()
{
	if (unsaved_)
		return *unsaved_;
	std::optional<std::string> blob;
	try {
		blob = store_.Load(key_);
	} catch (const std::exception &e) {
		throw OAuthError(ErrorKind::Store, "cannot read the OAuth 2.0 grant of " +
						       Escape(key_) + " from " +
						       store_.Where() + ": " + e.what());
	}
	if (!blob)
		throw OAuthError(ErrorKind::NeedsLogin,
				 "no OAuth 2.0 refresh token is stored for " +
				     Escape(key_) + " in " + store_.Where() +
				     "; run: " + login_command_);
	try {
		return ParseGrant(*blob);
	} catch (const OAuthError &e) {
		throw OAuthError(ErrorKind::NeedsLogin,
				 std::string(e.what()) + " (" + Escape(key_) + " in " +
				     store_.Where() + "); run: " + login_command_);
	}
}

AccessToken TokenCache::Get()
{
	std::lock_guard lock(mutex_);
	const auto now = clock_();
	if (cached_ && now < cached_->valid_until)
		return *cached_;
	cached_.reset();

	auto grant = LoadGrant();
	TokenResponse response;
	try {
		response = refresher_(grant);
	} catch (const OAuthError &e) {
		if (e.Kind() != ErrorKind::NeedsLogin)
			throw;
		throw OAuthError(ErrorKind::NeedsLogin,
				 std::string(e.what()) + "; the grant of " +
				     Escape(key_) +
				     " is no longer valid; run: " + login_command_,
				 e.Code());
	}

	// The clock is read again: the refresh itself took time.
	const auto after = clock_();
	AccessToken token;
	token.token = std::move(response.access_token);
	token.valid_until =
	    response.expires_in
		? after + std::chrono::seconds(*response.expires_in) - MARGIN
		: after;

	// A rotated refresh token (RFC 6749 §6: the client MUST discard the old one)
	// replaces the stored one; the store writes it atomically.
	if (!response.refresh_token.empty() &&
	    response.refresh_token != grant.refresh_token) {
		grant.refresh_token = std::move(response.refresh_token);
		try {
			store_.Save(key_, SerializeGrant(grant));
			unsaved_.reset();
		} catch (const std::exception &e) {
			unsaved_ = grant;
			token.save_error =
			    "cannot save the new OAuth 2.0 refresh token of " +
			    Escape(key_) + " to " + store_.Where() + ": " + e.what() +
			    " (kept in memory)";
		}
	} else if (unsaved_) {
		// Not rotated this time, but the last rotation is still unsaved.
		try {
			store_.Save(key_, SerializeGrant(grant));
			unsaved_.reset();
		} catch (const std::exception &e) {
			token.save_error =
			    "cannot save the new OAuth 2.0 refresh token of " +
			    Escape(key_) + " to " + store_.Where() + ": " + e.what() +
			    " (kept in memory)";
		}
	}

	if (token.valid_until > after) {
		cached_ = token;
		cached_->save_error.clear(); // said once, by this call
	}
	return token;
}

void TokenCache::Invalidate() noexcept
{
	std::lock_guard lock(mutex_);
	cached_.reset();
}

TokenCache::Refresher CurlRefresher(HttpOptions options, std::optional<Settings> client)
{
	// Made on first use: a cache that is never asked opens no libcurl handle.
	auto http = std::make_shared<std::unique_ptr<CurlTransport>>();
	return [http, options = std::move(options),
		client = std::move(client)](const StoredGrant &grant) {
		if (!*http) {
			// The trust the login had, unless the caller has its own.
			auto trust = options;
			if (trust.ca_file.empty())
				trust.ca_file = grant.ca_file;
			*http = std::make_unique<CurlTransport>(trust);
		}
		return RefreshAccessToken(**http, client ? *client : grant.settings,
					  grant.refresh_token);
	};
}

} // namespace popstream::oauth
