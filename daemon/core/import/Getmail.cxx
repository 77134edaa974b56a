// getmail6's getmailrc: an INI file as Python's configparser reads it, one account
// per file.
#include "Common.hxx"
#include "Imported.hxx"

#include "core/config/Validate.hxx"

#include <algorithm>
#include <map>

namespace popstream::importer {

namespace {

struct Parameter {
	std::string value;
	unsigned line = 0;
};

struct Section {
	unsigned line = 0;
	/** Keys in lower case, as configparser folds them. */
	std::map<std::string, Parameter> parameters;
	std::vector<std::string> order;
};

std::string Trim(std::string_view text)
{
	const auto first = text.find_first_not_of(" \t\r");
	if (first == std::string_view::npos)
		return {};
	const auto last = text.find_last_not_of(" \t\r");
	return std::string(text.substr(first, last - first + 1));
}

std::string Lower(std::string text)
{
	for (char &c : text)
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	return text;
}

std::map<std::string, Section> ReadIni(std::string_view text)
{
	std::map<std::string, Section> sections;
	Section *current = nullptr;
	Parameter *last = nullptr;
	unsigned number = 0;
	while (!text.empty()) {
		++number;
		const auto end = text.find('\n');
		std::string_view line = text.substr(0, end);
		text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
		const std::string trimmed = Trim(line);
		if (trimmed.empty()) {
			last = nullptr;
			continue;
		}
		if (trimmed.front() == '#' || trimmed.front() == ';')
			continue;
		if ((line.front() == ' ' || line.front() == '\t') && last != nullptr) {
			// A continuation line: configparser joins it with a line end.
			last->value += "\n" + trimmed;
			continue;
		}
		if (trimmed.front() == '[') {
			if (trimmed.back() != ']')
				throw ImportError(number, "section header without ]");
			const std::string name =
			    Trim(trimmed.substr(1, trimmed.size() - 2));
			if (sections.contains(name))
				throw ImportError(number,
						  "section [" + name + "] given twice");
			current = &sections[name];
			current->line = number;
			last = nullptr;
			continue;
		}
		if (current == nullptr)
			throw ImportError(number, "parameter before the first [section]");
		const auto separator = trimmed.find_first_of("=:");
		if (separator == std::string::npos || separator == 0)
			throw ImportError(number, "not NAME = VALUE");
		const std::string key = Lower(Trim(trimmed.substr(0, separator)));
		if (current->parameters.contains(key))
			throw ImportError(number, key + " given twice in its section");
		current->parameters[key] = {Trim(trimmed.substr(separator + 1)), number};
		current->order.push_back(key);
		last = &current->parameters[key];
	}
	return sections;
}

/** configparser's getboolean(). */
std::optional<bool> Boolean(const std::string &value)
{
	const auto v = Lower(value);
	if (v == "1" || v == "yes" || v == "true" || v == "on")
		return true;
	if (v == "0" || v == "no" || v == "false" || v == "off")
		return false;
	return std::nullopt;
}

/** A Python tuple of strings, as getmail reads password_command and arguments:
 * `('pass', 'show', "x")`, `("a",)`. */
std::vector<std::string> Tuple(const std::string &text, unsigned line,
			       const std::string &key)
{
	std::string_view rest = text;
	const auto bad = [&](const char *what) {
		return ImportError(line, key + ": " + what +
					     " (a tuple such as "
					     "('cmd', 'arg'))");
	};
	if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')')
		throw bad("not in parentheses");
	rest = rest.substr(1, rest.size() - 2);
	std::vector<std::string> words;
	std::size_t i = 0;
	while (true) {
		while (i < rest.size() &&
		       (rest[i] == ' ' || rest[i] == '\t' || rest[i] == '\n'))
			++i;
		if (i >= rest.size())
			break;
		const char quote = rest[i];
		if (quote != '\'' && quote != '"')
			throw bad("an element is not a quoted string");
		std::string word;
		for (++i;; ++i) {
			if (i >= rest.size())
				throw bad("unclosed quote");
			if (rest[i] == quote)
				break;
			if (rest[i] == '\\' && i + 1 < rest.size())
				++i;
			word += rest[i];
		}
		++i;
		words.push_back(std::move(word));
		while (i < rest.size() &&
		       (rest[i] == ' ' || rest[i] == '\t' || rest[i] == '\n'))
			++i;
		if (i < rest.size() && rest[i] != ',')
			throw bad("elements not separated by commas");
		++i;
	}
	return words;
}

const Parameter *Find(const Section &section, const char *key)
{
	const auto it = section.parameters.find(key);
	return it == section.parameters.end() ? nullptr : &it->second;
}

void Retriever(Account &account, const Section &section)
{
	const auto *type = Find(section, "type");
	if (type == nullptr)
		throw ImportError(section.line, "[retriever] has no type");
	const std::string &kind = type->value;
	static const std::vector<std::string> pop3 = {
	    "SimplePOP3Retriever",     "SimplePOP3SSLRetriever",
	    "BrokenUIDLPOP3Retriever", "BrokenUIDLPOP3SSLRetriever",
	    "MultidropPOP3Retriever",  "MultidropPOP3SSLRetriever",
	    "MultidropSDPSRetriever"};
	// A getmailrc has one retriever: an IMAP one leaves nothing to import. Any other
	// type is not one getmail knows (a typo, say), so the file itself is wrong.
	if (kind.find("IMAP") != std::string::npos)
		throw NothingToImport(type->line,
				      "retriever type " + kind +
					  " is IMAP; popstream fetches POP3 only");
	if (std::find(pop3.begin(), pop3.end(), kind) == pop3.end())
		throw ImportError(type->line, "retriever type " + kind +
						  " is not a getmail POP3 retriever");
	account.tls = kind.find("SSL") != std::string::npos ? Tls::Implicit : Tls::None;
	if (account.tls == Tls::None)
		account.notes.push_back(
		    "getmail used no TLS here; popstream then refuses "
		    "methods that send the password in the clear");
	if (kind.rfind("Multidrop", 0) == 0)
		account.notes.push_back("getmail " + kind +
					": imported as a single mailbox");
	const auto *server = Find(section, "server");
	if (server == nullptr || server->value.empty())
		throw ImportError(section.line, "[retriever] has no server");
	const bool xoauth2 = Find(section, "use_xoauth2") != nullptr &&
			     Boolean(Find(section, "use_xoauth2")->value).value_or(false);
	for (const auto &key : section.order) {
		const auto &parameter = section.parameters.at(key);
		const std::string &value = parameter.value;
		if (key == "type") {
			continue;
		} else if (key == "server") {
			SetHost(account, key, value, parameter.line);
		} else if (key == "port") {
			SetPort(account, key, value);
		} else if (key == "username") {
			SetUser(account, key, value);
		} else if (key == "password") {
			DropPassword(account, key);
		} else if (key == "password_command") {
			auto argv = Tuple(value, parameter.line, key);
			if (argv.empty())
				throw ImportError(parameter.line,
						  key + ": an empty command");
			(xoauth2 ? account.token_command : account.password_command) =
			    std::move(argv);
		} else if (key == "use_apop") {
			if (Boolean(value).value_or(false))
				account.auth = "apop";
		} else if (key == "use_xoauth2") {
			if (xoauth2)
				account.auth = "xoauth2";
		} else if (key == "timeout") {
			SetTimeout(account, key, value);
		} else if (key == "ca_certs") {
			account.ca_file = value;
		} else if (key == "certfile") {
			account.tls_cert = value;
		} else if (key == "keyfile") {
			account.tls_key = value;
		} else if (key == "ssl_cert_hostname") {
			SetSni(account, key, value);
		} else if (key == "ssl_fingerprints") {
			for (const auto &fingerprint : Tuple(value, parameter.line, key))
				AddFingerprint(account, key, fingerprint);
		} else if (key == "ssl_version") {
			const auto v = Lower(value);
			if (v == "tlsv1_2")
				account.dropped.push_back(
				    {key, value, "1.2 is popstream's default"});
			else
				account.dropped.push_back(
				    {key, value,
				     "popstream takes TLS 1.2 or newer by default (see "
				     "tls_min_version)"});
		} else if (key == "envelope_recipient") {
			account.dropped.push_back(
			    {key, value, "popstream does not sort a multidrop mailbox"});
		} else {
			// An unknown key may hold a secret (a client secret, a token):
			// only known keys show their values.
			account.dropped.push_back(
			    {key, LooksSecret(key) ? "" : value,
			     "popstream has no such retriever setting"});
		}
	}
}

/**
 * @return getmail's MDA_external arguments as popstream's `mda:` argv: `%(sender)`
 *         becomes `%F`, a lone '%' `%%`; empty, with @p why set, if one uses a
 *         placeholder popstream has not (`%(recipient)`, `%(local)`, `%(domain)`:
 *         a multidrop mailbox's)
 */
std::vector<std::string> MdaArguments(const std::vector<std::string> &words,
				      std::string &why)
{
	std::vector<std::string> argv;
	for (const auto &word : words) {
		std::string out;
		for (std::size_t i = 0; i < word.size(); ++i) {
			if (word[i] != '%') {
				out += word[i];
			} else if (word.compare(i, 9, "%(sender)") == 0) {
				out += "%F";
				i += 8;
			} else if (word.compare(i, 2, "%(") == 0) {
				why = "getmail's " +
				      word.substr(i, word.find(')', i) - i + 1) +
				      " has no popstream placeholder";
				return {};
			} else {
				out += "%%";
			}
		}
		argv.push_back(std::move(out));
	}
	return argv;
}

/** Why a [destination] parameter has no popstream key. */
std::string_view DestinationDropReason(const std::string &key, const std::string &type)
{
	if (key == "user" || key == "group" || key == "allow_root_commands")
		return type == "MDA_external"
			   ? "popstream runs the MDA as the user it runs as"
			   : "popstream writes the mail as the user it runs as";
	if (key == "unixfrom")
		return "popstream hands the MDA the message as stored, without a From_ "
		       "line";
	if (key == "ignore_stderr")
		return "popstream judges the MDA by its exit status alone";
	if (key == "locktype")
		return "popstream locks an mbox with a dotlock and fcntl, as procmail "
		       "and mutt do";
	return "popstream writes the mail as the user it runs as, byte for byte";
}

void Destination(Account &account, const Section &section)
{
	const auto *type = Find(section, "type");
	if (type == nullptr)
		throw ImportError(section.line, "[destination] has no type");
	const auto *path = Find(section, "path");
	const std::string where = path == nullptr ? "" : path->value;
	auto &delivery = account.delivery;
	delivery.origin = "type " + type->value + (where.empty() ? "" : " path " + where);
	if (type->value == "Maildir") {
		if (where.empty())
			throw ImportError(section.line,
					  "[destination] Maildir has no path");
		delivery.kind = Delivery::Kind::Maildir;
		delivery.target = where;
	} else if (type->value == "Mboxrd") {
		delivery.kind = Delivery::Kind::Mbox;
		delivery.target = where;
	} else if (type->value == "MDA_external") {
		delivery.kind = Delivery::Kind::Mda;
		delivery.target = where;
		std::vector<std::string> words = {where};
		if (const auto *arguments = Find(section, "arguments")) {
			const auto more =
			    Tuple(arguments->value, arguments->line, "arguments");
			words.insert(words.end(), more.begin(), more.end());
			delivery.origin += " arguments " + arguments->value;
		}
		if (where.empty())
			delivery.why = "MDA_external without a path";
		else
			delivery.argv = MdaArguments(words, delivery.why);
	} else {
		delivery.kind = Delivery::Kind::Other;
	}
	for (const auto &key : section.order)
		if (key != "type" && key != "path" && key != "arguments")
			account.dropped.push_back(
			    {"[destination] " + key,
			     LooksSecret(key) ? "" : section.parameters.at(key).value,
			     std::string(DestinationDropReason(key, type->value))});
}

/** Why an [options] parameter has no popstream key. */
std::string_view OptionDropReason(const std::string &key)
{
	if (key == "verbose" || key.starts_with("message_log") || key == "logfile")
		return "popstream logs to the journal";
	if (key == "delivered_to")
		return "popstream adds no Delivered-To: field";
	if (key == "received")
		return "popstream adds a Received: field only with received_header: true";
	if (key == "delete_bigger_than")
		return "popstream deletes large messages unread with max_message_size "
		       "and "
		       "oversize: delete";
	return "popstream has no such option";
}

void Options(Account &account, const Section &section)
{
	// getmail keeps messages unless told to delete them.
	bool keep = true;
	if (const auto *p = Find(section, "delete"))
		keep = !Boolean(p->value).value_or(false);
	account.keep = keep;
	for (const auto &key : section.order) {
		const auto &value = section.parameters.at(key).value;
		if (key == "delete") {
			continue;
		} else if (key == "delete_after") {
			// Days; popstream's minimum is an hour, its maximum 3650 days.
			if (IsNumber(value) && ToNumber(value) > 0 &&
			    ToNumber(value) <= 3650 && keep)
				account.delete_after = value + "d";
			else if (value != "0")
				account.dropped.push_back(
				    {key, value,
				     keep ? "not 1 to 3650 days"
					  : "only with keep: true (getmail's delete = "
					    "false)"});
		} else if (key == "max_message_size") {
			if (IsNumber(value))
				SetSizeLimit(account, key, value, ToNumber(value),
					     "skip");
			else
				account.dropped.push_back(
				    {key, value, "not a number of octets"});
		} else if (key == "max_messages_per_session") {
			if (IsNumber(value) && ToNumber(value) <= 1000000)
				account.max_messages_per_session =
				    static_cast<std::uint32_t>(ToNumber(value));
			else
				account.dropped.push_back(
				    {key, value, "not 0 to 1000000"});
		} else if (key == "max_bytes_per_session") {
			if (IsNumber(value) && ToNumber(value) >= 1000 &&
			    ToNumber(value) <= config::MAX_SIZE)
				account.max_bytes_per_session =
				    config::FormatSize(ToNumber(value));
			else if (value != "0")
				account.dropped.push_back(
				    {key, value,
				     "popstream's size limits are 1 kB to 1024 GiB"});
		} else if (key == "received" && Boolean(value).has_value()) {
			// getmail's default is true; popstream's is off, so that the
			// Maildir holds what the server sent: only an explicit true is
			// carried.
			account.received_header = *Boolean(value);
		} else if (key == "read_all") {
			if (Boolean(value).value_or(true))
				account.dropped.push_back(
				    {key, value,
				     "popstream downloads each message once; with keep: "
				     "true it skips what it has saved"});
		} else {
			account.dropped.push_back({key, LooksSecret(key) ? "" : value,
						   std::string(OptionDropReason(key))});
		}
	}
}

} // namespace

