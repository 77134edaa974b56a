#pragma once

#include "Http.hxx"
#include "Token.hxx"

#include "core/oauth/Settings.hxx"

#include <chrono>
#include <functional>
#include <string>

namespace popstream::oauth {

/** A device authorization response (RFC 8628 §3.2). device_code is a secret. */
struct DeviceAuthorization {
	std::string device_code;
	/** What the user types at #verification_uri. */
	std::string user_code;
	std::string verification_uri;
	/** The URI with the user code in it (OPTIONAL, §3.3.1: for a QR code), or
	 * empty. */
	std::string verification_uri_complete;
	/** Lifetime of both codes. */
	std::chrono::seconds expires_in{0};
	/** The least time between two polls: 5 s unless the server says (§3.2). */
	std::chrono::seconds interval{5};
};

/**
 * Starts the device grant (RFC 8628 §3.1): POSTs `client_id` and `scope` to the
 * settings' device endpoint. `verification_url` (Google's older spelling) is taken
 * for `verification_uri`.
 *
 * @param settings after WithPreset(), with a device endpoint
 * @return the codes to show and poll with
 * @throws OAuthError: Rejected/NeedsLogin/... for a §5.2 error answer (RFC 8628 §3.2),
 *         Protocol for an answer without device_code, user_code, verification_uri
 *         or expires_in, Network as HttpTransport::PostForm()
 */
DeviceAuthorization StartDeviceAuthorization(HttpTransport &http,
					     const Settings &settings);

/** Waits the given time; tests pass one that only records it. */
using Sleeper = std::function<void(std::chrono::seconds)>;

/**
 * Polls the token endpoint (RFC 8628 §3.4, §3.5) with
 * `grant_type=urn:ietf:params:oauth:grant-type:device_code` until the user has
 * approved, waiting #interval before each request: `authorization_pending` polls
 * again, `slow_down` adds 5 s to the interval for this and every later poll, a
 * request that gets no HTTP answer (ErrorKind::Network) is retried with the interval
 * doubled (§3.5 asks clients to back off). The time waited is summed; once it reaches
 * the codes' expires_in without a token, it gives up.
 *
 * @param sleep waits between polls (std::this_thread::sleep_for in the program)
 * @param on_poll called before each request (to show progress), may be empty
 * @return the tokens
 * @throws OAuthError: Denied (`access_denied`), Expired (`expired_token`, or
 *         expires_in used up), Rejected/NeedsLogin for other codes, Protocol for a
 *         malformed answer
 */
TokenResponse PollDeviceToken(HttpTransport &http, const Settings &settings,
			      const DeviceAuthorization &authorization,
			      const Sleeper &sleep,
			      const std::function<void()> &on_poll = {});

} // namespace popstream::oauth
