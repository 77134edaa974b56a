#pragma once

#include "Credentials.hxx"
#include "core/config/Model.hxx"

namespace popstream {

/**
 * Turns a config account (popstream.yaml(5)) into what a fetch needs.
 *
 * - With `server`, the spec is resolved by ResolveCredentials(std::string_view, ...):
 *   a netrc account of that name first, then the spec grammar, the user from the
 *   spec, netrc `login` or the local user, exactly as for `popstream dl`.
 * - Otherwise `host`, `port`, `tls`, `sni` and `user` give the connection, and a user
 *   left out is looked up as for a spec (netrc `login` for `host:port`, then `host`,
 *   then the local user). `tls: starttls` gives Credentials::tls false
 *   and Credentials::starttls true (a cleartext connection that STLS upgrades).
 * - The password comes from `password_command` (RunPasswordCommand(), which blocks
 *   for up to PASSWORD_COMMAND_TIMEOUT) or, without one, from netrc by the rules of
 *   ResolveCredentials() (machine `user@host:port`, then `host`, then `default`).
 *
 * @param account an account from LoadConfig()
 * @param options where the netrc file is and who the local user is;
 *        CredentialOptions::need_password is ignored (set from the account)
 * @return complete credentials with a non-empty password
 * @throws CredentialError (ExitCode::Config) whose message starts with
 *         `account "NAME": ` for a spec that does not parse, every netrc problem of
 *         ResolveCredentials(), and every password command failure; no message holds
 *         a password or the command's output
 */
Credentials ResolveAccountCredentials(const config::Account &account,
				      const CredentialOptions &options = {});

/**
 * ResolveAccountCredentials() in two halves: the connection and the user now, the
 * password when the returned lookup is called (after connecting, so that a server
 * that cannot be reached runs no `password_command` and reads no secret). The lookup
 * runs `password_command`, blocking for up to PASSWORD_COMMAND_TIMEOUT, or looks in
 * the netrc file as read by this call.
 *
 * @param account an account from LoadConfig()
 * @param options where the netrc file is and who the local user is;
 *        CredentialOptions::need_password is ignored
 * @return the credentials with an empty password, and the lookup, which throws what
 *         ResolveAccountCredentials() throws for the password (netrc messages start
 *         with `account "NAME": `); with `oauth_token_command`, also the token
 *         lookup, which runs it (RunSecretCommand(), "token command")
 * @throws CredentialError (ExitCode::Config) as ResolveAccountCredentials() does,
 *         except for password problems
 */
PendingCredentials ResolveAccountDeferred(const config::Account &account,
					  const CredentialOptions &options = {});

/**
 * ResolveAccountCredentials() without the password: where to connect and as whom.
 * It never runs `password_command` and needs no netrc file (it reads one if there is
 * one, for netrc accounts and logins), so `popstream check-config` can show what an
 * account resolves to without touching any secret.
 *
 * @param account an account from LoadConfig()
 * @param options where the netrc file is and who the local user is;
 *        CredentialOptions::need_password is ignored (always false)
 * @return the credentials with an empty password
 * @throws CredentialError as ResolveAccountCredentials(), except for password problems:
 *         ExitCode::Usage (with the account name) if `server` is neither a spec nor
 *         the `account` of a netrc entry, ExitCode::Config for an unsafe or malformed
 *         netrc file or an unknown local user
 */
Credentials ResolveAccountConnection(const config::Account &account,
				     const CredentialOptions &options = {});

} // namespace popstream
