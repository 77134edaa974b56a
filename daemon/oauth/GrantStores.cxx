#include "GrantStores.hxx"

namespace popstream::oauth {

namespace {

/** secret::TokenStore and GrantStore are one contract in two layers' words. */
class TokenStoreGrants final : public GrantStore {
	std::unique_ptr<secret::TokenStore> store_;

public:
	explicit TokenStoreGrants(std::unique_ptr<secret::TokenStore> store)
	    : store_(std::move(store))
	{
	}

	std::optional<std::string> Load(const std::string &key) override
	{
		return store_->Load(key);
	}
	void Save(const std::string &key, const std::string &blob) override
	{
		store_->Save(key, blob);
	}
	void Clear(const std::string &key) override { store_->Clear(key); }
	std::string Where() const override { return store_->Where(); }
};

} // namespace

std::unique_ptr<GrantStore> AdaptTokenStore(std::unique_ptr<secret::TokenStore> store)
{
	return std::make_unique<TokenStoreGrants>(std::move(store));
}

std::unique_ptr<GrantStore> OpenGrantStore(secret::StorePreference prefer)
{
	return AdaptTokenStore(secret::OpenTokenStore(prefer));
}

} // namespace popstream::oauth
