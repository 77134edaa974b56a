#pragma once

#include "Credentials.hxx"
#include "core/oauth/Settings.hxx"
#include "oauth/GrantStore.hxx"
#include "oauth/TokenCache.hxx"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace popstream {

/**
 * The access tokens of one account whose tokens come from a grant that `popstream
 * oauth login` stored (`oauth:` with a provider other than goa, or `dl --auth
 * xoauth2` after `oauth login SPEC`): the stored refresh token turned into access
 * tokens (RFC 6749 §6) that are kept in memory until a minute before they expire
 * (oauth::TokenCache). The daemon keeps one per account for as long as the account's
 * `oauth:` stays the same, so that a poll within a token's lifetime costs no request.
 * Thread-safe; the lookups block (the store, then HTTPS) and run off the loop. Made
 * with std::make_shared: the lookups keep it alive.
 */
class OAuthTokens : public std::enable_shared_from_this<OAuthTokens> {
public:
	/** Opens the grant store; blocks (it may probe the Secret Service). */
	using StoreOpener = std::function<std::unique_ptr<oauth::GrantStore>()>;
	/** Receives a warning that changes nothing about the login (a rotated refresh
	 * token that could not be saved); one line, no secret. */
	using Warn = std::function<void(const std::string &line)>;

	/**
	 * @param key the grant's key: oauth::GrantKeyForAccount() or GrantKeyForSpec()
	 * @param prefix starts every message, e.g. `account "work": `
	 * @param login_command what the user runs to sign in again, quoted in the
	 *        message of a grant that is gone ("popstream oauth login work")
	 * @param settings the account's `oauth:` (after oauth::WithPreset()), whose
	 *        client and token endpoint are used to refresh; nothing = the ones
	 *        stored with the grant (dl)
	 * @param ca_file PEM CAs for the token endpoint; empty = the system store
	 * @param open_store the store; default oauth::OpenGrantStore()
	 * @param warn default: one line on stderr (the daemon's goes to the journal)
	 */
	OAuthTokens(std::string key, std::string prefix, std::string login_command,
		    std::optional<oauth::Settings> settings, std::string ca_file,
		    StoreOpener open_store = {}, Warn warn = {});
	~OAuthTokens();
	OAuthTokens(const OAuthTokens &) = delete;
	OAuthTokens &operator=(const OAuthTokens &) = delete;

	/**
	 * @return the PendingCredentials::token lookup: a valid access token
	 * @throws (from the lookup) CredentialError, its message starting with the
	 *         prefix: ExitCode::NoPerm when the user must sign in again (no stored
	 *         grant, `invalid_grant`, access denied; the message names the login
	 *         command), ExitCode::TempFail when the token endpoint cannot be reached
	 *         or answers 5xx, ExitCode::Protocol for an answer that breaks RFC 6749,
	 *         ExitCode::Config for a client the endpoint refuses or a store that
	 *         cannot be read
	 */
	PasswordLookup Lookup();

	/** @return the lookup for FetchOptions::token_renewal: forgets the cached
	 *         token (the server refused it), then as Lookup() */
	PasswordLookup Renewal();

	/** @return the settings this was made with, to tell whether a reloaded account
	 *          may keep it */
	const std::optional<oauth::Settings> &Settings() const noexcept
	{
		return settings_;
	}
	/** @return the CA file this was made with */
	const std::string &CaFile() const noexcept { return ca_file_; }

private:
	std::string Get(bool renew);

	const std::string key_, prefix_, login_command_;
	const std::optional<oauth::Settings> settings_;
	const std::string ca_file_;
	const StoreOpener open_store_;
	const Warn warn_;

	/** Guards the lazy opening of #store_ and #cache_. */
	std::mutex mutex_;
	std::unique_ptr<oauth::GrantStore> store_;
	std::unique_ptr<oauth::TokenCache> cache_;
};

} // namespace popstream
