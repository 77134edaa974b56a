#include "Settings.hxx"

namespace popstream::oauth {

namespace {

constexpr std::string_view microsoft_scope =
    "https://outlook.office.com/POP.AccessAsUser.All offline_access";

void Fill(std::string &field, std::string_view preset)
{
	if (field.empty())
		field = preset;
}

bool StartsWith(std::string_view s, std::string_view prefix) noexcept
{
	return s.substr(0, prefix.size()) == prefix;
}

/** https, or http to a loopback name (tests, RFC 8252 §8.3's spirit). */
bool AcceptableUrl(std::string_view url) noexcept
{
	if (StartsWith(url, "https://"))
		return url.size() > 8;
	for (std::string_view prefix :
	     {"http://127.0.0.1:", "http://127.0.0.1/", "http://[::1]:", "http://[::1]/",
	      "http://localhost:", "http://localhost/"})
		if (StartsWith(url, prefix))
			return true;
	return false;
}

} // namespace

std::string_view ProviderName(Provider provider) noexcept
{
	switch (provider) {
	case Provider::Microsoft:
		return "microsoft";
	case Provider::Google:
		return "google";
	case Provider::Custom:
		return "custom";
	case Provider::Goa:
		return "goa";
	}
	return "custom";
}

std::optional<Provider> ParseProvider(std::string_view name) noexcept
{
	for (auto p :
	     {Provider::Microsoft, Provider::Google, Provider::Custom, Provider::Goa})
		if (ProviderName(p) == name)
			return p;
	return std::nullopt;
}

Settings WithPreset(Settings s)
{
	switch (s.provider) {
	case Provider::Microsoft: {
		Fill(s.tenant, "common");
		const std::string base =
		    "https://login.microsoftonline.com/" + s.tenant + "/oauth2/v2.0/";
		Fill(s.token_endpoint, base + "token");
		Fill(s.device_endpoint, base + "devicecode");
		Fill(s.authorization_endpoint, base + "authorize");
		Fill(s.scope, microsoft_scope);
		break;
	}
	case Provider::Google:
		Fill(s.token_endpoint, "https://oauth2.googleapis.com/token");
		Fill(s.authorization_endpoint,
		     "https://accounts.google.com/o/oauth2/v2/auth");
		Fill(s.scope, "https://mail.google.com/");
		break;
	case Provider::Custom:
	case Provider::Goa:
		break;
	}
	return s;
}

std::string CheckSettings(const Settings &s)
{
	const std::string who = "oauth: " + std::string(ProviderName(s.provider));
	if (s.provider == Provider::Goa)
		return s.goa_account.empty() ? who + " needs account (the GNOME Online "
						     "Accounts id)"
					     : std::string();
	if (s.client_id.empty())
		return who + " needs client_id (register one with the provider; "
			     "popstream ships none)";
	if (s.token_endpoint.empty())
		return who + " needs token_endpoint";
	if (s.device_endpoint.empty() && s.authorization_endpoint.empty())
		return who + " needs device_endpoint or authorization_endpoint";
	for (const auto *url :
	     {&s.token_endpoint, &s.device_endpoint, &s.authorization_endpoint})
		if (!url->empty() && !AcceptableUrl(*url))
			return who + ": endpoint \"" + *url + "\" is not an https URL";
	return {};
}

Grant PreferredGrant(const Settings &s) noexcept
{
	if (s.provider != Provider::Google && !s.device_endpoint.empty())
		return Grant::Device;
	return Grant::AuthorizationCode;
}

} // namespace popstream::oauth
