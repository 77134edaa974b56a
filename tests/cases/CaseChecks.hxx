#pragma once

// doctest checks shared by the case tests. Header-only because doctest's assertion
// macros belong in the test executables, not in the harness library.

#include "CaseHarness.hxx"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace popstream::test {

/** @return true if @p haystack contains @p needle, ASCII case-insensitively */
inline bool ContainsNoCase(std::string_view haystack, std::string_view needle)
{
	auto lower = [](std::string_view s) {
		std::string r(s);
		for (auto &ch : r)
			if (ch >= 'A' && ch <= 'Z')
				ch = static_cast<char>(ch - 'A' + 'a');
		return r;
	};
	return lower(haystack).find(lower(needle)) != std::string::npos;
}

/** @return "conn 1: CMD | CMD\nconn 2: ...", for INFO() */
inline std::string DescribeCommands(const FakePop3Server &server)
{
	std::string text;
	for (unsigned i = 1; i <= server.ConnectionCount(); ++i)
		text +=
		    "conn " + std::to_string(i) + ": " + Join(server.Commands(i)) + "\n";
	return text.empty() ? "no connection" : text;
}

/**
 * @return the lines of @p text that claim a deletion: lines mentioning "deleted" with
 * no negation ("not ", "nothing", "no ", "unconfirmed", "unknown") and no zero count
 * ("0 deleted"). Deliberately loose about wording, strict about meaning.
 */
inline std::vector<std::string> DeletionClaims(std::string_view text)
{
	std::vector<std::string> claims;
	std::size_t begin = 0;
	while (begin < text.size()) {
		auto end = text.find('\n', begin);
		if (end == std::string_view::npos)
			end = text.size();
		const auto line = text.substr(begin, end - begin);
		begin = end + 1;
		if (!ContainsNoCase(line, "deleted"))
			continue;
		const bool zero = line.starts_with("0 deleted") ||
				  line.find(" 0 deleted") != std::string_view::npos;
		if (zero || ContainsNoCase(line, "not ") ||
		    ContainsNoCase(line, "nothing") || ContainsNoCase(line, "no ") ||
		    ContainsNoCase(line, "unconfirmed") ||
		    ContainsNoCase(line, "unknown"))
			continue;
		claims.emplace_back(line);
	}
	return claims;
}

/**
 * Checks what every run must show whatever the case: popstream ended by itself (no
 * signal, no test timeout) and wrote no raw control bytes (server text is escaped).
 */
inline void CheckOrderlyExit(const DlRun &run)
{
	CHECK_MESSAGE(!run.process.timed_out,
		      "popstream did not finish before the deadline");
	CHECK_MESSAGE(run.process.signal == 0, "popstream was killed by a signal");
	CHECK_MESSAGE(FindRawControlByte(run.Out()) == std::string::npos,
		      "raw control byte on stdout");
	CHECK_MESSAGE(FindRawControlByte(run.Err()) == std::string::npos,
		      "raw control byte on stderr");
}

/** Checks that the Maildir's new/ holds exactly @p expected (in any order). */
inline void CheckNewFiles(const CaseHarness &harness,
			  const std::vector<std::string> &expected,
			  const std::string &maildir = {})
{
	CHECK(DescribeContents(harness.Files("new", maildir)) ==
	      DescribeContents(expected));
}

/** @return how many files in new/ equal @p content */
inline std::size_t CountCopies(const CaseHarness &harness, const std::string &content)
{
	std::size_t n = 0;
	for (const auto &file : harness.Files())
		n += file == content ? 1 : 0;
	return n;
}

/** @return the messages M(first)..M(last) in Maildir (LF) form */
inline std::vector<std::string> StoredStandardMessages(unsigned first, unsigned last)
{
	std::vector<std::string> result;
	for (unsigned n = first; n <= last; ++n)
		result.push_back(CrlfToLf(StandardMessage(n)));
	return result;
}

/** @return the verbs and arguments of the commands from connection @p from on */
inline std::vector<std::string> CommandsFrom(const FakePop3Server &server, unsigned from)
{
	std::vector<std::string> result;
	for (unsigned i = from; i <= server.ConnectionCount(); ++i) {
		const auto commands = server.Commands(i);
		result.insert(result.end(), commands.begin(), commands.end());
	}
	return result;
}

} // namespace popstream::test
