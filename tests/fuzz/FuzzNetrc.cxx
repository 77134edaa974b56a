// libFuzzer target: the netrc(5) parser (daemon/core/netrc). The input is a whole file.
// An error must be one line naming the file and a line of it, and quote only keywords,
// never a value (a password could be any token); a successful parse must give entries
// that the lookups find again.
#include "FuzzCheck.hxx"

#include "core/netrc/Netrc.hxx"

#include <algorithm>
#include <string>
#include <string_view>

using namespace popstream;

namespace {

constexpr std::string_view name = "fuzz.netrc";

bool IsKeyword(std::string_view word) noexcept
{
	return word == "machine" || word == "default" || word == "login" ||
	       word == "password" || word == "account" || word == "macdef";
}

void CheckError(const NetrcError &e, std::string_view text)
{
	const auto lines =
	    static_cast<unsigned>(std::count(text.begin(), text.end(), '\n')) + 1;
	FUZZ_CHECK(e.Line() >= 1 && e.Line() <= lines);
	const std::string prefix =
	    std::string(name) + ":" + std::to_string(e.Line()) + ": ";
	std::string_view what = e.what();
	FUZZ_CHECK(what.starts_with(prefix));
	what.remove_prefix(prefix.size());
	// Only keywords are ever quoted; any other byte of the file could be a secret.
	// A quote character itself is named as '"'.
	std::string problem(what);
	for (auto at = problem.find("'\"'"); at != std::string::npos;
	     at = problem.find("'\"'"))
		problem.erase(at, 3);
	what = problem;
	for (;;) {
		const auto open = what.find('"');
		if (open == std::string_view::npos)
			break;
		const auto close = what.find('"', open + 1);
		FUZZ_CHECK(close != std::string_view::npos);
		FUZZ_CHECK(IsKeyword(what.substr(open + 1, close - open - 1)));
		what.remove_prefix(close + 1);
	}
	for (const char c : what) {
		const auto b = static_cast<unsigned char>(c);
		FUZZ_CHECK(b >= 0x20 && b < 0x7f);
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::string_view text(reinterpret_cast<const char *>(data), size);
	Netrc netrc;
	try {
		netrc = Netrc::Parse(text, name);
	} catch (const NetrcError &e) {
		CheckError(e, text);
		return 0;
	}

	const auto lines =
	    static_cast<unsigned>(std::count(text.begin(), text.end(), '\n')) + 1;
	unsigned last_line = 1;
	bool any_default = false;
	for (const auto &entry : netrc.Entries()) {
		FUZZ_CHECK(entry.line >= last_line && entry.line <= lines);
		last_line = entry.line;
		FUZZ_CHECK(!entry.is_default || entry.machine.empty());
		any_default = any_default || entry.is_default;
		if (!entry.is_default) {
			const auto *found = netrc.FindMachine(entry.machine);
			FUZZ_CHECK(found != nullptr && found->machine == entry.machine);
			FUZZ_CHECK(found->line <= entry.line);
			if (entry.login) {
				const auto *mine =
				    netrc.FindMachine(entry.machine, *entry.login);
				FUZZ_CHECK(mine != nullptr &&
					   mine->AllowsUser(*entry.login));
			}
		}
		if (entry.account) {
			const auto *found = netrc.FindAccount(*entry.account);
			FUZZ_CHECK(found != nullptr && found->account == entry.account);
		}
	}
	FUZZ_CHECK((netrc.FindDefault() != nullptr) == any_default);
	return 0;
}
