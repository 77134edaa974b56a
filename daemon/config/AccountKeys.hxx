#pragma once

#include "YamlValue.hxx"
#include "core/config/Model.hxx"
#include "core/config/Validate.hxx"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::config {

/** How a key takes part in choosing the connection (popstream.yaml(5), CONNECTION). */
enum class KeyGroup {
	/** Not about the connection. */
	Other,
	/** `server`: the whole connection as one spec. */
	Server,
	/** `host`, `port`, `tls`, `sni`, `user`: the connection key by key. */
	Explicit,
};

/** What account key handlers may need besides the value. */
struct KeyContext {
	/** Where ~ and $VARS in paths are looked up. */
	EnvLookup lookup;
	/** Check that files named by the config (ca_file) can be read. */
	bool check_files = true;
};

/**
 * One key allowed in an account and (unless #account_only) under `defaults:`. To add a
 * key: add its field to pop3::SessionPolicy or pop3::FetchPolicy (core/pop3/Policy.hxx;
 * every hop to the session copies the whole struct) or, for a key of the connection or
 * the scheduler, to Account (Model.hxx); add a row to the table in AccountKeys.cxx,
 * and document it in man/popstream.yaml.5 and config/popstream.yaml.example.
 */
struct AccountKey {
	/** The key as written in the file. */
	std::string_view name;
	/** Which connection keys it excludes; see KeyGroup. */
	KeyGroup group;
	/** true for keys only an account may have (`name`). */
	bool account_only;
	/**
	 * Reads the value into @p account.
	 * @throws ValueError (reported at the value) or LocatedError
	 */
	void (*apply)(const YamlValue &value, const KeyContext &context,
		      Account &account);
	/**
	 * How check-config shows the key's value in @p account, as the file would
	 * write it; nullptr for the keys of the connection, which check-config shows
	 * as a fetch resolves them.
	 * @return the text after "KEY: ", or nullopt where the key has no effect (such
	 *         as delete_after without keep)
	 */
	std::optional<std::string> (*show)(const Account &account);
};

/** @return every account key, in the order of popstream.yaml(5) */
std::span<const AccountKey> AccountKeyTable() noexcept;

/** @return the key named @p name, or nullptr */
const AccountKey *FindAccountKey(std::string_view name) noexcept;

/**
 * @param in_defaults true for the keys allowed under `defaults:`
 * @return the names of the keys allowed there, for "did you mean" hints
 */
std::vector<std::string_view> AccountKeyNames(bool in_defaults);

/**
 * Resets the fields set by the keys of @p group to their built-in defaults, so that an
 * account that sets `server` does not inherit `host` from `defaults:` and vice versa.
 */
void ClearGroup(KeyGroup group, Account &account);

/**
 * @param account an account
 * @return how `popstream check-config` shows `password: {secret: {...}}` (the
 *         attributes, which name the item, never hold the password), or nothing if the
 *         account has none
 */
std::optional<std::string> DescribePasswordSecret(const Account &account);

} // namespace popstream::config
