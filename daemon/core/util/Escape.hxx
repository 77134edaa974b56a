#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace popstream {

/**
 * Makes untrusted bytes (a server reply, a file name, a UIDL) safe to print on one
 * terminal or journal line: printable ASCII is kept, backslash becomes "\\", CR, LF and
 * TAB become "\r", "\n" and "\t", and every other byte becomes "\xNN". Output longer than
 * @p max_bytes is cut and ends in "...", so a hostile 4 GiB line cannot flood a log.
 *
 * @param text any bytes, not necessarily UTF-8
 * @param max_bytes maximum length of the result in bytes (at least 3)
 * @return 7-bit printable ASCII
 */
std::string Escape(std::string_view text, std::size_t max_bytes = 512);

/**
 * Hides a secret in a line meant for a log: a server may echo the password back, and
 * some lines quote server text.
 *
 * @param text the line
 * @param secret what to hide; empty = nothing
 * @return @p text with every occurrence of @p secret replaced by "********"
 */
std::string HideSecret(std::string text, std::string_view secret);

/**
 * For a command the user is told to run: @p word as one POSIX shell word, as it is
 * when it holds only characters no shell treats specially (letters, digits and
 * `@%+=:,./_-`), else in single quotes (a quote inside written '\''), so that a `!`
 * (history expansion in interactive bash) or a blank survives a paste.
 *
 * @param word printable text (Escape() it first if it may hold control characters)
 * @return the shell word
 */
std::string ShellWord(std::string_view word);

} // namespace popstream
