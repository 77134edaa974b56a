#include "Login.hxx"
#include "AuthCode.hxx"
#include "Error.hxx"
#include "Loopback.hxx"
#include "Qr.hxx"

#include "core/util/Escape.hxx"

#include <istream>
#include <optional>
#include <ostream>

namespace popstream::oauth {

namespace {

std::string Duration(std::chrono::seconds s)
{
	const auto minutes = s.count() / 60;
	if (minutes >= 2)
		return std::to_string(minutes) + " minutes";
	return std::to_string(s.count()) + " seconds";
}

void PrintQr(std::ostream &out, const std::string &url)
{
	const auto qr = RenderQr(url);
	if (!qr.empty())
		out << "\n" << qr << "\n";
}

} // namespace

TokenResponse DeviceLogin(HttpTransport &http, const Settings &settings,
			  const LoginIo &io)
{
	const auto authorization = StartDeviceAuthorization(http, settings);
	// The server's text is shown to the user: escaped, as any server text.
	const auto uri = Escape(authorization.verification_uri);
	const auto code = Escape(authorization.user_code);
	io.out << "To sign in, open " << uri << " in a browser and enter the code "
	       << code << "\n";
	if (io.qr) {
		// RFC 8628 §3.3.1: the complete URI saves typing the code.
		const bool complete = !authorization.verification_uri_complete.empty();
		io.out << "or scan this QR code"
		       << (complete ? " to open it with the code filled in" : "")
		       << ":\n";
		PrintQr(io.out, complete ? authorization.verification_uri_complete
					 : authorization.verification_uri);
	}
	io.out << "Waiting for you to sign in (the code expires in "
	       << Duration(authorization.expires_in) << ")..." << std::endl;
	auto token = PollDeviceToken(http, settings, authorization, io.sleep);
	io.out << "Signed in." << std::endl;
	return token;
}

TokenResponse BrowserLogin(HttpTransport &http, const Settings &settings,
			   const LoginIo &io, bool paste_redirect)
{
	// The kernel picks the port. With --no-browser the listener closes again
	// before the URL is shown: a browser on this machine then fails at once
	// ("cannot connect"), as the text says, instead of hanging on a socket nobody
	// answers; PKCE keeps a code caught by whoever takes the port useless.
	std::optional<LoopbackListener> listener(std::in_place);
	const auto redirect_uri = listener->RedirectUri();
	if (paste_redirect)
		listener.reset();
	const auto request = MakeAuthorizationRequest(redirect_uri);
	const auto url = BuildAuthorizationUrl(settings, request);
	io.out << (paste_redirect
		       ? "Open this URL in a browser, on any machine, and sign in:"
		       : "Open this URL in a browser and sign in:")
	       << "\n\n  " << url << "\n";
	if (io.qr)
		PrintQr(io.out, url);
	else
		io.out << "\n";

	std::string code;
	if (paste_redirect) {
		io.out << "The browser then goes to " << redirect_uri
		       << "?code=... and probably says it cannot connect: that is "
			  "expected.\nCopy the whole address from the browser's address "
			  "bar and paste it here:"
		       << std::endl;
		std::string line;
		if (!std::getline(io.in, line))
			throw OAuthError(ErrorKind::Expired,
					 "no redirect URL was pasted (end of input)");
		code = ParseRedirect(line, request.state);
	} else {
		io.out << "Waiting for the browser to come back to " << redirect_uri
		       << " ..." << std::endl;
		code = listener->WaitForCode(request.state, io.browser_timeout);
	}
	auto token = ExchangeAuthorizationCode(http, settings, request, code);
	io.out << "Signed in." << std::endl;
	return token;
}

} // namespace popstream::oauth
