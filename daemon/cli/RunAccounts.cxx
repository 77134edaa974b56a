#include "RunAccounts.hxx"

#include "StopSignals.hxx"

#include "auth/GsaslProvider.hxx"
#include "config/LoadConfig.hxx"
#include "core/util/Escape.hxx"
#include "core/util/ExitCode.hxx"
#include "fetch/AccountCredentials.hxx"
#include "fetch/AccountFetch.hxx"
#include "fetch/FetchJob.hxx"
#include "fetch/NewMailHook.hxx"
#include "fetch/StatePaths.hxx"

#include <CLI/CLI.hpp>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>

namespace popstream::cli {

namespace {

/** The longest a graceful stop may wait for the messages in flight (as dl's). */
constexpr std::uint64_t stop_deadline_ms = 60'000;

void PrintLine(std::FILE *stream, const std::string &line)
{
	std::fprintf(stream, "%s\n", line.c_str());
	std::fflush(stream);
}

/** @return whether @p candidate is a worse outcome than @p worst (see RunAccounts()) */
bool Worse(ExitCode candidate, ExitCode worst) noexcept
{
	if (candidate == worst || candidate == ExitCode::Ok)
		return false;
	if (worst == ExitCode::Ok)
		return true;
	return worst == ExitCode::TempFail;
}

/** The fetches of one `run`, on one loop. */
class Runner {
public:
	Runner(uv_loop_t &loop, const RunArgs &args, std::string program,
	       unsigned max_concurrent)
	    : loop_(loop), args_(args), program_(std::move(program)),
	      max_concurrent_(max_concurrent), auth_provider_(auth::MakeAuthProvider())
	{
	}

	/** Queues @p account; it starts when a place is free. */
	void Add(config::Account account)
	{
		auto fetch = std::make_unique<Fetch>();
		fetch->account = std::move(account);
		fetch->keep.tls_sessions = std::make_shared<fetch::TlsSessionCache>(
		    fetch::StateDir(fetch->account.name) + "/tls-session");
		queue_.push_back(fetch.get());
		fetches_.push_back(std::move(fetch));
	}

	void StartQueued()
	{
		while (!stopping_ && running_ < max_concurrent_ && !queue_.empty()) {
			auto *fetch = queue_.front();
			queue_.pop_front();
			Start(*fetch);
		}
	}

	/** The first signal: running fetches stop gracefully, queued ones never start. */
	void Stop() noexcept
	{
		stopping_ = true;
		for (auto &f : fetches_) {
			if (f->job && !f->done)
				f->job->Stop(stop_deadline_ms);
			if (f->hook)
				f->hook->Cancel();
		}
	}

	void Abort() noexcept
	{
		stopping_ = true;
		for (auto &f : fetches_) {
			if (f->job && !f->done)
				f->job->Abort();
			if (f->hook)
				f->hook->Cancel();
		}
	}

	bool Stopping() const noexcept { return stopping_; }

	/** @return the worst status, after the loop has run */
	ExitCode Worst() const noexcept
	{
		ExitCode worst = ExitCode::Ok;
		for (const auto &f : fetches_) {
			const ExitCode code =
			    f->done ? f->result.code : ExitCode::TempFail;
			if (Worse(code, worst))
				worst = code;
		}
		return worst;
	}

	/** Reports the accounts a stop kept from starting. */
	void ReportNotStarted()
	{
		for (auto *f : queue_)
			PrintLine(stderr,
				  program_ + ": " + f->account.name +
				      ": not fetched: interrupted before it started");
	}

private:
	struct Fetch {
		config::Account account;
		fetch::AccountKeep keep;
		std::unique_ptr<fetch::FetchJob> job;
		std::unique_ptr<fetch::NewMailHook> hook;
		/** -q: the lines held back until the account turns out to matter. */
		std::vector<std::string> held;
		std::string server;
		fetch::FetchResult result;
		bool done = false;
	};

	void Say(Fetch &fetch, std::FILE *stream, const std::string &text)
	{
		const std::string line =
		    program_ + ": " + fetch.account.name + ": " + text;
		if (args_.quiet && !fetch.done) {
			fetch.held.push_back(line);
			return;
		}
		PrintLine(stream, line);
	}

