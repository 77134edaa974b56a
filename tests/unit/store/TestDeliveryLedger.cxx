// DeliveryLedger on its own: what lands in new/ and in the journal, in which order,
// and what a kill -9 at each crash point leaves for the next start to settle. The
// kills are real: a forked child arms the point and dies by SIGKILL inside Commit().
#include "TempDir.hxx"
#include "core/journal/Journal.hxx"
#include "store/CrashPoint.hxx"
#include "store/DeliveryLedger.hxx"
#include "store/JournalFile.hxx"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace popstream;
using namespace popstream::store;
using namespace popstream::test;
using Type = journal::Record::Type;

namespace {

struct Msg {
	std::uint32_t number;
	std::string uidl;
	std::string body;
};

/** A Maildir and a state directory under one temporary directory. */
struct Account {
	TempDir dir;
	std::vector<std::string> log;

	std::string Maildir() const { return dir / "Mail"; }
	std::string State() const { return dir / "state"; }

	LedgerOptions Options() const
	{
		LedgerOptions o;
		o.maildir = Maildir();
		o.state_dir = State();
		o.lock_path = dir / "locks/alice@host:995";
		o.lock_holder = "alice@host:995";
		return o;
	}

	std::unique_ptr<DeliveryLedger> Open()
	{
		return std::make_unique<DeliveryLedger>(
		    Options(),
		    [this](LogLevel, const std::string &text) { log.push_back(text); });
	}

	/** @return the journal's records, each checked to be one whole line whose
	 *          encoding is byte for byte what EncodeRecord() writes */
	std::vector<journal::Record> Records() const
	{
		const auto text = ReadFile(State() + "/journal");
		std::vector<journal::Record> out;
		std::size_t pos = 0;
		while (pos < text.size()) {
			const auto eol = text.find('\n', pos);
			REQUIRE(eol != std::string::npos);
			const auto line = text.substr(pos, eol - pos);
			const auto r = journal::DecodeLine(line);
			REQUIRE(r);
			CHECK(journal::EncodeRecord(*r) == line + "\n");
			out.push_back(*r);
			pos = eol + 1;
		}
		return out;
	}

	std::vector<std::string> New() const { return ListDir(Maildir() + "/new"); }
	std::vector<std::string> Tmp() const { return ListDir(Maildir() + "/tmp"); }
};

/** Stages @p m in two writes, as a body arrives in chunks. */
void Stage(Destination &d, const Msg &m)
{
	d.Begin(m.number, m.uidl, m.body.size() + 2);
	d.Write(m.body.substr(0, m.body.size() / 2));
	d.Write(m.body.substr(m.body.size() / 2));
	d.End();
}

std::vector<std::uint32_t> Numbers(const std::vector<DurableCopy> &copies)
{
	std::vector<std::uint32_t> out;
	for (const auto &c : copies)
		out.push_back(c.number);
	return out;
}

/** @return the files of @p dir's contents, sorted: Maildir names are unique, not
 *          ordered by time */
std::vector<std::string> Contents(const std::string &dir)
{
	auto files = ReadAllFiles(dir);
	std::sort(files.begin(), files.end());
	return files;
}

std::vector<std::string> Sorted(std::vector<std::string> v)
{
	std::sort(v.begin(), v.end());
	return v;
}

std::vector<Type> Types(const std::vector<journal::Record> &records)
{
	std::vector<Type> out;
	for (const auto &r : records)
		out.push_back(r.type);
	return out;
}

const std::vector<Msg> two = {{1, "u1", "Subject: one\n\nfirst body\n"},
			      {2, "u2", std::string("Subject: two\n\n\0\xff\r\n", 18)}};

/** @return a ledger on @p a, in a session that has saved #two (committed) */
std::unique_ptr<DeliveryLedger> SavedTwo(Account &a)
{
	auto ledger = a.Open();
	ledger->Open();
	ledger->BeginSession();
	for (const auto &m : two)
		Stage(*ledger, m);
	REQUIRE(ledger->Commit().durable.size() == 2);
	return ledger;
}

/**
 * Runs @p work in a child process with crash point @p spec armed, and expects the
 * child to die by SIGKILL (as kill -9 would end it, with nothing flushed).
 */
void CrashIn(const std::string &spec, const std::function<void()> &work)
{
	const pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		ArmCrashPoint(spec);
		try {
			work();
		} catch (...) {
			_exit(2);
		}
		_exit(0); // the point was never reached
	}
	int status = 0;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	REQUIRE(WIFSIGNALED(status));
	CHECK(WTERMSIG(status) == SIGKILL);
}

} // namespace

