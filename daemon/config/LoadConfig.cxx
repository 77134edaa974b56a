#include "LoadConfig.hxx"
#include "AccountKeys.hxx"
#include "YamlValue.hxx"
#include "core/util/Escape.hxx"
#include "posix/File.hxx"
#include "posix/Passwd.hxx"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace popstream::config {

namespace {

/** The keys allowed at the top of the file. */
constexpr std::string_view top_keys[] = {"defaults", "accounts", "max_concurrent"};

std::string Quoted(std::string_view text)
{
	return "\"" + Escape(text, 100) + "\"";
}

/** @return `parent.key`, or `key` at the top; the key escaped, as it comes from the
 * file */
std::string KeyPath(const std::string &parent, std::string_view key)
{
	auto escaped = Escape(key, 100);
	return parent.empty() ? escaped : parent + "." + escaped;
}

/**
 * Reads the documents of a YAML text only to see where each starts. yaml-cpp 0.7's
 * LoadAll() loops forever, filling memory with empty documents, when a ',' stands where
 * a document should start (",", "a: 1\n---\n,"): its parser then returns a document
 * without reading anything. This notices a document that starts where the one before
 * it did.
 *
 * @return the 0-based mark where the parser stopped making progress, or nothing if it
 *         reads to the end
 * @throws YAML::Exception for a syntax error, as LoadAll() would
 */
std::optional<YAML::Mark> FindStuckDocument(const std::string &text)
{
	struct Starts final : YAML::EventHandler {
		std::optional<YAML::Mark> last;
		bool stuck = false;
		void OnDocumentStart(const YAML::Mark &mark) override
		{
			stuck = last && last->pos == mark.pos;
			last = mark;
		}
		void OnDocumentEnd() override {}
		void OnNull(const YAML::Mark &, YAML::anchor_t) override {}
		void OnAlias(const YAML::Mark &, YAML::anchor_t) override {}
		void OnScalar(const YAML::Mark &, const std::string &, YAML::anchor_t,
			      const std::string &) override
		{
		}
		void OnSequenceStart(const YAML::Mark &, const std::string &,
				     YAML::anchor_t, YAML::EmitterStyle::value) override
		{
		}
		void OnSequenceEnd() override {}
		void OnMapStart(const YAML::Mark &, const std::string &, YAML::anchor_t,
				YAML::EmitterStyle::value) override
		{
		}
		void OnMapEnd() override {}
	} starts;
	std::istringstream stream(text);
	YAML::Parser parser(stream);
	while (parser.HandleNextDocument(starts))
		if (starts.stuck)
			return starts.last;
	return std::nullopt;
}

/** The home directory of the effective user from the passwd database, for services
 * started without HOME. */
std::optional<std::string> HomeFromPasswd()
{
	auto user = posix::EffectiveUser();
	if (!user || user->home.empty())
		return std::nullopt;
	return std::move(user->home);
}

/** One problem, kept with its position so that all can be sorted into file order. */
struct Diagnostic {
	Mark mark;
	std::string text;
};

/** One key and value of a map. */
struct Entry {
	std::string name;
	YAML::Node value;
	Mark key_mark, value_mark;
};

/** One map of account keys read so far (`defaults:` or an account). */
struct Draft {
	/** The account with what it inherited and what it set. */
	Account account;
	/** The keys this map set itself, with the position of their values. */
	std::map<std::string, Mark, std::less<>> own;
	/** Keys whose value was invalid here or under `defaults:`. They count as set, so
	 * that one mistake under defaults: gives one message, not one per account. */
	std::set<std::string, std::less<>> failed;

	bool Failed(std::string_view key) const
	{
		return failed.find(key) != failed.end();
	}
};

/** Reads one document into a Config, collecting every problem. */
class Loader {
	std::string file_;
	KeyContext context_;
	std::vector<Diagnostic> errors_;

	void Report(const Mark &mark, const std::string &key, const std::string &problem)
	{
		errors_.push_back({mark, key.empty() ? problem : key + ": " + problem});
	}

	Mark At(const YAML::Node &node, const Mark &fallback) const
	{
		return MarkOf(node, file_, fallback);
	}

	Mark Start() const { return {file_, 1, 1}; }

