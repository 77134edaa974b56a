#pragma once

#include "core/oauth/Settings.hxx"

#include <string>
#include <string_view>

namespace popstream::oauth {

/**
 * What `popstream oauth login` stores: a refresh token and all that is needed to use
 * it (RFC 6749 §6), so that `dl SPEC` can refresh with nothing but the spec. Holds
 * secrets (the refresh token, the client secret).
 */
struct StoredGrant {
	/** provider, client_id, client_secret, tenant, token_endpoint and scope are
	 * stored; the other endpoints are not needed to refresh. */
	Settings settings;
	/** Never empty. */
	std::string refresh_token;
	/** The PEM CAs `oauth login --ca-file` trusted for the token endpoint, so that
	 * `dl` refreshes with the trust the login had; empty = the system store. */
	std::string ca_file;

	bool operator==(const StoredGrant &) const = default;
};

/** The version written into, and the only one read from, a stored grant. */
inline constexpr int STORED_GRANT_VERSION = 1;

/**
 * @return the grant as one JSON object: {"version":1,"provider":..,"client_id":..,
 *         "client_secret":..,"tenant":..,"token_endpoint":..,"scope":..,
 *         "ca_file":.. (only when set),
 *         "refresh_token":..}
 */
std::string SerializeGrant(const StoredGrant &grant);

/**
 * Reads SerializeGrant()'s form.
 *
 * @param blob what the store held
 * @return the grant
 * @throws OAuthError (NeedsLogin) with a message naming the problem, never quoting
 *         the blob: not JSON, another version, an unknown provider, no refresh_token,
 *         token_endpoint or client_id
 */
StoredGrant ParseGrant(std::string_view blob);

} // namespace popstream::oauth