TEST_CASE("a committed group: bytes in new/, P synced before the rename, then D and C")
{
	Account a;
	auto ledger = a.Open();
	ledger->Recover();
	ledger->BeginSession();
	ledger->Open();
	for (const auto &m : two)
		Stage(*ledger, m);
	// Staged: synced in tmp/, nothing in new/ nor in the journal yet.
	CHECK(a.Tmp().size() == 2);
	CHECK(a.New().empty());
	CHECK(a.Records().empty());

	const auto outcome = ledger->Commit();
	CHECK(outcome.completed);
	CHECK(outcome.failed.empty());
	CHECK(Numbers(outcome.durable) == std::vector<std::uint32_t>{1, 2});
	CHECK(outcome.durable[1].bytes == two[1].body.size());
	CHECK(outcome.durable[1].listed == two[1].body.size() + 2);
	CHECK(a.Tmp().empty());
	REQUIRE(a.New().size() == 2);
	CHECK(Contents(a.Maildir() + "/new") == Sorted({two[0].body, two[1].body}));

	// Only the P lines were synced by Commit(); D and C follow with the next sync.
	auto records = a.Records();
	REQUIRE(Types(records) == std::vector<Type>{Type::Pending, Type::Pending});
	for (std::size_t i = 0; i < 2; ++i) {
		CHECK(records[i].uidl == two[i].uidl);
		CHECK(records[i].size == two[i].body.size() + 2);
		CHECK(records[i].tmp.find('/') == std::string::npos);
		CHECK(records[i].replaces.empty());
		const auto file = records[i].file;
		CHECK(ReadFile(a.Maildir() + "/new/" + file) == two[i].body);
	}
	CHECK(ledger->Sync());
	records = a.Records();
	CHECK(Types(records) == std::vector<Type>{Type::Pending, Type::Pending,
						  Type::Delivered, Type::Confirmed,
						  Type::Delivered, Type::Confirmed});
	CHECK(records[2].file == records[0].file);
	CHECK(ledger->Journal().Find("u2")->state == journal::Entry::State::Confirmed);
	CHECK(ledger->Commit().durable.empty()); // the group is empty now
}

TEST_CASE("already saved: a proven copy vouches only while its file is here, of "
	  "the listed size")
{
	Account a;
	{
		auto ledger = a.Open();
		ledger->Open();
		Stage(*ledger, two[0]);
		ledger->Commit();
		ledger->Close();
	}
	auto ledger = a.Open();
	ledger->Recover();
	ledger->BeginSession();
	const auto listed = two[0].body.size() + 2;
	CHECK_FALSE(ledger->AlreadySaved("other", 10));
	auto copy = ledger->AlreadySaved("u1", listed);
	REQUIRE(copy);
	CHECK_FALSE(copy->download);
	// Another size under the same unique-id: not this message's proof.
	copy = ledger->AlreadySaved("u1", listed + 1);
	REQUIRE(copy);
	CHECK(copy->download);

	// A mail reader moved it to cur/ and flagged it: still here.
	const auto name = ledger->Journal().Find("u1")->file;
	REQUIRE(rename((a.Maildir() + "/new/" + name).c_str(),
		       (a.Maildir() + "/cur/" + name + ":2,S").c_str()) == 0);
	ledger.reset(); // a new run: cur/ is listed afresh
	ledger = a.Open();
	copy = ledger->AlreadySaved("u1", listed);
	REQUIRE(copy);
	CHECK_FALSE(copy->download);

	// Removed from the Maildir: downloaded again, never deleted on its word.
	REQUIRE(unlink((a.Maildir() + "/cur/" + name + ":2,S").c_str()) == 0);
	ledger.reset();
	ledger = a.Open();
	copy = ledger->AlreadySaved("u1", listed);
	REQUIRE(copy);
	CHECK(copy->download);
	CHECK(a.log.back().find("in neither new/ nor cur/") != std::string::npos);
}

