// The journal's CRC-32 moved from a table of our own to zlib's crc32_z(). Journals on
// users' disks were written with the table, and a line whose checksum no longer
// matched would be skipped as damaged: the messages it vouched for would be fetched
// again, and a confirmed deletion forgotten. These tests hold the two to the same
// values and read a journal written before the change.
#include "TempDir.hxx"
#include "core/journal/Journal.hxx"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace popstream::journal;
using popstream::test::ReadFile;
using popstream::test::RequireEnv;
using Type = Record::Type;

namespace {

/** The table-driven CRC-32 that Journal.cxx computed up to commit b9d2e79, kept here
 * as the reference. */
std::uint32_t TableCrc32(std::string_view bytes) noexcept
{
	static const auto table = [] {
		std::array<std::uint32_t, 256> t{};
		for (std::uint32_t i = 0; i < 256; ++i) {
			std::uint32_t c = i;
			for (int k = 0; k < 8; ++k)
				c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			t[i] = c;
		}
		return t;
	}();
	std::uint32_t c = 0xFFFFFFFFu;
	for (const char ch : bytes)
		c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/** Deterministic bytes of every value (xorshift32), so a failure reproduces. */
std::string PseudoRandomBytes(std::size_t n)
{
	std::uint32_t x = 2463534242u;
	std::string out(n, '\0');
	for (auto &c : out) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		c = static_cast<char>(x & 0xFF);
	}
	return out;
}

/** The records that fixtures/journal-b9d2e79.txt holds, one a line, in order: every
 * type, a Pending with and without `replaces`, the extremes of size and saved_at, and
 * a unique-id and file names with octets >= 0x80 (where a signed char would go wrong). */
const std::vector<Record> fixture_records = {
    {Type::Pending, "UID-0001", 1234, "new-file.1", "tmp-file.1", 1700000000, {}},
    {Type::Delivered, "UID-0001", 1234, "new-file.1", {}, 1700000000, {}},
    Record::Mark(Type::Confirmed, "UID-0001"),
    {Type::Pending,
     "000003a94e5d2f01",
     0,
     "1700000001.M1P2Q3.host",
     "1700000001.M1P2Q3.host",
     1700000001,
     {}},
    {Type::Delivered,
     "000003a94e5d2f01",
     0,
     "1700000001.M1P2Q3.host",
     {},
     1700000001,
     {}},
    {Type::Pending, "\xc3\xa9t\xc3\xa9~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
     18446744073709551615ull, "f\xff\x80", "t\x7e", -1, "old.copy:2,S"},
    {Type::Pending, "replaced", 42, "new.2", "tmp.2", 9223372036854775807ll,
     "old.2:2,RS"},
    {Type::Delivered, "replaced", 42, "new.2", {}, 9223372036854775807ll, {}},
    Record::Mark(Type::Deleted, "replaced"),
    Record::Mark(Type::Unproven, "UID-0001"),
    {Type::Pending, "gone-soon", 7, "n.3", "t.3", 1, {}},
    Record::Mark(Type::Gone, "gone-soon"),
    {Type::Delivered, "no-pending-first", 99, "n.4", {}, 1700000099, {}},
    Record::Mark(Type::Confirmed, "no-pending-first"),
};

std::string FixtureText()
{
	return ReadFile(RequireEnv("POPSTREAM_SOURCE_ROOT") +
			"/tests/unit/core/journal/fixtures/journal-b9d2e79.txt");
}

std::vector<std::string> Lines(std::string_view text)
{
	std::vector<std::string> lines;
	while (!text.empty()) {
		const auto lf = text.find('\n');
		REQUIRE(lf != std::string_view::npos);
		lines.emplace_back(text.substr(0, lf));
		text.remove_prefix(lf + 1);
	}
	return lines;
}

} // namespace

TEST_CASE("Crc32 is CRC-32/ISO-HDLC: the catalogued check value and known vectors")
{
	// "123456789" -> 0xCBF43926 is the check value of CRC-32/ISO-HDLC (the one of
	// IEEE 802.3, zlib, gzip and PNG) in the CRC catalogues.
	CHECK(Crc32("123456789") == 0xCBF43926u);
	CHECK(Crc32("") == 0x00000000u);
	CHECK(Crc32("a") == 0xE8B7BE43u);
	CHECK(Crc32("The quick brown fox jumps over the lazy dog") == 0x414FA339u);
	CHECK(TableCrc32("123456789") == 0xCBF43926u);
}

