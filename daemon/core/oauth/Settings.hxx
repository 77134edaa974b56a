#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace popstream::oauth {

/** Who issues the account's OAuth 2.0 tokens (`oauth: {provider: ...}`). */
enum class Provider {
	/** Microsoft identity platform v2.0 (Microsoft 365, Outlook.com): device grant.
	 */
	Microsoft,
	/** Google: authorization code grant with PKCE and a loopback redirect, since
	 * Google does not allow the device grant for the mail scope. */
	Google,
	/** Every endpoint and the scope written in the config. */
	Custom,
	/** GNOME Online Accounts hands out the access token (no grant of ours). */
	Goa,
};

/**
 * @param provider a provider
 * @return its name in the config and on the command line: "microsoft", "google",
 *         "custom" or "goa"
 */
std::string_view ProviderName(Provider provider) noexcept;

/**
 * @param name a name as written by the user
 * @return the provider, or nothing if @p name is not one of ProviderName()'s
 */
std::optional<Provider> ParseProvider(std::string_view name) noexcept;

/** How `popstream oauth login` obtains the first tokens. */
enum class Grant {
	/** RFC 8628: the user enters a code on another device. */
	Device,
	/** RFC 6749 §4.1 with PKCE (RFC 7636) and a loopback redirect (RFC 8252 §7.3).
	 */
	AuthorizationCode,
};

/**
 * An account's OAuth 2.0 client and provider (`oauth:` in popstream.yaml(5),
 * `popstream oauth login` flags). Nothing here is a token; #client_secret is a secret
 * all the same (never logged, never in argv or a D-Bus property).
 */
struct Settings {
	Provider provider = Provider::Custom;
	/** The client id the user registered with the provider; popstream ships none. */
	std::string client_id;
	/** Only for providers that demand one of installed apps (Google); may be empty.
	 */
	std::string client_secret;
	/** Microsoft's directory: "common" (default), "consumers", "organizations" or a
	 * tenant id or domain. Empty for other providers. */
	std::string tenant;
	/** Space-separated scopes (RFC 6749 §3.3); the preset's when empty. */
	std::string scope;
	/** https URLs; the preset's when empty. */
	std::string token_endpoint, device_endpoint, authorization_endpoint;
	/** GOA only: the account's id, as in /org/gnome/OnlineAccounts/Accounts/ID. */
	std::string goa_account;

	bool operator==(const Settings &) const = default;
};

/**
 * Fills what the provider's preset defines and the settings leave empty: Microsoft's
 * endpoints under https://login.microsoftonline.com/TENANT/oauth2/v2.0/ (tenant
 * "common" by default) and the scope `https://outlook.office.com/POP.AccessAsUser.All
 * offline_access`; Google's endpoints and `https://mail.google.com/`. Custom and GOA
 * settings are returned unchanged.
 *
 * @param settings as written
 * @return the settings to use
 */
Settings WithPreset(Settings settings);

/**
 * Checks settings after WithPreset(): a client id for every provider but GOA, a
 * token endpoint, and a device or an authorization endpoint; an account id for GOA.
 * Endpoints must be https URLs, except http://127.0.0.1, http://[::1] and
 * http://localhost ones, which tests use.
 *
 * @param settings after WithPreset()
 * @return empty if usable, else one line naming the missing or bad key (e.g.
 *         "oauth: custom needs token_endpoint")
 */
std::string CheckSettings(const Settings &settings);

/**
 * @param settings after WithPreset()
 * @return the grant `oauth login` runs: the device grant when there is a device
 *         endpoint and the provider is not Google, else the authorization code grant
 */
Grant PreferredGrant(const Settings &settings) noexcept;

} // namespace popstream::oauth