Imported ParseGetmailrc(std::string_view text, std::string_view name)
{
	const auto sections = ReadIni(text);
	const auto retriever = sections.find("retriever");
	if (retriever == sections.end())
		throw ImportError(0, "no [retriever] section");
	Imported imported;
	imported.tool = Tool::Getmail;
	Account account;
	std::vector<std::string> taken;
	account.name = MakeAccountName(name, taken);
	account.line = retriever->second.line;
	Retriever(account, retriever->second);
	if (const auto it = sections.find("destination"); it != sections.end())
		Destination(account, it->second);
	if (const auto it = sections.find("options"); it != sections.end())
		Options(account, it->second);
	else
		account.keep = true;
	// getmail's default, which no line of the file shows.
	if (const auto it = sections.find("options");
	    it == sections.end() || Find(it->second, "received") == nullptr)
		imported.dropped.push_back(
		    {"received = true (getmail's default)", "",
		     "popstream stores each message as the server sent it; "
		     "received_header: true adds a Received: field"});
	for (const auto &[section, contents] : sections)
		if (section != "retriever" && section != "destination" &&
		    section != "options")
			imported.dropped.push_back(
			    {"[" + section + "]", "", "popstream has no filters"});
	Finish(account);
	imported.accounts.push_back(std::move(account));
	return imported;
}

} // namespace popstream::importer
