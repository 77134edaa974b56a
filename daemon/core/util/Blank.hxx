#pragma once

#include <string_view>

namespace popstream {

/** @return whether @p c is a space or a tab: the blanks that POP3 replies (RFC 1939 §3)
 *          and our config values both allow around their words */
constexpr bool IsBlank(char c) noexcept
{
	return c == ' ' || c == '\t';
}

/** @return @p text with leading and trailing spaces and tabs removed; CR and LF are
 *          not blanks and stay */
constexpr std::string_view TrimBlanks(std::string_view text) noexcept
{
	while (!text.empty() && IsBlank(text.front()))
		text.remove_prefix(1);
	while (!text.empty() && IsBlank(text.back()))
		text.remove_suffix(1);
	return text;
}

} // namespace popstream