	/** @return the entries of @p map in file order; keys that are not strings and
	 * repeated keys are reported and left out */
	std::vector<Entry> Entries(const YAML::Node &map, const std::string &path)
	{
		std::vector<Entry> entries;
		std::map<std::string, Mark> seen;
		const auto map_mark = At(map, Start());
		for (auto it = map.begin(); it != map.end(); ++it) {
			const YAML::Node key = it->first;
			const YAML::Node value = it->second;
			const auto key_mark = At(key, map_mark);
			if (!key.IsScalar()) {
				Report(key_mark, path,
				       "keys must be strings, got " +
					   std::string(DescribeType(key)));
				continue;
			}
			const auto &name = key.Scalar();
			// yaml-cpp keeps both entries of a repeated key; which one a
			// reader sees is an accident, so it is an error.
			if (const auto first = seen.find(name); first != seen.end()) {
				Report(key_mark, KeyPath(path, name),
				       "duplicate key (first at line " +
					   std::to_string(first->second.line) + ")");
				continue;
			}
			seen.emplace(name, key_mark);
			// yaml-cpp puts an empty value where the next token starts, often
			// on the next line; the key is where the user looks.
			const auto value_mark =
			    value.IsNull() ? key_mark : At(value, key_mark);
			entries.push_back({name, value, key_mark, value_mark});
		}
		return entries;
	}

	void UnknownKey(const Entry &entry, const std::string &path,
			std::span<const std::string_view> candidates)
	{
		std::string problem = "unknown key";
		if (entry.name == "pass")
			problem +=
			    "; passwords are not read from this file (use "
			    "password: {secret: {...}}, password_command, or netrc)";
		else if (entry.name == "<<")
			problem += "; YAML merge keys are not supported (put shared keys "
				   "under defaults:)";
		else if (const auto near = NearestWord(entry.name, candidates))
			problem += "; did you mean \"" + std::string(*near) + "\"?";
		Report(entry.key_mark, KeyPath(path, entry.name), problem);
	}

	/** Reads the keys of one account or of `defaults:` into @p draft. */
	void ReadAccountMap(const YAML::Node &map, const std::string &path,
			    bool is_defaults, Draft &draft)
	{
		const auto entries = Entries(map, path);
		const auto names = AccountKeyNames(is_defaults);

		std::vector<std::pair<const AccountKey *, const Entry *>> known;
		for (const auto &entry : entries) {
			const auto *key = FindAccountKey(entry.name);
			if (key == nullptr) {
				UnknownKey(entry, path, names);
			} else if (is_defaults && key->account_only) {
				Report(
				    entry.key_mark, KeyPath(path, entry.name),
				    "not allowed under defaults: (each account has its "
				    "own)");
			} else {
				known.emplace_back(key, &entry);
			}
		}

		const auto in_group = [&](KeyGroup group) {
			return std::any_of(
			    known.begin(), known.end(),
			    [&](const auto &k) { return k.first->group == group; });
		};
		const bool has_server = in_group(KeyGroup::Server);
		const bool has_explicit = in_group(KeyGroup::Explicit);
		// The connection is chosen as a whole: an account that sets `server`
		// inherits no `host`, `port`... from defaults:, and one that sets any of
		// those inherits no `server`.
		const auto forget = [&](KeyGroup group) {
			ClearGroup(group, draft.account);
			for (const auto &key : AccountKeyTable())
				if (key.group == group)
					draft.failed.erase(std::string(key.name));
		};
		if (has_server)
			forget(KeyGroup::Explicit);
		else if (has_explicit)
			forget(KeyGroup::Server);

		for (const auto &[key, entry] : known) {
			const auto key_path = KeyPath(path, entry->name);
			if (has_server && key->group == KeyGroup::Explicit) {
				Report(entry->key_mark, key_path,
				       "cannot be combined with \"server\" (the spec "
				       "[{ssl,tcp}:][user@]host[!sni][:port] sets host, "
				       "port, "
				       "TLS and user; use either)");
				continue;
			}
			const YamlValue value(entry->value, entry->value_mark, key_path);
			try {
				key->apply(value, context_, draft.account);
				draft.own[entry->name] = entry->value_mark;
				draft.failed.erase(entry->name);
			} catch (const LocatedError &e) {
				Report(e.Where(), e.Key(), e.what());
				draft.failed.insert(entry->name);
			} catch (const ValueError &e) {
				Report(entry->value_mark, key_path, e.what());
				draft.failed.insert(entry->name);
			}
		}
		CheckDeleteAfter(draft, path);
		CheckUnusedSecret(draft, path);
	}

