#include "Token.hxx"
#include "Error.hxx"

#include "core/util/Escape.hxx"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace popstream::oauth {

namespace {

using nlohmann::json;

/** Server text quoted in a message: escaped, short, with the request's secrets hidden
 * (a server may echo what it was sent). */
std::string Quote(std::string_view text, const std::vector<std::string> &secrets)
{
	std::string out(text);
	for (const auto &secret : secrets)
		out = HideSecret(std::move(out), secret);
	return Escape(out, 200);
}

/** nlohmann's own messages quote the input ("last read: '...'"), which may be a
 * token, so they are never shown; parse failures are reported in our words. */
std::optional<json> ParseObject(std::string_view body)
{
	auto value = json::parse(body, nullptr, /*allow_exceptions=*/false);
	if (value.is_discarded() || !value.is_object())
		return std::nullopt;
	return value;
}

std::optional<std::string> StringField(const json &object, const char *name)
{
	const auto it = object.find(name);
	if (it == object.end() || !it->is_string())
		return std::nullopt;
	return it->get<std::string>();
}

bool EqualsNoCase(std::string_view a, std::string_view b) noexcept
{
	return a.size() == b.size() &&
	       std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
		       return std::tolower(static_cast<unsigned char>(x)) ==
			      std::tolower(static_cast<unsigned char>(y));
	       });
}

ErrorKind KindOfCode(std::string_view code) noexcept
{
	if (code == "invalid_grant")
		return ErrorKind::NeedsLogin;
	if (code == "access_denied")
		return ErrorKind::Denied;
	if (code == "expired_token")
		return ErrorKind::Expired;
	return ErrorKind::Rejected;
}

/** `expires_in`: a JSON number, or digits in a string (seen in the wild). */
std::optional<long long> ExpiresIn(const json &object, std::string_view url)
{
	const auto it = object.find("expires_in");
	if (it == object.end() || it->is_null())
		return std::nullopt;
	long long value = -1;
	if (it->is_number_integer()) {
		value = it->get<long long>();
	} else if (it->is_number_float()) {
		value = static_cast<long long>(it->get<double>());
	} else if (it->is_string()) {
		const auto text = it->get<std::string>();
		if (!text.empty() && text.size() < 12 &&
		    std::all_of(text.begin(), text.end(),
				[](char c) { return c >= '0' && c <= '9'; }))
			value = std::stoll(text);
	}
	if (value < 0)
		throw OAuthError(ErrorKind::Protocol,
				 Escape(url) + ": expires_in is not a number of seconds");
	return value;
}

} // namespace

TokenResponse ParseTokenResponse(const HttpResponse &response, std::string_view url,
				 const std::vector<std::string> &secrets)
{
	const std::string where = Escape(url);
	const auto object = ParseObject(response.body);
	if (response.status != 200) {
		// §5.2: 400, or 401 for client authentication; some servers use other
		// 4xx codes with the same body, which is still the best explanation.
		const auto code = object ? StringField(*object, "error") : std::nullopt;
		if (code && !code->empty() && response.status >= 400 &&
		    response.status < 500) {
			std::string message =
			    where + ": the server refused: " + Quote(*code, secrets);
			if (const auto description =
				StringField(*object, "error_description");
			    description && !description->empty())
				message += " (" + Quote(*description, secrets) + ")";
			throw OAuthError(KindOfCode(*code), message, *code);
		}
		throw OAuthError(
		    response.status >= 500 || response.status == 429
			? ErrorKind::Network
			: ErrorKind::Protocol,
		    where + ": HTTP " + std::to_string(response.status) +
			(object ? std::string() : " without an OAuth 2.0 error"));
	}
	if (!object)
		throw OAuthError(ErrorKind::Protocol,
				 where + ": the answer is not a JSON object");
	if (const auto code = StringField(*object, "error"); code && !code->empty())
		throw OAuthError(KindOfCode(*code),
				 where + ": the server refused: " + Quote(*code, secrets),
				 *code);

	TokenResponse token;
	auto access = StringField(*object, "access_token");
	if (!access || access->empty())
		throw OAuthError(ErrorKind::Protocol,
				 where + ": the answer has no access_token");
	token.access_token = std::move(*access);
	token.token_type = StringField(*object, "token_type").value_or("");
	// RFC 6749 §5.1 makes token_type REQUIRED, but what matters is that the token
	// is a bearer token (RFC 6750), the only kind XOAUTH2 and OAUTHBEARER carry.
	if (!token.token_type.empty() && !EqualsNoCase(token.token_type, "bearer"))
		throw OAuthError(ErrorKind::Protocol,
				 where + ": token_type \"" +
				     Quote(token.token_type, secrets) +
				     "\" is not Bearer");
	token.expires_in = ExpiresIn(*object, url);
	token.refresh_token = StringField(*object, "refresh_token").value_or("");
	token.scope = StringField(*object, "scope").value_or("");
	return token;
}

TokenResponse RequestToken(HttpTransport &http, const Settings &settings, Form form,
			   std::vector<std::string> secrets)
{
	form.emplace_back("client_id", settings.client_id);
	if (!settings.client_secret.empty()) {
		form.emplace_back("client_secret", settings.client_secret);
		secrets.push_back(settings.client_secret);
	}
	const auto response = http.PostForm(settings.token_endpoint, form);
	return ParseTokenResponse(response, settings.token_endpoint, secrets);
}

TokenResponse RefreshAccessToken(HttpTransport &http, const Settings &settings,
				 const std::string &refresh_token)
{
	Form form{{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}};
	if (!settings.scope.empty())
		form.emplace_back("scope", settings.scope);
	return RequestToken(http, settings, std::move(form), {refresh_token});
}

} // namespace popstream::oauth
