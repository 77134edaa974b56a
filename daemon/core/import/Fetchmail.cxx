// fetchmail(1)'s run control file: a free-form stream of keywords and values, where
// line ends are blanks like any other.
#include "Common.hxx"
#include "Imported.hxx"

#include <algorithm>
#include <array>
#include <map>
#include <optional>

namespace popstream::importer {

namespace {

struct Token {
	std::string text;
	unsigned line = 0;
	bool quoted = false;
};

std::vector<Token> Tokenize(std::string_view text)
{
	std::vector<Token> tokens;
	unsigned line = 1;
	std::size_t i = 0;
	while (i < text.size()) {
		const char c = text[i];
		if (c == '\n') {
			++line;
			++i;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == ',' || c == ';' ||
			   c == ':') {
			// fetchmail ignores these, so that "user joe, with password x;"
			// reads as English.
			++i;
		} else if (c == '#') {
			// A comment starts only where a word could: inside one, as in
			// the password pa#ss, '#' is part of it (fetchmail's lexer).
			while (i < text.size() && text[i] != '\n')
				++i;
		} else if (c == '"' || c == '\'') {
			Token token{std::string(), line, true};
			++i;
			while (true) {
				if (i >= text.size())
					throw ImportError(token.line, "unclosed quote");
				if (text[i] == c)
					break;
				if (text[i] == '\n')
					++line;
				if (text[i] == '\\' && i + 1 < text.size()) {
					const char e = text[++i];
					token.text += e == 'n'   ? '\n'
						      : e == 't' ? '\t'
								 : e;
				} else {
					token.text += text[i];
				}
				++i;
			}
			++i;
			tokens.push_back(std::move(token));
		} else {
			Token token{std::string(), line, false};
			while (i < text.size() &&
			       text.substr(i, 1).find_first_of(" \t\r\n,;:\"'") ==
				   std::string_view::npos)
				token.text += text[i++];
			tokens.push_back(std::move(token));
		}
	}
	return tokens;
}

/** How many values a keyword takes. */
enum class Arity { Zero, One, Many, Envelope };

const std::map<std::string, Arity> &Keywords()
{
	static const std::map<std::string, Arity> keywords = {
	    // Server options.
	    {"via", Arity::One},
	    {"proto", Arity::One},
	    {"protocol", Arity::One},
	    {"port", Arity::One},
	    {"service", Arity::One},
	    {"auth", Arity::One},
	    {"authenticate", Arity::One},
	    {"timeout", Arity::One},
	    {"envelope", Arity::Envelope},
	    {"qvirtual", Arity::One},
	    {"aka", Arity::Many},
	    {"localdomains", Arity::Many},
	    {"interface", Arity::One},
	    {"monitor", Arity::One},
	    {"plugin", Arity::One},
	    {"plugout", Arity::One},
	    {"dns", Arity::Zero},
	    {"checkalias", Arity::Zero},
	    {"uidl", Arity::Zero},
	    {"interval", Arity::One},
	    {"tracepolls", Arity::Zero},
	    {"principal", Arity::One},
	    {"esmtpname", Arity::One},
	    {"esmtppassword", Arity::One},
	    {"bad-header", Arity::One},
	    // User options.
	    {"password", Arity::One},
	    {"pass", Arity::One},
	    {"ssl", Arity::Zero},
	    {"sslcert", Arity::One},
	    {"sslkey", Arity::One},
	    {"sslproto", Arity::One},
	    {"sslcertck", Arity::Zero},
	    {"sslcertfile", Arity::One},
	    {"sslcertpath", Arity::One},
	    {"sslcommonname", Arity::One},
	    {"sslfingerprint", Arity::One},
	    {"keep", Arity::Zero},
	    {"nokeep", Arity::Zero},
	    {"flush", Arity::Zero},
	    {"limitflush", Arity::Zero},
	    {"fetchall", Arity::Zero},
	    {"rewrite", Arity::Zero},
	    {"stripcr", Arity::Zero},
	    {"forcecr", Arity::Zero},
	    {"pass8bits", Arity::Zero},
	    {"dropstatus", Arity::Zero},
	    {"dropdelivered", Arity::Zero},
	    {"mimedecode", Arity::Zero},
	    {"idle", Arity::Zero},
	    {"limit", Arity::One},
	    {"warnings", Arity::One},
	    {"fetchlimit", Arity::One},
	    {"fetchsizelimit", Arity::One},
	    {"fastuidl", Arity::One},
	    {"batchlimit", Arity::One},
	    {"expunge", Arity::One},
	    {"mda", Arity::One},
	    {"bsmtp", Arity::One},
	    {"lmtp", Arity::Zero},
	    {"smtphost", Arity::Many},
	    {"smtphosts", Arity::Many},
	    {"fetchdomains", Arity::Many},
	    {"smtpaddress", Arity::One},
	    {"smtpname", Arity::One},
	    {"antispam", Arity::Many},
	    {"preconnect", Arity::One},
	    {"postconnect", Arity::One},
	    {"folder", Arity::Many},
	    {"showdots", Arity::Zero},
	};
	return keywords;
}

/** Keywords that structure the file rather than set an option. */
bool IsStructural(const std::string &word)
{
	return word == "set" || word == "poll" || word == "skip" || word == "defaults" ||
	       word == "user" || word == "username" || word == "is" || word == "to" ||
	       word == "here" || word == "there" || word == "no";
}

bool IsNoise(const std::string &word)
{
	return word == "and" || word == "with" || word == "has" || word == "wants" ||
	       word == "options";
}

struct Option {
	std::string key;
	std::vector<std::string> values;
	unsigned line = 0;
	bool negated = false;
};

struct User {
	std::string remote;
	std::vector<std::string> local;
	unsigned line = 0;
	std::vector<Option> options;
};

struct Server {
	std::string name;
	unsigned line = 0;
	bool skip = false;
	std::vector<Option> options;
	std::vector<User> users;
};

class Parser {
	std::vector<Token> tokens_;
	std::size_t next_ = 0;

public:
	explicit Parser(std::string_view text) : tokens_(Tokenize(text)) {}

