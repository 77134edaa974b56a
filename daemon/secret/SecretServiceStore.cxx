#include "SecretServiceStore.hxx"

namespace popstream::secret {

SecretServiceStore::SecretServiceStore(std::string collection_label, bool locked,
				       std::chrono::milliseconds timeout)
    : collection_label_(std::move(collection_label)), locked_(locked), timeout_(timeout)
{
}

Attributes SecretServiceStore::AttributesFor(std::string_view key)
{
	return {{"application", "popstream"},
		{"type", "oauth2-refresh-token"},
		{"account", std::string(key)}};
}

std::optional<std::string> SecretServiceStore::Load(std::string_view key)
{
	return LookupSecret(AttributesFor(key), timeout_);
}

void SecretServiceStore::Save(std::string_view key, std::string_view blob)
{
	StoreSecret("popstream OAuth 2.0 refresh token for " + std::string(key),
		    AttributesFor(key), blob, timeout_);
}

void SecretServiceStore::Clear(std::string_view key)
{
	ClearSecret(AttributesFor(key), timeout_);
}

std::string SecretServiceStore::Where() const
{
	std::string where = "the Secret Service (";
	where += collection_label_.empty() ? "default" : collection_label_;
	where += locked_ ? " keyring, locked)" : " keyring)";
	return where;
}

} // namespace popstream::secret
