#pragma once

#include "core/netrc/Netrc.hxx"
#include "core/spec/ConnectionSpec.hxx"
#include "core/util/ExitCode.hxx"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace popstream {

/**
 * A connection spec or netrc file that cannot give a usable account. what() is one
 * line and never contains a password.
 */
class CredentialError : public std::runtime_error {
	ExitCode code_;
	bool no_password_;

public:
	/**
	 * @param _code ExitCode::Usage for a bad spec on the command line,
	 *        ExitCode::Config for netrc problems
	 * @param message the one-line message
	 * @param _no_password see NoPassword()
	 */
	CredentialError(ExitCode _code, const std::string &message,
			bool _no_password = false)
	    : std::runtime_error(message), code_(_code), no_password_(_no_password)
	{
	}

	/** @return the exit status this error should end the program with */
	ExitCode Code() const noexcept { return code_; }

	/** @return true if the error only says that no password was found (no netrc
	 * file, no entry for the account, an entry without `password`), so that asking
	 * the user is a fair way on; false if a source is broken or unsafe */
	bool NoPassword() const noexcept { return no_password_; }
};

/** Everything needed to connect to and log in to one POP3 account. */
struct Credentials {
	/** true for implicit TLS, false for a cleartext connection (which #starttls may
	 * upgrade). */
	bool tls = true;

	/** Only with #tls false: upgrade the connection with STLS (RFC 2595 §4) before
	 * USER and refuse to log in without it (fetch::FetchOptions::starttls). Set by a
	 * `starttls:` connection spec and by config accounts with `tls: starttls`. */
	bool starttls = false;

	/** The host to connect to (DNS name or IP address, IPv6 without brackets). */
	std::string host;

	/** The TCP port. */
	std::uint16_t port = 0;

	/** The name for SNI and the certificate check; empty = #host. */
	std::string tls_name;

	/** The POP3 user; never empty, never contains control characters. */
	std::string user;

	/** The POP3 password; never empty, never contains CR, LF or NUL. Must not be
	 * logged or put into any message. */
	std::string password;

	/** The OAuth 2.0 access token for XOAUTH2 / OAUTHBEARER (RFC 7628), once a
	 * token source has found it; empty otherwise. As secret as #password. */
	std::string token;

	/** @return #tls_name, or #host if it is empty: the name to send as SNI and to
	 * verify the certificate against */
	const std::string &VerifyName() const noexcept
	{
		return tls_name.empty() ? host : tls_name;
	}

	/** @return `user@host:port` (IPv6 hosts in brackets), the account's name in
	 * every log line; it never contains the password */
	std::string Label() const;
};

/**
 * Looks up one account's password when the login needs it. It may block (a password
 * command runs for up to PASSWORD_COMMAND_TIMEOUT), and may be called from another
 * thread than the one that made it.
 *
 * @return the password: not empty, no CR, LF or NUL
 * @throws CredentialError (ExitCode::Config) with a one-line message that holds no
 *         password; CredentialError::NoPassword() tells "none found" from "broken"
 */
using PasswordLookup = std::function<std::string()>;

/** An account resolved up to its password, which is looked up later (after the
 * connection is up, so that an unreachable server costs no secret). */
struct PendingCredentials {
	/** Everything but the password: Credentials::password is empty. */
	Credentials account;
	/** Finds the password; never empty. */
	PasswordLookup password;
	/** Finds the OAuth 2.0 access token (`oauth_token_command`), with the same
	 * contract; empty when the account has no token command. */
	PasswordLookup token;
};

/** Inputs to ResolveCredentials() that normally come from the process environment;
 * tests set them to stay away from the real home directory. */
struct CredentialOptions {
	/** The netrc file to read; empty = NetrcPath(). */
	std::string netrc_path;

	/** The user name to fall back on; empty = LocalUserName(). */
	std::string local_user;

	/** false: the caller supplies the password (password_command), so none is looked
	 * up, a missing netrc file is no error, and Credentials::password stays empty. */
	bool need_password = true;
};

/**
 * @return `$NETRC` if set and not empty, else `$HOME/.netrc`, with the home taken from
 *         getpwuid(geteuid()) when `$HOME` is unset or empty
 * @throws CredentialError (Config) if no home directory can be found
 */
std::string NetrcPath();

/**
 * @return the login name of the effective user, from getpwuid(geteuid())
 * @throws CredentialError (Config) if the effective uid has no passwd entry
 */