	std::vector<Option> globals, defaults;
	std::vector<Server> servers;

	void Parse()
	{
		std::vector<Option> *target = nullptr;
		while (next_ < tokens_.size()) {
			const Token &token = tokens_[next_++];
			const std::string &word = token.text;
			if (!token.quoted && IsNoise(word))
				continue;
			// Not quoted back: a stray quoted string may be a password.
			if (token.quoted)
				throw ImportError(
				    token.line, "a quoted string where a keyword is due");
			if (word == "set") {
				Set(token);
			} else if (word == "poll" || word == "skip") {
				servers.push_back({Value(token).text,
						   token.line,
						   word == "skip",
						   {},
						   {}});
				target = &servers.back().options;
			} else if (word == "defaults") {
				target = &defaults;
			} else if (word == "user" || word == "username") {
				if (servers.empty() || target == &defaults)
					throw ImportError(token.line,
							  word + " outside a poll entry");
				User user;
				user.remote = Value(token).text;
				user.line = token.line;
				if (Peek("here")) {
					// "user LOCAL here is REMOTE there": the other
					// way round.
					++next_;
					user.local.push_back(std::move(user.remote));
					user.remote.clear();
				} else if (Peek("there")) {
					++next_;
				}
				servers.back().users.push_back(std::move(user));
				target = &servers.back().users.back().options;
			} else if (word == "is" || word == "to") {
				if (servers.empty() || servers.back().users.empty())
					throw ImportError(token.line,
							  word + " before user");
				auto &user = servers.back().users.back();
				std::vector<std::string> names = Values(token);
				if (Peek("there")) {
					++next_;
					if (user.remote.empty() && names.size() == 1) {
						user.remote = names.front();
						continue;
					}
				} else if (Peek("here")) {
					++next_;
				}
				user.local.insert(user.local.end(), names.begin(),
						  names.end());
			} else if (word == "here" || word == "there") {
				throw ImportError(token.line,
						  word + " without user or is");
			} else if (word == "no" || Keywords().contains(word)) {
				if (target == nullptr)
					throw ImportError(
					    token.line,
					    word + " before the first poll entry");
				target->push_back(OptionAt(token));
			} else {
				// Not repeated: an unquoted value after a keyword that
				// takes none may be a piece of a password.
				throw ImportError(
				    token.line,
				    "a word that is not a fetchmail keyword (a value "
				    "that needs quotes?)");
			}
		}
	}

private:
	bool Peek(const char *word) const
	{
		return next_ < tokens_.size() && !tokens_[next_].quoted &&
		       tokens_[next_].text == word;
	}

