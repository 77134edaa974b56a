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

std::unique_ptr<TokenStore> OpenTokenStore(StorePreference prefer,
					   std::chrono::milliseconds probe_timeout)
{
	if (prefer == StorePreference::File)
		return std::make_unique<FileStore>(DefaultTokenDirectory());
	const auto probe = ProbeSecretService(probe_timeout);
	if (probe.Usable())
		return std::make_unique<SecretServiceStore>(probe.collection_label,
							    probe.locked);
	if (prefer == StorePreference::SecretService)
		throw SecretError("cannot use the Secret Service: " + probe.detail);
	return std::make_unique<FileStore>(DefaultTokenDirectory(), probe.detail);
}

} // namespace popstream::secret
