#include "CheckConfig.hxx"

#include "config/AccountKeys.hxx"
#include "config/LoadConfig.hxx"
#include "core/config/Validate.hxx"
#include "core/spec/ConnectionSpec.hxx"
#include "core/util/Escape.hxx"
#include "fetch/AccountCredentials.hxx"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace popstream::cli {

namespace {

/** What check-config shows about the connection of an account. */
struct ConnectionText {
	/** `host:port`, or empty when only netrc knows it. */
	std::string host_port;
	std::string tls, sni, user;
	/** Why the connection could not be resolved now; empty if it was. */
	std::string warning;
};

/** The connection as far as the config file alone tells. */
ConnectionText FromConfig(const config::Account &account)
{
	ConnectionText text;
	if (account.server.empty()) {
		text.host_port = FormatHostPort(account.host, account.port);
		text.tls = config::TlsModeName(account.tls);
		text.sni = account.sni;
		text.user = account.user;
		return text;
	}
	std::optional<ConnectionSpec> spec;
	try {
		spec = config::CheckServer(account.server);
	} catch (const config::ValueError &) {
		// LoadConfig() has checked it; should that change, nothing is known.
	}
	if (!spec) {
		const auto scheme = SplitScheme(account.server);
		text.tls = !scheme.explicit_scheme ? "(from the netrc machine)"
			   : scheme.tls            ? "implicit"
			   : scheme.starttls       ? "starttls"
						   : "none";
		return text;
	}
	text.host_port = FormatHostPort(spec->host, spec->Port());
	text.tls = spec->tls ? "implicit" : spec->starttls ? "starttls" : "none";
	text.sni = spec->sni;
	text.user = spec->user;
	return text;
}

/**
 * The connection as a fetch will resolve it: netrc accounts and logins, the local
 * user. No password is looked up and no command is run.
 */
ConnectionText Resolve(const config::Account &account)
{
	Credentials credentials;
	try {
		credentials = ResolveAccountConnection(account);
	} catch (const CredentialError &e) {
		auto text = FromConfig(account);
		text.warning = e.what();
		// The block already names the account.
		const std::string prefix = "account \"" + account.name + "\": ";
		if (text.warning.compare(0, prefix.size(), prefix) == 0)
			text.warning.erase(0, prefix.size());
		if (e.Code() == ExitCode::Usage)
			text.warning = "no netrc entry has the account \"" +
				       Escape(SplitScheme(account.server).rest, 300) +
				       "\", and it is not a connection spec";
		return text;
	}
	ConnectionText text;
	text.host_port = FormatHostPort(credentials.host, credentials.port);
	text.tls = credentials.starttls ? "starttls"
		   : credentials.tls    ? "implicit"
					: "none";
	text.sni = credentials.tls_name;
	text.user = credentials.user;
	return text;
}

/** @return whether @p program runs: a path to an executable file, or a name found
 *          in one of $PATH's directories, as posix_spawnp() looks it up */
bool Runnable(const std::string &program)
{
	if (program.find('/') != std::string::npos)
		return access(program.c_str(), X_OK) == 0;
	const char *path = std::getenv("PATH");
	std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
	while (true) {
		const auto colon = dirs.find(':');
		std::string dir(dirs.substr(0, colon));
		if (dir.empty())
			dir = ".";
		const std::string candidate = dir + "/" + program;
		struct stat st {};
		if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
		    access(candidate.c_str(), X_OK) == 0)
			return true;
		if (colon == std::string_view::npos)
			return false;
		dirs.remove_prefix(colon + 1);
	}
}

/** @return why nothing can be made at @p path (a Maildir, an mbox's file): the
 *          nearest part of it that exists is a file, not a directory; or "" */
std::string UnusablePath(const std::string &path)
{
	if (path.empty())
		return "";
	std::error_code error;
	std::filesystem::path p(path);
	while (!p.empty() && !std::filesystem::exists(p, error))
		p = p.parent_path();
	// The target itself, when it exists, is the mbox's file (or a Maildir whose
	// own problems the fetch reports).
	if (p.empty() || p == std::filesystem::path(path) ||
	    std::filesystem::is_directory(p, error))
		return "";
	return Escape(p.string(), 300) + " is not a directory, so " + Escape(path, 300) +
	       " cannot be made";
}

/** A netrc password is looked up (a file read, nothing run): " (none found: ...)" if
 * the fetch would find none, else "". */
std::string NetrcProblem(const config::Account &account,
			 std::vector<std::string> &problems)
{
	try {
		auto pending = ResolveAccountDeferred(account);
		auto password = pending.password();
		std::fill(password.begin(), password.end(), '\0');
		return "";
	} catch (const CredentialError &e) {
		std::string why = e.what();
		const std::string prefix = "account \"" + account.name + "\": ";
		if (why.compare(0, prefix.size(), prefix) == 0)
			why.erase(0, prefix.size());
		problems.push_back(account.where.ToString() + ": account " +
				   account.name + ": " + why);
		return " (" + why + ")";
	}
}

/** A command is not run, only looked for: " (not run)" or " (not found: ...)". */
std::string CommandProblem(const config::Account &account,
			   const std::vector<std::string> &argv,
			   std::vector<std::string> &problems)
{
	if (Runnable(argv[0]))
		return " (not run)";
	const std::string why =
	    Escape(argv[0], 300) + " is not an executable file" +
	    (argv[0].find('/') != std::string::npos ? "" : " on $PATH");
	problems.push_back(account.where.ToString() + ": account " + account.name + ": " +
			   why);
	return " (" + why + ")";
}