	bool IsValue(const Token &token) const
	{
		return token.quoted ||
		       (!IsStructural(token.text) && !IsNoise(token.text) &&
			!Keywords().contains(token.text));
	}

	const Token &Value(const Token &keyword)
	{
		if (next_ >= tokens_.size() || !IsValue(tokens_[next_]))
			throw ImportError(keyword.line, keyword.text + " needs a value");
		return tokens_[next_++];
	}

	std::vector<std::string> Values(const Token &keyword)
	{
		std::vector<std::string> values = {Value(keyword).text};
		while (next_ < tokens_.size() && IsValue(tokens_[next_]))
			values.push_back(tokens_[next_++].text);
		return values;
	}

	Option OptionAt(const Token &token)
	{
		Option option{token.text, {}, token.line, false};
		if (token.text == "no") {
			if (next_ >= tokens_.size() || tokens_[next_].quoted ||
			    !Keywords().contains(tokens_[next_].text) ||
			    Keywords().at(tokens_[next_].text) != Arity::Zero)
				throw ImportError(token.line, "no must be followed by an "
							      "option without a value");
			option.key = tokens_[next_++].text;
			option.negated = true;
			return option;
		}
		switch (Keywords().at(token.text)) {
		case Arity::Zero:
			break;
		case Arity::One:
			// "auth password" names a method that is also a keyword.
			if ((token.text == "auth" || token.text == "authenticate") &&
			    next_ < tokens_.size() && tokens_[next_].text == "password") {
				option.values.push_back(tokens_[next_++].text);
				break;
			}
			option.values.push_back(Value(token).text);
			break;
		case Arity::Many:
			option.values = Values(token);
			break;
		case Arity::Envelope:
			// envelope [COUNT] HEADER
			option.values.push_back(Value(token).text);
			if (IsNumber(option.values.front()))
				option.values.push_back(Value(token).text);
			break;
		}
		return option;
	}

