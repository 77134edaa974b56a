#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace popstream::oauth {

/**
 * Where refresh grants (StoredGrant's JSON) are kept, under a key (GrantKeyForAccount(),
 * GrantKeyForSpec()). The Secret Service and the 0600 file of daemon/secret implement
 * it (helper B's TokenStore, adapted by the lead); tests use a map. A blob holds a
 * refresh token: an implementation never logs it or puts it into an error message.
 */
class GrantStore {
public:
	virtual ~GrantStore() = default;

	/**
	 * @return the blob saved under @p key, or nothing if none is
	 * @throws std::runtime_error (one line, no secret) if the store cannot be read
	 */
	virtual std::optional<std::string> Load(const std::string &key) = 0;

	/**
	 * Replaces the blob under @p key, atomically: a reader sees the old blob or the
	 * new one, never a mix, and a crash keeps one of them.
	 * @throws std::runtime_error (one line, no secret) on failure
	 */
	virtual void Save(const std::string &key, const std::string &blob) = 0;

	/**
	 * Removes the blob under @p key; no blob is not an error.
	 * @throws std::runtime_error (one line, no secret) on failure
	 */
	virtual void Clear(const std::string &key) = 0;

	/** @return where blobs go, for messages: "the Secret Service (GNOME Keyring)",
	 * "/home/alice/.local/state/popstream/oauth/" */
	virtual std::string Where() const = 0;
};

/** @return the key of a daemon account's grant: the account's name */
std::string GrantKeyForAccount(std::string_view account);

/**
 * @param label a dl spec's Label(), "user@host:port"
 * @return "dl-" + @p label with every character outside [A-Za-z0-9@._:-] replaced by
 *         '_' (so the key is a safe file name and Secret Service attribute)
 */
std::string GrantKeyForSpec(std::string_view label);

} // namespace popstream::oauth
