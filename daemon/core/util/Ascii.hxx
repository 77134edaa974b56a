#pragma once

#include <cstddef>
#include <string_view>

namespace popstream {

/** @return @p c with A-Z mapped to a-z; every other byte as it is (no locale) */
constexpr char AsciiLower(char c) noexcept
{
	return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/** @return whether @p a and @p b are equal ignoring ASCII case: protocol keywords and
 *          config words (RFC 1939 §3 commands, RFC 2449 §5 tags) are case-insensitive,
 *          and never by the locale's rules */
constexpr bool EqualsNoCase(std::string_view a, std::string_view b) noexcept
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i)
		if (AsciiLower(a[i]) != AsciiLower(b[i]))
			return false;
	return true;
}

/** @return whether @p s starts with @p prefix, ignoring ASCII case */
constexpr bool StartsWithNoCase(std::string_view s, std::string_view prefix) noexcept
{
	return s.size() >= prefix.size() &&
	       EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

/** @return the value of the hex digit @p c (0-9, a-f, A-F), or -1 for any other byte */
constexpr int HexValue(char c) noexcept
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

} // namespace popstream
