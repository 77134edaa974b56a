#include "OAuthTokens.hxx"
#include "oauth/Error.hxx"
#include "oauth/GrantStores.hxx"

#include <iostream>

namespace popstream {

namespace {

/** What the fetch, and the daemon's state, make of each OAuth failure. */
ExitCode CodeFor(oauth::ErrorKind kind) noexcept
{
	using oauth::ErrorKind;
	switch (kind) {
	case ErrorKind::NeedsLogin:
	case ErrorKind::Denied:
	case ErrorKind::Expired:
		// Only the user can fix these: the daemon waits in auth-needed
		// rather than asking the provider again and again.
		return ExitCode::NoPerm;
	case ErrorKind::Network:
		return ExitCode::TempFail;
	case ErrorKind::Protocol:
		return ExitCode::Protocol;
	case ErrorKind::Rejected:
	case ErrorKind::Store:
		return ExitCode::Config;
	}
	return ExitCode::Software;
}

} // namespace

OAuthTokens::OAuthTokens(std::string key, std::string prefix, std::string login_command,
			 std::optional<oauth::Settings> settings, std::string ca_file,
			 StoreOpener open_store, Warn warn)
    : key_(std::move(key)), prefix_(std::move(prefix)),
      login_command_(std::move(login_command)), settings_(std::move(settings)),
      ca_file_(std::move(ca_file)),
      open_store_(open_store ? std::move(open_store)
			     : StoreOpener([] { return oauth::OpenGrantStore(); })),
      warn_(warn ? std::move(warn)
		 : Warn([](const std::string &line) { std::cerr << line << '\n'; }))
{
}

OAuthTokens::~OAuthTokens() = default;

std::string OAuthTokens::Get(bool renew)
{
	oauth::TokenCache *cache;
	{
		const std::lock_guard lock(mutex_);
		if (!cache_) {
			try {
				store_ = open_store_();
			} catch (const std::exception &e) {
				throw CredentialError(
				    ExitCode::Config,
				    prefix_ +
					"cannot open the OAuth 2.0 token "
					"store: " +
					e.what());
			}
			cache_ = std::make_unique<oauth::TokenCache>(
			    *store_, key_, login_command_,
			    oauth::CurlRefresher(oauth::HttpOptions{ca_file_},
						 settings_));
		}
		cache = cache_.get();
	}
	// `oauth logout` while the daemon runs must end the use of the account's
	// tokens, though one is cached: a grant gone from the store drops it. A store
	// that cannot be read now (a locked keyring) leaves a cached token usable.
	bool gone = false;
	try {
		gone = !store_->Load(key_).has_value();
	} catch (const std::exception &) {
	}
	if (renew || gone)
		cache->Invalidate();
	try {
		auto token = cache->Get();
		if (!token.save_error.empty())
			warn_(prefix_ + token.save_error);
		return std::move(token.token);
	} catch (const oauth::OAuthError &e) {
		throw CredentialError(CodeFor(e.Kind()), prefix_ + e.what());
	}
}

PasswordLookup OAuthTokens::Lookup()
{
	return [self = shared_from_this()] { return self->Get(false); };
}

PasswordLookup OAuthTokens::Renewal()
{
	return [self = shared_from_this()] { return self->Get(true); };
}

} // namespace popstream
