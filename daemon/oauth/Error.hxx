#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace popstream::oauth {

/** What went wrong with an OAuth 2.0 exchange, as far as the caller must tell apart. */
enum class ErrorKind {
	/** The stored grant is gone or unusable: no refresh token is stored, or the
	 * token endpoint answered `invalid_grant` (RFC 6749 §5.2: revoked, expired,
	 * issued to another client). Only `popstream oauth login` fixes it. */
	NeedsLogin,
	/** The user declined (`access_denied`, RFC 8628 §3.5; RFC 6749 §4.1.2.1). */
	Denied,
	/** The device code expired before the user finished (`expired_token`, RFC 8628
	 * §3.5), or the user did not come back in time. */
	Expired,
	/** The server refused the request for a reason the settings must fix
	 * (`invalid_client`, `unauthorized_client`, `invalid_scope`, ...; RFC 6749
	 * §5.2). */
	Rejected,
	/** The server's answer breaks the protocol (not JSON, a field missing, a wrong
	 * `state` on the redirect). */
	Protocol,
	/** The endpoint could not be reached, timed out, or answered an HTTP error
	 * other than §5.2's (5xx): a later try may work. */
	Network,
	/** The grant could not be read from or written to its store. */
	Store,
};

/** @return a short name for messages and tests: "needs-login", "denied", ... */
std::string_view ErrorKindName(ErrorKind kind) noexcept;

/**
 * An OAuth 2.0 failure. what() is one line of printable ASCII that never contains a
 * token, refresh token, client secret, device code, authorization code or code
 * verifier: every producer in this layer builds it from its own words, the endpoint's
 * URL and the server's `error`/`error_description` (escaped, with the secrets of the
 * request hidden).
 */
class OAuthError : public std::runtime_error {
	ErrorKind kind_;
	std::string code_;

public:
	/**
	 * @param kind what the caller must do about it
	 * @param message the one-line message
	 * @param code the RFC 6749 §5.2 `error` code when the server gave one, else
	 *        empty
	 */
	OAuthError(ErrorKind kind, const std::string &message, std::string code = {})
	    : std::runtime_error(message), kind_(kind), code_(std::move(code))
	{
	}

	ErrorKind Kind() const noexcept { return kind_; }

	/** @return the server's `error` code ("invalid_grant", ...), or empty */
	const std::string &Code() const noexcept { return code_; }
};

} // namespace popstream::oauth