TEST_CASE("killed at each point of a commit: the next start settles the group")
{
	struct Expect {
		const char *point;
		/** The rename happened: the copies are recovered as saved. */
		bool in_new;
	};
	for (const Expect e : {Expect{"journal-pending", false},
			       Expect{"published", true}, Expect{"dir-synced", true}}) {
		CAPTURE(e.point);
		Account a;
		CrashIn(std::string(e.point) + ":1", [&] {
			auto ledger = a.Open();
			ledger->Open();
			for (const auto &m : two)
				Stage(*ledger, m);
			ledger->Commit();
		});
		// What the kill left: the P lines are durable in every case.
		CHECK(Types(a.Records()) ==
		      std::vector<Type>{Type::Pending, Type::Pending});
		CHECK(a.New().size() == (e.in_new ? 2u : 0u));
		CHECK(a.Tmp().size() == (e.in_new ? 0u : 2u));

		auto ledger = a.Open();
		ledger->Recover();
		CHECK(a.Tmp().empty());
		const auto records = a.Records();
		if (e.in_new) {
			// Found in new/: delivered and proven, so they vouch for a DELE
			// without a second download, and are not stored twice.
			CHECK(Types(records) ==
			      std::vector<Type>{Type::Pending, Type::Pending,
						Type::Delivered, Type::Confirmed,
						Type::Delivered, Type::Confirmed});
			CHECK(Contents(a.Maildir() + "/new") ==
			      Sorted({two[0].body, two[1].body}));
			for (const auto &m : two) {
				const auto copy =
				    ledger->AlreadySaved(m.uidl, m.body.size() + 2);
				REQUIRE(copy);
				CHECK_FALSE(copy->download);
			}
			CHECK(a.log.back().find("2 message(s) found saved, 0 "
						"unfinished") != std::string::npos);
		} else {
			// Never reached new/: forgotten, so both are downloaded again
			// (they were never reported durable, so never deleted).
			CHECK(Types(records) ==
			      std::vector<Type>{Type::Pending, Type::Pending, Type::Gone,
						Type::Gone});
			CHECK(a.New().empty());
			for (const auto &m : two)
				CHECK_FALSE(
				    ledger->AlreadySaved(m.uidl, m.body.size() + 2));
			CHECK(a.log.back().find("0 message(s) found saved, 2 "
						"unfinished") != std::string::npos);
		}
	}
}

TEST_CASE("killed with an unproven body staged: it never reaches new/ or the journal")
{
	Account a;
	CrashIn("unproven-held:1", [&] {
		auto ledger = a.Open();
		ledger->Open();
		ledger->Begin(1, "u1", 100);
		ledger->Write("Subject: cut short\n");
		ledger->EndSession({});
	});
	CHECK(a.Tmp().size() == 1);
	CHECK(a.New().empty());
	CHECK(a.Records().empty());
	// The next start removes what the dead process left in tmp/.
	auto ledger = a.Open();
	ledger->Recover();
	ledger->Open();
	CHECK(a.Tmp().empty());
	CHECK(a.New().empty());
	CHECK_FALSE(ledger->AlreadySaved("u1", 100));
}

TEST_CASE("a discarded or failed-to-stage body leaves nothing, and is never durable")
{
	Account a;
	auto ledger = a.Open();
	ledger->Open();
	ledger->Begin(1, "u1", 10);
	ledger->Write("partial");
	ledger->Discard();
	CHECK(a.Tmp().empty());
	Stage(*ledger, two[1]);
	const auto outcome = ledger->Commit();
	CHECK(Numbers(outcome.durable) == std::vector<std::uint32_t>{2});
	CHECK_FALSE(ledger->Journal().Find("u1"));
}

