#pragma once

#include "SecretService.hxx"
#include "TokenStore.hxx"

namespace popstream::secret {

/**
 * Tokens in the Secret Service's default collection, one item per key with the
 * attributes {application: popstream, type: oauth2-refresh-token, account: KEY} and
 * the label "popstream OAuth 2.0 refresh token for KEY" (so Seahorse shows what it
 * is, and `secret-tool lookup application popstream account KEY` finds it). The
 * service replaces an item atomically.
 */
class SecretServiceStore final : public TokenStore {
public:
	/**
	 * @param collection_label the default collection's label ("Login") for Where(),
	 *        or empty
	 * @param locked the collection was locked when probed, for Where(): using it may
	 *        prompt for its password
	 * @param timeout the longest each call may take
	 */
	explicit SecretServiceStore(
	    std::string collection_label = {}, bool locked = false,
	    std::chrono::milliseconds timeout = default_secret_timeout);

	/** @return the attributes of @p key's item */
	static Attributes AttributesFor(std::string_view key);

	std::optional<std::string> Load(std::string_view key) override;
	void Save(std::string_view key, std::string_view blob) override;
	void Clear(std::string_view key) override;
	std::string Where() const override;

private:
	std::string collection_label_;
	bool locked_;
	std::chrono::milliseconds timeout_;
};

} // namespace popstream::secret
