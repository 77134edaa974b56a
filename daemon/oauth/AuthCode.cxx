#include "AuthCode.hxx"
#include "Error.hxx"
#include "Form.hxx"
#include "Pkce.hxx"

#include "core/util/Escape.hxx"

namespace popstream::oauth {

namespace {

std::string_view Trim(std::string_view s) noexcept
{
	const auto first = s.find_first_not_of(" \t\r\n");
	if (first == std::string_view::npos)
		return {};
	const auto last = s.find_last_not_of(" \t\r\n");
	return s.substr(first, last - first + 1);
}

} // namespace

AuthorizationRequest MakeAuthorizationRequest(std::string redirect_uri)
{
	return {std::move(redirect_uri), MakeCodeVerifier(), RandomToken(16)};
}

std::string BuildAuthorizationUrl(const Settings &settings,
				  const AuthorizationRequest &request)
{
	Form query{
	    {"response_type", "code"},
	    {"client_id", settings.client_id},
	    {"redirect_uri", request.redirect_uri},
	};
	if (!settings.scope.empty())
		query.emplace_back("scope", settings.scope);
	query.emplace_back("state", request.state);
	query.emplace_back("code_challenge", S256Challenge(request.code_verifier));
	query.emplace_back("code_challenge_method", "S256");
	if (settings.provider == Provider::Google) {
		query.emplace_back("access_type", "offline");
		query.emplace_back("prompt", "consent");
	}
	const auto &endpoint = settings.authorization_endpoint;
	const char separator = endpoint.find('?') == std::string::npos ? '?' : '&';
	return endpoint + separator + EncodeForm(query);
}

std::string ParseRedirect(std::string_view url, std::string_view expected_state)
{
	const auto form = DecodeForm(QueryOf(Trim(url)));
	if (!form)
		throw OAuthError(ErrorKind::Protocol,
				 "the redirect URL is not well-formed (a bad %-escape)");
	const auto state = FindField(*form, "state");
	const auto code = FindField(*form, "code");
	const auto error = FindField(*form, "error");
	if (!code && !error)
		throw OAuthError(ErrorKind::Protocol,
				 "the redirect URL has neither code nor error: paste the "
				 "whole address the browser shows after signing in");
	// Checked before an error is believed too: an unrelated page must not end the
	// login (RFC 6749 §10.12).
	if (!state)
		throw OAuthError(ErrorKind::Protocol,
				 "the redirect URL has no state: it does not answer this "
				 "sign-in");
	if (*state != expected_state)
		throw OAuthError(ErrorKind::Protocol,
				 "the redirect URL's state does not match this sign-in "
				 "(an old or forged redirect)");
	if (error) {
		std::string message =
		    "the authorization server refused: " + Escape(*error, 100);
		if (const auto description = FindField(*form, "error_description"))
			message += " (" + Escape(*description, 200) + ")";
		throw OAuthError(*error == "access_denied" ? ErrorKind::Denied
							   : ErrorKind::Rejected,
				 message, *error);
	}
	if (code->empty())
		throw OAuthError(ErrorKind::Protocol, "the redirect URL's code is empty");
	return *code;
}

TokenResponse ExchangeAuthorizationCode(HttpTransport &http, const Settings &settings,
					const AuthorizationRequest &request,
					const std::string &code)
{
	return RequestToken(http, settings,
			    {{"grant_type", "authorization_code"},
			     {"code", code},
			     {"redirect_uri", request.redirect_uri},
			     {"code_verifier", request.code_verifier}},
			    {code, request.code_verifier});
}

} // namespace popstream::oauth