std::string LocalUserName();

/**
 * Reads and parses a netrc file (netrc(5)), refusing it, as ftp(1) does, unless it is
 * owned by the effective user and has no group or other permission bits (mode & 077).
 * Regular files and pipes (e.g. `NETRC=<(pass show netrc)`) are accepted.
 *
 * @param path the file
 * @return the parsed file
 * @throws CredentialError (Config) if it cannot be opened or read, is too large
 *         (over 1 MiB), is not a regular file or pipe, has the wrong owner or mode, or
 *         does not parse (the message then names the line)
 */
Netrc LoadNetrcFile(const std::string &path);

/**
 * Turns a command-line account argument into credentials, following cs.pop3's rules
 * for `[{ssl,tcp,starttls}:]{netrc_account|[user@]host[!sni_name][:port]}`:
 *
 * 1. The scheme prefix is removed. If the rest equals the `account` value of a
 *    netrc entry, that entry's `machine`, parsed as a connection spec, says where to
 *    connect; its user defaults to the entry's `login`; its SNI name defaults to the
 *    host part of the `account` value (after the last '@', or all of it). A prefix on
 *    the command line wins over one in the `machine`.
 * 2. Otherwise the argument is parsed as a connection spec (ParseConnectionSpec()).
 * 3. Without a user from the above, the user is the `login` of the first entry for
 *    machine `host:port`, else `host`, else the local user.
 * 4. The password comes from the first entry for machine `user@host:port` (port
 *    always written; host = the TCP host, IPv6 in brackets); else from the first
 *    entry for machine `host`, else the first `default`, skipping for these two any
 *    entry whose `login` names another user.
 *
 * The netrc file is only required once a password is looked up, so that a missing
 * file is reported together with the account that needed it. With
 * CredentialOptions::need_password false, step 4 is skipped.
 *
 * @param spec the argument as typed
 * @param options where the netrc file is and who the local user is
 * @return complete credentials with a non-empty password
 * @throws CredentialError with ExitCode::Usage if @p spec is malformed, or
 *         ExitCode::Config if the netrc file is missing, unreadable, badly owned, group-
 *         or world-accessible or malformed, if no entry gives a password, if the chosen
 *         entry has no or an empty password, if a user or password contains characters
 *         POP3 cannot send, or if the local user cannot be found
 */
Credentials ResolveCredentials(std::string_view spec,
			       const CredentialOptions &options = {});

/**
 * ResolveCredentials() in two halves: steps 1 to 3 now, step 4 when the returned
 * lookup is called. The lookup works on the netrc file as read by this call (a pipe
 * from a password manager can be read only once), and throws what ResolveCredentials()
 * throws for the password, with CredentialError::NoPassword() set for a missing netrc
 * file, no matching entry and an entry without `password`.
 *
 * @param spec the argument as typed
 * @param options where the netrc file is and who the local user is;
 *        CredentialOptions::need_password is ignored
 * @return the credentials without a password, and the lookup
 * @throws CredentialError as ResolveCredentials() does, except for password problems
 */
PendingCredentials ResolveDeferred(std::string_view spec,
				   const CredentialOptions &options = {});

/**
 * ResolveDeferred() for a spec that is already parsed (explicit `host:`, `port:`...
 * keys of the config file): steps 3 and 4 only.
 *
 * @param connection where to connect; an empty user is looked up as in step 3
 * @param options where the netrc file is and who the local user is;
 *        CredentialOptions::need_password is ignored
 * @return the credentials without a password, and the lookup
 * @throws CredentialError (Config) as ResolveCredentials() does for netrc problems
 */
PendingCredentials ResolveDeferred(const ConnectionSpec &connection,
				   const CredentialOptions &options = {});

/**
 * ResolveCredentials() for a spec that is already parsed (explicit `host:`, `port:`...
 * keys of the config file): steps 3 and 4 only, since it names no netrc account.
 *
 * @param connection where to connect; an empty user is looked up as in step 3
 * @param options where the netrc file is and who the local user is
 * @return complete credentials; the password is empty when
 *         CredentialOptions::need_password is false
 * @throws CredentialError (Config) as ResolveCredentials() does for netrc problems
 */
Credentials ResolveCredentials(const ConnectionSpec &connection,
			       const CredentialOptions &options = {});

} // namespace popstream
