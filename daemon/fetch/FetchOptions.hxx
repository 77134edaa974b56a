#pragma once

#include "core/pop3/Policy.hxx"
#include "core/util/ExitCode.hxx"
#include "fetch/Credentials.hxx"
#include "fetch/TlsSessionCache.hxx"
#include "net/Connection.hxx"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace popstream::fetch {

/** What a PasswordSource found (a password, or a token for a token source). */
struct PasswordAnswer {
	/** The secret: not empty, no CR, LF or NUL; nothing if there is none. */
	std::optional<std::string> password;
	/** Without a password: how the fetch ends (ExitCode::Config when none was
	 * found) and why, in one line that holds no secret. */
	ExitCode code = ExitCode::Config;
	std::string error;
};

/**
 * Looks up the password of a fetch's account when the login needs it. It must not
 * throw, and must call @p answer exactly once: before it returns (netrc, a prompt on
 * the terminal) or later from the loop thread (a password command on the thread
 * pool). An answer that comes after the job has ended or been destroyed is dropped.
 */
using PasswordSource = std::function<void(std::function<void(PasswordAnswer)> answer)>;

/** What one fetch of one account should do. */
struct FetchOptions {
	/** Where to connect and how to log in; from ResolveCredentials(). The password
	 * may be left empty for #password_source to find. */
	Credentials account;
	/** Asked once per fetch, when the first connection is up (after TLS) and before
	 * the greeting is handled, so that a server that cannot be reached costs no
	 * secret and a server never sees a login that cannot be finished; the password
	 * serves every session of the fetch. Empty: account.password is used. */
	PasswordSource password_source;
	/** Finds the OAuth 2.0 access token (dl --token-command, `oauth_token_command`)
	 * as #password_source finds the password, at the same moment; its answer's
	 * `password` is the token. Only the secret the login method uses is asked for
	 * (NeededSecret()); empty: account.token is used. */
	PasswordSource token_source;
	/** Asked at most once per fetch, when the server refused a login with the token
	 * (pop3::ErrorKind::Auth before the listing): drops the rejected token and finds
	 * a fresh one (for `oauth:`, a refresh-token grant, RFC 6749 §6), and the login
	 * is tried again on a new connection. An access token may be revoked or expire
	 * early, which only the server can tell. Empty: the refusal ends the fetch. */
	PasswordSource token_renewal;
	/** The SASL mechanisms and the APOP digest (auth::MakeAuthProvider()), shared by
	 * the sessions; nullptr = USER/PASS only (RFC 1939 §7). */
	std::shared_ptr<const pop3::AuthProvider> auth_provider;
	/** The Maildir to deliver into (created if missing); unused with #mda. */
	std::string maildir;
	/** Set: each message goes to this MDA (RunMda()), `%a` and `%u` already
	 * expanded, and is staged in STATE_DIR/mda-spool, which needs #state_dir. */
	std::vector<std::string> mda;
	/** Set: each message is appended to this mbox (store::MboxAppender), staged in
	 * STATE_DIR/mbox-spool, which needs #state_dir; unused: #maildir or #mda. */
	std::string mbox;
	/** popstream.yaml(5) `received_header` and `account_header` (AddedHeaders.hxx):
	 * a `Received:` field, and a field of this name holding #account_name, at the
	 * top of each message; off and empty by default (stored byte for byte). */
	bool received_header = false;
	std::string account_header;
	/** The configured account's name (empty for dl SPEC). */
	std::string account_name;
	/** What to do with the mailbox: the account's settings (config::Account), or
	 * dl's flags. */
	pop3::FetchPolicy policy;
	/** Log in and list only. */
	bool dry_run = false;
	/** The account's journal and lock (StateDir()); empty = remember saves in
	 * memory for this run only. */
	std::string state_dir;
	/** Cleartext connection secured with STLS before login (RFC 2595); needs
	 * account.tls == false. */
	bool starttls = false;
	/** How the server is authenticated (CA file or pinned fingerprints, the oldest
	 * TLS version) and the client certificate, if any; paths expanded. */
	TlsOptions tls;
	/** The account's saved TLS session: offered on each TLS connection of the fetch
	 * (under the key of TlsSessionKey()), replaced after each handshake, dropped
	 * after a failed one. The daemon keeps one per account between polls, `dl` one
	 * backed by STATE_DIR/tls-session. nullptr = always a full handshake. */
	std::shared_ptr<TlsSessionCache> tls_sessions;
	net::Timeouts timeouts;
	/** Log every command sent (the PASS argument redacted) and every message saved.
	 */
	bool verbose = false;
};

} // namespace popstream::fetch
