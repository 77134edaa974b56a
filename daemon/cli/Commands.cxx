#include "Commands.hxx"

#include "BusClient.hxx"
#include "CheckConfig.hxx"
#include "Import.hxx"
#include "OAuthLogin.hxx"
#include "PasswordPrompt.hxx"
#include "ProgressLine.hxx"
#include "RunAccounts.hxx"
#include "ServerInfo.hxx"
#include "StopSignals.hxx"
#include "TlsArgs.hxx"

#include "auth/GsaslProvider.hxx"
#include "config.h"
#include "config/LoadConfig.hxx"
#include "core/config/Validate.hxx"
#include "core/util/Escape.hxx"
#include "core/util/ExitCode.hxx"
#include "fetch/AccountCredentials.hxx"
#include "fetch/AccountFetch.hxx"
#include "fetch/Credentials.hxx"
#include "fetch/FetchJob.hxx"
#include "fetch/Mda.hxx"
#include "fetch/OAuthTokens.hxx"
#include "fetch/PasswordCommand.hxx"
#include "fetch/StatePaths.hxx"
#include "oauth/GrantStores.hxx"

#include <CLI/CLI.hpp>
#include <uv.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace popstream::cli {

namespace {

/** Arguments of `dl`. */
struct DlArgs {
	/** -n and --limit are set here directly; --pipelining is checked as text, so
	 * that --help shows the names, and set by RunDl(). */
	pop3::FetchPolicy policy;
	bool dry_run = false;
	std::string pipelining = "auto";
	/** --auth, checked by ValidAuth(); --allow-plaintext sets policy directly. */
	std::string auth = "auto";
	/** As typed: split into argv by SplitCommand(), without a shell. */
	std::string password_command;
	std::string token_command;
	/** --mda, as typed: split like --password-command. */
	std::string mda;
	/** --mbox PATH. */
	std::string mbox;
	double timeout_s = 180;
	double connect_timeout_s = 30;
	bool verbose = false;
	/** -q: errors only, no progress and no summary. */
	bool quiet = false;
	/** --sni NAME: the spec's `!NAME`, spelled without a character an interactive
	 * shell expands. */
	std::string sni;
	std::string spec;
	std::string maildir;
	/** --ca-file and the TLS flags of issue 11 (TlsArgs.hxx). */
	TlsArgs tls;
	/** The flags given on the command line that set how to connect and log in
	 * (--auth, --ca-file...): a configured account brings its own. */
	std::vector<std::string> connection_flags;
	/** --pipelining, --timeout, --connect-timeout were given (else a configured
	 * account's settings stand). */
	bool pipelining_given = false, timeout_given = false,
	     connect_timeout_given = false;
};

/** Arguments of `help`. */
struct HelpArgs {
	bool long_form = false;
	std::vector<std::string> topics;
};

const char *const dl_description =
    "Download every message of a POP3 mailbox into a Maildir, pipelined: all RETRs go "
    "out at once (within a bounded window) and each message is deleted on the server as "
    "soon as it is safely on disk.";

const char *const dl_footer =
    "SPEC is [{ssl,tcp,starttls}:]{netrc_account|[user@]host[!sni_name][:port]}. ssl: "
    "(the default) is implicit TLS on port 995, tcp: is cleartext on port 110, "
    "starttls: is port 110 upgraded with STLS before anything else (never falling back "
    "to cleartext); host!sni_name "
    "connects to host but verifies the certificate of sni_name (for ssh port forwards); "
    "in an interactive shell, quote it ('host!name') or write --sni sni_name, since bash "
    "takes ! for its history. "
    "SPEC may also be the name of an account of the configuration "
    "($XDG_CONFIG_HOME/popstream/config.yaml): its server, TLS, login, password "
    "source, journal and Maildir (unless MAILDIR is given) are used, with dl's -n, "
    "--limit, --dry-run, --pipelining and timeouts on top. "
    "Once connected, the password comes from --password-command, else from ~/.netrc "
    "($NETRC), looked up by machine user@host:port, then host, then default; without "
    "one, it is asked for on the terminal (if stdin is one). Only the secret the login "
    "method sends is looked up: for xoauth2 and oauthbearer the token of "
    "--token-command (which auto then prefers), else one refreshed from what "
    "'oauth login SPEC' stored; nothing for external. A command is split into "
    "words at blanks, '...' and \"...\" quote, a backslash escapes the next character; "
    "nothing is expanded and no shell runs it. Without TLS, user, plain, login, "
    "xoauth2 and oauthbearer are refused before anything is sent unless the server is "
    "a loopback address or --allow-plaintext is given.\n"
    "Exit status (sysexits.h): 0 all saved, 64 usage, 68 unknown host, 69 refused or "
    "TLS rejected, 73 Maildir unusable, 74 a message could not be written, 75 temporary "
    "or partial failure, 76 protocol error, 77 login failed, 78 netrc or config error.";

/**
 * CLI11's help without its type noise: "SPEC TEXT REQUIRED" and "SECONDS:(SECONDS) AND
 * (FLOAT in [0.001 - 86400])=180" say less than the description, and confuse. An
 * option shows its type name, a set of choices ({auto,on,off}) and its default; a
 * positional, only its name.
 */
class HelpFormatter : public CLI::Formatter {
public:
	std::string make_option_opts(const CLI::Option *opt) const override
	{
		if (opt->get_positional())
			return {};
		if (!opt->get_option_text().empty() || opt->get_type_size() == 0)
			return CLI::Formatter::make_option_opts(opt);
		// The validators' descriptions follow the type name after a ':'.
		std::string type = opt->get_type_name();
		if (const auto colon = type.find(':');
		    colon != std::string::npos && type.compare(colon + 1, 1, "{") != 0)
			type.resize(colon);
		std::string out = type.empty() ? "" : " " + type;
		if (!opt->get_default_str().empty())
			out += "=" + opt->get_default_str();
		if (opt->get_expected_max() == CLI::detail::expected_max_vector_size)
			out += " ...";
		return out;
	}
};

/**
 * @param check one of the config loader's checks, which throws config::ValueError
 * @return a CLI11 validator that refuses a value with that check's message, so that
 *         a flag and the config key it mirrors say the same
 */
template <typename Check>
CLI::Validator ConfigCheck(Check check)
{
	return CLI::Validator(
	    [check](std::string &value) -> std::string {
		    try {
			    check(value);
			    return {};
		    } catch (const config::ValueError &e) {
			    return e.what();
		    }
	    },
	    "");
}

std::uint64_t Milliseconds(double seconds)
{
	return static_cast<std::uint64_t>(std::llround(seconds * 1000.0));
}

void PrintError(const std::string &program, const std::string &text)
{
	std::fprintf(stderr, "%s: %s\n", program.c_str(), text.c_str());
	std::fflush(stderr);
}

/** The longest a graceful stop may wait for the messages in flight (FetchJob::Stop
 * gives them less when they are small, and stops waiting when the server is silent). */
constexpr std::uint64_t stop_deadline_ms = 60'000;

/** dl's signals: the first SIGINT/SIGTERM stops gracefully, the second aborts. */
struct SignalState {
	fetch::FetchJob *job = nullptr;
	int count = 0;
	std::string program, label;
	/** The progress line, cleared before the signal's message. */
	std::optional<ProgressLine> *progress = nullptr;
};

void OnSignal(SignalState &state, int signum)
{
	if (state.job == nullptr)
		return;
	if (state.progress != nullptr && *state.progress)
		(*state.progress)->Clear();
	if (++state.count == 1) {
		PrintError(
		    state.program,
		    state.label + ": " +
			(signum == SIGINT ? "interrupted" : "terminated") +
			": finishing the messages in flight, then QUIT (again to abort)");
		state.job->Stop(stop_deadline_ms);
	} else {
		state.job->Abort();
	}
}

/**
 * dl's password: netrc, then, if it has none and stdin is a terminal, a prompt (as mpop
 * does). Anything else that is wrong with netrc is reported, not asked around.
 */
fetch::PasswordSource DlPasswordSource(PasswordLookup lookup, const std::string &user,
				       const std::string &host)
{
	const bool interactive = isatty(STDIN_FILENO) == 1;
	std::string prompt =
	    "Password for " + user + "@" +
	    (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ": ";
	return [lookup = std::move(lookup), interactive, prompt = std::move(prompt)](
		   std::function<void(fetch::PasswordAnswer)> answer) {
		fetch::PasswordAnswer result;
		try {
			result.password = lookup();
		} catch (const CredentialError &e) {
			result.code = e.Code();
			result.error = e.what();
			if (interactive && e.NoPassword()) {
				auto typed = PromptPassword(prompt);
				if (typed.password) {
					result.password = std::move(typed.password);
				} else if (typed.interrupted) {
					result.code = ExitCode::TempFail;
					result.error = std::move(typed.error);
				} else if (!typed.no_terminal) {
					result.error = std::move(typed.error);
				}
			}
		}
		answer(std::move(result));
	};
}

/**
 * `oauth login ACCOUNT`: the account of that name in the daemon's config file.
 * @param config_path the file (`--config`); empty = config::DefaultConfigPath()
 * @return nothing if there is no config file or no such account (the word is then a
 *         SPEC)
 * @throws std::runtime_error (one line) if the file does not load, or if the account
 *         has no `oauth:` (or takes its tokens elsewhere)
 */
std::optional<OAuthAccount> FindOAuthAccount(const std::string &word,
					     const std::string &config_path)
{
	const auto path = config_path.empty() ? config::DefaultConfigPath() : config_path;
	if (access(path.c_str(), F_OK) != 0)
		return std::nullopt;
	const auto config = config::LoadConfig(path);
	for (const auto &account : config.accounts) {
		if (account.name != word)
			continue;
		if (!account.oauth)
			throw std::runtime_error(
			    "account \"" + Escape(word) + "\" in " + Escape(path) +
			    " has no oauth: (add oauth: {provider: microsoft, client_id: "
			    "...}, or see popstream.yaml(5))");
		return OAuthAccount{account.name, *account.oauth, account.ca_file};
	}
	return std::nullopt;
}

/** @return whether FindOAuthAccount() finds @p word, false also when it throws */
bool FindOAuthAccountQuietly(const std::string &word,
			     const std::string &config_path) noexcept
{
	try {
		return FindOAuthAccount(word, config_path).has_value();
	} catch (...) {
		return false;
	}
}

/**
 * A secret that a blocking lookup finds (--password-command, --token-command, the
 * grant `oauth login SPEC` stored), looked up once the connection is up, on the loop
 * thread: dl has only this fetch to serve.
 * @param lookup throws CredentialError, which becomes the answer's code and message
 */
fetch::PasswordSource BlockingSource(PasswordLookup lookup)
{
	return [lookup = std::move(lookup)](
		   std::function<void(fetch::PasswordAnswer)> answer) {
		fetch::PasswordAnswer result;
		try {
			result.password = lookup();
		} catch (const CredentialError &e) {
			result.code = e.Code();
			result.error = e.what();
		}
		answer(std::move(result));
	};
}

/**
 * @param label the account as dl names it (user@host:port), for messages
 * @param secret "password" or "token"
 * @return a source that runs --password-command or --token-command
 */
fetch::PasswordSource CommandSource(std::vector<std::string> argv, std::string label,
				    std::string secret)
{
	return BlockingSource([argv = std::move(argv), label = std::move(label),
			       secret = std::move(secret)] {
		return RunSecretCommand(argv, label, secret);
	});
}

/**
 * Checks that --auth, --password-command and --token-command fit together, as the
 * config loader does for `auth:` and the commands: a method gets the secret it sends,
 * and no command is given that would never run.
 * @return the problem in one line, or empty
 */
std::string CheckSecrets(pop3::AuthMethod method, const DlArgs &args)
{
	const bool token = !args.token_command.empty();
	const bool password = !args.password_command.empty();
	const std::string name(pop3::AuthMethodName(method));
	if (token && method != pop3::AuthMethod::Auto && !pop3::UsesToken(method))
		return "--token-command is not used with --auth " + name +
		       " (the token is for xoauth2, oauthbearer or auto)";
	if (password && method == pop3::AuthMethod::External)
		return "--password-command is not used with --auth external, which logs "
		       "in with the client certificate";
	if (password && token)
		return "--password-command is not used with --token-command, which "
		       "logs in with the token (choose one)";
	if (method == pop3::AuthMethod::External && args.tls.cert.empty())
		return "--auth external needs --tls-cert and --tls-key (EXTERNAL logs in "
		       "with the TLS client certificate)";
	return {};
}

/**
 * Runs dl's one fetch on @p loop (initialised by the caller, who may have tied secret
 * lookups to it) with SIGINT and SIGTERM handled, a progress line on a terminal unless
 * -q, prints the summary line (not with -q), closes the loop. @return the fetch's
 * status
 */
int ExecuteDl(uv_loop_t &loop, fetch::FetchOptions options, const std::string &label,
	      const DlArgs &args, const std::string &program)
{
	std::optional<fetch::FetchResult> result;
	// Only for a person watching: a pipe, a file or cron gets the summary alone.
	std::optional<ProgressLine> progress;
	if (!args.quiet && isatty(STDOUT_FILENO) == 1)
		progress.emplace(loop, stdout);
	auto log = [&](fetch::LogLevel level, const std::string &text) {
		if (level == fetch::LogLevel::Debug && !args.verbose)
			return;
		if (args.quiet && level != fetch::LogLevel::Error)
			return;
		if (progress)
			progress->Clear();
		PrintError(program, label + ": " + text);
	};
	SignalState signal_state{nullptr, 0, program, label, &progress};
	{
		const StopSignals signals(loop, [&signal_state](int signum) {
			OnSignal(signal_state, signum);
		});
		fetch::FetchJob job(loop, std::move(options), log,
				    [&](const fetch::FetchResult &r) { result = r; });
		if (progress)
			job.OnProgress([&progress](const fetch::FetchProgress &p) {
				progress->Update(p);
			});
		signal_state.job = &job;
		job.Start();
		uv_run(&loop, UV_RUN_DEFAULT);
		signal_state.job = nullptr;
		progress.reset();
	}
	// Frees what the job and the signals closed.
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);

	if (!result) {
		PrintError(program,
			   label + ": internal error: the fetch ended without a result");
		return ToInt(ExitCode::Software);
	}
	if (!result->error.empty())
		PrintError(program, label + ": " + result->error);
	// A dry run that failed listed nothing: no summary of an empty mailbox.
	if (!args.quiet &&
	    (result->code == ExitCode::Ok || result->saved > 0 || result->committed)) {
		std::printf("%s\n", fetch::FormatSummary(label, *result).c_str());
		std::fflush(stdout);
	}
	return ToInt(result->code);
}

/**
 * @return the account of the configuration (config::DefaultConfigPath()) named
 *         @p spec, if @p spec is a bare name and the file has one. A file that does
 *         not load is passed over with a warning: `dl host` must still work.
 */
std::optional<config::Account> ConfiguredAccount(const std::string &spec,
						 const std::string &program)
{
	if (spec.empty() || spec.find_first_of(":@!/") != std::string::npos)
		return std::nullopt;
	std::string path;
	try {
		path = config::DefaultConfigPath();
	} catch (const config::ConfigError &) {
		return std::nullopt;
	}
	if (access(path.c_str(), F_OK) != 0)
		return std::nullopt;
	try {
		const auto config = config::LoadConfig(path);
		for (const auto &account : config.accounts)
			if (account.name == spec)
				return account;
	} catch (const config::ConfigError &e) {
		PrintError(program, "dl: warning: " + path + " has errors (see '" +
					program + " check-config'), so \"" +
					Escape(spec) + "\" is not looked up there");
	}
	return std::nullopt;
}

/** @return "MAILDIR and --mda" (etc.) when dl was told two places for the mail,
 *          else empty */
std::string TwoDeliveries(const DlArgs &args)
{
	std::vector<std::string> given;
	if (!args.maildir.empty())
		given.push_back("MAILDIR");
	if (!args.mda.empty())
		given.push_back("--mda");
	if (!args.mbox.empty())
		given.push_back("--mbox");
	return given.size() > 1 ? given[0] + " and " + given[1] : std::string();
}

/** dl of a configured account: its settings, journal and lock, dl's policy flags. */
int RunDlAccount(const DlArgs &args, const config::Account &account,
		 const std::string &program)
{
	if (!args.connection_flags.empty()) {
		PrintError(
		    program,
		    "dl: " + args.connection_flags.front() +
			" cannot be used with the configured account \"" +
			Escape(account.name) +
			"\", which has its own (change it in the configuration, or "
			"give a server spec instead)");
		return ToInt(ExitCode::Usage);
	}
	std::optional<PendingCredentials> credentials;
	try {
		credentials = ResolveAccountDeferred(account);
	} catch (const CredentialError &e) {
		PrintError(program, e.what());
		return ToInt(e.Code());
	}
	uv_loop_t loop;
	uv_loop_init(&loop);
	fetch::AccountKeep keep;
	// As `run` keeps it: beside the account's journal, mode 0600.
	keep.tls_sessions = std::make_shared<fetch::TlsSessionCache>(
	    fetch::StateDir(account.name) + "/tls-session");
	auto options =
	    fetch::AccountFetchOptions(loop, account, std::move(*credentials), keep,
				       auth::MakeAuthProvider(), args.verbose);
	if (const auto why = TwoDeliveries(args); !why.empty()) {
		PrintError(program,
			   "dl: " + why + " both say where the mail goes (choose one)");
		return ToInt(ExitCode::Usage);
	}
	// What the command line says about delivery replaces the account's.
	if (!args.maildir.empty() || !args.mda.empty() || !args.mbox.empty()) {
		options.maildir.clear();
		options.mda.clear();
		options.mbox.clear();
	}
	if (!args.maildir.empty())
		options.maildir = ExpandHome(args.maildir);
	if (!args.mbox.empty())
		options.mbox = ExpandHome(args.mbox);
	if (!args.mda.empty()) {
		try {
			auto argv = config::SplitCommand(args.mda);
			config::CheckMdaPlaceholders(argv);
			options.mda = fetch::ExpandMdaArgs(argv, account.name,
							   options.account.user);
		} catch (const config::ValueError &e) {
			PrintError(program, std::string("dl: --mda: ") + e.what());
			return ToInt(ExitCode::Usage);
		}
	}
	// dl's policy flags: what this one run does with the mailbox.
	if (args.policy.keep)
		options.policy.keep = true;
	if (args.policy.max_messages_per_session != 0)
		options.policy.max_messages_per_session =
		    args.policy.max_messages_per_session;
	if (args.pipelining_given)
		options.policy.pipelining = config::ParsePipelining(args.pipelining);
	if (args.timeout_given)
		options.timeouts.idle_ms = Milliseconds(args.timeout_s);
	if (args.connect_timeout_given)
		options.timeouts.connect_ms = Milliseconds(args.connect_timeout_s);
	options.dry_run = args.dry_run;
	const std::string label = options.account.Label();
	return ExecuteDl(loop, std::move(options), account.name + ": " + label, args,
			 program);
}

int RunDl(const DlArgs &args, const std::string &program)
{
	if (const auto account = ConfiguredAccount(args.spec, program))
		return RunDlAccount(args, *account, program);
	if (const auto why = TwoDeliveries(args); !why.empty()) {
		PrintError(program,
			   "dl: " + why + " both say where the mail goes (choose one)");
		return ToInt(ExitCode::Usage);
	}
	std::vector<std::string> mda_argv;
	try {
		if (!args.mda.empty()) {
			mda_argv = config::SplitCommand(args.mda);
			config::CheckMdaPlaceholders(mda_argv);
		}
	} catch (const config::ValueError &e) {
		PrintError(program, std::string("dl: --mda: ") + e.what());
		return ToInt(ExitCode::Usage);
	}
	if (args.maildir.empty() && mda_argv.empty() && args.mbox.empty()) {
		PrintError(program, "dl: MAILDIR is missing (only an account of the "
				    "configuration has one of its own; run '" +
					program + " help dl')");
		return ToInt(ExitCode::Usage);
	}
	int tls_error = 0;
	auto tls = ParseTlsArgs(args.tls, program, "dl", tls_error);
	if (!tls)
		return tls_error;
	// Checked before anything is resolved: a mistake on the command line is found
	// whether or not the server is up. CLI11 has checked the method's name.
	const auto method = config::ParseAuth(args.auth);
	std::vector<std::string> password_argv, token_argv;
	try {
		if (!args.password_command.empty())
			password_argv = config::SplitCommand(args.password_command);
	} catch (const config::ValueError &e) {
		PrintError(program, std::string("dl: --password-command: ") + e.what());
		return ToInt(ExitCode::Usage);
	}
	try {
		if (!args.token_command.empty())
			token_argv = config::SplitCommand(args.token_command);
	} catch (const config::ValueError &e) {
		PrintError(program, std::string("dl: --token-command: ") + e.what());
		return ToInt(ExitCode::Usage);
	}
	if (const auto problem = CheckSecrets(method, args); !problem.empty()) {
		PrintError(program, "dl: " + problem);
		return ToInt(ExitCode::Usage);
	}

	if (!args.sni.empty()) {
		if (args.spec.find('!') != std::string::npos) {
			PrintError(program,
				   "dl: --sni and the spec's !NAME both name the TLS "
				   "server (choose one)");
			return ToInt(ExitCode::Usage);
		}
		try {
			config::CheckTlsName(args.sni);
		} catch (const config::ValueError &e) {
			PrintError(program, std::string("dl: --sni: ") + e.what());
			return ToInt(ExitCode::Usage);
		}
	}
	PendingCredentials account;
	try {
		account = ResolveDeferred(args.spec);
	} catch (const CredentialError &e) {
		PrintError(program, e.what());
		return ToInt(e.Code());
	}
	if (!args.sni.empty())
		account.account.tls_name = args.sni;
	const std::string label = account.account.Label();
	if (!account.account.tls && !account.account.starttls && !args.sni.empty()) {
		PrintError(program, "dl: --sni needs TLS, but " + Escape(args.spec) +
					" is cleartext (use ssl: or starttls:)");
		return ToInt(ExitCode::Usage);
	}
	if (!account.account.tls && !account.account.starttls &&
	    (!tls->fingerprints.empty() || !tls->cert_file.empty())) {
		// Nothing would be checked or presented: say so rather than let the
		// user believe the server is pinned.
		PrintError(
		    program,
		    std::string("dl: ") +
			(tls->fingerprints.empty() ? "--tls-cert" : "--tls-fingerprint") +
			" needs TLS, but " + Escape(args.spec) +
			" is cleartext (use ssl: or starttls:)");
		return ToInt(ExitCode::Usage);
	}

	fetch::FetchOptions options;
	options.password_source =
	    password_argv.empty()
		? DlPasswordSource(std::move(account.password), account.account.user,
				   account.account.host)
		: CommandSource(std::move(password_argv), label, "password");
	if (!token_argv.empty()) {
		options.token_source =
		    CommandSource(std::move(token_argv), label, "token");
	} else if (pop3::UsesToken(method)) {
		// No command: the grant `oauth login SPEC` stored, with the client and
		// endpoint stored beside it.
		// No prefix: dl's lines start with the label already.
		auto tokens = std::make_shared<OAuthTokens>(
		    oauth::GrantKeyForSpec(label), std::string(),
		    program + " oauth login --provider NAME --client-id ID " +
			ShellWord(Escape(args.spec)),
		    // --ca-file is the POP server's; the token endpoint keeps the
		    // trust the login had (the grant's CA file, else the system's).
		    std::nullopt, std::string());
		options.token_source = BlockingSource(tokens->Lookup());
		options.token_renewal = BlockingSource(tokens->Renewal());
	}
	options.auth_provider = auth::MakeAuthProvider();
	options.account = std::move(account.account);
	// As the daemon's `tls: starttls`: the core refuses to log in without STLS.
	options.starttls = options.account.starttls;
	if (!mda_argv.empty())
		options.mda = fetch::ExpandMdaArgs(mda_argv, label, options.account.user);
	else if (!args.mbox.empty())
		options.mbox = ExpandHome(args.mbox);
	else
		options.maildir = ExpandHome(args.maildir);
	options.policy = args.policy;
	options.policy.pipelining = config::ParsePipelining(args.pipelining);
	options.policy.auth = method;
	options.dry_run = args.dry_run;
	options.tls = std::move(*tls);
	options.timeouts.idle_ms = Milliseconds(args.timeout_s);
	options.timeouts.connect_ms = Milliseconds(args.connect_timeout_s);
	options.verbose = args.verbose;
	// The journal and lock of this account, as dl names it (user@host:port).
	options.state_dir = fetch::StateDir("dl/" + label);
	// The TLS session of the last run, so that this one resumes it (one round trip
	// less); beside the journal, mode 0600, since it holds the master secret.
	if (options.account.tls || options.starttls)
		options.tls_sessions = std::make_shared<fetch::TlsSessionCache>(
		    options.state_dir + "/tls-session");

	uv_loop_t loop;
	uv_loop_init(&loop);
	return ExecuteDl(loop, std::move(options), label, args, program);
}

void AddDl(CLI::App &app, DlArgs &args)
{
	// CLI::Range lets NaN through (every comparison with it is false), and a NaN
	// timeout would be no timeout at all.
	const CLI::Validator finite_seconds(
	    [](std::string &value) -> std::string {
		    char *end = nullptr;
		    const double d = std::strtod(value.c_str(), &end);
		    return std::isfinite(d) && end != value.c_str() && *end == '\0'
			       ? std::string()
			       : "not a number of seconds: " + value;
	    },
	    "SECONDS");
	auto *dl = app.add_subcommand("dl", dl_description);
	dl->footer(dl_footer);
	dl->add_flag(
	    "-n,--no-delete", args.policy.keep,
	    "Delete nothing on the server: download and save everything (as cs.pop3 -n)");
	dl->add_option("--limit", args.policy.max_messages_per_session,
		       "Download at most N messages")
	    ->type_name("N")
	    ->check(CLI::Range(1u, UINT32_MAX));
	dl->add_flag(
	    "--dry-run", args.dry_run,
	    "Connect, log in and list what would be downloaded; save and delete nothing");
	dl->add_option(
	      "--pipelining", args.pipelining,
	      "auto: full window if CAPA lists PIPELINING, a few commands if not; on; "
	      "off: one command at a time")
	    ->type_name("MODE")
	    ->check(CLI::IsMember({"auto", "on", "off"}))
	    ->default_str("auto");
	AddTlsFlags(*dl, args.tls);
	dl->add_option(
	      "--auth", args.auth,
	      "How to log in: auto (the strongest the server offers), user, apop, "
	      "plain, login, cram-md5, scram-sha-1, scram-sha-256, external, "
	      "xoauth2 or oauthbearer")
	    ->type_name("METHOD")
	    ->check(
		ConfigCheck([](const std::string &value) { config::ParseAuth(value); }))
	    ->default_str("auto");
	dl->add_flag(
	    "--allow-plaintext", args.policy.allow_plaintext,
	    "Let user, plain, login, xoauth2 and oauthbearer send the secret over "
	    "a connection without TLS to a host that is not loopback");
	dl->add_option("--password-command", args.password_command,
		       "Run CMD (split into words like a shell, quotes allowed, but not "
		       "run by one) for the password: the first line it prints")
	    ->type_name("CMD");
	dl->add_option(
	      "--token-command", args.token_command,
	      "Run CMD (as --password-command) for the OAuth 2.0 access token of "
	      "xoauth2 and oauthbearer")
	    ->type_name("CMD");
	dl->add_option("--timeout", args.timeout_s,
		       "Give up when the server is silent this long (seconds)")
	    ->type_name("SECONDS")
	    ->check(finite_seconds & CLI::Range(0.001, 86400.0))
	    ->default_str("180");
	dl->add_option(
	      "--connect-timeout", args.connect_timeout_s,
	      "Give up connecting (DNS, TCP and TLS) and waiting for the greeting "
	      "after this long (seconds)")
	    ->type_name("SECONDS")
	    ->check(finite_seconds & CLI::Range(0.001, 86400.0))
	    ->default_str("30");
	auto *verbose = dl->add_flag(
	    "-v,--verbose", args.verbose,
	    "Show the commands sent (the password hidden) and every message saved");
	auto *quiet = dl->add_flag("-q,--quiet", args.quiet,
				   "Print errors only: no progress line, no summary "
				   "(for cron)");
	dl->add_option(
	      "--sni", args.sni,
	      "Verify the certificate of NAME rather than of the host: the spec's "
	      "!NAME, which an interactive shell would expand")
	    ->type_name("NAME")
	    ->check(ConfigCheck(
		[](const std::string &value) { config::CheckTlsName(value); }));
	quiet->excludes(verbose);
	dl->add_option(
	      "SPEC", args.spec,
	      "The account: "
	      "[{ssl,tcp,starttls}:]{netrc_account|[user@]host[!sni_name][:port]}")
	    ->required();
	dl->add_option(
	      "--mda", args.mda,
	      "Hand each message to CMD on its standard input instead of saving it "
	      "in MAILDIR (split like --password-command; %u is the user, %a the "
	      "account, %F the envelope sender); exit 0 delivers, 75 retries later")
	    ->type_name("CMD")
	    ->check(CLI::Validator(
		[](std::string &value) -> std::string {
			return value.find_first_not_of(" \t") == std::string::npos
				   ? "an empty command"
				   : "";
		},
		""));
	dl->add_option("--mbox", args.mbox,
		       "Append each message to the mbox PATH (mboxrd, locked as procmail "
		       "and mutt lock it) instead of saving it in MAILDIR")
	    ->type_name("PATH");
	dl->add_option("MAILDIR", args.maildir,
		       "The Maildir to deliver into (created if missing); for an account "
		       "of the configuration, its own by default");
}

/** @return 0, or 64 if a topic is not a subcommand */
int PrintHelp(CLI::App &app, const HelpArgs &args, const std::string &program)
{
	int status = 0;
	if (args.topics.empty() && !args.long_form) {
		// App::help() would describe the subcommand just parsed, i.e. `help`
		// itself.
		std::cout << app.get_formatter()->make_help(&app, program,
							    CLI::AppFormatMode::Normal);
		return 0;
	}
	std::vector<std::string> topics = args.topics;
	if (topics.empty())
		for (const auto *sub : app.get_subcommands({}))
			topics.push_back(sub->get_name());
	for (const auto &topic : topics) {
		CLI::App *sub = nullptr;
		try {
			sub = app.get_subcommand(topic);
		} catch (const CLI::OptionNotFound &) {
		}
		if (sub == nullptr) {
			PrintError(program, "help: no such subcommand: " + Escape(topic));
			status = ToInt(ExitCode::Usage);
			continue;
		}
		std::cout << sub->help(program) << "\n";
	}
	return status;
}

} // namespace

