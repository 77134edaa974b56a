#pragma once

#include "core/oauth/Settings.hxx"
#include "core/pop3/Policy.hxx"
#include "core/spec/TlsOptions.hxx"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace popstream::config {

/** Where a value came from, for messages in the form FILE:LINE:COLUMN (1-based). */
struct Mark {
	std::string file;
	/** 1-based; 0 = unknown (then ToString() gives only the file). */
	unsigned line = 0;
	/** 1-based; 0 = unknown. */
	unsigned column = 0;
	/** @return "FILE:LINE:COLUMN", or "FILE" when the line is unknown */
	std::string ToString() const;
};

/** How the connection is secured. */
enum class TlsMode {
	/** TLS from the first byte (POP3S, port 995). */
	Implicit,
	/** Cleartext, then STLS (RFC 2595 §4) before login; no login without it. */
	StartTls,
	/** Cleartext throughout (port 110). */
	None,
};

/**
 * @param mode a TLS mode
 * @return its name in the config file: "implicit", "starttls" or "none"
 */
std::string_view TlsModeName(TlsMode mode) noexcept;

/**
 * @param pipelining a pipelining policy
 * @return its name in the config file and on the command line: "auto", "on" or "off"
 */
std::string_view PipeliningName(pop3::Pipelining pipelining) noexcept;

/** What to do with a message larger than max_message_size (`oversize:`). */
using Oversize = pop3::Oversize;

/**
 * @param oversize an oversize policy
 * @return its name in the config file: "skip" or "delete"
 */
std::string_view OversizeName(Oversize oversize) noexcept;

/**
 * One account of the daemon, with defaults applied and paths expanded
 * (popstream.yaml(5)). Connection: either #server is set (and #host, #port, #sni and
 * #user are empty or 0, #tls is Implicit), or #host is set. What a fetch does with the
 * mailbox (keep, limits, pipelining...) is its pop3::FetchPolicy, handed on whole.
 */
struct Account : pop3::FetchPolicy {
	/** Unique, [A-Za-z0-9_-]+; names the D-Bus object and the state directory. */
	std::string name;
	/** The connection spec as written (`server:`), or empty if the explicit keys were
	 * used. A spec naming a netrc account is resolved when the account is fetched. */
	std::string server;
	/** Explicit connection keys (used when `server` is empty). #host never has
	 * brackets, even for an IPv6 address. */
	std::string host;
	/** The TCP port; with #host always set (995 for Implicit, 110 otherwise, unless
	 * written); 0 when #server is used. */
	std::uint16_t port = 0;
	/** How the connection is secured (explicit keys only). */
	TlsMode tls = TlsMode::Implicit;
	/** TLS server name (SNI and certificate check); empty = #host. */
	std::string sni;
	/** POP3 user; empty = the netrc `login` for the host, else the local user. */
	std::string user;
	/** argv of `password_command` (run without a shell; first line of stdout), or
	 * empty to use netrc. */
	std::vector<std::string> password_command;
	/** argv of `oauth_token_command`, run like #password_command; its first line is
	 * the OAuth 2.0 access token for XOAUTH2 / OAUTHBEARER (RFC 7628). Empty = no
	 * token. */
	std::vector<std::string> oauth_token_command;
	/** `oauth:`, after oauth::WithPreset() and oauth::CheckSettings(): the tokens
	 * for XOAUTH2 / OAUTHBEARER come from the refresh token that `popstream oauth
	 * login` stored (or from GNOME Online Accounts). Nothing = none; never set
	 * together with #oauth_token_command. */
	std::optional<oauth::Settings> oauth;
	/** `password: {secret: {ATTRIBUTE: VALUE...}}`: the password is the Secret
	 * Service item with these attributes (as `secret-tool lookup` finds it), in
	 * file order. Empty = `password_command` or netrc. */
	std::vector<std::pair<std::string, std::string>> password_secret;
	/** Maildir path, with ~ and $VARS expanded. */
	std::string maildir;
	/** argv of `mda`: each message goes to this command on its standard input
	 * instead of into #maildir (which is then empty); `%a`, `%u`, `%F` and `%%`
	 * are expanded when it runs. Empty = the Maildir. */
	std::vector<std::string> mda;
	/** `mbox`: each message is appended to this mbox file (~ and $VARS expanded)
	 * instead of #maildir (which is then empty). Empty = the Maildir or #mda. */
	std::string mbox;
	/** `received_header`: a `Received:` trace field at the top of each message. */
	bool received_header = false;
	/** `account_header`: the name of a field holding the account's name at the top
	 * of each message (RFC 5322 §2.2 field-name); empty = none. */
	std::string account_header;
	/** argv of `on_new_mail`, run without a shell after a fetch that saved mail
	 * (fetch/NewMailHook.hxx); empty = none. */
	std::vector<std::string> on_new_mail;
	/** Time between two fetches (10 s to 7 days, see Validate.hxx). */
	std::chrono::milliseconds interval{std::chrono::minutes(5)};
	/** Idle timeout of the connection (5 s to 1 h). */
	std::chrono::milliseconds timeout{std::chrono::seconds(180)};
	/** How long connecting (DNS, TCP, TLS) and then the server's greeting may take
	 * (1 s to 1 h): a server that accepts and never greets must not hold a fetch
	 * slot for the whole idle #timeout. */
	std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
	/** PEM CA file, expanded; empty = system store. */
	std::string ca_file;

	/* TLS beyond the CA file (issue 11): connection keys, not policy. */
	/** `tls_fingerprint`: pinned leaf certificates or public keys; when not empty
	 * they replace the CA, name and date checks. */
	std::vector<TlsFingerprint> tls_fingerprints;
	/** `tls_min_version`: the oldest TLS version accepted. */
	TlsVersion tls_min_version = TlsVersion::Tls1_2;
	/** `tls_cert`, `tls_key`: a PEM client certificate and its unencrypted key,
	 * expanded; empty = none. */
	std::string tls_cert, tls_key;
	/** @return #ca_file and the keys above, as the connection takes them */
	TlsOptions Tls() const
	{
		return {ca_file, tls_fingerprints, tls_min_version, tls_cert, tls_key};
	}
	/** false: checked and shown, never fetched. */
	bool enabled = true;

	/** Where the account's entry starts in the file. */
	Mark where;

	/** @return the settings a fetch applies, to be handed on in one assignment */
	const pop3::FetchPolicy &Policy() const noexcept { return *this; }
};

/** A whole configuration file. */
struct Config {
	/** The file it was read from, as given to LoadConfig(). */
	std::string path;
	/** Most accounts fetched at the same time (1 to 64). */
	unsigned max_concurrent = 4;
	/** The accounts, in file order. */
	std::vector<Account> accounts;
};

} // namespace popstream::config
