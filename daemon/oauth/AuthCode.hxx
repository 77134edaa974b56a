#pragma once

#include "Http.hxx"
#include "Token.hxx"

#include "core/oauth/Settings.hxx"

#include <string>
#include <string_view>

namespace popstream::oauth {

/** One authorization request's secrets and the redirect it expects (RFC 6749 §4.1,
 * RFC 7636, RFC 8252 §7.3). */
struct AuthorizationRequest {
	/** e.g. "http://127.0.0.1:PORT/" (the loopback listener's). */
	std::string redirect_uri;
	/** The PKCE code verifier (secret until the code is exchanged). */
	std::string code_verifier;
	/** An unguessable value the redirect must carry back (§10.12, CSRF). */
	std::string state;
};

/**
 * @param redirect_uri where the browser is sent back
 * @return a request with a fresh verifier (MakeCodeVerifier()) and a fresh state (16
 *         random bytes, base64url)
 */
AuthorizationRequest MakeAuthorizationRequest(std::string redirect_uri);

/**
 * The URL the user opens (RFC 6749 §4.1.1 with RFC 7636 §4.3): the authorization
 * endpoint with `response_type=code`, `client_id`, `redirect_uri`, `scope`, `state`,
 * `code_challenge` (S256 of the verifier) and `code_challenge_method=S256`, appended
 * with "&" if the endpoint already has a query. For Google, `access_type=offline` and
 * `prompt=consent` too, without which Google issues no refresh token.
 *
 * @param settings after WithPreset(), with an authorization endpoint
 */
std::string BuildAuthorizationUrl(const Settings &settings,
				  const AuthorizationRequest &request);

/**
 * Reads the redirect the browser was sent to (RFC 6749 §4.1.2, §4.1.2.1): from the
 * loopback listener's request target, or from the URL the user pasted (--no-browser).
 * Blanks around it are ignored.
 *
 * @param url "http://127.0.0.1:PORT/?code=..&state=..", a request target "/?code=..",
 *        or just the query
 * @param expected_state AuthorizationRequest::state
 * @return the authorization code
 * @throws OAuthError: Protocol if `state` is missing or differs (the message says so,
 *         without either value), or if there is neither `code` nor `error`; Denied
 *         for `error=access_denied`; Rejected for another `error` (with its
 *         description, escaped)
 */
std::string ParseRedirect(std::string_view url, std::string_view expected_state);

/**
 * Exchanges an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5):
 * `grant_type=authorization_code`, `code`, `redirect_uri`, `code_verifier`.
 *
 * @return the tokens
 * @throws OAuthError as RequestToken(); NeedsLogin for `invalid_grant` (a code used
 *         twice or a verifier that does not match)
 */
TokenResponse ExchangeAuthorizationCode(HttpTransport &http, const Settings &settings,
					const AuthorizationRequest &request,
					const std::string &code);

} // namespace popstream::oauth