	/**
	 * A secret command written in a map where the login method never uses it is
	 * reported at that command: whoever writes it expects it to be run. Only the
	 * command set in this map counts, since an account cannot unset one it
	 * inherits from defaults:, but can choose its method.
	 */
	void CheckUnusedSecret(Draft &draft, const std::string &path)
	{
		const auto &account = draft.account;
		if (draft.Failed("auth"))
			return;
		const auto method = account.auth;
		const auto name = Quoted(pop3::AuthMethodName(method));
		const auto token = draft.own.find("oauth_token_command");
		if (token != draft.own.end() && !account.oauth_token_command.empty() &&
		    method != pop3::AuthMethod::Auto && !pop3::UsesToken(method)) {
			Report(token->second, KeyPath(path, "oauth_token_command"),
			       "not used with auth: " + name +
				   (method == pop3::AuthMethod::External
					? ", which logs in with the client certificate"
					: ", which logs in with the password") +
				   " (the token is for xoauth2, oauthbearer or auto)");
			draft.failed.insert("oauth_token_command");
		}
		const auto oauth = draft.own.find("oauth");
		if (oauth != draft.own.end() && account.oauth &&
		    method != pop3::AuthMethod::Auto && !pop3::UsesToken(method)) {
			Report(oauth->second, KeyPath(path, "oauth"),
			       "not used with auth: " + name +
				   " (OAuth 2.0 tokens are for xoauth2, oauthbearer or "
				   "auto)");
			draft.failed.insert("oauth");
		}
		const bool has_token =
		    !account.oauth_token_command.empty() || account.oauth.has_value();
		ChooseOne(draft, path, "oauth", !!account.oauth, "oauth_token_command",
			  !account.oauth_token_command.empty(), "token");
		ChooseOne(draft, path, "password", !account.password_secret.empty(),
			  "password_command", !account.password_command.empty(),
			  "password");
		const auto password = draft.own.find("password_command");
		const bool by_token = pop3::UsesToken(method) ||
				      (method == pop3::AuthMethod::Auto && has_token);
		if (password != draft.own.end() && !account.password_command.empty() &&
		    !draft.Failed("oauth_token_command") &&
		    (by_token || method == pop3::AuthMethod::External)) {
			Report(password->second, KeyPath(path, "password_command"),
			       method == pop3::AuthMethod::External
				   ? "not used with auth: \"external\", which logs in "
				     "with the client certificate"
				   : "not used with auth: " + name +
					 ", which logs in with the token of "
					 "oauth_token_command (set auth to a password "
					 "method to use the password)");
			draft.failed.insert("password_command");
		}
	}

	/**
	 * Two keys set (after inheritance) that give the same secret: reported at the
	 * one this map sets, the first if it sets both; whoever writes both cannot
	 * know which would win.
	 */
	void ChooseOne(Draft &draft, const std::string &path, const char *first,
		       bool first_set, const char *second, bool second_set,
		       const char *secret)
	{
		if (!first_set || !second_set || draft.Failed(first) ||
		    draft.Failed(second))
			return;
		const char *at = draft.own.count(first) != 0    ? first
				 : draft.own.count(second) != 0 ? second
								: nullptr;
		if (at == nullptr)
			return;
		Report(draft.own.find(at)->second, KeyPath(path, at),
		       std::string(first) + " and " + second + " both give the " +
			   secret + " (choose one)");
		draft.failed.insert(at);
	}

	/** auth: xoauth2 or oauthbearer without a token, after inheritance (the method
	 * may come from defaults:, the command from the account). */
	void CheckTokenSource(const Draft &draft, const std::string &path,
			      const Mark &where)
	{
		const auto &account = draft.account;
		if (!pop3::UsesToken(account.auth) ||
		    !account.oauth_token_command.empty() || account.oauth ||
		    draft.Failed("auth") || draft.Failed("oauth_token_command") ||
		    draft.Failed("oauth"))
			return;
		const auto own = draft.own.find("auth");
		Report(own != draft.own.end() ? own->second : where, path + ".auth",
		       Quoted(pop3::AuthMethodName(account.auth)) +
			   " needs oauth or oauth_token_command (XOAUTH2 and "
			   "OAUTHBEARER log in with an OAuth 2.0 access token, not a "
			   "password)");
	}

