#include "Common.hxx"

#include "core/config/Validate.hxx"
#include "core/spec/TlsFingerprint.hxx"

#include <algorithm>
#include <cctype>
#include <chrono>

namespace popstream::importer {

std::string_view ToolName(Tool tool) noexcept
{
	switch (tool) {
	case Tool::Fetchmail:
		return "fetchmail";
	case Tool::Getmail:
		return "getmail";
	case Tool::Mpop:
		return "mpop";
	}
	return "?";
}

std::optional<Tool> ParseToolName(std::string_view name) noexcept
{
	for (const auto tool : {Tool::Fetchmail, Tool::Getmail, Tool::Mpop})
		if (ToolName(tool) == name)
			return tool;
	return std::nullopt;
}

std::string GetmailAccountName(std::string_view path)
{
	std::string_view name = path.substr(path.rfind('/') + 1);
	while (!name.empty() && name.front() == '.')
		name.remove_prefix(1);
	constexpr std::string_view rc = "getmailrc";
	if (name.starts_with(rc)) {
		name.remove_prefix(rc.size());
		if (!name.empty() &&
		    (name.front() == '-' || name.front() == '.' || name.front() == '_'))
			name.remove_prefix(1);
	} else if (name.ends_with(rc)) {
		name.remove_suffix(rc.size());
		if (!name.empty() &&
		    (name.back() == '-' || name.back() == '.' || name.back() == '_'))
			name.remove_suffix(1);
	}
	return name.empty() ? "getmail" : std::string(name);
}

Imported Import(Tool tool, std::string_view text, std::string_view path,
		std::string_view local_user)
{
	switch (tool) {
	case Tool::Fetchmail:
		return ParseFetchmailrc(text, local_user);
	case Tool::Getmail:
		return ParseGetmailrc(text, GetmailAccountName(path));
	case Tool::Mpop:
		break;
	}
	return ParseMpoprc(text);
}

std::string MakeAccountName(std::string_view wanted, std::vector<std::string> &taken)
{
	std::string name;
	for (const char c : wanted) {
		const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '_' || c == '-';
		name += ok ? c : '-';
	}
	if (name.empty())
		name = "account";
	// Room for a "-NN" suffix within the 64 bytes.
	if (name.size() > config::MAX_ACCOUNT_NAME_LENGTH - 4)
		name.resize(config::MAX_ACCOUNT_NAME_LENGTH - 4);
	std::string unique = name;
	for (unsigned n = 2; std::find(taken.begin(), taken.end(), unique) != taken.end();
	     ++n)
		unique = name + "-" + std::to_string(n);
	taken.push_back(unique);
	return unique;
}

void SetHost(Account &account, std::string_view option, std::string_view host,
	     unsigned line)
{
	try {
		account.host = config::CheckHost(host);
	} catch (const config::ValueError &e) {
		throw ImportError(line, std::string(option) + ": " + e.what());
	}
}

void SetPort(Account &account, std::string_view option, std::string_view port)
{
	if (port == "pop3") {
		account.port = 110;
	} else if (port == "pop3s") {
		account.port = 995;
	} else if (IsNumber(port) && ToNumber(port) >= 1 && ToNumber(port) <= 65535) {
		account.port = static_cast<std::uint16_t>(ToNumber(port));
	} else {
		account.dropped.push_back(
		    {std::string(option), std::string(port),
		     "not a port number (1 to 65535, pop3 or pop3s)"});
	}
}

void SetUser(Account &account, std::string_view option, std::string_view user)
{
	try {
		config::CheckUser(user);
		account.user = user;
	} catch (const config::ValueError &e) {
		account.dropped.push_back(
		    {std::string(option), std::string(user),
		     std::string("popstream refuses it: ") + e.what()});
	}
}

void SetSni(Account &account, std::string_view option, std::string_view name)
{
	try {
		config::CheckTlsName(name);
		account.sni = name;
	} catch (const config::ValueError &e) {
		account.dropped.push_back(
		    {std::string(option), std::string(name),
		     std::string("popstream refuses it: ") + e.what()});
	}
}

void AddFingerprint(Account &account, std::string_view option, std::string_view text)
{
	std::string hex;
	for (const char c : text)
		if (c != ':')
			hex += c;
	if (hex.size() != 64) {
		account.dropped.push_back(
		    {std::string(option), std::string(text),
		     "not a SHA-256 fingerprint (MD5 and SHA-1 are too weak to pin); "
		     "run 'popstream serverinfo' for the SHA-256 one"});
		return;
	}
	try {
		ParseTlsFingerprint(text);
		account.tls_fingerprints.emplace_back(text);
	} catch (const std::exception &e) {
		account.dropped.push_back(
		    {std::string(option), std::string(text),
		     std::string("popstream refuses it: ") + e.what()});
	}
}

void SetSizeLimit(Account &account, std::string_view option, std::string_view value,
		  std::uint64_t octets, std::string_view oversize)
{
	if (octets == 0)
		return;
	if (octets < config::MIN_SIZE_LIMIT || octets > config::MAX_SIZE) {
		account.dropped.push_back(
		    {std::string(option), std::string(value),
		     "popstream's size limits are 1 kB to 1024 GiB"});
		return;
	}
	account.max_message_size = config::FormatSize(octets);
	account.oversize = oversize;
}

namespace {

/** @return the seconds of @p text within [@p min, @p max], or nothing */
std::optional<std::string> Seconds(std::string_view text, std::chrono::milliseconds min,
				   std::chrono::milliseconds max)
{
	if (!IsNumber(text) || text.size() > 9)
		return std::nullopt;
	const std::chrono::milliseconds value = std::chrono::seconds(ToNumber(text));
	if (value < min || value > max)
		return std::nullopt;
	return config::FormatDuration(value);
}

} // namespace

void SetTimeout(Account &account, std::string_view option, std::string_view seconds)
{
	if (auto value = Seconds(seconds, config::MIN_TIMEOUT, config::MAX_TIMEOUT))
		account.timeout = std::move(*value);
	else
		account.dropped.push_back({std::string(option), std::string(seconds),
					   "popstream's timeout is 5 to 3600 seconds"});
}

void SetInterval(Account &account, std::string_view option, std::string_view seconds)
{
	if (auto value = Seconds(seconds, config::MIN_INTERVAL, config::MAX_INTERVAL))
		account.interval = std::move(*value);
	else
		account.dropped.push_back(
		    {std::string(option), std::string(seconds),
		     "popstream's interval is 10 seconds to 7 days"});
}

void Finish(Account &account)
{
	auto &dropped = account.dropped;
	// popstream refuses any value with a control character; the writer would
	// escape it into valid YAML that check-config then rejects.
	const auto refuse = [&](const char *key, std::string &value) {
		if (!config::HasControlCharacter(value))
			return false;
		dropped.push_back(
		    {key, value, "a control character, which popstream refuses"});
		value.clear();
		return true;
	};
	for (auto [key, value] : {std::pair{"ca_file", &account.ca_file},
				  std::pair{"tls_cert", &account.tls_cert},
				  std::pair{"tls_key", &account.tls_key}})
		refuse(key, *value);
	for (auto [key, argv] :
	     {std::pair{"password_command", &account.password_command},
	      std::pair{"oauth_token_command", &account.token_command}}) {
		std::string joined;
		for (const auto &word : *argv)
			joined += (joined.empty() ? "" : " ") + word;
		if (refuse(key, joined))
			argv->clear();
	}
	if (account.delivery.kind == Delivery::Kind::Maildir &&
	    refuse("maildir", account.delivery.target))
		account.delivery.kind = Delivery::Kind::Unset;
	if ((account.auth == "xoauth2" || account.auth == "oauthbearer") &&
	    account.token_command.empty()) {
		dropped.push_back(
		    {"auth", account.auth,
		     "popstream takes its token from oauth_token_command or "
		     "oauth: (see popstream.yaml(5)); set one and this auth"});
		account.auth.clear();
	}
	if (!account.tls_cert.empty() && account.tls_key.empty()) {
		dropped.push_back(
		    {"tls_cert", account.tls_cert, "popstream needs tls_key too"});
		account.tls_cert.clear();
	} else if (account.tls_cert.empty() && !account.tls_key.empty()) {
		dropped.push_back(
		    {"tls_key", account.tls_key, "popstream needs tls_cert too"});
		account.tls_key.clear();
	}
	if (account.tls == Tls::None) {
		for (const auto &fingerprint : account.tls_fingerprints)
			dropped.push_back({"tls_fingerprint", fingerprint,
					   "a pin needs TLS, and the file used none"});
		account.tls_fingerprints.clear();
		if (!account.tls_cert.empty())
			dropped.push_back({"tls_cert", account.tls_cert,
					   "a client certificate needs TLS, and the file "
					   "used none"});
		account.tls_cert.clear();
		account.tls_key.clear();
	}
	if (account.auth == "external") {
		if (account.tls_cert.empty()) {
			dropped.push_back(
			    {"auth", "external",
			     "popstream's external logs in with tls_cert and "
			     "tls_key, which the file did not give"});
			account.auth.clear();
		} else if (!account.password_command.empty()) {
			dropped.push_back(
			    {"password_command", "",
			     "not used with auth: external, which logs in with "
			     "the client certificate"});
			account.password_command.clear();
		}
	}
	if (!account.plain_password.empty() && !account.password_command.empty()) {
		dropped.push_back({account.plain_password, "",
				   "a password is never copied; password_command gives "
				   "it"});
	} else if (!account.plain_password.empty()) {
		// The netrc line popstream looks up first for this account.
		std::string netrc = "machine " + account.host;
		if (!account.user.empty())
			netrc += " login " + account.user;
		dropped.push_back({account.plain_password, "",
				   "a password is never copied; put it in ~/.netrc (" +
				       netrc +
				       " password ...), in the Secret Service (password: "
				       "{secret: {...}}) or behind a password_command"});
	}
	if (!account.delete_after.empty() && !account.keep.value_or(false)) {
		dropped.push_back(
		    {"delete_after", account.delete_after,
		     "only with keep: true, and messages are deleted at once"});
		account.delete_after.clear();
	}
}

void DropPassword(Account &account, std::string_view option)
{
	// The value stays out of the output, even as a comment: the output is meant to
	// be pasted, shared and committed. Finish() says where to put it, once the
	// host and user are known.
	account.plain_password = option;
}

std::string LiteralPath(std::string_view path)
{
	std::string out;
	for (const char c : path) {
		out += c;
		if (c == '$')
			out += '$';
	}
	return out;
}

namespace {

/** @return @p name is safe as a word anywhere in a shell command, quoted or not */
bool PlainWord(std::string_view name) noexcept
{
	return !name.empty() && name.front() != '-' &&
	       std::all_of(name.begin(), name.end(), [](char c) {
		       return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
			      c == '_' || c == '-';
	       });
}

} // namespace

std::optional<std::vector<std::string>>
MdaFromShell(std::string_view command, std::string_view recipient, std::string &why)
{
	if (command.find_first_not_of(" \t") == std::string_view::npos) {
		why = "an empty command";
		return std::nullopt;
	}
	if (command.find("%T") != std::string_view::npos && !PlainWord(recipient)) {
		why = recipient.empty()
			  ? "%T, the local recipient, is not known here: "
			    "write your login name in its place"
			  : "%T, the local recipient, is not one login name";
		return std::nullopt;
	}
	// Anything a shell would expand, redirect or run needs one; a leading `~/`
	// popstream expands itself.
	bool shell =
	    command.find_first_of("|&;<>()$`*?[]{}#\n") != std::string_view::npos;
	// `VAR=VALUE command`: an assignment, unlike `--option=value` later on.
	const auto first = command.substr(command.find_first_not_of(" \t"));
	shell = shell || first.substr(0, first.find_first_of(" \t")).find('=') !=
			     std::string_view::npos;
	for (std::size_t i = command.find('~'); !shell && i != std::string_view::npos;
	     i = command.find('~', i + 1))
		shell = i + 1 >= command.size() || command[i + 1] != '/' ||
			(i > 0 && command[i - 1] != ' ' && command[i - 1] != '\t');
	// Each '%' as popstream will read it; @p quote is the shell's quote it is in.
	const auto percent = [&](char next, char quote) -> std::string {
		switch (next) {
		case 'T':
			return std::string(recipient);
		case 'F':
			if (!shell)
				return "%F";
			// $1 is the sender: expanded inside double quotes, closed and
			// reopened inside single ones.
			return quote == '"'    ? "$1"
			       : quote == '\'' ? "'\"$1\"'"
					       : "\"$1\"";
		default:
			return "%%";
		}
	};
	const auto pairs = [](char next) {
		return next == 'T' || next == 'F' || next == '%';
	};
	if (!shell) {
		std::vector<std::string> words;
		try {
			words = config::SplitCommand(command);
		} catch (const config::ValueError &e) {
			why = e.what();
			return std::nullopt;
		}
		// `exec CMD` in a shell is CMD run in its place: without one, CMD.
		if (words.size() > 1 && words.front() == "exec")
			words.erase(words.begin());
		for (auto &word : words) {
			std::string out;
			for (std::size_t i = 0; i < word.size(); ++i) {
				const char next =
				    i + 1 < word.size() ? word[i + 1] : '\0';
				if (word[i] != '%') {
					out += word[i];
					continue;
				}
				out += percent(next, '\0');
				if (pairs(next))
					++i;
			}
			word = std::move(out);
		}
		return words;
	}
	// The shell's quoting, followed only as far as %F needs: which quote it is in.
	std::string script;
	bool sender = false;
	char quote = '\0';
	for (std::size_t i = 0; i < command.size(); ++i) {
		const char c = command[i];
		if (command.substr(i, 4) == "'%F'" && quote == '\0') {
			script += "\"$1\"";
			sender = true;
			i += 3;
		} else if (c == '%') {
			const char next = i + 1 < command.size() ? command[i + 1] : '\0';
			sender = sender || next == 'F';
			script += percent(next, quote);
			if (pairs(next))
				++i;
		} else if (c == '\\' && quote != '\'' && i + 1 < command.size()) {
			script += command[i + 1] == '%' ? "\\%%" : command.substr(i, 2);
			++i;
		} else {
			if ((c == '\'' || c == '"') && (quote == '\0' || quote == c))
				quote = quote == '\0' ? c : '\0';
			script += c;
		}
	}
	if (quote != '\0') {
		why = std::string("unterminated ") + quote + " in the command";
		return std::nullopt;
	}
	std::vector<std::string> argv = {"sh", "-c", script};
	if (sender) {
		argv.emplace_back("sh");
		argv.emplace_back("%F");
	}
	return argv;
}

bool LooksSecret(std::string_view key) noexcept
{
	for (const std::string_view word : {"pass", "secret", "token", "key"})
		if (key.find(word) != std::string_view::npos)
			return true;
	return false;
}

bool IsNumber(std::string_view text) noexcept
{
	return !text.empty() && text.size() <= 18 &&
	       std::all_of(text.begin(), text.end(),
			   [](char c) { return c >= '0' && c <= '9'; });
}

std::uint64_t ToNumber(std::string_view text) noexcept
{
	std::uint64_t n = 0;
	for (const char c : text)
		n = n * 10 + static_cast<std::uint64_t>(c - '0');
	return n;
}

} // namespace popstream::importer
