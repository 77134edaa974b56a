// The journal's line format, its replay, and the file with its lock and compaction.
#include "TempDir.hxx"
#include "core/journal/Journal.hxx"
#include "store/JournalFile.hxx"

#include <doctest/doctest.h>

#include <fstream>
#include <unistd.h>

using namespace popstream;
using namespace popstream::journal;
using popstream::test::ReadFile;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

Record Pending(const std::string &uidl)
{
	return {Record::Type::Pending, uidl,       72, uidl + ".file",
		uidl + ".tmp",         1700000000, {}};
}

Record Delivered(const std::string &uidl)
{
	return {Record::Type::Delivered, uidl, 72, uidl + ".file", {}, 1700000000, {}};
}

Record Mark(Record::Type type, const std::string &uidl)
{
	return Record::Mark(type, uidl);
}

} // namespace

TEST_CASE("CRC-32 is the IEEE one (zlib's)")
{
	CHECK(Crc32("") == 0);
	CHECK(Crc32("123456789") == 0xCBF43926u);
}

TEST_CASE("records round-trip through their line")
{
	for (const auto &r :
	     {Pending("u1"), Delivered("1490184700.13481.pop,S=72"),
	      Mark(Record::Type::Confirmed, "u1"), Mark(Record::Type::Deleted, "u1"),
	      Mark(Record::Type::Gone, "u1")}) {
		const auto line = EncodeRecord(r);
		REQUIRE(line.back() == '\n');
		const auto back =
		    DecodeLine(std::string_view(line).substr(0, line.size() - 1));
		REQUIRE(back);
		CHECK(*back == r);
	}
}

TEST_CASE("a damaged line is refused: any flipped byte, a cut, garbage")
{
	const auto line = EncodeRecord(Delivered("u1"));
	const std::string_view body(line.data(), line.size() - 1);
	for (std::size_t i = 0; i < body.size(); ++i) {
		std::string bad(body);
		bad[i] = static_cast<char>(bad[i] ^ 0x01);
		CHECK_FALSE(DecodeLine(bad));
	}
	for (std::size_t cut = 0; cut < body.size(); ++cut)
		CHECK_FALSE(DecodeLine(body.substr(0, cut)));
	CHECK_FALSE(DecodeLine("not a record at all"));
}

TEST_CASE("replay follows each unique-id through its states")
{
	State s;
	std::string text;
	for (const auto &r :
	     {Pending("a"), Pending("b"), Delivered("a"),
	      Mark(Record::Type::Confirmed, "a"), Pending("c"), Delivered("c"),
	      Mark(Record::Type::Deleted, "c"), Mark(Record::Type::Gone, "b"),
	      Mark(Record::Type::Confirmed, "zzz")})
		text += EncodeRecord(r);
	CHECK(s.Replay(text + "deadbeef P torn") == 1); // a last line cut short
	REQUIRE(s.Find("a"));
	CHECK(s.Find("a")->state == Entry::State::Confirmed);
	CHECK(s.Find("a")->file == "a.file");
	CHECK(s.Find("b") == nullptr);
	CHECK(s.Find("c")->state == Entry::State::Deleted);
	CHECK(s.Find("zzz") == nullptr); // confirming the unknown creates nothing

	// A snapshot rebuilds the same state.
	State again;
	std::string snapshot;
	for (const auto &r : s.Snapshot())
		snapshot += EncodeRecord(r);
	CHECK(again.Replay(snapshot) == 0);
	CHECK(again.Entries().size() == s.Entries().size());
	CHECK(again.Find("a")->state == Entry::State::Confirmed);
	CHECK(again.Find("c")->state == Entry::State::Deleted);
}

TEST_CASE("a pending entry keeps its tmp name; confirming it before delivery is refused")
{
	State s;
	s.Apply(Pending("p"));
	s.Apply(Mark(Record::Type::Confirmed, "p"));
	REQUIRE(s.Find("p"));
	CHECK(s.Find("p")->state == Entry::State::Pending);
	CHECK(s.Find("p")->tmp == "p.tmp");
}

