#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

/**
 * Account names as people read them: in natural order, and the nearest ones suggested
 * for a name that does not exist (a daemon may have thousands).
 */
namespace popstream {

/**
 * @return whether @p a sorts before @p b in natural order: runs of digits compare as
 *         numbers, so that u2 comes before u10; otherwise byte by byte
 */
bool NaturalLess(std::string_view a, std::string_view b) noexcept;

/**
 * @param wanted a name that is not in @p names
 * @param names the names there are
 * @param most how many to return at the most
 * @return the names nearest to @p wanted (edit distance at most a third of its length,
 *         at least 1; or @p wanted as a prefix), nearest first, ties in natural order
 */
std::vector<std::string> NearestNames(std::string_view wanted,
				      const std::vector<std::string> &names,
				      std::size_t most = 3);

/**
 * @return what follows "no account named 'X'" in a message: every name when there are
 *         a few (" (accounts: a, b)"), else the nearest (" (did you mean a or b?)")
 *         or how many there are; names escaped for one line, the whole at most a few
 *         hundred bytes however many accounts there are
 */
std::string UnknownNameHint(std::string_view wanted,
			    const std::vector<std::string> &names);

} // namespace popstream