	void Start(Fetch &fetch)
	{
		++running_;
		// On the thread pool: it reads netrc, and goa asks D-Bus.
		fetch::ResolveAccountOnPool(
		    loop_, fetch.account,
		    [this, &fetch](config::Account,
				   std::optional<PendingCredentials> credentials,
				   const std::string &error) {
			    Resolved(fetch, std::move(credentials), error);
		    });
	}

	void Resolved(Fetch &fetch, std::optional<PendingCredentials> credentials,
		      const std::string &error)
	{
		if (!credentials || stopping_) {
			fetch::FetchResult result;
			result.code = credentials ? ExitCode::TempFail : ExitCode::Config;
			result.error = credentials ? "not started: interrupted" : error;
			Finished(fetch, result);
			return;
		}
		auto options = fetch::AccountFetchOptions(
		    loop_, fetch.account, std::move(*credentials), fetch.keep,
		    auth_provider_, args_.verbose);
		options.dry_run = args_.dry_run;
		fetch.server = options.account.Label();
		auto log = [this, &fetch](fetch::LogLevel level,
					  const std::string &text) {
			if (level == fetch::LogLevel::Debug && !args_.verbose)
				return;
			Say(fetch, stderr, text);
		};
		fetch.job = std::make_unique<fetch::FetchJob>(
		    loop_, std::move(options), std::move(log),
		    [this, &fetch](const fetch::FetchResult &r) { Finished(fetch, r); });
		fetch.job->Start();
	}

	void Finished(Fetch &fetch, const fetch::FetchResult &result)
	{
		fetch.result = result;
		const bool matters = result.code != ExitCode::Ok || result.saved > 0;
		if (!args_.quiet || matters)
			for (const auto &line : fetch.held)
				PrintLine(stderr, line);
		fetch.held.clear();
		fetch.done = true;
		if (!result.error.empty() && (!args_.quiet || matters))
			Say(fetch, stderr, result.error);
		if ((!args_.quiet || matters) &&
		    (result.code == ExitCode::Ok || result.saved > 0 || result.committed))
			PrintLine(stdout, fetch.account.name + ": " +
					      fetch::FormatSummary(fetch.server, result));
		// Even after a Ctrl-C, as popstreamd after SIGTERM: the mail is saved,
		// and the next run will not find it new.
		if (result.saved > 0 && !fetch.account.on_new_mail.empty())
			StartHook(fetch, result);
		// The job calls us from inside itself: it is freed once the loop ends.
		--running_;
		StartQueued();
	}

	/** The account's `on_new_mail`; the run waits for it before exiting. */
	void StartHook(Fetch &fetch, const fetch::FetchResult &result)
	{
		fetch::NewMailFacts facts{fetch.account.name, result.saved,
					  result.saved_bytes, fetch.account.maildir,
					  fetch.account.mbox};
		fetch.hook = std::make_unique<fetch::NewMailHook>(
		    loop_, fetch.account.on_new_mail, std::move(facts),
		    [this, &fetch](const fetch::HookOutcome &outcome) {
			    for (const auto &[level, text] : outcome.lines)
				    if (level != fetch::LogLevel::Debug || args_.verbose)
					    Say(fetch, stderr, text);
		    });
	}