TEST_CASE("a session that ended where a reply was due: its suspect copies are "
	  "downloaded again and replace their files")
{
	Account a;
	auto ledger = SavedTwo(a);
	const auto old_file = ledger->Journal().Find("u1")->file;
	ledger->EndSession([](std::uint32_t number) { return number == 1; });
	ledger->Sync();
	CHECK(a.Records().back().type == Type::Unproven);
	CHECK(a.Records().back().uidl == "u1");

	ledger->BeginSession();
	const auto copy = ledger->AlreadySaved("u1", two[0].body.size() + 2);
	REQUIRE(copy);
	CHECK(copy->download);
	const auto kept = ledger->AlreadySaved("u2", two[1].body.size() + 2);
	REQUIRE(kept);
	CHECK_FALSE(kept->download);

	const Msg fresh{1, "u1", "Subject: one\n\nthe right body\n"};
	Stage(*ledger, fresh);
	const auto outcome = ledger->Commit();
	CHECK(Numbers(outcome.durable) == std::vector<std::uint32_t>{1});
	// The P line names the file it replaces; that file is gone now.
	ledger->Sync();
	const auto records = a.Records();
	const auto p = std::find_if(records.rbegin(), records.rend(), [](const auto &r) {
		return r.type == Type::Pending;
	});
	REQUIRE(p != records.rend());
	CHECK(p->replaces == old_file);
	CHECK(Contents(a.Maildir() + "/new") == Sorted({fresh.body, two[1].body}));
}

TEST_CASE("a unique-id whose deletion was confirmed, listed again with the same "
	  "bytes, is not stored twice")
{
	Account a;
	auto ledger = a.Open();
	ledger->Open();
	ledger->BeginSession();
	Stage(*ledger, two[0]);
	ledger->Commit();
	const auto first = ledger->Journal().Find("u1")->file;
	ledger->SessionCommitted({"u1"}, true);
	CHECK(a.Records().back().type == Type::Deleted);

	// The server said it deleted u1 but lists it again.
	ledger->BeginSession();
	const auto copy = ledger->AlreadySaved("u1", two[0].body.size() + 2);
	REQUIRE(copy);
	CHECK(copy->download); // new mail, unless the bytes tell otherwise
	Stage(*ledger, two[0]);
	auto outcome = ledger->Commit();
	REQUIRE(outcome.durable.size() == 1);
	CHECK_FALSE(outcome.durable[0].new_copy);
	CHECK(a.New() == std::vector<std::string>{first});
	CHECK(a.Tmp().empty());
	CHECK(ledger->Journal().Find("u1")->file == first);
	CHECK(ledger->Journal().Find("u1")->state == journal::Entry::State::Confirmed);
}

TEST_CASE("added headers: at the top of each copy, before the server's bytes; the "
	  "byte comparison skips them, and a different message is still saved")
{
	Account a;
	int calls = 0;
	auto options = a.Options();
	// Each call another date, as a later download writes another Received: line.
	options.added_headers = [&calls] {
		++calls;
		return "Received: from pop.example.com by here with POP3 (popstream)\n"
		       "\tfor <alice>; Sun, 0" +
		       std::to_string(calls) +
		       " Dec 2026 23:00:00 +0000\nX-Popstream-Account: work\n";
	};
	options.added_header_names = {"Received", "x-popstream-account"};
	DeliveryLedger ledger(options, {});
	ledger.Open();
	ledger.BeginSession();
	Stage(ledger, two[0]);
	ledger.Commit();
	const auto first = ledger.Journal().Find("u1")->file;
	CHECK(ReadFile(a.Maildir() + "/new/" + first) ==
	      "Received: from pop.example.com by here with POP3 (popstream)\n"
	      "\tfor <alice>; Sun, 01 Dec 2026 23:00:00 +0000\n"
	      "X-Popstream-Account: work\n" +
		  two[0].body);
	ledger.SessionCommitted({"u1"}, true);

	// Listed again after a confirmed deletion, the same bytes under other added
	// lines: the same message, not stored twice.
	ledger.BeginSession();
	REQUIRE(ledger.AlreadySaved("u1", two[0].body.size() + 2));
	Stage(ledger, two[0]);
	auto outcome = ledger.Commit();
	REQUIRE(outcome.durable.size() == 1);
	CHECK_FALSE(outcome.durable[0].new_copy);
	CHECK(a.New() == std::vector<std::string>{first});
	ledger.SessionCommitted({"u1"}, true);

	// Another message under the reused unique-id, whose body merely ends like it:
	// saved as new mail.
	ledger.BeginSession();
	REQUIRE(ledger.AlreadySaved("u1", two[0].body.size() + 2));
	Stage(ledger, Msg{1, "u1", "X-Spam: yes\n" + two[0].body});
	outcome = ledger.Commit();
	REQUIRE(outcome.durable.size() == 1);
	CHECK(outcome.durable[0].new_copy);
	CHECK(a.New().size() == 2);
}

