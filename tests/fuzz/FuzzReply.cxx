// libFuzzer target: the parsers of single server lines (daemon/core/pop3): status lines
// (Reply), LIST and UIDL lines (Listing) and CAPA lines (Capabilities). The input is one
// line; each parser must either reject it or return something consistent with it.
#include "FuzzCheck.hxx"

#include "core/pop3/Capabilities.hxx"
#include "core/pop3/Listing.hxx"
#include "core/pop3/Reply.hxx"
#include "core/util/Blank.hxx"

#include <string_view>

using namespace popstream::pop3;

namespace {

bool StartsWithToken(std::string_view line, std::string_view token) noexcept
{
	return line.starts_with(token) &&
	       (line.size() == token.size() || line[token.size()] == ' ');
}

void CheckReply(std::string_view line)
{
	const auto reply = ParseReply(line);
	const bool ok = StartsWithToken(line, "+OK");
	const bool err = StartsWithToken(line, "-ERR");
	// RFC 1939 §3: exactly "+OK" or "-ERR", then a space or the end.
	FUZZ_CHECK(reply.has_value() == (ok || err));
	if (!reply)
		return;
	FUZZ_CHECK(reply->ok == ok);
	FUZZ_CHECK(reply->line == line);
	if (!reply->code.empty()) {
		FUZZ_CHECK(reply->HasCode(reply->code));
		for (const char c : reply->code)
			FUZZ_CHECK(!(c >= 'a' && c <= 'z') && c != ']' && c != ' ');
		// The code was taken from this line, up to case.
		const auto open = line.find('[');
		FUZZ_CHECK(open != std::string_view::npos);
		FUZZ_CHECK(line.size() - open > reply->code.size() + 1);
		for (std::size_t i = 0; i < reply->code.size(); ++i) {
			char c = line[open + 1 + i];
			if (c >= 'a' && c <= 'z')
				c = static_cast<char>(c - 'a' + 'A');
			FUZZ_CHECK(c == reply->code[i]);
		}
	}
}

void CheckListing(std::string_view line)
{
	if (const auto entry = ParseListLine(line))
		FUZZ_CHECK(entry->number > 0);
	if (const auto entry = ParseUidlLine(line)) {
		FUZZ_CHECK(entry->number > 0);
		// A unique-id is one token: never empty, no blanks or control bytes, and
		// at most 512 octets (see ParseUidlLine()).
		FUZZ_CHECK(!entry->uidl.empty() && entry->uidl.size() <= 512);
		for (const char c : entry->uidl) {
			const auto b = static_cast<unsigned char>(c);
			FUZZ_CHECK(b > 0x20 && b != 0x7f);
		}
		FUZZ_CHECK(line.find(entry->uidl) != std::string_view::npos);
	}
	const auto trimmed = popstream::TrimBlanks(line);
	FUZZ_CHECK(trimmed.size() <= line.size());
	if (!trimmed.empty()) {
		FUZZ_CHECK(trimmed.front() != ' ' && trimmed.front() != '\t');
		FUZZ_CHECK(trimmed.back() != ' ' && trimmed.back() != '\t');
	}
}

void CheckCapabilities(std::string_view line)
{
	Capabilities caps;
	caps.AddLine(line);
	// A second, unrelated line must not take back what the first one said.
	Capabilities twice = caps;
	twice.AddLine("X-UNKNOWN-TAG");
	FUZZ_CHECK(twice.pipelining == caps.pipelining && twice.uidl == caps.uidl &&
		   twice.stls == caps.stls && twice.user == caps.user);
	for (const auto &mechanism : caps.sasl)
		for (const char c : mechanism)
			FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::string_view line(reinterpret_cast<const char *>(data), size);
	CheckReply(line);
	CheckListing(line);
	CheckCapabilities(line);
	return 0;
}
