#include "AccountKeys.hxx"

#include "core/util/Escape.hxx"
#include <algorithm>
#include <cctype>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace popstream::config {

namespace {

std::string Quoted(std::string_view text)
{
	return "\"" + Escape(text, 100) + "\"";
}

/** Expands a path value and requires the result to be absolute: the daemon's working
 * directory is not something a user controls or thinks about. */
std::string AbsolutePath(const YamlValue &value, const KeyContext &context)
{
	const auto text = value.String();
	if (text.empty())
		throw ValueError("empty path");
	auto path = ExpandPath(text, context.lookup);
	if (path.empty() || path.front() != '/')
		throw ValueError(
		    Quoted(path) +
		    " is not an absolute path (start it with /, ~/ or $HOME/)");
	return path;
}

void ApplyName(const YamlValue &value, const KeyContext &, Account &account)
{
	auto name = value.String();
	if (!IsValidAccountName(name))
		throw ValueError("bad account name " + Quoted(name) + " (1 to " +
				 std::to_string(MAX_ACCOUNT_NAME_LENGTH) +
				 " letters, digits, '_' or '-')");
	account.name = std::move(name);
}

void ApplyServer(const YamlValue &value, const KeyContext &, Account &account)
{
	auto server = value.String();
	if (server.empty())
		throw ValueError("empty connection spec");
	CheckServer(server);
	account.server = std::move(server);
}

void ApplyHost(const YamlValue &value, const KeyContext &, Account &account)
{
	account.host = CheckHost(value.String());
}

void ApplyPort(const YamlValue &value, const KeyContext &, Account &account)
{
	account.port = static_cast<std::uint16_t>(value.Integer(1, 65535));
}

void ApplyTls(const YamlValue &value, const KeyContext &, Account &account)
{
	account.tls = ParseTlsMode(value.String());
}

void ApplySni(const YamlValue &value, const KeyContext &, Account &account)
{
	// Empty resets an inherited name: verify against the host again.
	auto name = value.String();
	if (!name.empty())
		CheckTlsName(name);
	account.sni = std::move(name);
}

void ApplyUser(const YamlValue &value, const KeyContext &, Account &account)
{
	// Empty resets an inherited user: netrc login or local user again.
	auto user = value.String();
	if (!user.empty())
		CheckUser(user);
	account.user = std::move(user);
}

void ApplyPasswordCommand(const YamlValue &value, const KeyContext &, Account &account)
{
	account.password_command = value.Command();
}

void ApplyOnNewMail(const YamlValue &value, const KeyContext &, Account &account)
{
	account.on_new_mail = value.Command();
}

std::optional<std::string> ShowOnNewMail(const Account &account)
{
	// Shown only when set: most accounts have none.
	if (account.on_new_mail.empty())
		return std::nullopt;
	// The command runs without a shell, one argument per list element: quoted as a
	// shell would need it, ['notify-send', 'New mail'] cannot be mistaken for
	// ['notify-send', 'New', 'mail'], and an empty argument still shows.
	std::string text;
	for (const auto &arg : account.on_new_mail)
		text += (text.empty() ? "" : " ") + ShellWord(Escape(arg, 200));
	return text;
}

void ApplyOauthTokenCommand(const YamlValue &value, const KeyContext &, Account &account)
{
	// Which methods it goes with is checked per account, by the loader.
	account.oauth_token_command = value.Command();
}

/** One `oauth:` entry's field (every one a string), or nullptr for an unknown name. */
std::string *OAuthField(oauth::Settings &settings, std::string_view name)
{
	if (name == "client_id")
		return &settings.client_id;
	if (name == "client_secret")
		return &settings.client_secret;
	if (name == "tenant")
		return &settings.tenant;
	if (name == "scope")
		return &settings.scope;
	if (name == "token_endpoint")
		return &settings.token_endpoint;
	if (name == "device_endpoint")
		return &settings.device_endpoint;
	if (name == "authorization_endpoint")
		return &settings.authorization_endpoint;
	if (name == "account")
		return &settings.goa_account;
	return nullptr;
}

void ApplyOAuth(const YamlValue &value, const KeyContext &, Account &account)
{
	// Which methods it goes with is checked per account, by the loader.
	oauth::Settings settings;
	bool have_provider = false;
	value.ForEachEntry([&](const std::string &name, const YamlValue &entry) {
		if (name == "provider") {
			const auto provider = oauth::ParseProvider(entry.String());
			if (!provider)
				throw ValueError("unknown provider " +
						 Quoted(entry.String()) +
						 " (microsoft, google, custom or goa)");
			settings.provider = *provider;
			have_provider = true;
			return;
		}
		auto *field = OAuthField(settings, name);
		if (field == nullptr)
			throw ValueError(
			    "unknown key " + Quoted(name) +
			    " (provider, client_id, client_secret, tenant, scope, "
			    "token_endpoint, device_endpoint, authorization_endpoint, "
			    "account)");
		*field = entry.String();
	});
	if (!have_provider)
		throw ValueError("missing provider (microsoft, google, custom or goa)");
	settings = oauth::WithPreset(std::move(settings));
	if (auto problem = oauth::CheckSettings(settings); !problem.empty())
		throw ValueError(problem.substr(problem.find(':') + 2));
	account.oauth = std::move(settings);
}

std::optional<std::string> ShowOAuth(const Account &account)
{
	// Where the tokens come from, never the client secret.
	if (!account.oauth)
		return std::nullopt;
	const auto &s = *account.oauth;
	if (s.provider == oauth::Provider::Goa)
		return "goa, account " + Quoted(s.goa_account);
	std::string text = std::string(oauth::ProviderName(s.provider)) + ", client_id " +
			   Quoted(s.client_id);
	if (!s.tenant.empty())
		text += ", tenant " + Quoted(s.tenant);
	if (!s.client_secret.empty())
		text += ", client_secret set";
	return text + ", token_endpoint " + Escape(s.token_endpoint, 300);
}

void ApplyPassword(const YamlValue &value, const KeyContext &, Account &account)
{
	// Only the Secret Service for now: a map leaves room for other sources without
	// a plain password in the file, which would be the one thing never to allow.
	std::vector<std::pair<std::string, std::string>> attributes;
	if (!value.IsMap())
		throw ValueError("a password is never read from this file; use password: "
				 "{secret: {ATTRIBUTE: VALUE}} (the Secret Service), "
				 "password_command, or netrc");
	value.ForEachEntry([&](const std::string &name, const YamlValue &entry) {
		if (name != "secret")
			throw ValueError(
			    "unknown key " + Quoted(name) +
			    " (secret: the Secret Service attributes to look "
			    "the password up by; a password itself never goes "
			    "into this file)");
		entry.ForEachEntry(
		    [&](const std::string &attribute, const YamlValue &attribute_value) {
			    if (attribute.empty())
				    throw ValueError("empty attribute name");
			    attributes.emplace_back(attribute, attribute_value.String());
		    });
	});
	account.password_secret = std::move(attributes);
}

} // namespace

