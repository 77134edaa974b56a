#include "TokenStore.hxx"

#include "FileStore.hxx"
#include "SecretServiceStore.hxx"

namespace popstream::secret {

std::string TokenKeyForSpec(std::string_view label)
{
	std::string key = "dl-";
	for (const char c : label) {
		const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || c == '@' || c == '.' ||
				  c == '_' || c == ':' || c == '-';
		key += keep ? c : '_';
	}
	return key;
}

namespace {

/**
 * The Secret Service, and the file store for what was saved there while no Secret
 * Service answered (a login over ssh, a fetch later from the desktop session): a
 * grant must not get lost because the keyring came up in between. Saves go to the
 * Secret Service and take the key's file away, so that one grant is never in two
 * places for long.
 */
class KeyringFirst final : public TokenStore {
	std::unique_ptr<TokenStore> keyring_;
	FileStore file_;

public:
	explicit KeyringFirst(std::unique_ptr<TokenStore> keyring)
	    : keyring_(std::move(keyring)), file_(DefaultTokenDirectory())
	{
	}

	std::optional<std::string> Load(std::string_view key) override
	{
		if (auto blob = keyring_->Load(key))
			return blob;
		return file_.Load(key);
	}

	void Save(std::string_view key, std::string_view blob) override
	{
		keyring_->Save(key, blob);
		try {
			file_.Clear(key);
		} catch (const std::exception &) {
			// The grant is saved; an old file is only found if the keyring
			// loses it.
		}
	}

	void Clear(std::string_view key) override
	{
		keyring_->Clear(key);
		file_.Clear(key);
	}

	std::string Where() const override { return keyring_->Where(); }
};

} // namespace

std::unique_ptr<TokenStore> OpenTokenStore(StorePreference prefer,
					   std::chrono::milliseconds probe_timeout)
{
	if (prefer == StorePreference::File)
		return std::make_unique<FileStore>(DefaultTokenDirectory());
	const auto probe = ProbeSecretService(probe_timeout);
	if (probe.Usable())
		return std::make_unique<KeyringFirst>(
		    std::make_unique<SecretServiceStore>(probe.collection_label,
							 probe.locked));
	if (prefer == StorePreference::SecretService)
		throw SecretError("cannot use the Secret Service: " + probe.detail);
	return std::make_unique<FileStore>(DefaultTokenDirectory(), probe.detail);
}

} // namespace popstream::secret