TEST_CASE("a whole listing prunes what the server no longer lists; duplicates are "
	  "forgotten durably")
{
	Account a;
	auto ledger = SavedTwo(a);
	ledger->SessionCommitted({}, true);
	REQUIRE(ledger->Journal().Entries().size() == 2);

	// Next session: the server lists only u2.
	ledger->BeginSession();
	CHECK(ledger->AlreadySaved("u2", two[1].body.size() + 2));
	ledger->SessionCommitted({}, true);
	CHECK_FALSE(ledger->Journal().Find("u1"));
	CHECK(ledger->Journal().Find("u2"));
	CHECK(a.Records().back() == journal::Record::Mark(Type::Gone, "u1"));

	CHECK(ledger->ForgetDuplicates({"u2", "unknown"}));
	CHECK_FALSE(ledger->Journal().Find("u2"));
	CHECK(a.Records().back() == journal::Record::Mark(Type::Gone, "u2"));
}

TEST_CASE("a group is full at 64 messages; a second ledger on the account is refused")
{
	Account a;
	auto ledger = a.Open();
	ledger->Open();
	for (std::uint32_t n = 1; n <= 64; ++n) {
		CHECK_FALSE(ledger->GroupFull());
		Stage(*ledger, {n, "u" + std::to_string(n), "x\n"});
	}
	CHECK(ledger->GroupFull());
	CHECK_THROWS_AS(a.Open(), JournalBusy);
	CHECK(ledger->Commit().durable.size() == 64);
	CHECK_FALSE(ledger->GroupFull());
	ledger->Close(); // releases the lock
	CHECK_NOTHROW(a.Open());
}

