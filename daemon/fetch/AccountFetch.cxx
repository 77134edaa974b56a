#include "AccountFetch.hxx"

#include "core/oauth/Settings.hxx"
#include "fetch/AccountCredentials.hxx"
#include "fetch/Mda.hxx"
#include "fetch/StatePaths.hxx"

#include <algorithm>
#include <chrono>

namespace popstream::fetch {

namespace {

/** One password lookup on the thread pool. */
struct PasswordWork {
	uv_work_t work;
	PasswordLookup lookup;
	std::function<void(PasswordAnswer)> answer;
	PasswordAnswer result;
};

/** One ResolveAccountOnPool() on the thread pool. */
struct ResolveWork {
	uv_work_t work;
	config::Account account;
	AccountResolved done;
	std::optional<PendingCredentials> credentials;
	std::string error;
};

} // namespace

void ResolveAccountOnPool(uv_loop_t &loop, config::Account account, AccountResolved done)
{
	auto *w = new ResolveWork{};
	w->work.data = w;
	w->account = std::move(account);
	w->done = std::move(done);
	uv_queue_work(
	    &loop, &w->work,
	    [](uv_work_t *work) {
		    auto &job = *static_cast<ResolveWork *>(work->data);
		    try {
			    job.credentials = ResolveAccountDeferred(job.account);
		    } catch (const std::exception &e) {
			    job.error = e.what();
		    }
	    },
	    [](uv_work_t *work, int) {
		    std::unique_ptr<ResolveWork> job(
			static_cast<ResolveWork *>(work->data));
		    job->done(std::move(job->account), std::move(job->credentials),
			      std::move(job->error));
	    });
}

PasswordSource PoolPasswordSource(uv_loop_t &loop, PasswordLookup lookup)
{
	return [&loop,
		lookup = std::move(lookup)](std::function<void(PasswordAnswer)> answer) {
		auto *w = new PasswordWork{};
		w->work.data = w;
		w->lookup = lookup;
		w->answer = std::move(answer);
		uv_queue_work(
		    &loop, &w->work,
		    [](uv_work_t *work) {
			    auto &job = *static_cast<PasswordWork *>(work->data);
			    try {
				    job.result.password = job.lookup();
			    } catch (const CredentialError &e) {
				    job.result.code = e.Code();
				    job.result.error = e.what();
			    } catch (const std::exception &e) {
				    job.result.error = e.what();
			    }
		    },
		    [](uv_work_t *work, int) {
			    std::unique_ptr<PasswordWork> done(
				static_cast<PasswordWork *>(work->data));
			    done->answer(std::move(done->result));
		    });
	};
}

FetchOptions AccountFetchOptions(uv_loop_t &loop, const config::Account &account,
				 PendingCredentials credentials, AccountKeep &keep,
				 std::shared_ptr<const pop3::AuthProvider> auth_provider,
				 bool verbose)
{
	FetchOptions options;
	options.account = std::move(credentials.account);
	options.password_source =
	    PoolPasswordSource(loop, std::move(credentials.password));
	if (credentials.token)
		options.token_source =
		    PoolPasswordSource(loop, std::move(credentials.token));
	if (account.oauth && account.oauth->provider != oauth::Provider::Goa) {
		if (!keep.tokens || keep.tokens->Settings() != account.oauth ||
		    keep.tokens->CaFile() != account.ca_file)
			keep.tokens = std::make_shared<OAuthTokens>(
			    oauth::GrantKeyForAccount(account.name),
			    "account \"" + account.name + "\": ",
			    "popstream oauth login " + account.name, account.oauth,
			    account.ca_file);
		options.token_source = PoolPasswordSource(loop, keep.tokens->Lookup());
		options.token_renewal = PoolPasswordSource(loop, keep.tokens->Renewal());
	}
	options.auth_provider = std::move(auth_provider);
	options.maildir = account.maildir;
	options.mbox = account.mbox;
	options.received_header = account.received_header;
	options.account_header = account.account_header;
	options.account_name = account.name;
	if (!account.mda.empty())
		options.mda =
		    ExpandMdaArgs(account.mda, account.name, options.account.user);
	options.policy = account.Policy();
	options.starttls = options.account.starttls;
	options.state_dir = StateDir(account.name);
	options.tls = account.Tls();
	options.tls_sessions = keep.tls_sessions;
	options.verbose = verbose;
	options.timeouts.idle_ms = static_cast<std::uint64_t>(account.timeout.count());
	options.timeouts.connect_ms = static_cast<std::uint64_t>(
	    std::min(account.connect_timeout, account.timeout).count());
	return options;
}

} // namespace popstream::fetch
