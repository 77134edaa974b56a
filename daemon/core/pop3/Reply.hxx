#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace popstream::pop3 {

/**
 * A POP3 status line: the first line of every server response (RFC 1939 §3), with the
 * optional extended response code of RFC 2449 §8 ("-ERR [IN-USE] ...", RFC 3206 codes
 * such as SYS/TEMP, SYS/PERM and AUTH).
 */
struct Reply {
	/** True for "+OK", false for "-ERR". */
	bool ok = false;
	/** The response code between '[' and ']' at the start of the text, upper-cased
	 * ("IN-USE", "SYS/TEMP"), or empty if there is none. */
	std::string code;
	/** The whole line without its line end. Untrusted server bytes: escape before
	 * printing. */
	std::string line;

	/** @return true if the code is @p name or a sub-code of it ("SYS" matches
	 * "SYS/TEMP"), per RFC 2449 §8's hierarchy */
	bool HasCode(std::string_view name) const noexcept;
};

/**
 * Parses a status line. Only "+OK" or "-ERR" followed by a space or the end of the line
 * counts (RFC 1939 §3): "+ERR", "+OKAY" or an empty line are not replies, and the caller
 * must treat them as a protocol violation rather than guess.
 *
 * @param line the line without CRLF (or LF)
 * @return the reply, or std::nullopt if the line is not a status line
 */
std::optional<Reply> ParseReply(std::string_view line);

} // namespace popstream::pop3