/**
 * Prints an account's block; what would make a fetch of it fail before it starts (no
 * password in netrc, a password command that is not there) goes to @p problems too.
 */
void PrintAccount(std::ostream &out, const config::Account &account,
		  std::vector<std::string> &problems)
{
	out << "account " << account.name << " (" << account.where.ToString() << ")\n";
	if (!account.server.empty())
		out << "  server: " << Escape(account.server, 300) << "\n";
	const auto connection = Resolve(account);
	if (!connection.warning.empty()) {
		out << "  warning: " << connection.warning << "\n";
		problems.push_back(account.where.ToString() + ": account " +
				   account.name + ": " + connection.warning);
	}
	if (!connection.host_port.empty())
		out << "  host: " << connection.host_port << "\n";
	out << "  tls: " << connection.tls << "\n";
	// Without TLS there is no name to check (a netrc account still gives one).
	if (!connection.sni.empty() && connection.tls != "none")
		out << "  sni: " << connection.sni << "\n";
	out << "  user: "
	    << (connection.user.empty() ? "(from netrc or the local user)"
					: Escape(connection.user, 300))
	    << "\n";
	// Only argv[0]: the arguments may say where a secret is, or hold one. Only the
	// secret the method uses is shown: the one a fetch will ask for.
	const bool by_token = pop3::UsesToken(account.auth) ||
			      (account.auth == pop3::AuthMethod::Auto &&
			       (!account.oauth_token_command.empty() || account.oauth));
	if (by_token && account.oauth)
		out << "  token: "
		    << (account.oauth->provider == oauth::Provider::Goa
			    ? "from GNOME Online Accounts"
			    : "OAuth 2.0, refreshed with the token that `popstream oauth "
			      "login " +
				  account.name + "` stores")
		    << "\n";
	else if (by_token && !account.oauth_token_command.empty())
		out << "  token: from command "
		    << Escape(account.oauth_token_command[0], 300)
		    << CommandProblem(account, account.oauth_token_command, problems)
		    << "\n";
	else if (account.auth == pop3::AuthMethod::External)
		out << "  password: none (the TLS client certificate logs in)\n";
	else if (!account.password_secret.empty())
		out << "  password: " << *config::DescribePasswordSecret(account) << "\n";
	else if (account.password_command.empty())
		// Where the connection could not be resolved, that is the problem
		// said already.
		out << "  password: from netrc"
		    << (connection.warning.empty() ? NetrcProblem(account, problems) : "")
		    << "\n";
	else
		out << "  password: from command "
		    << Escape(account.password_command[0], 300)
		    << CommandProblem(account, account.password_command, problems)
		    << "\n";
	// Every other key shows itself (AccountKeys.cxx), so a new one needs nothing
	// here.
	for (const auto &key : config::AccountKeyTable()) {
		if (key.show == nullptr)
			continue;
		if (const auto text = key.show(account))
			out << "  " << key.name << ": " << *text << "\n";
	}
}

} // namespace

int RunCheckConfig(const std::string &path, const std::string &program, std::ostream &out,
		   std::ostream &err)
{
	config::Config config;
	try {
		config =
		    config::LoadConfig(path.empty() ? config::DefaultConfigPath() : path);
	} catch (const config::ConfigError &e) {
		for (const auto &message : e.Messages())
			err << message << "\n";
		err.flush();
		return ToInt(config::ConfigError::Code());
	} catch (const std::exception &e) {
		err << program << ": " << e.what() << "\n";
		err.flush();
		return ToInt(ExitCode::Software);
	}

	out << config.path << ": " << config.accounts.size()
	    << (config.accounts.size() == 1 ? " account" : " accounts") << ", at most "
	    << config.max_concurrent << " fetched at a time\n";
	std::vector<std::string> problems;
	// Two accounts on one server mailbox: the second would wait for the first's
	// lock every poll, and the daemon could only blame "another process".
	std::map<std::string, const config::Account *> mailboxes;
	for (const auto &account : config.accounts) {
		// A disabled account is never fetched: what is wrong with it is shown
		// in its block, and fails nothing.
		std::vector<std::string> own;
		PrintAccount(out, account, own);
		if (!account.enabled)
			continue;
		problems.insert(problems.end(), own.begin(), own.end());
		// A Maildir (or mbox) under a file can never be made: every fetch
		// would end in error.
		const std::string &target =
		    !account.maildir.empty() ? account.maildir : account.mbox;
		if (const auto why = UnusablePath(target); !why.empty())
			problems.push_back(account.where.ToString() + ": account " +
					   account.name + ": " + why);
		Credentials where;
		try {
			where = ResolveAccountConnection(account);
		} catch (const CredentialError &) {
			continue; // said above
		}
		const std::string mailbox = where.Label();
		const auto [it, fresh] = mailboxes.emplace(mailbox, &account);
		if (!fresh)
			problems.push_back(account.where.ToString() + ": account " +
					   account.name + ": the mailbox " +
					   Escape(mailbox, 300) + " is also account " +
					   it->second->name + "'s (" +
					   it->second->where.ToString() +
					   "): remove one, or the two take turns");
	}
	out.flush();
	if (problems.empty())
		return ToInt(ExitCode::Ok);
	// After the blocks, one line each, as a config error is reported.
	for (const auto &problem : problems)
		err << problem << "\n";
	err.flush();
	return ToInt(ExitCode::Config);
}

int RunCheckConfig(const std::string &path, const std::string &program)
{
	return RunCheckConfig(path, program, std::cout, std::cerr);
}

} // namespace popstream::cli