namespace {

/** Waits (up to 10 s) until no MDA has a message of @p ledger's group. */
/**
 * Collects every hand-off as FetchJob does, one at a time: the next runs only once
 * the one before is on record (HandOffQueue), so waiting for all to settle first would
 * wait for ever. @return the outcomes merged, or nothing if they did not end within
 * 10 s
 */
std::optional<CommitOutcome> CollectAll(Destination &ledger)
{
	CommitOutcome all;
	for (int i = 0; i < 10'000; ++i) {
		if (ledger.GroupFull()) {
			auto outcome = ledger.Commit();
			all.durable.insert(all.durable.end(), outcome.durable.begin(),
					   outcome.durable.end());
			all.failed.insert(all.failed.end(), outcome.failed.begin(),
					  outcome.failed.end());
			all.completed = all.completed || outcome.completed;
			continue;
		}
		if (ledger.Settled())
			return all;
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	return std::nullopt;
}

/** An MDA for the tests: records what it was given, answers from a list. */
struct FakeMda {
	std::mutex mutex;
	std::vector<std::string> given;
	std::vector<HandOffResult> answers;

	HandOff Run()
	{
		return [this](const HandOffMessage &m) {
			const int fd = m.fd;
			const auto size = m.size;
			std::string body;
			char buf[256];
			for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
				body.append(buf, static_cast<std::size_t>(n));
			std::lock_guard lock(mutex);
			CHECK(body.size() == size);
			given.push_back(body);
			auto answer = answers.front();
			answers.erase(answers.begin());
			return answer;
		};
	}
};

LedgerOptions MdaOptions(Account &a, HandOff run, std::function<void()> wake = {})
{
	auto o = a.Options();
	o.maildir = a.State() + "/mda-spool";
	o.hand_off_name = "the MDA \"test\"";
	o.hand_off = std::move(run);
	o.wake = std::move(wake);
	return o;
}

HandOffResult Delivered()
{
	HandOffResult r;
	r.delivered = true;
	return r;
}

} // namespace

TEST_CASE("an MDA: the next message waits until the last one's delivery is on record, "
	  "so a kill costs at most one duplicate")
{
	Account a;
	FakeMda mda;
	mda.answers = {Delivered(), Delivered()};
	DeliveryLedger ledger(MdaOptions(a, mda.Run()), {});
	ledger.Recover();
	ledger.BeginSession();
	ledger.Open();
	Stage(ledger, {1, "u1", "Subject: one\n\n1\n"});
	Stage(ledger, {2, "u2", "Subject: two\n\n2\n"});
	for (int i = 0; i < 10'000 && !ledger.GroupFull(); ++i)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	REQUIRE(ledger.GroupFull());
	// However long the loop takes to collect, the second MDA does not start.
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	{
		std::lock_guard lock(mda.mutex);
		CHECK(mda.given.size() == 1);
	}
	CHECK_FALSE(ledger.Settled());
	CHECK(Numbers(ledger.Commit().durable) == std::vector<std::uint32_t>{1});
	CHECK(Types(a.Records()) == std::vector<Type>{Type::Delivered, Type::Confirmed});
	const auto rest = CollectAll(ledger);
	REQUIRE(rest);
	CHECK(Numbers(rest->durable) == std::vector<std::uint32_t>{2});
	CHECK(mda.given.size() == 2);
	ledger.Close();
}

TEST_CASE("an MDA: each message handed over whole; D and C synced at once; 75 and "
	  "failures keep it; a kill right after the hand-off duplicates, never loses")
{
	Account a;
	const std::string spool = a.State() + "/mda-spool";
	FakeMda mda;
	HandOffResult later;
	later.deferred = true;
	later.why = "exit 75";
	HandOffResult broken;
	broken.why = "exit 67";
	{
		std::atomic<int> wakes{0};
		DeliveryLedger ledger(MdaOptions(a, mda.Run(), [&] { ++wakes; }), {});
		ledger.Recover();
		ledger.BeginSession();
		ledger.Open();
		const Msg third{3, "u3", "Subject: three\n\n3\n"};
		mda.answers = {Delivered(), later, broken};
		for (const auto &m : two)
			Stage(ledger, m);
		Stage(ledger, third);
		const auto collected = CollectAll(ledger);
		REQUIRE(collected);
		const auto &outcome = *collected;
		CHECK(wakes == 3);
		CHECK(mda.given ==
		      std::vector<std::string>{two[0].body, two[1].body, third.body});
		CHECK(Numbers(outcome.durable) == std::vector<std::uint32_t>{1});
		REQUIRE(outcome.failed.size() == 2);
		CHECK(outcome.failed[0].deferred);
		CHECK_FALSE(outcome.failed[1].deferred);
		CHECK(outcome.failed[1].why == "exit 67");
		// Journaled before Commit() returned, so before any DELE: D and C for
		// the one delivered, nothing for the others.
		CHECK(Types(a.Records()) ==
		      std::vector<Type>{Type::Delivered, Type::Confirmed});
		// With keep, the session ends without deleting: what the MDA took is
		// still listed, so not pruned, and vouches next time.
		ledger.SessionCommitted({}, true);
		REQUIRE(ledger.Journal().Find("u1"));
		CHECK(ledger.Journal().Find("u1")->state ==
		      journal::Entry::State::Confirmed);
		// Nothing is left staged, and no user Maildir was made.
		CHECK(ListDir(spool + "/tmp").empty());
		CHECK(ListDir(spool + "/new").empty());
		CHECK_FALSE(std::filesystem::exists(a.Maildir()));
		// It vouches on the journal's word alone: no file to look for.
		const auto copy = ledger.AlreadySaved("u1", two[0].body.size() + 2);
		REQUIRE(copy);
		CHECK_FALSE(copy->download);
		// Deferred: unknown to the journal, so downloaded again.
		CHECK_FALSE(ledger.AlreadySaved("u2", two[1].body.size() + 2));
		ledger.Close();
	}
	// A kill after the MDA took message 2 but before the journal knew: the next
	// run hands it over again (a duplicate), it is never taken for delivered.
	mda.given.clear();
	mda.answers = {Delivered()};
	CrashIn("handed-off", [&] {
		DeliveryLedger ledger(MdaOptions(a, mda.Run()), {});
		ledger.Recover();
		ledger.BeginSession();
		ledger.Open();
		Stage(ledger, two[1]);
		CollectAll(ledger);
	});
	DeliveryLedger ledger(MdaOptions(a, mda.Run()), {});
	ledger.Recover();
	ledger.BeginSession();
	CHECK(mda.given == std::vector<std::string>{}); // handed over in the child only
	const auto copy = ledger.AlreadySaved("u2", two[1].body.size() + 2);
	CHECK((!copy || copy->download));
}

TEST_CASE("an MDA that takes long holds nothing up: Commit() collects only what is "
	  "over; Close() waits for the running one and journals what it took")
{
	Account a;
	std::atomic<bool> started{false}, open{false};
	std::vector<std::string> given;
	const HandOff slow = [&](const HandOffMessage &m) {
		const int fd = m.fd;
		started = true;
		while (!open) // until the test opens the gate
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		char buf[256];
		std::string body;
		for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
			body.append(buf, static_cast<std::size_t>(n));
		given.push_back(body);
		return Delivered();
	};
	{
		DeliveryLedger ledger(MdaOptions(a, slow), {});
		ledger.Recover();
		ledger.BeginSession();
		ledger.Open();
		for (const auto &m : two)
			Stage(ledger, m);
		// The MDA has not finished: nothing is durable, nothing blocks.
		while (!started)
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		CHECK_FALSE(ledger.Settled());
		CHECK_FALSE(ledger.GroupFull());
		const auto outcome = ledger.Commit();
		CHECK(outcome.durable.empty());
		CHECK(outcome.failed.empty());
		CHECK(a.Records().empty());
		// The run ends while it still works: Close() lets it finish the message
		// it has (the gate opens from another thread meanwhile) and records it.
		std::thread opener([&] {
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
			open = true;
		});
		ledger.Close();
		opener.join();
	}
	// Message 1 was running, so it was finished and journaled; message 2 was not
	// started, so the next run downloads it again.
	CHECK(given == std::vector<std::string>{two[0].body});
	CHECK(Types(a.Records()) == std::vector<Type>{Type::Delivered, Type::Confirmed});
	DeliveryLedger ledger(MdaOptions(a, slow), {});
	ledger.Recover();
	ledger.BeginSession();
	const auto first = ledger.AlreadySaved("u1", two[0].body.size() + 2);
	REQUIRE(first);
	CHECK_FALSE(first->download);
	const auto second = ledger.AlreadySaved("u2", two[1].body.size() + 2);
	CHECK((!second || second->download));
}

TEST_CASE("what an MDA took vouches only while the account delivers to an MDA")
{
	Account a;
	FakeMda mda;
	mda.answers = {Delivered()};
	{
		DeliveryLedger ledger(MdaOptions(a, mda.Run()), {});
		ledger.Recover();
		ledger.BeginSession();
		ledger.Open();
		Stage(ledger, two[0]);
		const auto collected = CollectAll(ledger);
		REQUIRE(collected);
		CHECK(Numbers(collected->durable) == std::vector<std::uint32_t>{1});
		ledger.Close();
	}
	// The account now saves to a Maildir, which does not hold it: downloaded
	// again rather than deleted on the word of another delivery.
	DeliveryLedger ledger(a.Options(), {});
	ledger.Recover();
	ledger.BeginSession();
	ledger.Open();
	const auto copy = ledger.AlreadySaved("u1", two[0].body.size() + 2);
	REQUIRE(copy);
	CHECK(copy->download);
}

TEST_CASE("an mbox: appended in order and journaled; killed after the append, the next "
	  "start finds it whole and appends nothing twice")
{
	Account a;
	const std::string box = a.dir / "mbox";
	const auto options = [&] {
		auto o = a.Options();
		o.maildir = a.State() + "/mbox-spool";
		o.mbox = std::make_shared<MboxAppender>(box, a.State() + "/mbox-intents");
		return o;
	};
	{
		DeliveryLedger ledger(options(), {});
		ledger.Recover();
		ledger.BeginSession();
		ledger.Open();
		for (const auto &m : two)
			Stage(ledger, m);
		const auto collected = CollectAll(ledger);
		REQUIRE(collected);
		CHECK(Numbers(collected->durable) == std::vector<std::uint32_t>{1, 2});
		CHECK(ledger.Journal().Find("u2")->file == MboxJournalFile(box));
		ledger.Close();
	}
	const auto both = ReadFile(box);
	CHECK(both.find("Subject: one") < both.find("Subject: two"));
	CHECK_FALSE(std::filesystem::exists(a.State() + "/mbox-intents"));

	// Killed after the append of a third message, before the journal knew.
	const Msg third{3, "u3", "Subject: three\n\nFrom me\n"};
	CrashIn("handed-off", [&] {
		DeliveryLedger ledger(options(), {});
		ledger.Recover();
		ledger.BeginSession();
		ledger.Open();
		Stage(ledger, third);
		CollectAll(ledger);
	});
	const auto after_kill = ReadFile(box);
	CHECK(after_kill.ends_with("Subject: three\n\n>From me\n\n"));
	std::vector<std::string> said;
	DeliveryLedger ledger(
	    options(), [&](LogLevel, const std::string &text) { said.push_back(text); });
	REQUIRE(said.empty());
	ledger.Recover();
	CHECK(said ==
	      std::vector<std::string>{"UIDL u3: found whole in the mbox " + box +
				       " after an interrupted run: not appended again"});
	ledger.BeginSession();
	const auto copy = ledger.AlreadySaved("u3", third.body.size() + 2);
	REQUIRE(copy);
	CHECK_FALSE(copy->download); // delivered: its DELE may go, nothing is appended
	CHECK(ReadFile(box) == after_kill);
}

TEST_CASE("an mbox append vouches only for that mbox, and only while it exists")
{
	Account a;
	const auto options = [&](const std::string &box) {
		auto o = a.Options();
		o.maildir = a.State() + "/mbox-spool";
		o.mbox = std::make_shared<MboxAppender>(box, a.State() + "/mbox-intents");
		return o;
	};
	const std::string first = a.dir / "first", second = a.dir / "second";
	{
		DeliveryLedger ledger(options(first), {});
		ledger.Recover();
		ledger.BeginSession();
		ledger.Open();
		Stage(ledger, two[0]);
		const auto collected = CollectAll(ledger);
		REQUIRE(collected);
		CHECK(Numbers(collected->durable) == std::vector<std::uint32_t>{1});
		ledger.Close();
	}
	const auto listed = two[0].body.size() + 2;
	{
		DeliveryLedger ledger(options(first), {});
		ledger.Recover();
		ledger.BeginSession();
		const auto copy = ledger.AlreadySaved("u1", listed);
		REQUIRE(copy);
		CHECK_FALSE(copy->download);
		ledger.Close();
	}
	{
		// Another mbox now: not this account's copy, so not deleted on its word.
		DeliveryLedger ledger(options(second), {});
		ledger.Recover();
		ledger.BeginSession();
		const auto copy = ledger.AlreadySaved("u1", listed);
		REQUIRE(copy);
		CHECK(copy->download);
		ledger.Close();
	}
	// The user removed the mbox it went to.
	std::filesystem::remove(first);
	DeliveryLedger ledger(options(first), {});
	ledger.Recover();
	ledger.BeginSession();
	const auto copy = ledger.AlreadySaved("u1", listed);
	REQUIRE(copy);
	CHECK(copy->download);
}
