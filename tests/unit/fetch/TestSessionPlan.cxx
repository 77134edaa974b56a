// What each session of a fetch gets to log in with (fetch/SessionPlan): the secret the
// method sends is the only one looked up, and the token, the server's name and the
// mechanisms reach every session of the run.

#include "fetch/SessionPlan.hxx"

#include <doctest/doctest.h>

using namespace popstream;
using pop3::AuthMethod;

namespace {

fetch::PasswordSource Source()
{
	return [](std::function<void(fetch::PasswordAnswer)>) {};
}

fetch::LoginSecret Needed(AuthMethod method, bool token_source)
{
	fetch::FetchOptions options;
	options.policy.auth = method;
	options.password_source = Source();
	if (token_source)
		options.token_source = Source();
	return fetch::NeededSecret(options);
}

/** A provider that is never called: PlanSession only hands it on. */
class NoProvider final : public pop3::AuthProvider {
public:
	bool HasSasl(AuthMethod) const noexcept override { return false; }
	std::unique_ptr<pop3::SaslClient> Sasl(AuthMethod, const pop3::SaslParams &,
					       std::string &error) const override
	{
		error = "none";
		return nullptr;
	}
	std::string ApopDigest(std::string_view, std::string_view) const override
	{
		return {};
	}
};

} // namespace

TEST_CASE("only the secret the login method sends is looked up")
{
	using fetch::LoginSecret;
	for (const auto method :
	     {AuthMethod::User, AuthMethod::Apop, AuthMethod::Plain, AuthMethod::Login,
	      AuthMethod::CramMd5, AuthMethod::ScramSha1, AuthMethod::ScramSha256}) {
		INFO(pop3::AuthMethodName(method));
		CHECK(Needed(method, false) == LoginSecret::Password);
	}
	CHECK(Needed(AuthMethod::Xoauth2, true) == LoginSecret::Token);
	CHECK(Needed(AuthMethod::Oauthbearer, true) == LoginSecret::Token);
	// Without a source the token methods still want the token (the login then
	// fails for want of it), never the password.
	CHECK(Needed(AuthMethod::Oauthbearer, false) == LoginSecret::Token);
	CHECK(Needed(AuthMethod::External, false) == LoginSecret::None);
	CHECK(Needed(AuthMethod::External, true) == LoginSecret::None);
	// auto prefers the token methods when there is a token.
	CHECK(Needed(AuthMethod::Auto, true) == LoginSecret::Token);
	CHECK(Needed(AuthMethod::Auto, false) == LoginSecret::Password);
}

TEST_CASE("every session of a run gets the token, the server's name and the mechanisms")
{
	fetch::FetchOptions options;
	options.account.host = "pop.example.com";
	options.account.port = 995;
	options.account.user = "alice";
	options.account.token = "ya29.token";
	options.policy.auth = AuthMethod::Oauthbearer;
	options.policy.allow_plaintext = true;
	options.auth_provider = std::make_shared<NoProvider>();

	// The first session, and a reconnect after a checkpoint, alike.
	const fetch::RunSoFar first, after_checkpoint{3, 300, 4, 3, 0};
	for (const auto *run : {&first, &after_checkpoint}) {
		const auto plan = fetch::PlanSession(options, *run, false, false);
		CHECK(plan.config.token == "ya29.token");
		CHECK(plan.config.password.empty());
		CHECK(plan.config.host == "pop.example.com");
		CHECK(plan.config.port == 995);
		CHECK(plan.config.user == "alice");
		CHECK(plan.config.auth_provider == options.auth_provider);
		CHECK(plan.config.auth == AuthMethod::Oauthbearer);
		CHECK(plan.config.allow_plaintext);
		// Loopback is the connected peer's business (FetchJob::OnConnected).
		CHECK_FALSE(plan.config.loopback);
	}
}
