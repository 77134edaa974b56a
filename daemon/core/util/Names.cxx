#include "Names.hxx"

#include "Escape.hxx"

#include <algorithm>
#include <cctype>

namespace popstream {

namespace {

bool IsDigit(char c) noexcept
{
	return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

/** The edit distance (insertions, deletions, substitutions and swaps of two adjacent
 * characters), stopping early above @p limit (returns limit + 1 then). */
std::size_t Distance(std::string_view a, std::string_view b, std::size_t limit)
{
	if (a.size() > b.size() + limit || b.size() > a.size() + limit)
		return limit + 1;
	std::vector<std::size_t> row(b.size() + 1);
	for (std::size_t j = 0; j <= b.size(); ++j)
		row[j] = j;
	// The rows of a[i - 2] and a[i - 1], for transpositions (optimal string
	// alignment distance).
	std::vector<std::size_t> before_previous = row, previous = row;
	for (std::size_t i = 1; i <= a.size(); ++i) {
		std::size_t diagonal = row[0];
		row[0] = i;
		std::size_t best = row[0];
		for (std::size_t j = 1; j <= b.size(); ++j) {
			const std::size_t above = row[j];
			row[j] = std::min({row[j] + 1, row[j - 1] + 1,
					   diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
			// Two letters swapped ("wrok") count once, as a typo is made.
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1])
				row[j] = std::min(row[j], before_previous[j - 2] + 1);
			diagonal = above;
			best = std::min(best, row[j]);
		}
		before_previous = previous;
		previous = row;
		if (best > limit)
			return limit + 1;
	}
	return row[b.size()];
}

} // namespace

bool NaturalLess(std::string_view a, std::string_view b) noexcept
{
	std::size_t i = 0, j = 0;
	while (i < a.size() && j < b.size()) {
		if (IsDigit(a[i]) && IsDigit(b[j])) {
			// Compare the numbers: without leading zeros, the longer is
			// larger.
			const auto i0 = i, j0 = j;
			while (i < a.size() && a[i] == '0')
				++i;
			while (j < b.size() && b[j] == '0')
				++j;
			const auto i1 = i, j1 = j;
			while (i < a.size() && IsDigit(a[i]))
				++i;
			while (j < b.size() && IsDigit(b[j]))
				++j;
			const auto la = i - i1, lb = j - j1;
			if (la != lb)
				return la < lb;
			if (const int c = a.substr(i1, la).compare(b.substr(j1, lb));
			    c != 0)
				return c < 0;
			// Equal numbers: fewer leading zeros first.
			if (i1 - i0 != j1 - j0)
				return i1 - i0 < j1 - j0;
			continue;
		}
		if (a[i] != b[j])
			return static_cast<unsigned char>(a[i]) <
			       static_cast<unsigned char>(b[j]);
		++i;
		++j;
	}
	return a.size() - i < b.size() - j;
}

std::vector<std::string> NearestNames(std::string_view wanted,
				      const std::vector<std::string> &names,
				      std::size_t most)
{
	const std::size_t limit = std::max<std::size_t>(1, wanted.size() / 3);
	std::vector<std::pair<std::size_t, const std::string *>> found;
	for (const auto &name : names) {
		std::size_t d = Distance(wanted, name, limit);
		if (d > limit && !wanted.empty() && name.starts_with(wanted))
			d = limit; // a prefix: "work" for work-mail
		if (d <= limit)
			found.emplace_back(d, &name);
	}
	std::sort(found.begin(), found.end(), [](const auto &x, const auto &y) {
		return x.first != y.first ? x.first < y.first
					  : NaturalLess(*x.second, *y.second);
	});
	std::vector<std::string> out;
	for (std::size_t k = 0; k < found.size() && k < most; ++k)
		out.push_back(*found[k].second);
	return out;
}

std::string UnknownNameHint(std::string_view wanted,
			    const std::vector<std::string> &names)
{
	if (names.empty())
		return " (no account is configured)";
	if (names.size() <= 8) {
		auto sorted = names;
		std::sort(sorted.begin(), sorted.end(),
			  [](const auto &a, const auto &b) { return NaturalLess(a, b); });
		std::string list;
		for (const auto &name : sorted)
			list += (list.empty() ? "" : ", ") + Escape(name, 100);
		return " (accounts: " + list + ")";
	}
	const auto nearest = NearestNames(wanted, names);
	if (nearest.empty())
		return " (none of the " + std::to_string(names.size()) +
		       " accounts is close; 'popstream status' lists them)";
	std::string text;
	for (std::size_t k = 0; k < nearest.size(); ++k)
		text += (k == 0                    ? ""
			 : k + 1 == nearest.size() ? " or "
						   : ", ") +
			Escape(nearest[k], 100);
	return " (did you mean " + text + "?)";
}

} // namespace popstream
