#pragma once

#include "core/oauth/Settings.hxx"

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace popstream::oauth {
class GrantStore;
} // namespace popstream::oauth

namespace popstream::cli {

/** Arguments of `oauth login` and `oauth logout`, as typed. */
struct OAuthArgs {
	/** A daemon account's name or a dl SPEC. */
	std::string target;
	/** --no-browser: paste the redirected URL instead of a loopback redirect. */
	bool no_browser = false;
	/** --qr auto (when stdout is a terminal), always or never. */
	std::string qr = "auto";
	/** The provider flags, for a SPEC only (a daemon account has `oauth:`). */
	std::string provider, client_id, client_secret_command, tenant, scope,
	    token_endpoint, device_endpoint, authorization_endpoint;
	/** --ca-file: the CAs that sign the endpoints' certificates. */
	std::string ca_file;
	/** --config: the popstreamd configuration to find ACCOUNT in; empty = the
	 * default (config::DefaultConfigPath()). */
	std::string config_path;
};

/** A daemon account that uses OAuth 2.0, as `oauth login ACCOUNT` needs it. */
struct OAuthAccount {
	/** Its name in the config, which is also its grant key. */
	std::string name;
	/** Its `oauth:` settings, as written (WithPreset() is applied here). */
	oauth::Settings settings;
	/** Its `ca_file`, or empty for the system store. */
	std::string ca_file;
};

/** What `oauth login` and `oauth logout` need from outside the command line. */
struct OAuthContext {
	/**
	 * @return the daemon account named @p word, or nothing if there is none of
	 *         that name (then @p word is a SPEC); may be empty: no accounts
	 * @throws std::exception (one line) if the config cannot be read
	 */
	std::function<std::optional<OAuthAccount>(const std::string &word)> find_account;
	/** Opens the store the grant is saved in (the Secret Service, else a file).
	 * @throws std::exception (one line) */
	std::function<std::unique_ptr<oauth::GrantStore>()> open_store;
};

/**
 * Adds `oauth` with its subcommands `login` and `logout` to @p app, storing into
 * @p args (which must outlive it).
 *
 * @return the `oauth` subcommand; RunOAuth() tells login from logout
 */
CLI::App *AddOAuth(CLI::App &app, OAuthArgs &args);

/**
 * Runs `oauth login` or `oauth logout`, whichever @p oauth got.
 *
 * login: finds the account (OAuthContext::find_account) or resolves the SPEC as dl
 * does (its key is "dl-" + user@host:port, oauth::GrantKeyForSpec()), with the
 * provider flags; runs the device grant, or the authorization code grant with PKCE
 * and a loopback redirect (--no-browser: a pasted URL), talking to the user on
 * stdout; saves the refresh token with what is needed to use it
 * (oauth::SerializeGrant()) and says where. The client secret comes from
 * --client-secret-command, never from argv.
 *
 * logout: removes the stored grant, saying from where (nothing stored is not an
 * error).
 *
 * @return the exit status: 0 signed in / removed; 64 bad flags or a SPEC without
 *         --provider or --client-id; 78 unusable settings, a failing client secret
 *         command, a provider that refuses the client (invalid_client,
 *         invalid_scope...) or that issues no refresh token; 77 the user declined
 *         or the code was refused; 75 the code expired; 69 an endpoint cannot be
 *         reached; 76 an answer that breaks the protocol; 73 the store cannot be
 *         opened or written. Errors are one line on stderr:
 *         "PROGRAM: oauth login: MESSAGE".
 */
int RunOAuth(CLI::App &oauth, const OAuthArgs &args, const OAuthContext &context,
	     const std::string &program, std::ostream &out, std::istream &in);

} // namespace popstream::cli