	/** tls_cert without tls_key or the reverse, and auth: external without a
	 * certificate, after inheritance: caught here rather than at the first fetch,
	 * as dl catches them before connecting. */
	void CheckClientCertificate(const Draft &draft, const std::string &path,
				    const Mark &where)
	{
		const auto &account = draft.account;
		if (draft.Failed("tls_cert") || draft.Failed("tls_key"))
			return;
		const auto at = [&](const char *key) {
			const auto own = draft.own.find(key);
			return own != draft.own.end() ? own->second : where;
		};
		if (!account.tls_cert.empty() && account.tls_key.empty())
			Report(at("tls_cert"), path + ".tls_key",
			       "missing: tls_cert needs tls_key (the certificate's "
			       "unencrypted PEM key)");
		else if (account.tls_cert.empty() && !account.tls_key.empty())
			Report(at("tls_key"), path + ".tls_cert",
			       "missing: tls_key needs tls_cert (the PEM client "
			       "certificate it belongs to)");
		if (account.tls == TlsMode::None && account.server.empty() &&
		    !draft.Failed("tls") &&
		    (!account.tls_fingerprints.empty() || !account.tls_cert.empty()))
			Report(at(account.tls_fingerprints.empty() ? "tls_cert"
								   : "tls_fingerprint"),
			       path + (account.tls_fingerprints.empty()
					   ? ".tls_cert"
					   : ".tls_fingerprint"),
			       "needs TLS, but tls is \"none\" (set tls: implicit or "
			       "starttls)");
		if (account.auth == pop3::AuthMethod::External &&
		    account.tls_cert.empty() && !draft.Failed("auth"))
			Report(
			    at("auth"), path + ".auth",
			    "\"external\" needs tls_cert and tls_key (EXTERNAL logs in "
			    "with the TLS client certificate)");
	}

	/**
	 * delete_after written in a map where keep is not true (set there, or in an
	 * account inherited from defaults:) is reported: whoever writes it expects
	 * messages to be kept until then, and without keep they are deleted at once.
	 */
	void CheckDeleteAfter(Draft &draft, const std::string &path)
	{
		const auto own = draft.own.find("delete_after");
		if (own == draft.own.end() || draft.account.delete_after.count() == 0 ||
		    draft.account.keep || draft.Failed("keep"))
			return;
		Report(own->second, KeyPath(path, "delete_after"),
		       "needs keep: true (keep is false, so every message is deleted as "
		       "soon as it is saved)");
		draft.failed.insert("delete_after");
	}

	/** Checks what an account needs after inheritance and fills derived defaults.
	 */
	void FinishAccount(Draft &draft, const std::string &path, const Mark &where,
			   std::map<std::string, Mark> &names)
	{
		auto &account = draft.account;
		if (account.name.empty()) {
			if (!draft.Failed("name"))
				Report(where, path + ".name",
				       "missing (every account needs a unique name)");
		} else {
			const auto &mark = draft.own["name"];
			const auto [first, inserted] = names.emplace(account.name, mark);
			if (!inserted)
				Report(mark, path + ".name",
				       "duplicate account name " + Quoted(account.name) +
					   " (first at line " +
					   std::to_string(first->second.line) + ")");
		}

		if (account.server.empty() && account.host.empty() &&
		    !draft.Failed("server") && !draft.Failed("host"))
			Report(where, path + ".server",
			       "missing: set \"server\" (a connection spec) or \"host\"");
		if (!account.host.empty() && account.port == 0)
			account.port = account.tls == TlsMode::Implicit
					   ? DEFAULT_TLS_PORT
					   : DEFAULT_CLEARTEXT_PORT;

		CheckTokenSource(draft, path, where);
		CheckClientCertificate(draft, path, where);

		// One delivery: what a map sets itself replaces what it inherited.
		CheckOneDelivery(draft, path, where, account);
		// An account that sets keep: false does not inherit delete_after (see
		// CheckDeleteAfter()), so the model never holds one without keep.
		if (!account.keep)
			account.delete_after = std::chrono::seconds(0);
		account.where = where;
	}

