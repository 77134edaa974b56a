#pragma once

#include "ConfigError.hxx"
#include "core/config/Model.hxx"
#include "core/config/Validate.hxx"

#include <cstddef>
#include <string>
#include <string_view>

namespace popstream::config {

/** Most messages one ConfigError carries; the rest are counted in a last line. Past a
 * few dozen, the first ones are what the user needs to fix. */
inline constexpr std::size_t MAX_ERRORS = 20;

/** Largest config file read: a few hundred accounts fit in a few dozen KiB. */
inline constexpr std::size_t MAX_CONFIG_SIZE = 1024 * 1024;

/** Inputs to LoadConfig() that normally come from the process; tests set them. */
struct LoadOptions {
	/** Where ~ and $VARS are looked up; empty = ProcessEnvironment(). */
	EnvLookup lookup;
	/** Check that every ca_file can be read (false: only the path is checked). */
	bool check_files = true;
};

/**
 * @return a lookup in the process environment (getenv), where an unset or empty HOME
 *         falls back on the home directory of the effective user's passwd entry
 */
EnvLookup ProcessEnvironment();

/**
 * @return `$XDG_CONFIG_HOME/popstream/config.yaml`, or `$HOME/.config/popstream/
 *         config.yaml` when XDG_CONFIG_HOME is unset, empty or relative (XDG Base
 *         Directory Specification); the home falls back on the passwd entry
 * @throws ConfigError if there is no home directory
 */
std::string DefaultConfigPath();

/**
 * Reads and checks a config file (popstream.yaml(5)) and applies `defaults:`, built-in
 * defaults and path expansion. An account whose `keep` is false has a `delete_after`
 * of 0, whatever it inherited.
 *
 * @param path the file
 * @param options environment lookup and file checks
 * @return the config; Config::path is @p path; accounts in file order, each with
 *         Account::where set
 * @throws ConfigError with one message per problem (at most MAX_ERRORS plus a count):
 *         the file cannot be read or is over MAX_CONFIG_SIZE, a YAML syntax error
 *         (with yaml-cpp's position made 1-based), more than one document, an
 *         unknown key (with the nearest valid key suggested), a duplicate key, a
 *         value of the wrong type or content (bad duration, bad spec, unknown enum
 *         value, relative path, unset variable...), `server` together with an
 *         explicit connection key in one map, `delete_after` in a map where `keep`
 *         is not true, a missing or duplicate account name, an account without
 *         `server`/`host` or without `maildir`, or no accounts
 */
Config LoadConfig(const std::string &path, const LoadOptions &options = {});

/**
 * LoadConfig() on text already read.
 *
 * @param text the YAML document
 * @param path the file name to use in marks and messages
 * @param options environment lookup and file checks
 * @throws ConfigError as LoadConfig()
 */
Config ParseConfig(std::string_view text, const std::string &path,
		   const LoadOptions &options = {});

} // namespace popstream::config
