#pragma once

#include "Credentials.hxx"
#include "core/config/Model.hxx"

namespace popstream {

/**
 * The password of an account with `password: {secret: {...}}`: the Secret Service item
 * with those attributes (secret::LookupSecret(), as `secret-tool lookup` finds it). It
 * blocks on D-Bus for up to secret::default_secret_timeout, and may make the keyring
 * ask the user to unlock it; run it off the loop.
 *
 * @param account an account whose Account::password_secret is not empty
 * @return the lookup: the password, never empty, without CR, LF or NUL
 * @throws (from the lookup) CredentialError (ExitCode::Config), its message starting
 *         with `account "NAME": `: no Secret Service, a keyring that stays locked, no
 *         such item (CredentialError::NoPassword()), or a secret POP3 cannot send;
 *         never the secret itself
 */
PasswordLookup SecretServicePassword(const config::Account &account);

/**
 * The access token of an account with `oauth: {provider: goa, account: ID}`, from
 * GNOME Online Accounts (secret::GoaAccessToken(), which refreshes it itself). Blocks
 * on D-Bus for up to 25 s; run it off the loop.
 *
 * @param account an account whose Account::oauth names provider goa
 * @return the lookup: the token
 * @throws (from the lookup) CredentialError starting with `account "NAME": `:
 *         ExitCode::NoPerm when GOA says the account needs the user to sign in again
 *         (the daemon then waits in state auth-needed), ExitCode::TempFail when GOA
 *         is not on the bus or did not answer, ExitCode::Config for no such account
 *         or one without OAuth 2.0
 */
PasswordLookup GoaToken(const config::Account &account);

} // namespace popstream