int RunCommand(const std::vector<std::string> &args, const std::string &program,
	       bool in_shell)
{
	CLI::App app(
	    "popstream " POPSTREAM_VERSION
	    ": a pipelined POP3 fetcher that downloads mailboxes into Maildirs fast, "
	    "even over high-latency links.",
	    program);
	// Before the subcommands, which take their parent's formatter when made.
	app.formatter(std::make_shared<HelpFormatter>());
	app.require_subcommand(1, 1);
	app.footer("Run '" + program +
		   " help SUBCOMMAND' for the options of one subcommand.");
	app.set_version_flag("--version", "popstream " POPSTREAM_VERSION);

	DlArgs dl_args;
	AddDl(app, dl_args);

	RunArgs run_args;
	auto *run = AddRun(app, run_args);

	ServerInfoArgs serverinfo_args;
	auto *serverinfo = AddServerInfo(app, serverinfo_args);

	OAuthArgs oauth_args;
	auto *oauth_cmd = AddOAuth(app, oauth_args);

	HelpArgs help_args;
	auto *help = app.add_subcommand("help", "Show the help of subcommands");
	help->add_flag("-l,--long", help_args.long_form, "Full help of every subcommand");
	help->add_option("SUBCOMMAND", help_args.topics, "Subcommands to explain");

	auto *shell = app.add_subcommand(
	    "shell", "Read subcommands at a prompt, with line editing and history");

	std::string config_path;
	auto *check = app.add_subcommand("check-config",
					 "Validate a popstreamd configuration and print "
					 "its accounts (passwords never shown)");
	check->add_option("FILE", config_path,
			  "The file (default: $XDG_CONFIG_HOME/popstream/config.yaml)");
	bool check_connect = false;
	check->add_flag("--connect", check_connect,
			"Then connect to each enabled account, log in and list its "
			"mailbox, fetching nothing (as run --dry-run)");
	check->footer(
	    "Exit status: 0 valid, 78 (EX_CONFIG) with one FILE:LINE:COLUMN line per "
	    "mistake or per account whose credentials do not resolve; with --connect, "
	    "the worst account's, as for run.");

	std::string import_tool, import_path;
	auto *import_cmd = app.add_subcommand(
	    "import",
	    "Print a popstreamd configuration equivalent to a fetchmail, getmail "
	    "or mpop one (writes no file)");
	import_cmd
	    ->add_option("TOOL", import_tool,
			 "The tool that reads FILE: fetchmail, getmail "
			 "or mpop")
	    ->required()
	    ->check(CLI::IsMember({"fetchmail", "getmail", "mpop"}));
	import_cmd
	    ->add_option("FILE", import_path,
			 "Its configuration: ~/.fetchmailrc, ~/.getmail/getmailrc, "
			 "~/.mpoprc...")
	    ->required();
	import_cmd->footer(
	    "The YAML goes to standard output, for example '> "
	    "~/.config/popstream/config.yaml'. Every option that is not carried over "
	    "becomes a comment saying why; a password is never copied, not even into a "
	    "comment: the comments say where to put it. Exit status: 0 done, 64 usage, "
	    "65 (EX_DATAERR) a syntax error, with one FILE:LINE line, 66 (EX_NOINPUT) "
	    "FILE cannot be read, 74 (EX_IOERR) the output cannot be written, 78 "
	    "(EX_CONFIG) FILE has no POP3 account, with one line.");

	bool status_json = false;
	auto *status = app.add_subcommand(
	    "status",
	    "Show what popstreamd is doing for each account (via the session bus)");
	status->add_flag("--json", status_json,
			 "Print a JSON array: times in seconds since the epoch (null for "
			 "never), the counters, the progress");
	status->footer("Exit status: 0; 77 if an account waits for a new password "
		       "(auth-needed), 78 if one is in error or the last reload was "
		       "refused; 69 if popstreamd is not running (status does not start "
		       "it).");

	auto *reload = app.add_subcommand(
	    "reload", "Make popstreamd read its configuration again; a configuration "
		      "with errors is refused and the running one kept");
	reload->footer(
	    "Exit status: 0 reloaded, 78 (EX_CONFIG) the new configuration "
	    "has errors (printed one per line), 69 popstreamd is not running.");

	std::vector<std::string> fetch_accounts;
	bool fetch_wait = false;
	auto *fetch_cmd = app.add_subcommand(
	    "fetch",
	    "Ask popstreamd to fetch accounts now (all of them if none is named)");
	fetch_cmd->add_option("ACCOUNT", fetch_accounts, "Accounts to fetch");
	fetch_cmd->add_flag(
	    "-w,--wait", fetch_wait,
	    "Wait until the fetches finish; exit 0 if all succeeded, 75 if not");

	// CLI11 wants argv in reverse order for its vector overload.
	std::vector<std::string> reversed(args.rbegin(), args.rend());
	try {
		app.parse(reversed);
	} catch (const CLI::CallForHelp &) {
		std::cout << (app.get_subcommands().empty()
				  ? app.help()
				  : app.get_subcommands().front()->help(program));
		return 0;
	} catch (const CLI::CallForVersion &e) {
		std::cout << e.what() << "\n";
		return 0;
	} catch (const CLI::ParseError &e) {
		if (args.empty()) {
			PrintError(program, "a subcommand is required; run '" + program +
						" help'");
		} else if (app.get_subcommands().empty()) {
			PrintError(program, "unknown subcommand \"" +
						Escape(args.front()) + "\"; run '" +
						program + " help'");
		} else {
			const auto name = app.get_subcommands().front()->get_name();
			PrintError(program, name + ": " + Escape(e.what()) + " (run '" +
						program + " help " + name + "')");
		}
		return ToInt(ExitCode::Usage);
	}

	if (app.got_subcommand("dl")) {
		auto *dl = app.get_subcommand("dl");
		for (const char *flag :
		     {"--auth", "--allow-plaintext", "--password-command", "--sni",
		      "--token-command", "--ca-file", "--tls-fingerprint",
		      "--tls-min-version", "--tls-cert", "--tls-key"})
			if (dl->count(flag) > 0)
				dl_args.connection_flags.emplace_back(flag);
		dl_args.pipelining_given = dl->count("--pipelining") > 0;
		dl_args.timeout_given = dl->count("--timeout") > 0;
		dl_args.connect_timeout_given = dl->count("--connect-timeout") > 0;
		return RunDl(dl_args, program);
	}
	if (app.got_subcommand(run))
		return RunAccounts(run_args, program);
	if (app.got_subcommand(serverinfo))
		return RunServerInfo(serverinfo_args, program);
	if (app.got_subcommand(check)) {
		const int checked = RunCheckConfig(config_path, program);
		if (!check_connect || checked == ToInt(config::ConfigError::Code())) {
			if (check_connect)
				PrintError(program,
					   "check-config: --connect: not connecting: "
					   "fix the problems above first");
			return checked;
		}
		RunArgs dry;
		dry.config_path = config_path;
		dry.dry_run = true;
		std::fflush(stdout);
		const int connected = RunAccounts(dry, program);
		return connected != 0 ? connected : checked;
	}
	if (app.got_subcommand(import_cmd))
		return RunImport(import_tool, import_path, program, std::cout, std::cerr);
	if (app.got_subcommand(status))
		return RunStatus(program, status_json);
	if (app.got_subcommand(reload))
		return RunReload(program);
	if (app.got_subcommand(fetch_cmd))
		return RunFetch(fetch_accounts, fetch_wait, program);
	if (app.got_subcommand(oauth_cmd)) {
		OAuthContext context;
		context.find_account = [&](const std::string &word) {
			return FindOAuthAccount(word, oauth_args.config_path);
		};
		context.open_store = [] { return oauth::OpenGrantStore(); };
		const int result = RunOAuth(*oauth_cmd, oauth_args, context, program,
					    std::cout, std::cin);
		// A daemon account waiting in auth-needed for this login goes on now.
		if (result == 0 && oauth_cmd->get_subcommand("login")->parsed() &&
		    FindOAuthAccountQuietly(oauth_args.target, oauth_args.config_path) &&
		    FetchAfterLogin(oauth_args.target))
			std::cout << "popstreamd is fetching "
				  << Escape(oauth_args.target) << " now.\n";
		return result;
	}
	if (app.got_subcommand(help)) {
		return PrintHelp(app, help_args, program);
	}
	if (app.got_subcommand(shell)) {
		if (in_shell) {
			PrintError(program, "shell: already in a shell");
			return ToInt(ExitCode::Usage);
		}
		return RunShell(program);
	}
	return ToInt(ExitCode::Usage);
}

} // namespace popstream::cli
