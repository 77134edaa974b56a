#pragma once

#include "SecretService.hxx"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace popstream::secret {

/**
 * Where `popstream oauth login` keeps what it needs to get access tokens later (one
 * opaque string per key, the oauth layer's stored grant, which holds the refresh
 * token), and where the daemon and `dl` read it back. A key is a daemon account name,
 * or TokenKeyForSpec() of a `dl` spec's label.
 *
 * Implementations: SecretServiceStore (the keyring) and FileStore (a mode 0600 file per
 * key); OpenTokenStore() picks one. Every error is one line naming the store and the
 * key, never the blob.
 */
class TokenStore {
public:
	virtual ~TokenStore() = default;

	/**
	 * @param key the account's key
	 * @return what Save() stored under @p key, or nothing if nothing is
	 * @throws std::runtime_error (SecretError, or a file error naming the path) when
	 *         the store cannot be read or refuses to be (a file others can read)
	 */
	virtual std::optional<std::string> Load(std::string_view key) = 0;

	/**
	 * Replaces what is stored under @p key, atomically: a reader sees the old blob or
	 * the new one, and after a crash one of them is there.
	 *
	 * @param key the account's key
	 * @param blob what to keep; a secret
	 * @throws std::runtime_error when it cannot be stored
	 */
	virtual void Save(std::string_view key, std::string_view blob) = 0;

	/**
	 * Removes what is stored under @p key; nothing stored is no error.
	 *
	 * @throws std::runtime_error when it cannot be removed
	 */
	virtual void Clear(std::string_view key) = 0;

	/**
	 * @return where blobs go, for messages that complete "stored in ...": "the Secret
	 *         Service (Login keyring)" or "a mode 0600 file in /home/u/.local/state/
	 *         popstream/oauth"
	 */
	virtual std::string Where() const = 0;
};

/**
 * @param label a `dl` spec's Label(), user@host:port
 * @return "dl-" + @p label with every character outside [A-Za-z0-9@._:-] replaced by
 *         '_' (issue 12's key of a `dl` account: a file name and an attribute value
 *         both)
 */
std::string TokenKeyForSpec(std::string_view label);

/** Which store OpenTokenStore() opens. */
enum class StorePreference {
	/** The Secret Service when one answers with a default keyring, else the file. */
	Auto,
	/** The Secret Service, or an error saying why there is none. */
	SecretService,
	/** The file store, whatever runs on the bus. */
	File,
};

/**
 * Opens the token store: with Auto, the Secret Service when ProbeSecretService()
 * finds one ready within @p probe_timeout, else a FileStore in DefaultTokenDirectory()
 * whose Where() also says why the Secret Service was not used.
 *
 * @param prefer which store
 * @param probe_timeout the longest the probe may take
 * @return the store; it touches nothing until used
 * @throws SecretError with SecretService when no Secret Service is ready (the probe's
 *         detail)
 */
std::unique_ptr<TokenStore>
OpenTokenStore(StorePreference prefer = StorePreference::Auto,
	       std::chrono::milliseconds probe_timeout = default_probe_timeout);

} // namespace popstream::secret
