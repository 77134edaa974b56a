#pragma once

#include "Form.hxx"
#include "Http.hxx"

#include "core/oauth/Settings.hxx"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::oauth {

/** A successful access token response (RFC 6749 §5.1). Holds secrets. */
struct TokenResponse {
	/** Never empty. */
	std::string access_token;
	/** As sent ("Bearer"; compared case-insensitively, RFC 6749 §5.1). */
	std::string token_type;
	/** Seconds the access token lives, if the server said (RECOMMENDED, §5.1). */
	std::optional<long long> expires_in;
	/** A new refresh token, or empty if none was issued (§6: then the old one
	 * stays valid). */
	std::string refresh_token;
	/** The granted scope if the server named it (§5.1), else empty. */
	std::string scope;
};

/**
 * Reads a token endpoint's answer: RFC 6749 §5.1 (HTTP 200, a JSON object with
 * `access_token` and `token_type` "Bearer") or §5.2 (HTTP 400 or 401, a JSON object
 * with `error`). `expires_in` is accepted as a JSON number or a string of digits (some
 * providers send one).
 *
 * @param response what the endpoint answered
 * @param url the endpoint, for messages
 * @param secrets the request's secret values, hidden in any server text quoted in an
 *        error (a server may echo what it got)
 * @return the token
 * @throws OAuthError: NeedsLogin for `invalid_grant`; Denied for `access_denied`;
 *         Expired for `expired_token`; Rejected for every other §5.2 code
 *         (`authorization_pending` and `slow_down` included: RequestDeviceToken()
 *         handles those itself, via Code()); Network for a 5xx or another status
 *         without a §5.2 body; Protocol for a body that is not a JSON object, a
 *         missing or empty `access_token`, a token type other than Bearer, a
 *         negative `expires_in`. The message quotes the server's `error` and
 *         `error_description` (escaped, cut short), never the body.
 */
TokenResponse ParseTokenResponse(const HttpResponse &response, std::string_view url,
				 const std::vector<std::string> &secrets);

/**
 * POSTs @p form to the settings' token endpoint and parses the answer with
 * ParseTokenResponse(). Adds `client_id`, and `client_secret` when the settings have
 * one (RFC 6749 §2.3.1, in the body).
 *
 * @param secrets the secret values in @p form (hidden in errors); the client secret
 *        is added by this function
 * @throws OAuthError as HttpTransport::PostForm() and ParseTokenResponse() do
 */
TokenResponse RequestToken(HttpTransport &http, const Settings &settings, Form form,
			   std::vector<std::string> secrets);

/**
 * The refresh token grant (RFC 6749 §6): `grant_type=refresh_token`, the refresh
 * token, and the settings' scope when it is not empty (Microsoft's v2.0 endpoint wants
 * it; §6 allows it when it is the original scope).
 *
 * @param settings after WithPreset(); token_endpoint and client_id are used
 * @param refresh_token not empty
 * @return the new access token, and maybe a rotated refresh token
 * @throws OAuthError as RequestToken() does; NeedsLogin for `invalid_grant`
 */
TokenResponse RefreshAccessToken(HttpTransport &http, const Settings &settings,
				 const std::string &refresh_token);

} // namespace popstream::oauth