	/** maildir, mda and mbox each say where the mail goes: one per account, the
	 * account's own replacing the one it inherited. */
	void CheckOneDelivery(Draft &draft, const std::string &path, const Mark &where,
			      Account &account)
	{
		static constexpr const char *keys[] = {"maildir", "mda", "mbox"};
		std::vector<std::string> own;
		for (const char *key : keys)
			if (draft.own.count(key) != 0)
				own.push_back(key);
		if (own.size() > 1) {
			Report(draft.own.find(own[1])->second, path + "." + own[1],
			       own[0] + " and " + own[1] +
				   " both say where the mail goes (choose one)");
			draft.failed.insert(own[1]);
			return;
		}
		const std::string mine = own.empty() ? "" : own[0];
		if (mine != "" && mine != "maildir")
			account.maildir.clear();
		if (mine != "" && mine != "mda")
			account.mda.clear();
		if (mine != "" && mine != "mbox")
			account.mbox.clear();
		std::vector<std::string> set;
		if (!account.maildir.empty())
			set.push_back("maildir");
		if (!account.mda.empty())
			set.push_back("mda");
		if (!account.mbox.empty())
			set.push_back("mbox");
		if (set.size() > 1) {
			Report(
			    where, path + "." + set[1],
			    set[0] + " and " + set[1] +
				" are both set under defaults: (choose one, or set one "
				"in the account)");
			draft.failed.insert(set[1]);
		} else if (set.empty() && !draft.Failed("maildir") &&
			   !draft.Failed("mda") && !draft.Failed("mbox")) {
			Report(where, path + ".maildir",
			       "missing (set it in the account or under defaults:)");
		}
	}

	void ReadAccounts(const Entry &entry, const Draft &defaults, Config &config)
	{
		const auto &list = entry.value;
		if (list.IsNull() || (list.IsSequence() && list.size() == 0)) {
			Report(entry.value_mark, "accounts",
			       "no accounts (add at least one)");
			return;
		}
		if (!list.IsSequence()) {
			Report(entry.value_mark, "accounts",
			       "expected a list of accounts, got " +
				   std::string(DescribeType(list)));
			return;
		}

		std::map<std::string, Mark> names;
		std::size_t index = 0;
		for (const auto &element : list) {
			const auto path = "accounts[" + std::to_string(index++) + "]";
			const auto where = At(element, entry.value_mark);
			if (!element.IsMap()) {
				Report(where, path,
				       "expected a map (one account), got " +
					   std::string(DescribeType(element)));
				continue;
			}
			Draft draft = defaults;
			draft.own.clear();
			ReadAccountMap(element, path, false, draft);
			FinishAccount(draft, path, where, names);
			config.accounts.push_back(std::move(draft.account));
		}
	}

public:
	Loader(std::string _file, const LoadOptions &options)
	    : file_(std::move(_file)), context_{options.lookup ? options.lookup
							       : ProcessEnvironment(),
						options.check_files}
	{
	}

	Config Run(std::string_view text)
	{
		Config config;
		config.path = file_;

		std::vector<YAML::Node> documents;
		try {
			const std::string copy(text);
			if (const auto stuck = FindStuckDocument(copy)) {
				Report(Mark{file_, static_cast<unsigned>(stuck->line) + 1,
					    static_cast<unsigned>(stuck->column) + 1},
				       "",
				       "YAML syntax error: " +
					   Quoted(copy.substr(stuck->pos, 1)) +
					   " where a document should start");
				return config;
			}
			documents = YAML::LoadAll(copy);
		} catch (const YAML::Exception &e) {
			// yaml-cpp's Mark is 0-based.
			const auto mark =
			    e.mark.is_null()
				? Start()
				: Mark{file_, static_cast<unsigned>(e.mark.line) + 1,
				       static_cast<unsigned>(e.mark.column) + 1};
			// yaml-cpp quotes the offending byte raw ("unknown escape
			// character: " and a line end or a control byte): escaped, the
			// message stays one printable line.
			Report(mark, "", Escape(e.msg, 200));
			return config;
		}
		if (documents.size() > 1)
			Report(
			    At(documents[1], Start()), "",
			    "more than one YAML document (\"---\"); only one is allowed");

		const YAML::Node root = documents.empty() ? YAML::Node() : documents[0];
		if (root.IsNull()) {
			Report(
			    Start(), "",
			    "empty file; expected \"accounts:\" (see popstream.yaml(5))");
			return config;
		}
		if (!root.IsMap()) {
			Report(At(root, Start()), "",
			       "expected a map with \"accounts:\" at the top, got " +
				   std::string(DescribeType(root)));
			return config;
		}

		const auto entries = Entries(root, "");
		const Entry *defaults = nullptr, *accounts = nullptr;
		for (const auto &entry : entries) {
			if (entry.name == "defaults") {
				defaults = &entry;
			} else if (entry.name == "accounts") {
				accounts = &entry;
			} else if (entry.name == "max_concurrent") {
				const YamlValue value(entry.value, entry.value_mark,
						      entry.name);
				try {
					config.max_concurrent = static_cast<unsigned>(
					    value.Integer(1, MAX_CONCURRENT_LIMIT));
				} catch (const ValueError &e) {
					Report(entry.value_mark, entry.name, e.what());
				}
			} else if (FindAccountKey(entry.name) != nullptr) {
				Report(entry.key_mark, KeyPath("", entry.name),
				       "unknown key at the top; account keys go into an "
				       "entry of accounts: or under defaults:");
			} else {
				UnknownKey(entry, "", top_keys);
			}
		}

		// defaults: first, wherever it is in the file: accounts copy it.
		Draft base;
		if (defaults != nullptr) {
			if (defaults->value.IsMap())
				ReadAccountMap(defaults->value, "defaults", true, base);
			else if (!defaults->value.IsNull())
				Report(defaults->value_mark, "defaults",
				       "expected a map of account keys, got " +
					   std::string(DescribeType(defaults->value)));
		}

		if (accounts == nullptr)
			Report(At(root, Start()), "accounts",
			       "missing (the list of accounts to fetch)");
		else
			ReadAccounts(*accounts, base, config);
		return config;
	}

