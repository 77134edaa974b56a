#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace popstream {

/**
 * A netrc file that does not follow netrc(5). what() is one line,
 * `NAME:LINE: PROBLEM`, and never contains a password or any other value from the
 * file, only keywords.
 */
class NetrcError : public std::runtime_error {
	unsigned line_;

public:
	/**
	 * @param message the complete one-line message
	 * @param _line the 1-based line the problem is on
	 */
	NetrcError(const std::string &message, unsigned _line)
	    : std::runtime_error(message), line_(_line)
	{
	}

	/** @return the 1-based line number of the problem */
	unsigned Line() const noexcept { return line_; }
};

/** One `machine` or `default` entry of a netrc file (netrc(5)). */
struct NetrcEntry {
	/** true for the `default` entry, which matches any machine. */
	bool is_default = false;

	/** The `machine` name; empty for `default`. In popstream it may be a
	 * connection spec such as `alice@localhost:1110`. */
	std::string machine;

	/** `login`, `password` and `account`; empty optionals when the keyword is
	 * absent (an explicit `""` gives an empty string). When a keyword appears
	 * twice in one entry, the last value wins, as in ftp(1). */
	std::optional<std::string> login, password, account;

	/** The 1-based line of the `machine` or `default` keyword, for messages. */
	unsigned line = 0;

	/**
	 * @param user a user name
	 * @return true if this entry may supply a password for @p user: it has no
	 *         `login`, or its `login` equals @p user
	 */
	bool AllowsUser(std::string_view user) const noexcept
	{
		return !login || *login == user;
	}
};

/**
 * The parsed content of a netrc file (netrc(5), as read by ftp(1), curl and Python's
 * netrc module). Parsing is pure: the caller reads the file and checks its owner and
 * mode.
 *
 * Syntax accepted:
 * - tokens are separated by spaces, tabs and line ends; entries may share a line or
 *   span several;
 * - a token may be quoted, `"..."`, and then contains spaces; inside quotes a
 *   backslash makes the next character literal (`\"`, `\\`); unquoted tokens have no
 *   escapes, so a Windows-style path or password keeps its backslashes;
 * - where a keyword is expected, a token starting with '#' starts a comment that runs
 *   to the end of the line (a value such as a password may start with '#');
 * - `macdef NAME` is followed by a macro body on the next lines, up to the next empty
 *   line or the end of the file; the body is skipped;
 * - keywords: `machine NAME`, `default`, `login`, `password`, `account`, `macdef`.
 */
class Netrc {
	std::vector<NetrcEntry> entries_;

public:
	/**
	 * @param text the whole file; any bytes
	 * @param name how the file is named in error messages, e.g. "~/.netrc"
	 * @return the entries in file order
	 * @throws NetrcError for a keyword without its value (`expected a value after
	 *         "login"`), a bare keyword used as a value, an unknown keyword, a
	 *         `login`/`password`/`account` outside an entry, an unterminated
	 *         quote, or a quote followed directly by other characters
	 */
	static Netrc Parse(std::string_view text, std::string_view name);

	/** @return every entry, in file order */
	const std::vector<NetrcEntry> &Entries() const noexcept { return entries_; }

	/**
	 * Finds the first `machine` entry named exactly @p machine (byte comparison,
	 * so host names must be written in the same case).
	 *
	 * @param machine the name to look for
	 * @param user if given, entries for which NetrcEntry::AllowsUser(*user) is false
	 *        are skipped
	 * @return the entry, or nullptr
	 */
	const NetrcEntry *
	FindMachine(std::string_view machine,
		    std::optional<std::string_view> user = {}) const noexcept;

	/**
	 * @param account an `account` value
	 * @return the first entry (machine or default) whose `account` equals
	 *         @p account, or nullptr
	 */
	const NetrcEntry *FindAccount(std::string_view account) const noexcept;

	/**
	 * @param user if given, a `default` entry for which NetrcEntry::AllowsUser(*user)
	 *        is false is skipped
	 * @return the first `default` entry, or nullptr
	 */
	const NetrcEntry *
	FindDefault(std::optional<std::string_view> user = {}) const noexcept;
};

} // namespace popstream
