// mpop(1)'s configuration file: one command and an optional argument per line.
#include "Common.hxx"
#include "Imported.hxx"

#include <algorithm>
#include <array>
#include <map>

namespace popstream::importer {

namespace {

struct Setting {
	std::string value;
	unsigned line = 0;
};

/** An account's commands, the last of each winning, as mpop applies them. */
using Settings = std::map<std::string, Setting>;

struct MpopAccount {
	std::string name;
	unsigned line = 0;
	Settings settings;
};

/** Every account command of mpop 1.4 (and two older spellings). */
constexpr std::array<std::string_view, 33> known_commands = {
    "host",
    "port",
    "source_ip",
    "proxy_host",
    "proxy_port",
    "socket",
    "timeout",
    "pipelining",
    "auth",
    "user",
    "password",
    "passwordeval",
    "ntlmdomain",
    "tls",
    "tls_starttls",
    "tls_trust_file",
    "tls_crl_file",
    "tls_fingerprint",
    "tls_key_file",
    "tls_cert_file",
    "tls_certcheck",
    "tls_priorities",
    "tls_host_override",
    "tls_min_dh_prime_bits",
    "delivery",
    "uidls_file",
    "only_new",
    "keep",
    "killsize",
    "skipsize",
    "filter",
    "received_header",
    "tls_nocertcheck",
};

/** Why an mpop command has no popstream key. */
const std::map<std::string_view, std::string_view> &DropReasons()
{
	static const std::map<std::string_view, std::string_view> reasons = {
	    {"source_ip", "popstream does not bind a source address"},
	    {"proxy_host", "popstream has no SOCKS proxy"},
	    {"proxy_port", "popstream has no SOCKS proxy"},
	    {"socket", "popstream connects over TCP only"},
	    {"ntlmdomain", "popstream has no NTLM"},
	    {"tls_crl_file", "popstream reads no CRL file"},
	    {"tls_priorities", "popstream's TLS library has its own settings; see "
			       "tls_min_version"},
	    {"tls_min_dh_prime_bits", "popstream's TLS library sets its own minimum"},
	    {"uidls_file", "popstream's journal remembers what it saved"},
	    {"filter", "popstream has no filter command"},
	    {"eval", "the importer runs no commands; write the line it produces"},
	};
	return reasons;
}

/**
 * Splits "command argument" and unquotes the argument as mpop does: a double quote at
 * each end is taken off, and nothing inside is an escape (a backslash stays, for the
 * shell of a passwordeval or an MDA to read).
 */
std::pair<std::string, std::string> SplitLine(std::string_view line, unsigned number)
{
	std::size_t i = 0;
	while (i < line.size() && line[i] != ' ' && line[i] != '\t')
		++i;
	std::string command(line.substr(0, i));
	while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
		++i;
	std::string_view rest = line.substr(i);
	while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t'))
		rest.remove_suffix(1);
	if (rest.empty() || rest.front() != '"')
		return {command, std::string(rest)};
	if (rest.size() < 2 || rest.back() != '"')
		throw ImportError(number, "unclosed quote in " + command + "'s argument");
	return {command, std::string(rest.substr(1, rest.size() - 2))};
}

/** mpop's on/off argument: empty means on. @return nothing if it is neither */
std::optional<bool> OnOff(const std::string &value)
{
	if (value.empty() || value == "on")
		return true;
	if (value == "off")
		return false;
	return std::nullopt;
}

/** killsize and skipsize: octets, `k` KiB, `m` MiB; `off` is 0. */
std::optional<std::uint64_t> MpopSize(std::string value)
{
	if (value == "off")
		return 0;
	std::uint64_t unit = 1;
	if (!value.empty() && (value.back() == 'k' || value.back() == 'm')) {
		unit = value.back() == 'k' ? 1024 : 1024 * 1024;
		value.pop_back();
	}
	if (!IsNumber(value) || value.size() > 12)
		return std::nullopt;
	return ToNumber(value) * unit;
}

void SetDelivery(Account &account, const std::string &value)
{
	const auto blank = value.find_first_of(" \t");
	const std::string method = value.substr(0, blank);
	std::string target = blank == std::string::npos
				 ? ""
				 : value.substr(value.find_first_not_of(" \t", blank));
	// mpop's own example quotes the MDA command after "mda": the quotes are the
	// file's, not the command's.
	if (target.size() >= 2 && target.front() == '"' && target.back() == '"')
		target = target.substr(1, target.size() - 2);
	account.delivery.origin = "delivery " + value;
	if (method == "maildir") {
		account.delivery.kind = Delivery::Kind::Maildir;
		account.delivery.target = LiteralPath(target);
	} else if (method == "mbox") {
		account.delivery.kind = Delivery::Kind::Mbox;
		account.delivery.target = LiteralPath(target);
	} else if (method == "mda") {
		account.delivery.kind = Delivery::Kind::Mda;
		account.delivery.target = target;
		// mpop runs it with popen(3), that is through /bin/sh.
		if (auto argv = MdaFromShell(target, "", account.delivery.why))
			account.delivery.argv = std::move(*argv);
	} else {
		account.delivery.kind = Delivery::Kind::Other;
	}
}

Account Translate(const MpopAccount &in, std::vector<std::string> &taken)
{
	Account out;
	out.line = in.line;
	out.name = MakeAccountName(in.name, taken);
	if (out.name != in.name)
		out.notes.push_back("mpop account \"" + in.name + "\"");
	const auto get = [&](const char *key) -> const Setting * {
		const auto it = in.settings.find(key);
		return it == in.settings.end() ? nullptr : &it->second;
	};
	const auto *host = get("host");
	if (host == nullptr || host->value.empty())
		throw ImportError(in.line, "account " + in.name + " has no host");
	SetHost(out, "host", host->value, host->line);

	const bool tls =
	    get("tls") != nullptr && OnOff(get("tls")->value).value_or(false);
	const bool starttls = get("tls_starttls") == nullptr ||
			      OnOff(get("tls_starttls")->value).value_or(true);
	out.tls = !tls ? Tls::None : starttls ? Tls::StartTls : Tls::Implicit;
	if (!tls)
		out.notes.push_back(
		    "mpop used no TLS here; popstream then refuses methods "
		    "that send the password in the clear");

	std::string auth;
	if (const auto *s = get("auth");
	    s != nullptr && s->value != "on" && !s->value.empty()) {
		static constexpr std::array<std::string_view, 10> methods = {
		    "user",     "plain", "scram-sha-1", "scram-sha-256", "apop",
		    "cram-md5", "login", "external",    "xoauth2",       "oauthbearer"};
		if (std::find(methods.begin(), methods.end(), s->value) != methods.end())
			out.auth = auth = s->value;
		else
			out.dropped.push_back(
			    {"auth", s->value, "popstream has no such login method"});
	}
	// In file order, so that the comments follow the file.
	std::vector<std::pair<std::string, Setting>> ordered(in.settings.begin(),
							     in.settings.end());
	std::stable_sort(
	    ordered.begin(), ordered.end(),
	    [](const auto &a, const auto &b) { return a.second.line < b.second.line; });
	for (const auto &[command, setting] : ordered) {
		const auto &value = setting.value;
		if (command == "host" || command == "tls" || command == "tls_starttls" ||
		    command == "auth") {
			continue;
		} else if (command == "port") {
			SetPort(out, command, value);
		} else if (command == "user") {
			if (!value.empty())
				SetUser(out, command, value);
		} else if (command == "password") {
			if (!value.empty())
				DropPassword(out, command);
		} else if (command == "passwordeval") {
			if (value.empty())
				continue;
			// mpop hands the command to a shell; so does this, to mean the
			// same.
			std::vector<std::string> argv = {"sh", "-c", value};
			if (auth == "xoauth2" || auth == "oauthbearer")
				out.token_command = std::move(argv);
			else
				out.password_command = std::move(argv);
		} else if (command == "tls_trust_file") {
			if (value.empty())
				out.dropped.push_back({command, "\"\"",
						       "popstream always checks "
						       "certificates; pin the server "
						       "with tls_fingerprint instead"});
			else if (value != "system")
				out.ca_file = LiteralPath(value);
		} else if (command == "tls_fingerprint") {
			if (!value.empty())
				AddFingerprint(out, command, value);
		} else if (command == "tls_key_file") {
			out.tls_key = LiteralPath(value);
		} else if (command == "tls_cert_file") {
			out.tls_cert = LiteralPath(value);
		} else if ((command == "tls_certcheck" && OnOff(value) == false) ||
			   command == "tls_nocertcheck") {
			out.dropped.push_back(
			    {command, value,
			     "popstream always checks certificates; pin the server with "
			     "tls_fingerprint instead"});
		} else if (command == "tls_host_override") {
			if (!value.empty())
				SetSni(out, command, value);
		} else if (command == "timeout") {
			if (value == "off")
				out.dropped.push_back(
				    {command, value, "popstream always has a timeout"});
			else
				SetTimeout(out, command, value);
		} else if (command == "pipelining") {
			if (value == "auto" || value == "on" || value == "off")
				out.pipelining = value;
			else
				out.dropped.push_back(
				    {command, value, "not auto, on or off"});
		} else if (command == "delivery") {
			SetDelivery(out, value);
		} else if (command == "only_new") {
			if (OnOff(value) == false)
				out.dropped.push_back({command, value,
						       "popstream with keep: true "
						       "downloads only what it has "
						       "not saved yet"});
		} else if (command == "keep") {
			if (auto on = OnOff(value))
				out.keep = *on;
			else
				out.dropped.push_back({command, value, "not on or off"});
		} else if (command == "killsize" || command == "skipsize") {
			const auto octets = MpopSize(value);
			if (!octets) {
				out.dropped.push_back(
				    {command, value, "not a size (N, Nk or Nm)"});
			} else if (*octets > 0 && !out.max_message_size.empty()) {
				out.dropped.push_back(
				    {command, value,
				     "popstream has one size limit, taken from the other "
				     "option"});
			} else {
				// With keep, mpop skips what killsize would delete;
				// popstream's oversize: delete would delete it even then.
				const bool kill =
				    command == "killsize" &&
				    !(get("keep") != nullptr &&
				      OnOff(get("keep")->value).value_or(false));
				SetSizeLimit(out, command, value, *octets,
					     kill ? "delete" : "skip");
			}
		} else if (command == "received_header") {
			// Its default is on; popstream's is off, so that the Maildir
			// holds what the server sent: only an explicit on is carried.
			out.received_header = OnOff(value).value_or(false);
		} else if (command == "eval") {
			// Its output may be a password line: the command is not shown.
			out.dropped.push_back(
			    {command + " (line " + std::to_string(setting.line) + ")", "",
			     std::string(DropReasons().at(command))});
		} else if (const auto it = DropReasons().find(command);
			   it != DropReasons().end()) {
			out.dropped.push_back({command, value, std::string(it->second)});
		}
	}
	Finish(out);
	return out;
}

} // namespace

Imported ParseMpoprc(std::string_view text)
{
	Settings defaults;
	std::vector<MpopAccount> accounts;
	Settings *current = nullptr;
	unsigned number = 0;
	while (!text.empty()) {
		++number;
		const auto end = text.find('\n');
		std::string_view line = text.substr(0, end);
		text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		const auto first = line.find_first_not_of(" \t");
		if (first == std::string_view::npos || line[first] == '#')
			continue;
		line.remove_prefix(first);
		auto [command, argument] = SplitLine(line, number);
		if (command == "defaults") {
			current = &defaults;
		} else if (command == "account") {
			std::string name = argument, bases;
			if (const auto colon = argument.find(':');
			    colon != std::string::npos) {
				name = argument.substr(0, colon);
				bases = argument.substr(colon + 1);
			}
			while (!name.empty() &&
			       (name.back() == ' ' || name.back() == '\t'))
				name.pop_back();
			if (name.empty())
				throw ImportError(number, "account without a name");
			for (const auto &a : accounts)
				if (a.name == name)
					throw ImportError(number,
							  "account " + name +
							      " is defined twice");
			MpopAccount account{name, number, defaults};
			std::string_view rest = bases;
			while (!rest.empty()) {
				const auto comma = rest.find(',');
				std::string base(rest.substr(0, comma));
				rest.remove_prefix(comma == std::string_view::npos
						       ? rest.size()
						       : comma + 1);
				base.erase(0, base.find_first_not_of(" \t"));
				base.erase(base.find_last_not_of(" \t") + 1);
				const auto it = std::find_if(
				    accounts.begin(), accounts.end(),
				    [&](const auto &a) { return a.name == base; });
				if (it == accounts.end())
					throw ImportError(number,
							  "account " + name +
							      " inherits from " + base +
							      ", which is not defined "
							      "above it");
				for (const auto &[key, setting] : it->settings)
					account.settings[key] = setting;
			}
			accounts.push_back(std::move(account));
			current = &accounts.back().settings;
		} else if (command == "eval" ||
			   std::find(known_commands.begin(), known_commands.end(),
				     command) != known_commands.end()) {
			if (current == nullptr)
				throw ImportError(
				    number, command + " before the first account or "
						      "defaults");
			(*current)[command] = {argument, number};
		} else {
			throw ImportError(number, "unknown command " + command);
		}
	}
	if (accounts.empty())
		throw NothingToImport(0, "no account");
	Imported imported;
	imported.tool = Tool::Mpop;
	std::vector<std::string> taken;
	for (const auto &account : accounts)
		imported.accounts.push_back(Translate(account, taken));
	// mpop's default, which no line of the file shows: said once.
	if (std::any_of(accounts.begin(), accounts.end(), [](const MpopAccount &a) {
		    return !a.settings.contains("received_header");
	    }))
		imported.dropped.push_back(
		    {"received_header on (mpop's default)", "",
		     "popstream stores each message as the server sent it; "
		     "received_header: true adds a Received: field"});
	return imported;
}

} // namespace popstream::importer