TEST_CASE("the journal file: durable appends, a lock, and a torn tail repaired")
{
	TempDir dir;
	const std::string state_dir = dir / "state/acct";
	{
		store::JournalFile j(state_dir);
		j.Append(Pending("x"));
		j.Append(Delivered("x"));
		j.Sync();
		// The lock is per account: a second holder is refused, naming the
		// process that holds it (here this one, by the pid it wrote).
		const std::string holder = "(pid " + std::to_string(getpid()) + ")";
		CHECK_THROWS_WITH_AS([&] { store::JournalFile other(state_dir); }(),
				     doctest::Contains(holder.c_str()),
				     store::JournalBusy);
		CHECK(ReadFile(state_dir + "/lock") == std::to_string(getpid()) + "\n");
		// A lock file without a readable pid (an older version wrote none):
		// the message still says what is going on.
		WriteFile(state_dir + "/lock", "", 0600);
		CHECK_THROWS_WITH_AS(
		    [&] { store::JournalFile other(state_dir); }(),
		    doctest::Contains("another popstream process (the "
				      "daemon, a run or a dl) is fetching"),
		    store::JournalBusy);
	}
	// Released with the object.
	{
		store::JournalFile j(state_dir);
		REQUIRE(j.State().Find("x"));
		CHECK(j.State().Find("x")->state == Entry::State::Delivered);
	}
	// A crash in the middle of a write leaves a torn last line...
	{
		std::ofstream out(state_dir + "/journal",
				  std::ios::app | std::ios::binary);
		out << "0badf00d D y 72 y.fi";
	}
	{
		store::JournalFile j(state_dir);
		CHECK(j.Damaged() == 1);
		// ...which the open compacts away, so that the next record is not glued
		// to it.
		j.Append(Mark(Record::Type::Confirmed, "x"));
		j.Sync();
	}
	store::JournalFile j(state_dir);
	CHECK(j.Damaged() == 0); // the repaired file reads clean
	CHECK(j.State().Find("x")->state == Entry::State::Confirmed);
	CHECK(ReadFile(state_dir + "/journal").find("torn") == std::string::npos);
}

TEST_CASE("compaction keeps the state and drops the history")
{
	TempDir dir;
	store::JournalFile j(dir / "s");
	for (int i = 0; i < 100; ++i) {
		const auto u = "u" + std::to_string(i);
		j.Append(Pending(u));
		j.Append(Delivered(u));
		if (i % 2 == 0)
			j.Append(Mark(Record::Type::Gone, u));
	}
	j.Sync();
	const auto before = ReadFile(dir / "s/journal").size();
	j.Compact();
	const auto after = ReadFile(dir / "s/journal").size();
	CHECK(after < before / 2);
	State replayed;
	CHECK(replayed.Replay(ReadFile(dir / "s/journal")) == 0);
	CHECK(replayed.Entries().size() == 50);
}

TEST_CASE("compaction of a journal larger than one write chunk rebuilds the same state")
{
	// Compact() writes in 64 KiB chunks; 3000 entries of every state span several.
	TempDir dir;
	store::JournalFile j(dir / "s");
	for (int i = 0; i < 3000; ++i) {
		const auto u = "uidl-" + std::to_string(i);
		j.Append(Pending(u));
		if (i % 4 != 0)
			j.Append(Delivered(u));
		if (i % 4 == 2)
			j.Append(Mark(Record::Type::Confirmed, u));
		if (i % 4 == 3)
			j.Append(Mark(Record::Type::Deleted, u));
	}
	j.Sync();
	const auto expected = j.State().Snapshot();
	j.Compact();
	const auto text = ReadFile(dir / "s/journal");
	CHECK(text.size() > 2 * 64 * 1024);
	State replayed;
	CHECK(replayed.Replay(text) == 0);
	CHECK(replayed.Snapshot() == expected);
	CHECK(replayed.Entries().size() == 3000);
	CHECK(replayed.Find("uidl-0")->state == Entry::State::Pending);
	CHECK(replayed.Find("uidl-7")->state == Entry::State::Deleted);
}
