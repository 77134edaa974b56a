#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace popstream::pop3 {

/** One line of a multi-line LIST response: "msg octets" (RFC 1939 §5 LIST). */
struct ListEntry {
	/** Message number, 1-based. */
	std::uint32_t number = 0;
	/** Size in octets as the server counts it (CRLF line ends, before stuffing). */
	std::uint64_t size = 0;
};

/** One line of a multi-line UIDL response: "msg unique-id" (RFC 1939 §7 UIDL). */
struct UidlEntry {
	std::uint32_t number = 0;
	/** The unique-id, without surrounding blanks. */
	std::string uidl;
};

/**
 * Parses a LIST line. Runs of spaces or tabs between and around the fields are
 * accepted (some servers pad), as is trailing text after the size, which RFC 1939 §5
 * reserves for future use.
 *
 * @param line one line, dot-unstuffed, without its line end
 * @return the entry, or std::nullopt if the line has no number and size (e.g. "1", or
 *         "abc def"); a number of 0 or above 2^32-1 is also rejected
 */
std::optional<ListEntry> ParseListLine(std::string_view line);

/**
 * Parses a UIDL line. RFC 1939 §7 limits a unique-id to 1-70 octets in 0x21-0x7E; we
 * accept longer ones (up to 512 octets) and 8-bit octets, since rejecting them would
 * leave the mail on the server forever, but never blanks or control octets, so that a
 * unique-id is always safe to store as one token.
 *
 * @param line one line, dot-unstuffed, without its line end
 * @return the entry, or std::nullopt if the line is malformed
 */
std::optional<UidlEntry> ParseUidlLine(std::string_view line);

/**
 * @return the message number that starts @p line (blanks before it are skipped, a
 *         blank or the end must follow it), or std::nullopt; for a UIDL line that is
 *         malformed after its number, so that only that message loses its unique-id
 */
std::optional<std::uint32_t> LeadingMessageNumber(std::string_view line);

} // namespace popstream::pop3