	uv_loop_t &loop_;
	const RunArgs &args_;
	std::string program_;
	unsigned max_concurrent_;
	std::shared_ptr<const pop3::AuthProvider> auth_provider_;
	std::vector<std::unique_ptr<Fetch>> fetches_;
	std::deque<Fetch *> queue_;
	unsigned running_ = 0;
	bool stopping_ = false;
};

void OnSignal(Runner &runner, int signum)
{
	if (!runner.Stopping()) {
		std::fprintf(stderr,
			     "popstream: run: %s: finishing the messages in flight, then "
			     "QUIT (again to abort)\n",
			     signum == SIGINT ? "interrupted" : "terminated");
		std::fflush(stderr);
		runner.Stop();
	} else {
		runner.Abort();
	}
}

} // namespace

CLI::App *AddRun(CLI::App &app, RunArgs &args)
{
	auto *run = app.add_subcommand(
	    "run", "Fetch the configured accounts once, without popstreamd (for cron "
		   "or a systemd timer)");
	run->add_option(
	       "-c,--config", args.config_path,
	       "The configuration (default: $XDG_CONFIG_HOME/popstream/config.yaml)")
	    ->type_name("FILE");
	run->add_flag("-q,--quiet", args.quiet,
		      "Print nothing for an account that saved nothing and did not fail");
	run->add_flag("-v,--verbose", args.verbose,
		      "Show the commands sent (secrets hidden) and every message saved");
	run->add_flag(
	    "--dry-run", args.dry_run,
	    "Connect, log in and list what would be downloaded; save and delete "
	    "nothing");
	run->add_option("ACCOUNT", args.accounts,
			"Accounts to fetch (default: every enabled one)");
	run->footer(
	    "Uses the journal and lock of each account that popstreamd uses, so a run "
	    "and the daemon never fetch one account at the same time.\n"
	    "Exit status (sysexits.h): the worst account's, as for dl; 64 for an "
	    "account the configuration does not have, 78 for a configuration that "
	    "does not load or has no enabled account.");
	return run;
}

int RunAccounts(const RunArgs &args, const std::string &program)
{
	config::Config config;
	try {
		config = config::LoadConfig(args.config_path.empty()
						? config::DefaultConfigPath()
						: args.config_path);
	} catch (const config::ConfigError &e) {
		for (const auto &message : e.Messages())
			PrintLine(stderr, message);
		return ToInt(config::ConfigError::Code());
	}

	std::vector<config::Account> chosen;
	if (args.accounts.empty()) {
		for (const auto &account : config.accounts)
			if (account.enabled)
				chosen.push_back(account);
		if (chosen.empty()) {
			PrintLine(stderr, program + ": run: " + config.path +
					      " has no enabled account");
			return ToInt(ExitCode::Config);
		}
	} else {
		for (const auto &name : args.accounts) {
			const config::Account *found = nullptr;
			for (const auto &account : config.accounts)
				if (account.name == name)
					found = &account;
			if (found == nullptr) {
				PrintLine(stderr, program + ": run: " + config.path +
						      " has no account \"" +
						      Escape(name) + "\"");
				return ToInt(ExitCode::Usage);
			}
			// Named on the command line: fetched even if `enabled: false`.
			// Named twice, fetched once (a second fetch would only find the
			// first one's lock).
			if (std::none_of(chosen.begin(), chosen.end(),
					 [&](const auto &a) { return a.name == name; }))
				chosen.push_back(*found);
		}
	}

	// Two accounts on one server mailbox: the second would only find the first's
	// lock (held by this very process) and say another popstream is fetching.
	bool doubled = false;
	{
		std::map<std::string, std::string> mailboxes;
		std::vector<config::Account> unique;
		for (auto &account : chosen) {
			std::string mailbox;
			try {
				mailbox = ResolveAccountConnection(account).Label();
			} catch (const CredentialError &) {
				// Said when it is fetched.
			}
			const auto [it, fresh] = mailboxes.emplace(mailbox, account.name);
			if (mailbox.empty() || fresh) {
				unique.push_back(std::move(account));
				continue;
			}
			PrintLine(stderr,
				  program + ": run: " + account.name +
				      ": not fetched: it names the mailbox " +
				      Escape(mailbox) + " of account " + it->second +
				      " (remove one; check-config lists such pairs)");
			doubled = true;
		}
		chosen = std::move(unique);
	}

	uv_loop_t loop;
	uv_loop_init(&loop);
	int status = 0;
	{
		Runner runner(loop, args, program, config.max_concurrent);
		for (auto &account : chosen)
			runner.Add(std::move(account));
		// Declared after the runner, so closed before it is destroyed.
		const StopSignals signals(
		    loop, [&runner](int signum) { OnSignal(runner, signum); });
		runner.StartQueued();
		uv_run(&loop, UV_RUN_DEFAULT);
		runner.ReportNotStarted();
		status = ToInt(runner.Worst());
		if (doubled && status == 0)
			status = ToInt(ExitCode::Config);
	}
	// Frees the signal handles, and what the jobs, freed with the runner, closed.
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return status;
}

} // namespace popstream::cli