TEST_CASE("Crc32 (zlib) gives the values of the table the journal used before")
{
	for (int b = 0; b < 256; ++b) {
		const std::string one(1, static_cast<char>(b));
		CHECK_MESSAGE(Crc32(one) == TableCrc32(one), "byte ", b);
	}
	// Every length up to 4 KiB: zlib takes several code paths by length and
	// alignment (byte-wise head and tail, words in the middle).
	const std::string bytes = PseudoRandomBytes(4096 + 16);
	for (std::size_t offset = 0; offset < 8; ++offset)
		for (std::size_t n = 0; n <= 4096; ++n) {
			const std::string_view s(bytes.data() + offset, n);
			if (Crc32(s) != TableCrc32(s))
				FAIL("offset ", offset, " length ", n);
		}
}

TEST_CASE("a journal written before the switch to zlib reads back whole")
{
	const std::string text = FixtureText();
	const auto lines = Lines(text);
	REQUIRE(lines.size() == fixture_records.size());

	for (std::size_t i = 0; i < lines.size(); ++i) {
		CAPTURE(i);
		const std::string_view line = lines[i];
		// The checksum written then is the one computed now ...
		CHECK(TableCrc32(line.substr(9)) == Crc32(line.substr(9)));
		// ... so the line decodes to the record it was written from ...
		const auto record = DecodeLine(line);
		REQUIRE(record.has_value());
		CHECK(*record == fixture_records[i]);
		// ... and the record is written again as the same bytes.
		CHECK(EncodeRecord(fixture_records[i]) == lines[i] + "\n");
	}

	State state;
	CHECK(state.Replay(text) == 0);
	CHECK(state.RecordCount() == fixture_records.size());
	CHECK(state.Entries().size() == 5);
	CHECK(state.Find("gone-soon") == nullptr);

	const Entry *unproven = state.Find("UID-0001");
	REQUIRE(unproven != nullptr);
	CHECK(unproven->state == Entry::State::Delivered);
	CHECK(unproven->size == 1234);
	CHECK(unproven->file == "new-file.1");
	CHECK(unproven->saved_at == 1700000000);

	const Entry *pending = state.Find(fixture_records[5].uidl);
	REQUIRE(pending != nullptr);
	CHECK(pending->state == Entry::State::Pending);
	CHECK(pending->size == 18446744073709551615ull);
	CHECK(pending->tmp == "t~");
	CHECK(pending->file == "f\xff\x80");
	CHECK(pending->replaces == "old.copy:2,S");
	CHECK(pending->saved_at == -1);

	const Entry *deleted = state.Find("replaced");
	REQUIRE(deleted != nullptr);
	CHECK(deleted->state == Entry::State::Deleted);
	CHECK(deleted->saved_at == 9223372036854775807ll);

	CHECK(state.Find("000003a94e5d2f01")->state == Entry::State::Delivered);
	CHECK(state.Find("no-pending-first")->state == Entry::State::Confirmed);
}

TEST_CASE("a line of the old journal with one bit flipped is still refused")
{
	// The same CRC must also reject what it rejected. The one accepted flip is
	// harmless: a hex digit a-f of the checksum turned upper case, same number.
	for (const auto &line : Lines(FixtureText())) {
		const auto original = DecodeLine(line);
		REQUIRE(original.has_value());
		for (std::size_t i = 0; i < line.size(); ++i)
			for (int bit = 0; bit < 8; ++bit) {
				std::string bad = line;
				bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
				const auto decoded = DecodeLine(bad);
				if (decoded && *decoded != *original)
					FAIL("a changed record with bit ", bit,
					     " of byte ", i, " flipped: ", line);
				if (decoded && i >= 8)
					FAIL("accepted with bit ", bit, " of byte ", i,
					     " flipped: ", line);
			}
	}
}