	void Set(const Token &set)
	{
		if (next_ >= tokens_.size() || tokens_[next_].quoted)
			throw ImportError(set.line, "set needs a global option");
		const Token &what = tokens_[next_++];
		Option option{what.text, {}, what.line, false};
		static const std::map<std::string, bool> set_options = {
		    {"daemon", true},      {"logfile", true},     {"idfile", true},
		    {"pidfile", true},     {"postmaster", true},  {"properties", true},
		    {"bouncemail", false}, {"spambounce", false}, {"softbounce", false},
		    {"syslog", false},     {"invisible", false},  {"showdots", false},
		};
		if (what.text == "no") {
			if (next_ >= tokens_.size() ||
			    !set_options.contains(tokens_[next_].text) ||
			    set_options.at(tokens_[next_].text))
				throw ImportError(what.line,
						  "set no must be followed by a "
						  "global option without a value");
			option.key = tokens_[next_++].text;
			option.negated = true;
		} else if (const auto it = set_options.find(what.text);
			   it != set_options.end()) {
			if (it->second)
				option.values.push_back(Value(what).text);
		} else {
			throw ImportError(what.line,
					  "unknown global option " + what.text);
		}
		globals.push_back(std::move(option));
	}
};

std::string Spelled(const Option &option)
{
	std::string text = (option.negated ? "no " : "") + option.key;
	for (const auto &value : option.values)
		text += " " + value;
	return text;
}

/** Why a fetchmail option has no popstream key. */
const std::map<std::string, std::string> &DropReasons()
{
	static const std::string smtp = "popstream delivers to a Maildir, not by SMTP";
	static const std::map<std::string, std::string> reasons = {
	    {"envelope", "popstream does not sort a multidrop mailbox"},
	    {"qvirtual", "popstream does not sort a multidrop mailbox"},
	    {"aka", "popstream does not sort a multidrop mailbox"},
	    {"localdomains", "popstream does not sort a multidrop mailbox"},
	    {"fetchdomains", "popstream does not sort a multidrop mailbox"},
	    {"dns", "popstream does not sort a multidrop mailbox"},
	    {"checkalias", "popstream does not sort a multidrop mailbox"},
	    {"interface", "popstream does not watch network interfaces"},
	    {"monitor", "popstream does not watch network interfaces"},
	    {"plugin", "popstream connects over TCP only"},
	    {"plugout", "popstream connects over TCP only"},
	    {"uidl", "popstream always uses UIDL where the server has it"},
	    {"interval", "popstream polls each account at its own interval; set "
			 "interval to a duration"},
	    {"tracepolls", "popstream adds no headers"},
	    {"principal", "popstream has no Kerberos"},
	    {"esmtpname", smtp},
	    {"esmtppassword", smtp},
	    {"bad-header", "popstream stores every message as it is"},
	    {"sslproto", "popstream takes TLS 1.2 or newer by default (see "
			 "tls_min_version)"},
	    {"sslcertpath", "a directory; popstream takes one PEM file in ca_file"},
	    {"flush", "popstream never deletes what it has not downloaded"},
	    {"rewrite", "popstream stores each message byte for byte"},
	    {"stripcr", "popstream stores each message byte for byte"},
	    {"forcecr", "popstream stores each message byte for byte"},
	    {"pass8bits", "popstream stores each message byte for byte"},
	    {"dropstatus", "popstream stores each message byte for byte"},
	    {"dropdelivered", "popstream stores each message byte for byte"},
	    {"mimedecode", "popstream stores each message byte for byte"},
	    {"idle", "IDLE is IMAP; popstream polls POP3"},
	    {"warnings", "popstream logs each oversized message"},
	    {"fetchsizelimit", "popstream lists all sizes at once"},
	    {"fastuidl", "popstream lists all UIDs at once"},
	    {"batchlimit", smtp},
	    {"lmtp", smtp},
	    {"smtphost", smtp},
	    {"smtphosts", smtp},
	    {"smtpaddress", smtp},
	    {"smtpname", smtp},
	    {"antispam", smtp},
	    {"preconnect", "popstream runs no command before connecting"},
	    {"postconnect", "popstream runs no command after a poll"},
	    {"folder", "folders are IMAP; a POP3 mailbox has one"},
	    {"showdots", "popstream shows no progress dots"},
	};
	return reasons;
}

std::string Lower(std::string text)
{
	for (char &c : text)
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	return text;
}

/** The options of one user, applied in order (later ones win, as in fetchmail). */
void Apply(Account &account, const std::vector<Option> &options)
{
	bool ssl = false, limitflush = false;
	/** sslproto: nothing = not given; empty = no TLS at all (fetchmail 6.4). */
	std::optional<std::string> sslproto;
	std::string limit;
	std::vector<std::string> smtp;
	for (const auto &option : options) {
		const std::string &key = option.key;
		const std::string value =
		    option.values.empty() ? "" : option.values.front();
		if (key == "proto" || key == "protocol") {
			if (Lower(value) == "apop")
				account.auth = "apop";
		} else if (key == "via") {
			SetHost(account, key, value, option.line);
		} else if (key == "port" || key == "service") {
			SetPort(account, key, value);
		} else if (key == "auth" || key == "authenticate") {
			const auto method = Lower(value);
			// fetchmail's "password" is any method that sends a password;
			// popstream's auto chooses among those.
			if (method == "any" || method == "password")
				account.auth.clear();
			else if (method == "cram-md5" || method == "apop" ||
				 method == "external" || method == "oauthbearer")
				account.auth = method;
			else
				account.dropped.push_back(
				    {Spelled(option), "",
				     "popstream has no such login method"});
		} else if (key == "timeout") {
			SetTimeout(account, key, value);
		} else if (key == "password" || key == "pass") {
			DropPassword(account, key);
		} else if (key == "ssl") {
			ssl = !option.negated;
		} else if (key == "sslproto") {
			// Without ssl, fetchmail takes sslproto as "STLS required", and
			// an empty one as "no STLS either".
			sslproto = value;
			if (!value.empty() && Lower(value).rfind("tls1", 0) != 0)
				account.dropped.push_back(
				    {Spelled(option), "", DropReasons().at(key)});
		} else if (key == "sslcert") {
			account.tls_cert = LiteralPath(value);
		} else if (key == "sslkey") {
			account.tls_key = LiteralPath(value);
		} else if (key == "sslcertfile") {
			account.ca_file = LiteralPath(value);
		} else if (key == "sslcertck") {
			if (option.negated)
				account.dropped.push_back(
				    {Spelled(option), "",
				     "popstream always checks certificates; pin the "
				     "server "
				     "with tls_fingerprint instead"});
		} else if (key == "sslcommonname") {
			SetSni(account, key, value);
		} else if (key == "sslfingerprint") {
			AddFingerprint(account, key, value);
		} else if (key == "keep" || key == "nokeep") {
			account.keep = key == "keep" && !option.negated;
		} else if (key == "fetchall") {
			if (!option.negated)
				account.dropped.push_back(
				    {key, "",
				     "popstream downloads every message it has not "
				     "saved; "
				     "with keep: false that is every message"});
		} else if (key == "limitflush") {
			limitflush = !option.negated;
		} else if (key == "limit") {
			limit = value;
		} else if (key == "fetchlimit") {
			if (IsNumber(value) && ToNumber(value) > 0 &&
			    ToNumber(value) <= 1000000)
				account.max_messages_per_session =
				    static_cast<std::uint32_t>(ToNumber(value));
			else if (value != "0")
				account.dropped.push_back(
				    {key, value, "not 1 to 1000000"});
		} else if (key == "expunge") {
			// fetchmail ends the POP3 session every N messages so that the
			// deletions so far take effect: popstream's checkpoint.
			if (IsNumber(value) && ToNumber(value) > 0 &&
			    ToNumber(value) <= 1000000)
				account.checkpoint_every = value;
			else if (value != "0")
				account.dropped.push_back(
				    {key, value, "not 1 to 1000000"});
		} else if (key == "mda") {
			account.delivery = {};
			account.delivery.kind = Delivery::Kind::Mda;
			account.delivery.target = value;
			account.delivery.origin = "mda \"" + value + "\"";
		} else if (key == "bsmtp") {
			account.delivery = {};
			account.delivery.kind = Delivery::Kind::Other;
			account.delivery.target = value;
			account.delivery.origin = "bsmtp " + value;
		} else if (key == "smtphost" || key == "smtphosts" || key == "lmtp") {
			smtp.push_back(Spelled(option));
		} else if (key == "esmtppassword") {
			// A secret: named, never shown.
			account.dropped.push_back({key, "", DropReasons().at(key)});
		} else if (option.negated && key != "uidl") {
			// "no rewrite", "no mimedecode", "no dns"...: turning off what
			// popstream never does is popstream's behaviour already.
			continue;
		} else if (const auto it = DropReasons().find(key);
			   it != DropReasons().end()) {
			account.dropped.push_back({Spelled(option), "", it->second});
		}
	}
	if (ssl)
		account.tls = Tls::Implicit;
	else if (sslproto)
		account.tls = sslproto->empty() ? Tls::None : Tls::StartTls;
	else {
		account.tls = Tls::StartTls;
		account.notes.push_back("fetchmail used STLS only if the server offered "
					"it; popstream requires "
					"it (tls: none if the server has no STLS)");
	}
	if (!limit.empty()) {
		if (IsNumber(limit))
			SetSizeLimit(account, "limit", limit, ToNumber(limit),
				     limitflush ? "delete" : "skip");
		else
			account.dropped.push_back(
			    {"limit", limit, "not a number of octets"});
	}
	if (account.delivery.kind == Delivery::Kind::Unset) {
		// fetchmail's own default: forward to port 25 of this host.
		account.delivery.kind = Delivery::Kind::Other;
		std::string origin =
		    smtp.empty() ? "smtphost localhost (fetchmail's default)" : "";
		for (const auto &s : smtp)
			origin += (origin.empty() ? "" : ", ") + s;
		account.delivery.origin = origin;
	} else {
		for (const auto &s : smtp)
			account.dropped.push_back({s, "", DropReasons().at("smtphost")});
	}
}

} // namespace

Imported ParseFetchmailrc(std::string_view text, std::string_view local_user)
{
	Parser parser(text);
	parser.Parse();
	Imported imported;
	imported.tool = Tool::Fetchmail;
	std::string interval;
	for (const auto &option : parser.globals) {
		if (option.key == "daemon" && !option.negated)
			interval = option.values.front();
		else if (option.negated && option.key != "softbounce")
			// popstream bounces nothing, logs nothing to syslog itself: "set
			// no bouncemail" and the like are what it does anyway. softbounce
			// is on by default in fetchmail, so "no softbounce" asks for
			// bounces.
			continue;
		else
			imported.dropped.push_back({"set " + Spelled(option), "",
						    option.key == "postmaster" ||
							    option.key == "bouncemail" ||
							    option.key == "spambounce" ||
							    option.key == "softbounce"
							? "popstream bounces nothing"
							: "popstream logs to the journal "
							  "and keeps its own state"});
	}
	std::vector<std::string> taken;
	for (const auto &server : parser.servers) {
		std::string protocol = "auto";
		for (const auto *options : std::array<const std::vector<Option> *, 2>{
			 &parser.defaults, &server.options})
			for (const auto &option : *options)
				if (option.key == "proto" || option.key == "protocol")
					protocol = Lower(option.values.front());
		if (protocol != "pop3" && protocol != "apop" && protocol != "auto") {
			imported.dropped.push_back(
			    {"poll " + server.name, "",
			     "protocol " + protocol + "; popstream fetches POP3 only"});
			continue;
		}
		std::vector<User> users = server.users;
		if (users.empty())
			users.push_back({"", {}, server.line, {}});
		for (const auto &user : users) {
			Account account;
			account.line = user.line;
			const std::string wanted =
			    server.users.size() > 1 && !user.remote.empty()
				? server.name + "-" + user.remote
				: server.name;
			account.name = MakeAccountName(wanted, taken);
			account.notes.push_back(
			    std::string("fetchmail ") +
			    (server.skip ? "skip " : "poll ") + server.name +
			    (user.remote.empty() ? "" : " user " + user.remote) +
			    (server.skip ? " (skip: not polled unless named)" : ""));
			if (protocol == "auto")
				account.notes.push_back(
				    "fetchmail's protocol auto: imported as POP3");
			account.enabled = !server.skip;
			if (!user.remote.empty())
				SetUser(account, "user", user.remote);
			std::vector<Option> options = parser.defaults;
			options.insert(options.end(), server.options.begin(),
				       server.options.end());
			options.insert(options.end(), user.options.begin(),
				       user.options.end());
			// With via, the poll name is only a label.
			if (std::none_of(options.begin(), options.end(),
					 [](const Option &o) { return o.key == "via"; }))
				SetHost(account, "poll", server.name, server.line);
			Apply(account, options);
			// %T is the local user the entry names, else the user running
			// fetchmail: the one running this import.
			const std::string recipient =
			    user.local.size() == 1 ? user.local.front()
			    : user.local.empty()   ? std::string(local_user)
						   : std::string();
			auto &delivery = account.delivery;
			const bool to_recipient =
			    delivery.kind == Delivery::Kind::Mda &&
			    delivery.target.find("%T") != std::string::npos;
			if (delivery.kind == Delivery::Kind::Mda) {
				if (auto argv = MdaFromShell(delivery.target, recipient,
							     delivery.why))
					delivery.argv = std::move(*argv);
				else if (user.local.size() > 1)
					delivery.why = "%T, the local recipient, is "
						       "one of several local users";
				if (to_recipient && !delivery.argv.empty())
					delivery.note =
					    "%T became " + recipient +
					    (user.local.empty() ? " (the user running "
								  "popstream import)"
								: "");
			}
			if (!user.local.empty() &&
			    !(to_recipient && !delivery.argv.empty())) {
				std::string names;
				for (const auto &name : user.local)
					names += (names.empty() ? "" : " ") + name;
				account.dropped.push_back(
				    {"is " + names + " here", "",
				     "popstream delivers to the "
				     "account's own delivery, not to "
				     "local users"});
			}
			if (!interval.empty())
				SetInterval(account, "set daemon", interval);
			Finish(account);
			imported.accounts.push_back(std::move(account));
		}
	}
	if (imported.accounts.empty())
		throw NothingToImport(0, "no POP3 poll entry");
	return imported;
}

} // namespace popstream::importer
