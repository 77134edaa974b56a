#include "StoredGrant.hxx"
#include "Error.hxx"
#include "GrantStore.hxx"
#include "secret/TokenStore.hxx"

#include <nlohmann/json.hpp>

namespace popstream::oauth {

using nlohmann::json;

std::string GrantKeyForAccount(std::string_view account)
{
	return std::string(account);
}

std::string GrantKeyForSpec(std::string_view label)
{
	// One rule for both layers: the store reads back what login wrote.
	return secret::TokenKeyForSpec(label);
}

std::string SerializeGrant(const StoredGrant &grant)
{
	const auto &s = grant.settings;
	// An ordered_json keeps the documented field order, for people reading a file.
	nlohmann::ordered_json object = {
	    {"version", STORED_GRANT_VERSION},
	    {"provider", std::string(ProviderName(s.provider))},
	    {"client_id", s.client_id},
	    {"client_secret", s.client_secret},
	    {"tenant", s.tenant},
	    {"token_endpoint", s.token_endpoint},
	    {"scope", s.scope},
	    {"refresh_token", grant.refresh_token},
	};
	if (!grant.ca_file.empty())
		object["ca_file"] = grant.ca_file;
	// error_handler replace: a stray non-UTF-8 byte cannot make dump() throw with
	// the secret in its message.
	return object.dump(-1, ' ', false, json::error_handler_t::replace);
}

StoredGrant ParseGrant(std::string_view blob)
{
	const auto fail = [](const std::string &why) {
		return OAuthError(ErrorKind::NeedsLogin, "the stored grant " + why);
	};
	// nlohmann's messages quote the input; ours never do.
	const auto object = json::parse(blob, nullptr, false);
	if (object.is_discarded() || !object.is_object())
		throw fail("is not a JSON object");
	const auto version = object.find("version");
	if (version == object.end() || !version->is_number_integer() ||
	    version->get<long long>() != STORED_GRANT_VERSION)
		throw fail("has an unknown version (this popstream reads version " +
			   std::to_string(STORED_GRANT_VERSION) + ")");
	const auto text = [&](const char *name) -> std::string {
		const auto it = object.find(name);
		if (it == object.end() || it->is_null())
			return {};
		if (!it->is_string())
			throw fail(std::string("has a ") + name +
				   " that is not a string");
		return it->get<std::string>();
	};
	StoredGrant grant;
	const auto provider = ParseProvider(text("provider"));
	if (!provider || *provider == Provider::Goa)
		throw fail("names no provider popstream refreshes with");
	grant.settings.provider = *provider;
	grant.settings.client_id = text("client_id");
	grant.settings.client_secret = text("client_secret");
	grant.settings.tenant = text("tenant");
	grant.settings.token_endpoint = text("token_endpoint");
	grant.settings.scope = text("scope");
	grant.refresh_token = text("refresh_token");
	grant.ca_file = text("ca_file");
	if (grant.refresh_token.empty())
		throw fail("has no refresh_token");
	if (grant.settings.token_endpoint.empty())
		throw fail("has no token_endpoint");
	if (grant.settings.client_id.empty())
		throw fail("has no client_id");
	return grant;
}

} // namespace popstream::oauth
