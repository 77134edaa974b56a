#pragma once

#include "oauth/GrantStore.hxx"

#include <map>
#include <stdexcept>

namespace popstream::oauth::test {

/** A GrantStore in a map, with a switch to make writes fail. */
class MemoryStore final : public GrantStore {
public:
	std::map<std::string, std::string> blobs;
	int saves = 0;
	bool fail_saves = false;
	bool fail_loads = false;

	std::optional<std::string> Load(const std::string &key) override
	{
		if (fail_loads)
			throw std::runtime_error("the keyring is locked");
		const auto it = blobs.find(key);
		if (it == blobs.end())
			return std::nullopt;
		return it->second;
	}

	void Save(const std::string &key, const std::string &blob) override
	{
		if (fail_saves)
			throw std::runtime_error("disk full");
		++saves;
		blobs[key] = blob;
	}

	void Clear(const std::string &key) override { blobs.erase(key); }

	std::string Where() const override { return "the test store"; }
};

} // namespace popstream::oauth::test
