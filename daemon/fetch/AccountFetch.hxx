#pragma once

#include "core/config/Model.hxx"
#include "fetch/Credentials.hxx"
#include "fetch/FetchOptions.hxx"
#include "fetch/OAuthTokens.hxx"
#include "fetch/TlsSessionCache.hxx"

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace popstream::fetch {

/**
 * What a configured account keeps from one fetch to the next. The daemon keeps it in
 * memory between polls; `popstream run` makes it for one run, with the TLS session
 * in STATE_DIR/tls-session as `dl` keeps it.
 */
struct AccountKeep {
	/** The access tokens of an account with `oauth:` (a token lives about an hour,
	 * a poll comes every few minutes); made again by AccountFetchOptions() when the
	 * account's `oauth:` or `ca_file` changes. */
	std::shared_ptr<OAuthTokens> tokens;
	/** The account's saved TLS session (one round trip less on each connection after
	 * the first); its key covers every TLS setting. */
	std::shared_ptr<TlsSessionCache> tls_sessions =
	    std::make_shared<TlsSessionCache>();
};

/**
 * @return a PasswordSource that runs @p lookup on libuv's thread pool when the fetch
 *         is connected, and answers on the loop thread: a password_command or a
 *         token refresh may take seconds, and the loop serves other accounts
 *         meanwhile. A CredentialError becomes the answer's code and message.
 */
PasswordSource PoolPasswordSource(uv_loop_t &loop, PasswordLookup lookup);

/**
 * How ResolveAccountOnPool() answers, on the loop thread.
 *
 * @param account the account that was resolved (the caller's own copy may have been
 *        replaced since, by a reload)
 * @param credentials what ResolveAccountDeferred() returned, or nothing if it threw
 * @param error what it threw (what()), empty when there are credentials
 */
using AccountResolved =
    std::function<void(config::Account account,
		       std::optional<PendingCredentials> credentials, std::string error)>;

/**
 * Runs ResolveAccountDeferred(@p account) on libuv's thread pool, for the daemon's
 * polls and for `popstream run` alike: it reads netrc, and for provider goa asks
 * D-Bus; either may block, and the loop must keep serving the other accounts.
 *
 * @param loop the loop whose pool runs the lookup and which calls @p done
 * @param account the account from LoadConfig(); the pool thread works on this copy
 * @param done called exactly once, on the loop thread, with the outcome
 */
void ResolveAccountOnPool(uv_loop_t &loop, config::Account account, AccountResolved done);

/**
 * The options of one fetch of the configured @p account, the same for the daemon's
 * polls and for `popstream run`: its Maildir, policy, TLS settings and timeouts, its
 * journal and lock in StateDir(account.name) (so that the two never fetch it at the
 * same time), and its secrets looked up on the thread pool once connected.
 *
 * @param loop the loop the fetch runs on (for the secret lookups)
 * @param account the account from LoadConfig()
 * @param credentials ResolveAccountDeferred(@p account)
 * @param keep the account's state between fetches; its tokens are made (or made
 *        again) here for an account with `oauth:` (not for provider goa, whose token
 *        comes with the credentials)
 * @param auth_provider the login mechanisms, shared by every fetch
 * @param verbose log the commands (FetchOptions::verbose)
 */
FetchOptions AccountFetchOptions(uv_loop_t &loop, const config::Account &account,
				 PendingCredentials credentials, AccountKeep &keep,
				 std::shared_ptr<const pop3::AuthProvider> auth_provider,
				 bool verbose);

} // namespace popstream::fetch
