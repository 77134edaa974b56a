#pragma once

#include "Device.hxx"
#include "Http.hxx"
#include "Token.hxx"

#include "core/oauth/Settings.hxx"

#include <chrono>
#include <iosfwd>

namespace popstream::oauth {

/** Where an interactive sign-in talks to the user. */
struct LoginIo {
	/** The instructions (URL, code, QR code, "Waiting...", "Signed in."). */
	std::ostream &out;
	/** Where --no-browser reads the pasted redirect URL from. */
	std::istream &in;
	/** Waits between device polls (std::this_thread::sleep_for). */
	Sleeper sleep;
	/** Draw the verification URL as a QR code (RenderQr()). */
	bool qr = true;
	/** How long the browser may take to come back (authorization code grant). */
	std::chrono::milliseconds browser_timeout = std::chrono::minutes(10);
};

/**
 * The device grant (RFC 8628) as the user sees it: starts it, prints
 *
 *     To sign in, open URL in a browser and enter the code CODE
 *     or scan this QR code [to open it with the code filled in]:
 *     QR
 *     Waiting for you to sign in (the code expires in N minutes)...
 *
 * polls with PollDeviceToken() and prints "Signed in." at the end.
 *
 * @param settings after WithPreset(), with a device endpoint
 * @return the tokens
 * @throws OAuthError as StartDeviceAuthorization() and PollDeviceToken()
 */
TokenResponse DeviceLogin(HttpTransport &http, const Settings &settings,
			  const LoginIo &io);

/**
 * The authorization code grant with PKCE (RFC 7636) and a loopback redirect (RFC 8252
 * §7.3) as the user sees it: listens on 127.0.0.1, prints the authorization URL (and
 * its QR code) to open, and waits for the browser's redirect; or, with
 * @p paste_redirect (--no-browser), takes a port the same way but closes it, asks the
 * user to paste the address the browser ended on and reads it from LoginIo::in. Then
 * exchanges the code and prints "Signed in.".
 *
 * @param settings after WithPreset(), with an authorization endpoint
 * @return the tokens
 * @throws OAuthError as ParseRedirect(), LoopbackListener::WaitForCode() and
 *         ExchangeAuthorizationCode(); Expired if LoginIo::in ends without a line
 */
TokenResponse BrowserLogin(HttpTransport &http, const Settings &settings,
			   const LoginIo &io, bool paste_redirect);

} // namespace popstream::oauth
