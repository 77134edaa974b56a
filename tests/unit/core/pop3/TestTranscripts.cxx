// Every transcript in transcripts/ is replayed whole, one byte per read, and split in
// two at every byte position; the client bytes and the event log must not change.
#include "TempDir.hxx"
#include "Transcript.hxx"
#include "core/util/Escape.hxx"

#include <doctest/doctest.h>

using namespace popstream::test;

namespace {

void CheckRun(const Transcript &t, const std::vector<std::string> &chunks,
	      const std::string &how)
{
	const auto r = RunTranscript(t, chunks);
	INFO(t.name << " (" << how << ")");
	// Compared as text so that a failure prints a readable transcript.
	const auto join = [](const std::vector<std::string> &lines) {
		std::string s = "\n";
		for (const auto &l : lines)
			s += l + "\n";
		return s;
	};
	CHECK(popstream::Escape(r.client, SIZE_MAX) ==
	      popstream::Escape(t.client, SIZE_MAX));
	CHECK(join(r.events) == join(t.events));
}

} // namespace

TEST_CASE("transcripts replay identically at every split point")
{
	const auto dir =
	    RequireEnv("POPSTREAM_SOURCE_ROOT") + "/tests/unit/core/pop3/transcripts";
	const auto names = ListDir(dir);
	REQUIRE(names.size() >= 38);
	for (const auto &name : names) {
		const auto t = LoadTranscript(dir + "/" + name);
		REQUIRE_MESSAGE(!t.server.empty(), name);
		CheckRun(t, {t.server}, "whole");
		// A few transcripts are about bytes arriving in one read (see each file).
		if (t.config.count("whole-only"))
			continue;

		std::vector<std::string> bytes;
		for (const char c : t.server)
			bytes.emplace_back(1, c);
		CheckRun(t, bytes, "byte by byte");

		// Splitting a megabyte at every position would take hours; the large
		// (generated) transcripts get the whole and byte-by-byte runs only.
		const std::size_t max_split =
		    t.server.size() <= 16384 ? t.server.size() : 0;
		for (std::size_t cut = 1; cut < max_split; ++cut) {
			const auto r = RunTranscript(
			    t, {t.server.substr(0, cut), t.server.substr(cut)});
			if (r.client != t.client || r.events != t.events) {
				CheckRun(t,
					 {t.server.substr(0, cut), t.server.substr(cut)},
					 "split at " + std::to_string(cut));
				break;
			}
		}
	}
}
