// An account's settings travel from the config file to the session as one struct
// (core/pop3/Policy.hxx): each hop is one assignment, so a new key cannot be lost on
// the way. The hops are the ones the scheduler takes (Scheduler::Resolved()).

#include "ConfigTestHelpers.hxx"
#include "fetch/SessionPlan.hxx"
#include "fetch/StatePaths.hxx"
#include "store/DeliveryLedger.hxx"

#include <doctest/doctest.h>

using namespace popstream;
using namespace std::chrono_literals;
using popstream::test::Parse;

TEST_CASE("an account's policy flows from the YAML to the session and the journal whole")
{
	const auto config = Parse("defaults:\n"
				  "  keep: true\n"
				  "  max_message_size: 25MB\n"
				  "accounts:\n"
				  "  - name: a\n"
				  "    host: h\n"
				  "    maildir: /m\n"
				  "    pipelining: off\n"
				  "    delete_after: 14d\n"
				  "    oversize: delete\n"
				  "    max_messages_per_session: 500\n"
				  "    max_bytes_per_session: 1GB\n"
				  "    checkpoint_every: 100 messages\n"
				  "    auth: cram-md5\n"
				  "    allow_plaintext: true\n");
	REQUIRE(config.accounts.size() == 1);
	const auto &account = config.accounts[0];

	fetch::FetchOptions options;
	options.policy = account.Policy();
	CHECK(options.policy == account.Policy());

	// The session applies its part as written, inherited keys included...
	const auto plan = fetch::PlanSession(options, {}, false, false);
	const pop3::SessionPolicy &session = plan.config.Policy();
	CHECK(session == account.Session());
	CHECK(session.pipelining == pop3::Pipelining::Off);
	CHECK(session.keep);
	CHECK(session.max_message_size == 25'000'000);
	CHECK(session.oversize == pop3::Oversize::Delete);
	CHECK(session.auth == pop3::AuthMethod::CramMd5);
	CHECK(session.allow_plaintext);
	// ...and the run's limits as what this session may take of them.
	CHECK(plan.config.limit == 100);
	CHECK(plan.config.limit_bytes == 1'000'000'000);
	CHECK(plan.checkpointing);

	// The journal applies keep and delete_after from the same struct.
	const auto ledger = fetch::LedgerOptionsFor(options);
	CHECK(ledger.policy == account.Policy());
	CHECK(ledger.policy.delete_after == 14 * 24h);
}