	/** @return the messages in file order, at most MAX_ERRORS plus a count */
	std::vector<std::string> Messages()
	{
		std::stable_sort(errors_.begin(), errors_.end(),
				 [](const Diagnostic &a, const Diagnostic &b) {
					 return a.mark.line != b.mark.line
						    ? a.mark.line < b.mark.line
						    : a.mark.column < b.mark.column;
				 });
		std::vector<std::string> messages;
		for (const auto &error : errors_) {
			if (messages.size() == MAX_ERRORS) {
				messages.push_back(
				    file_ + ": " +
				    std::to_string(errors_.size() - MAX_ERRORS) +
				    " more errors not shown");
				break;
			}
			messages.push_back(error.mark.ToString() + ": " + error.text);
		}
		return messages;
	}
};

} // namespace

EnvLookup ProcessEnvironment()
{
	return [](const std::string &name) -> std::optional<std::string> {
		const char *value = std::getenv(name.c_str());
		// systemd user services have HOME, but a unit started by other means
		// may not.
		if (name == "HOME" && (value == nullptr || *value == '\0'))
			return HomeFromPasswd();
		if (value == nullptr)
			return std::nullopt;
		return std::string(value);
	};
}

std::string DefaultConfigPath()
{
	// The XDG Base Directory Specification says to ignore a relative value.
	if (const char *xdg = std::getenv("XDG_CONFIG_HOME");
	    xdg != nullptr && *xdg == '/')
		return std::string(xdg) + "/popstream/config.yaml";
	const auto home = ProcessEnvironment()("HOME");
	if (!home)
		throw ConfigError(
		    "cannot find the config file: $HOME is not set and uid " +
		    std::to_string(geteuid()) +
		    " has no home directory (use --config FILE)");
	return *home + "/.config/popstream/config.yaml";
}

Config ParseConfig(std::string_view text, const std::string &path,
		   const LoadOptions &options)
{
	Loader loader(path, options);
	auto config = loader.Run(text);
	auto messages = loader.Messages();
	if (!messages.empty())
		throw ConfigError(std::move(messages));
	return config;
}

Config LoadConfig(const std::string &path, const LoadOptions &options)
{
	const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		throw ConfigError(path + ": cannot read: " + std::strerror(errno));

	std::string text;
	std::string problem;
	struct stat st {};
	if (fstat(fd, &st) != 0) {
		problem = std::string("cannot read: ") + std::strerror(errno);
	} else if (S_ISDIR(st.st_mode)) {
		problem = "is a directory, not a file";
	} else {
		auto read = posix::ReadToEnd(fd, MAX_CONFIG_SIZE);
		if (read.error != 0)
			problem =
			    std::string("cannot read: ") + std::strerror(read.error);
		else if (read.too_large)
			problem = "larger than 1 MiB, which no config file is";
		else
			text = std::move(read.text);
	}
	close(fd);
	if (!problem.empty())
		throw ConfigError(path + ": " + problem);
	return ParseConfig(text, path, options);
}

} // namespace popstream::config