std::optional<std::string> DescribePasswordSecret(const Account &account)
{
	if (account.password_secret.empty())
		return std::nullopt;
	std::string text = "from the Secret Service item with";
	for (const auto &[attribute, value] : account.password_secret)
		text += " " + Escape(attribute, 100) + "=" + Quoted(value);
	return text;
}

namespace {

void ApplyAuth(const YamlValue &value, const KeyContext &, Account &account)
{
	account.auth = ParseAuth(value.String());
}

void ApplyAllowPlaintext(const YamlValue &value, const KeyContext &, Account &account)
{
	account.allow_plaintext = value.Bool();
}

void ApplyMaildir(const YamlValue &value, const KeyContext &context, Account &account)
{
	account.maildir = AbsolutePath(value, context);
}

void ApplyInterval(const YamlValue &value, const KeyContext &, Account &account)
{
	account.interval = value.Duration(MIN_INTERVAL, MAX_INTERVAL);
}

void ApplyTimeout(const YamlValue &value, const KeyContext &, Account &account)
{
	account.timeout = value.Duration(MIN_TIMEOUT, MAX_TIMEOUT);
}

void ApplyConnectTimeout(const YamlValue &value, const KeyContext &, Account &account)
{
	account.connect_timeout = value.Duration(MIN_CONNECT_TIMEOUT, MAX_TIMEOUT);
}

void ApplyPipelining(const YamlValue &value, const KeyContext &, Account &account)
{
	account.pipelining = ParsePipelining(value.String());
}

void ApplyCaFile(const YamlValue &value, const KeyContext &context, Account &account)
{
	// Empty resets an inherited file: the system store again.
	if (value.String().empty()) {
		account.ca_file.clear();
		return;
	}
	auto path = AbsolutePath(value, context);
	// Checked now so that a typo shows in check-config, not at the first fetch.
	if (context.check_files && access(path.c_str(), R_OK) != 0)
		throw ValueError("cannot read " + Quoted(path) + ": " +
				 std::strerror(errno));
	account.ca_file = std::move(path);
}

/* TLS beyond the CA file (issue 11): pins, the oldest version, a client certificate. */

void ApplyTlsFingerprint(const YamlValue &value, const KeyContext &, Account &account)
{
	// One value or a list; empty resets an inherited pin: CA checks again.
	account.tls_fingerprints.clear();
	value.ForEach([&account](const YamlValue &element) {
		if (element.String().empty())
			return;
		try {
			account.tls_fingerprints.push_back(
			    ParseTlsFingerprint(element.String()));
		} catch (const FingerprintError &e) {
			throw ValueError(e.what());
		}
	});
}

void ApplyTlsMinVersion(const YamlValue &value, const KeyContext &, Account &account)
{
	try {
		account.tls_min_version = ParseTlsVersion(value.String());
	} catch (const TlsVersionError &e) {
		throw ValueError(e.what());
	}
}

/** A readable file named by a TLS key, or empty to reset an inherited one. */
std::string TlsFile(const YamlValue &value, const KeyContext &context)
{
	if (value.String().empty())
		return {};
	auto path = AbsolutePath(value, context);
	if (context.check_files && access(path.c_str(), R_OK) != 0)
		throw ValueError("cannot read " + Quoted(path) + ": " +
				 std::strerror(errno));
	return path;
}

void ApplyTlsCert(const YamlValue &value, const KeyContext &context, Account &account)
{
	account.tls_cert = TlsFile(value, context);
}

void ApplyTlsKey(const YamlValue &value, const KeyContext &context, Account &account)
{
	auto path = TlsFile(value, context);
	// As netrc: a private key others can read is refused, here rather than at the
	// first fetch.
	struct stat st {};
	if (context.check_files && !path.empty() && stat(path.c_str(), &st) == 0 &&
	    (st.st_mode & 077) != 0) {
		char mode[8];
		std::snprintf(mode, sizeof(mode), "%04o",
			      static_cast<unsigned>(st.st_mode & 07777));
		throw ValueError(Quoted(path) +
				 " must not be accessible by group or others (mode " +
				 mode + "); run chmod 600 " + path);
	}
	account.tls_key = std::move(path);
}

/* Shown only when set, as delete_after is only with keep: an account without them
 * reads as before. */

std::optional<std::string> ShowTlsFingerprint(const Account &account)
{
	if (account.tls_fingerprints.empty())
		return std::nullopt;
	std::string text;
	for (const auto &pin : account.tls_fingerprints)
		text += (text.empty() ? "" : ", ") + FormatTlsFingerprint(pin);
	return text + " (replaces the CA, name and date checks)";
}

std::optional<std::string> ShowTlsMinVersion(const Account &account)
{
	if (account.tls_min_version == TlsVersion::Tls1_2)
		return std::nullopt;
	return std::string(TlsVersionName(account.tls_min_version));
}

std::optional<std::string> ShowTlsCert(const Account &account)
{
	if (account.tls_cert.empty())
		return std::nullopt;
	return Escape(account.tls_cert, 1000);
}

std::optional<std::string> ShowTlsKey(const Account &account)
{
	// Where the key is, never what it holds.
	if (account.tls_key.empty())
		return std::nullopt;
	return Escape(account.tls_key, 1000);
}

void ApplyEnabled(const YamlValue &value, const KeyContext &, Account &account)
{
	account.enabled = value.Bool();
}

void ApplyKeep(const YamlValue &value, const KeyContext &, Account &account)
{
	account.keep = value.Bool();
}

void ApplyDeleteAfter(const YamlValue &value, const KeyContext &, Account &account)
{
	// That it needs keep: true is checked per map, by the loader.
	account.delete_after = std::chrono::duration_cast<std::chrono::seconds>(
	    value.Duration(MIN_DELETE_AFTER, MAX_DELETE_AFTER, "never"));
}

void ApplyMaxMessageSize(const YamlValue &value, const KeyContext &, Account &account)
{
	account.max_message_size = value.Size(MIN_SIZE_LIMIT, MAX_SIZE, "no limit");
}

void ApplyOversize(const YamlValue &value, const KeyContext &, Account &account)
{
	account.oversize = ParseOversize(value.String());
}

void ApplyMaxMessagesPerSession(const YamlValue &value, const KeyContext &,
				Account &account)
{
	// 0 (no limit) undoes a limit set under defaults:.
	account.max_messages_per_session =
	    static_cast<std::uint32_t>(value.Integer(0, MAX_MESSAGE_COUNT_LIMIT));
}

void ApplyMaxBytesPerSession(const YamlValue &value, const KeyContext &, Account &account)
{
	account.max_bytes_per_session = value.Size(MIN_SIZE_LIMIT, MAX_SIZE, "no limit");
}

void ApplyCheckpointEvery(const YamlValue &value, const KeyContext &, Account &account)
{
	// One key sets both: a value without a size (or without a number of messages)
	// also clears the one inherited from defaults:.
	const auto checkpoint = value.Checkpoint();
	account.checkpoint_messages = checkpoint.messages;
	account.checkpoint_bytes = checkpoint.bytes;
}

/* check-config's column: each value as the file would write it. */

std::optional<std::string> ShowMaildir(const Account &account)
{
	if (account.maildir.empty())
		return std::nullopt; // the account delivers to its MDA or mbox
	return Escape(account.maildir, 1000);
}

void ApplyMbox(const YamlValue &value, const KeyContext &context, Account &account)
{
	account.mbox = AbsolutePath(value, context);
}

std::optional<std::string> ShowMbox(const Account &account)
{
	if (account.mbox.empty())
		return std::nullopt;
	return Escape(account.mbox, 1000);
}

void ApplyMda(const YamlValue &value, const KeyContext &, Account &account)
{
	auto argv = value.Command();
	CheckMdaPlaceholders(argv);
	account.mda = std::move(argv);
}

std::optional<std::string> ShowMda(const Account &account)
{
	if (account.mda.empty())
		return std::nullopt;
	// As on_new_mail: one shell word per argument, so that boundaries show.
	std::string text;
	for (const auto &arg : account.mda)
		text += (text.empty() ? "" : " ") + ShellWord(Escape(arg, 200));
	return text;
}

std::optional<std::string> ShowInterval(const Account &account)
{
	return FormatDuration(account.interval);
}

std::optional<std::string> ShowTimeout(const Account &account)
{
	return FormatDuration(account.timeout);
}

std::optional<std::string> ShowConnectTimeout(const Account &account)
{
	return FormatDuration(account.connect_timeout);
}

std::optional<std::string> ShowPipelining(const Account &account)
{
	return std::string(PipeliningName(account.pipelining));
}

std::optional<std::string> ShowCaFile(const Account &account)
{
	return account.ca_file.empty() ? "(system store)" : Escape(account.ca_file, 1000);
}

std::optional<std::string> ShowBool(bool value)
{
	return value ? "true" : "false";
}

std::optional<std::string> ShowAuth(const Account &account)
{
	return std::string(pop3::AuthMethodName(account.auth));
}

std::optional<std::string> ShowAllowPlaintext(const Account &account)
{
	return ShowBool(account.allow_plaintext);
}

std::optional<std::string> ShowKeep(const Account &account)
{
	return ShowBool(account.keep);
}

void ApplyReceivedHeader(const YamlValue &value, const KeyContext &, Account &account)
{
	account.received_header = value.Bool();
}

std::optional<std::string> ShowReceivedHeader(const Account &account)
{
	// Shown only when on: most accounts store messages byte for byte.
	if (!account.received_header)
		return std::nullopt;
	return ShowBool(account.received_header);
}

void ApplyAccountHeader(const YamlValue &value, const KeyContext &, Account &account)
{
	// Empty undoes one set under defaults:.
	auto name = value.String();
	if (name.size() > 76)
		throw ValueError("a header field name of " + std::to_string(name.size()) +
				 " characters (at most 76, so that its line fits)");
	for (const char c : name)
		if (c < 0x21 || c > 0x7e || c == ':')
			throw ValueError("a header field name is printable ASCII without "
					 "spaces or ':' (RFC 5322 §2.2), such as "
					 "X-Popstream-Account");
	// A field of RFC 5322 (or MIME) would change what the message says, and the
	// comparison of a message listed again skips fields of this name.
	static constexpr std::string_view reserved[] = {"bcc",
							"cc",
							"comments",
							"content-disposition",
							"content-id",
							"content-transfer-encoding",
							"content-type",
							"date",
							"from",
							"in-reply-to",
							"keywords",
							"message-id",
							"mime-version",
							"received",
							"references",
							"reply-to",
							"resent-bcc",
							"resent-cc",
							"resent-date",
							"resent-from",
							"resent-message-id",
							"resent-sender",
							"resent-to",
							"return-path",
							"sender",
							"subject",
							"to"};
	std::string lower = name;
	for (auto &c : lower)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	if (std::find(std::begin(reserved), std::end(reserved), lower) !=
	    std::end(reserved))
		throw ValueError(Quoted(name) +
				 " is a field of the message itself (RFC 5322); name one "
				 "of your own, such as X-Popstream-Account");
	account.account_header = std::move(name);
}

std::optional<std::string> ShowAccountHeader(const Account &account)
{
	if (account.account_header.empty())
		return std::nullopt;
	return account.account_header;
}

std::optional<std::string> ShowDeleteAfter(const Account &account)
{
	// Without keep, every message is deleted once saved: there is no delay to show.
	if (!account.keep)
		return std::nullopt;
	return account.delete_after.count() == 0 ? "(never)"
						 : FormatDuration(account.delete_after);
}

/** @return a size limit as written in the file, or "(no limit)" for 0 */
std::string SizeLimit(std::uint64_t octets)
{
	return octets == 0 ? "(no limit)" : FormatSize(octets);
}

std::optional<std::string> ShowMaxMessageSize(const Account &account)
{
	return SizeLimit(account.max_message_size);
}

std::optional<std::string> ShowOversize(const Account &account)
{
	// Without a size limit no message is oversize.
	if (account.max_message_size == 0)
		return std::nullopt;
	return std::string(OversizeName(account.oversize));
}

std::optional<std::string> ShowMaxMessagesPerSession(const Account &account)
{
	return account.max_messages_per_session == 0
		   ? "(no limit)"
		   : std::to_string(account.max_messages_per_session);
}

std::optional<std::string> ShowMaxBytesPerSession(const Account &account)
{
	return SizeLimit(account.max_bytes_per_session);
}

std::optional<std::string> ShowCheckpointEvery(const Account &account)
{
	const CheckpointEvery checkpoint{account.checkpoint_messages,
					 account.checkpoint_bytes};
	return checkpoint == CheckpointEvery{}
		   ? "(every 5000 messages, the most one session takes)"
		   : FormatCheckpointEvery(checkpoint);
}

std::optional<std::string> ShowEnabled(const Account &account)
{
	return ShowBool(account.enabled);
}

/* The order of popstream.yaml(5), which check-config follows. */
constexpr AccountKey account_keys[] = {
    {"name", KeyGroup::Other, true, ApplyName, nullptr},
    {"server", KeyGroup::Server, false, ApplyServer, nullptr},
    {"host", KeyGroup::Explicit, false, ApplyHost, nullptr},
    {"port", KeyGroup::Explicit, false, ApplyPort, nullptr},
    {"tls", KeyGroup::Explicit, false, ApplyTls, nullptr},
    {"sni", KeyGroup::Explicit, false, ApplySni, nullptr},
    {"user", KeyGroup::Explicit, false, ApplyUser, nullptr},
    {"password_command", KeyGroup::Other, false, ApplyPasswordCommand, nullptr},
    {"password", KeyGroup::Other, false, ApplyPassword, nullptr},
    {"oauth_token_command", KeyGroup::Other, false, ApplyOauthTokenCommand, nullptr},
    {"oauth", KeyGroup::Other, false, ApplyOAuth, ShowOAuth},
    {"auth", KeyGroup::Other, false, ApplyAuth, ShowAuth},
    {"allow_plaintext", KeyGroup::Other, false, ApplyAllowPlaintext, ShowAllowPlaintext},
    {"maildir", KeyGroup::Other, false, ApplyMaildir, ShowMaildir},
    {"mda", KeyGroup::Other, false, ApplyMda, ShowMda},
    {"mbox", KeyGroup::Other, false, ApplyMbox, ShowMbox},
    {"received_header", KeyGroup::Other, false, ApplyReceivedHeader, ShowReceivedHeader},
    {"account_header", KeyGroup::Other, false, ApplyAccountHeader, ShowAccountHeader},
    {"interval", KeyGroup::Other, false, ApplyInterval, ShowInterval},
    {"timeout", KeyGroup::Other, false, ApplyTimeout, ShowTimeout},
    {"connect_timeout", KeyGroup::Other, false, ApplyConnectTimeout, ShowConnectTimeout},
    {"pipelining", KeyGroup::Other, false, ApplyPipelining, ShowPipelining},
    {"ca_file", KeyGroup::Other, false, ApplyCaFile, ShowCaFile},
    {"tls_fingerprint", KeyGroup::Other, false, ApplyTlsFingerprint, ShowTlsFingerprint},
    {"tls_min_version", KeyGroup::Other, false, ApplyTlsMinVersion, ShowTlsMinVersion},
    {"tls_cert", KeyGroup::Other, false, ApplyTlsCert, ShowTlsCert},
    {"tls_key", KeyGroup::Other, false, ApplyTlsKey, ShowTlsKey},
    {"keep", KeyGroup::Other, false, ApplyKeep, ShowKeep},
    {"delete_after", KeyGroup::Other, false, ApplyDeleteAfter, ShowDeleteAfter},
    {"max_message_size", KeyGroup::Other, false, ApplyMaxMessageSize, ShowMaxMessageSize},
    {"oversize", KeyGroup::Other, false, ApplyOversize, ShowOversize},
    {"max_messages_per_session", KeyGroup::Other, false, ApplyMaxMessagesPerSession,
     ShowMaxMessagesPerSession},
    {"max_bytes_per_session", KeyGroup::Other, false, ApplyMaxBytesPerSession,
     ShowMaxBytesPerSession},
    {"checkpoint_every", KeyGroup::Other, false, ApplyCheckpointEvery,
     ShowCheckpointEvery},
    {"on_new_mail", KeyGroup::Other, false, ApplyOnNewMail, ShowOnNewMail},
    {"enabled", KeyGroup::Other, false, ApplyEnabled, ShowEnabled},
};

} // namespace

std::span<const AccountKey> AccountKeyTable() noexcept
{
	return account_keys;
}

const AccountKey *FindAccountKey(std::string_view name) noexcept
{
	for (const auto &key : account_keys)
		if (key.name == name)
			return &key;
	return nullptr;
}

std::vector<std::string_view> AccountKeyNames(bool in_defaults)
{
	std::vector<std::string_view> names;
	for (const auto &key : account_keys)
		if (!in_defaults || !key.account_only)
			names.push_back(key.name);
	return names;
}

void ClearGroup(KeyGroup group, Account &account)
{
	const Account defaults;
	switch (group) {
	case KeyGroup::Other:
		break;
	case KeyGroup::Server:
		account.server = defaults.server;
		break;
	case KeyGroup::Explicit:
		account.host = defaults.host;
		account.port = defaults.port;
		account.tls = defaults.tls;
		account.sni = defaults.sni;
		account.user = defaults.user;
		break;
	}
}

} // namespace popstream::config
