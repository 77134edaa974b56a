#include "Listing.hxx"
#include "core/util/Blank.hxx"

#include <charconv>
#include <limits>

namespace popstream::pop3 {

namespace {

/** Splits off the first blank-delimited word of @p s (which must not start blank). */
std::string_view TakeWord(std::string_view &s) noexcept
{
	std::size_t i = 0;
	while (i < s.size() && !IsBlank(s[i]))
		++i;
	const auto word = s.substr(0, i);
	s.remove_prefix(i);
	s = TrimBlanks(s);
	return word;
}

template <typename T>
std::optional<T> ParseNumber(std::string_view word) noexcept
{
	T value{};
	if (word.empty() || word.front() == '-' || word.front() == '+')
		return std::nullopt;
	const auto [p, ec] =
	    std::from_chars(word.data(), word.data() + word.size(), value);
	if (ec != std::errc() || p != word.data() + word.size())
		return std::nullopt;
	return value;
}

std::optional<std::uint32_t> ParseMessageNumber(std::string_view word) noexcept
{
	const auto n = ParseNumber<std::uint32_t>(word);
	if (!n || *n == 0 || *n == std::numeric_limits<std::uint32_t>::max())
		return std::nullopt;
	return n;
}

} // namespace

std::optional<std::uint32_t> LeadingMessageNumber(std::string_view line)
{
	line = TrimBlanks(line);
	return ParseMessageNumber(TakeWord(line));
}

std::optional<ListEntry> ParseListLine(std::string_view line)
{
	line = TrimBlanks(line);
	const auto number = ParseMessageNumber(TakeWord(line));
	const auto size = ParseNumber<std::uint64_t>(TakeWord(line));
	if (!number || !size)
		return std::nullopt;
	return ListEntry{*number, *size};
}

std::optional<UidlEntry> ParseUidlLine(std::string_view line)
{
	static constexpr std::size_t max_uidl_bytes = 512;
	line = TrimBlanks(line);
	const auto number = ParseMessageNumber(TakeWord(line));
	const auto uidl = TakeWord(line);
	if (!number || uidl.empty() || uidl.size() > max_uidl_bytes || !line.empty())
		return std::nullopt;
	for (const char c : uidl)
		if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
			return std::nullopt;
	return UidlEntry{*number, std::string(uidl)};
}

} // namespace popstream::pop3
