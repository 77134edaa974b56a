#include "Validate.hxx"
#include "core/util/Blank.hxx"
#include "core/util/Escape.hxx"

#include <algorithm>
#include <cstdint>

namespace popstream::config {

namespace {

constexpr bool IsAsciiDigit(char c) noexcept
{
	return c >= '0' && c <= '9';
}

constexpr bool IsAsciiAlpha(char c) noexcept
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr char ToLowerAscii(char c) noexcept
{
	return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool IsVariableStart(char c) noexcept
{
	return IsAsciiAlpha(c) || c == '_';
}

constexpr bool IsVariableChar(char c) noexcept
{
	return IsVariableStart(c) || IsAsciiDigit(c);
}

std::string Quoted(std::string_view text)
{
	return "\"" + Escape(text, 100) + "\"";
}

/** Longest duration accepted: the longest bound the loader enforces (delete_after),
 * and small enough that no sum below overflows. */
constexpr std::int64_t MAX_DURATION_SECONDS = 3650LL * 24 * 3600;

struct DurationUnit {
	char letter;
	std::int64_t seconds;
};

/** Largest first: the order ParseDuration() requires and FormatDuration() writes. */
constexpr DurationUnit duration_units[] = {
    {'d', 24 * 3600},
    {'h', 3600},
    {'m', 60},
    {'s', 1},
};

ValueError BadDuration(std::string_view text, std::string_view problem)
{
	return ValueError("bad duration " + Quoted(text) + ": " + std::string(problem));
}

/** "bad size "25XB": PROBLEM" */
ValueError BadValue(std::string_view kind, std::string_view text,
		    std::string_view problem)
{
	return ValueError("bad " + std::string(kind) + " " + Quoted(text) + ": " +
			  std::string(problem));
}

struct SizeUnit {
	std::string_view name;
	std::uint64_t octets;
};

constexpr std::uint64_t KILO = 1000, MEGA = KILO * KILO, GIGA = MEGA * KILO;
constexpr std::uint64_t KIBI = 1024, MEBI = KIBI * KIBI, GIBI = MEBI * KIBI;

/** Every spelling ParseSize() reads. k, K and KB are 1000 as in SI: only the "i"
 * units count in 1024s, so that one spelling never means two sizes. */
constexpr SizeUnit size_units[] = {
    {"B", 1},     {"k", KILO}, {"K", KILO},  {"kB", KILO},  {"KB", KILO},  {"M", MEGA},
    {"MB", MEGA}, {"G", GIGA}, {"GB", GIGA}, {"KiB", KIBI}, {"MiB", MEBI}, {"GiB", GIBI},
};

/** The spellings FormatSize() writes, in the order it prefers among equally short
 * texts. */
constexpr SizeUnit canonical_size_units[] = {
    {"B", 1},      {"kB", KILO},  {"MB", MEGA},  {"GB", GIGA},
    {"KiB", KIBI}, {"MiB", MEBI}, {"GiB", GIBI},
};

/** The units suggested for a misspelt one (only the nearest, and only if no other is
 * as near). */
constexpr std::string_view size_unit_hints[] = {"B",   "kB",  "MB", "GB",
						"KiB", "MiB", "GiB"};

/** The same with the unit of a number of messages, for checkpoint_every. */
constexpr std::string_view checkpoint_unit_hints[] = {"messages", "B",   "kB",  "MB",
						      "GB",       "KiB", "MiB", "GiB"};

constexpr std::string_view SIZE_UNIT_LIST = "B, kB, MB, GB, KiB, MiB or GiB";

/** A number as written, split into its parts; nothing converted yet. */
struct Quantity {
	/** The digits before the decimal point; never empty. */
	std::string_view whole;
	/** The digits after it (1 to 3); empty when there is no decimal point. */
	std::string_view fraction;
	/** What follows the number and any blanks; empty if nothing does. */
	std::string_view unit;
};

/**
 * Splits @p part (all of @p text, or one side of "or") into number and unit.
 * @param kind "size" or "checkpoint", for messages
 * @param example what to suggest writing
 */
Quantity ScanQuantity(std::string_view part, std::string_view kind, std::string_view text,
		      std::string_view example)
{
	std::size_t pos = 0;
	while (pos < part.size() && IsAsciiDigit(part[pos]))
		++pos;
	Quantity quantity;
	quantity.whole = part.substr(0, pos);
	if (quantity.whole.empty()) {
		if (!part.empty() && part[0] == '-')
			throw BadValue(kind, text, "must not be negative");
		throw BadValue(kind, text,
			       "expected a number before " + Quoted(part) +
				   " (write e.g. " + std::string(example) + ")");
	}
	if (pos < part.size() && part[pos] == ',')
		throw BadValue(kind, text, "write a decimal point, not a comma");
	if (pos < part.size() && part[pos] == '.') {
		const auto start = ++pos;
		while (pos < part.size() && IsAsciiDigit(part[pos]))
			++pos;
		quantity.fraction = part.substr(start, pos - start);
		if (quantity.fraction.empty())
			throw BadValue(kind, text,
				       "expected a digit after the decimal point");
		// Three digits give a whole number of octets with kB, and more
		// precision than any limit needs with the others.
		if (quantity.fraction.size() > 3)
			throw BadValue(kind, text,
				       "at most 3 digits after the decimal point");
	}
	while (pos < part.size() && IsBlank(part[pos]))
		++pos;
	quantity.unit = part.substr(pos);
	return quantity;
}

/** Where SaturatingNumber() stops counting: far above any bound here, and 10 times
 * it plus 9 still fits in 64 bits. */
constexpr std::uint64_t SATURATED = 1'000'000'000'000'000'000ULL;

/** @return the value of @p digits, or SATURATED if it is that large or larger */
std::uint64_t SaturatingNumber(std::string_view digits) noexcept
{
	std::uint64_t number = 0;
	for (const char c : digits) {
		number = number * 10 + static_cast<std::uint64_t>(c - '0');
		if (number >= SATURATED)
			return SATURATED;
	}
	return number;
}

std::string UnknownUnit(std::string_view unit, std::string_view expected,
			std::span<const std::string_view> hints)
{
	std::string problem =
	    "unknown unit " + Quoted(unit) + " (expected " + std::string(expected) + ")";
	// Units are short, so a wrong one is often as near to several ("TB" to kB, MB
	// and GB); a guess between them would mislead.
	const auto near = NearestWord(unit, hints);
	if (near && std::count_if(hints.begin(), hints.end(), [&](std::string_view hint) {
			    return EditDistance(unit, hint) == EditDistance(unit, *near);
		    }) == 1)
		problem += "; did you mean \"" + std::string(*near) + "\"?";
	return problem;
}

/**
 * Converts a scanned size into octets.
 * @param hints the units to suggest for an unknown one
 * @param expected the units to list for an unknown one
 */
std::uint64_t OctetsOf(const Quantity &quantity, std::string_view kind,
		       std::string_view text, std::string_view expected,
		       std::span<const std::string_view> hints)
{
	std::uint64_t multiplier = 1;
	if (!quantity.unit.empty()) {
		const auto *unit = std::find_if(
		    std::begin(size_units), std::end(size_units),
		    [&](const SizeUnit &u) { return u.name == quantity.unit; });
		if (unit == std::end(size_units))
			throw BadValue(kind, text,
				       UnknownUnit(quantity.unit, expected, hints));
		multiplier = unit->octets;
	}
	if (!quantity.fraction.empty() && multiplier == 1)
		throw BadValue(
		    kind, text,
		    quantity.unit.empty()
			? "a fraction needs a unit (write e.g. 1.5MB; a number "
			  "alone counts octets)"
			: "a fraction needs a unit larger than B (write e.g. "
			  "1.5kB)");
	const auto too_large = [&] {
		return BadValue(kind, text,
				"too large (at most " + FormatSize(MAX_SIZE) + ")");
	};
	const auto whole = SaturatingNumber(quantity.whole);
	if (whole > MAX_SIZE / multiplier)
		throw too_large();
	std::uint64_t thousandths = SaturatingNumber(quantity.fraction);
	for (auto n = quantity.fraction.size(); n < 3; ++n)
		thousandths *= 10;
	// Below 1000 * 2^30: no overflow. Rounded down to a whole octet.
	const auto octets = whole * multiplier + thousandths * multiplier / 1000;
	if (octets > MAX_SIZE)
		throw too_large();
	return octets;
}

/** "expected a, b or c; did you mean "b"?" */
std::string ExpectedOneOf(std::string_view value, std::span<const std::string_view> valid)
{
	std::string text = "bad value " + Quoted(value) + " (expected ";
	for (std::size_t i = 0; i < valid.size(); ++i) {
		if (i > 0)
			text += i + 1 == valid.size() ? " or " : ", ";
		text += valid[i];
	}
	text += ")";
	if (const auto near = NearestWord(value, valid))
		text += "; did you mean \"" + std::string(*near) + "\"?";
	return text;
}

} // namespace

bool IsValidAccountName(std::string_view name) noexcept
{
	if (name.empty() || name.size() > MAX_ACCOUNT_NAME_LENGTH)
		return false;
	return std::all_of(name.begin(), name.end(), [](char c) {
		return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '_' || c == '-';
	});
}

std::chrono::milliseconds ParseDuration(std::string_view text)
{
	if (text.empty())
		throw BadDuration(text, "empty (write e.g. 90s, 5m or 1h)");

	std::int64_t total = 0;
	// Index into duration_units of the last unit used; units must get smaller.
	std::size_t previous_unit = 0;
	bool first = true;
	std::size_t pos = 0;
	while (pos < text.size()) {
		const std::size_t digits_start = pos;
		while (pos < text.size() && IsAsciiDigit(text[pos]))
			++pos;
		const auto digits = text.substr(digits_start, pos - digits_start);
		if (digits.empty()) {
			if (text[pos] == '-')
				throw BadDuration(text, "must not be negative");
			throw BadDuration(text, "expected a number before " +
						    Quoted(text.substr(pos)) +
						    " (write e.g. 90s, 5m or 1h)");
		}
		if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
			throw BadDuration(text, "fractions are not allowed (write e.g. "
						"90m instead of 1.5h)");
		}
		// Ten digits of seconds are already beyond MAX_DURATION_SECONDS, so the
		// arithmetic below cannot overflow.
		if (digits.size() > 9)
			throw BadDuration(text, "too long (at most 3650d)");
		std::int64_t number = 0;
		for (const char c : digits)
			number = number * 10 + (c - '0');

		if (pos == text.size()) {
			// A bare number counts seconds, as in fetchmail, getmail and
			// mpop; after another unit ("1m30") it would be ambiguous.
			if (!first)
				throw BadDuration(text, "missing unit after " +
							    Quoted(digits) +
							    " (s, m, h or d)");
			total = number;
			break;
		}

		std::size_t unit_end = pos;
		while (unit_end < text.size() && !IsAsciiDigit(text[unit_end]))
			++unit_end;
		const auto unit = text.substr(pos, unit_end - pos);
		std::size_t index = std::size(duration_units);
		if (unit.size() == 1)
			for (std::size_t i = 0; i < std::size(duration_units); ++i)
				if (duration_units[i].letter == unit[0])
					index = i;
		if (index == std::size(duration_units))
			throw BadDuration(text, "unknown unit " + Quoted(unit) +
						    " (expected s, m, h or d)");
		if (!first && index <= previous_unit)
			throw BadDuration(text,
					  "each unit at most once, from the largest "
					  "to the smallest (e.g. 1h30m)");
		total += number * duration_units[index].seconds;
		if (total > MAX_DURATION_SECONDS)
			throw BadDuration(text, "too long (at most 3650d)");
		previous_unit = index;
		first = false;
		pos = unit_end;
	}
	if (total > MAX_DURATION_SECONDS)
		throw BadDuration(text, "too long (at most 3650d)");
	return std::chrono::seconds(total);
}

std::string FormatDuration(std::chrono::milliseconds duration)
{
	const auto ms = duration.count() < 0 ? 0 : duration.count();
	std::int64_t seconds = ms / 1000;
	std::string text;
	for (const auto &unit : duration_units) {
		if (seconds >= unit.seconds) {
			text += std::to_string(seconds / unit.seconds);
			text += unit.letter;
			seconds %= unit.seconds;
		}
	}
	if (ms % 1000 != 0)
		text += std::to_string(ms % 1000) + "ms";
	return text.empty() ? "0s" : text;
}

std::uint64_t ParseSize(std::string_view text)
{
	if (text.empty())
		throw BadValue("size", text, "empty (write e.g. 25MB or 1.5GiB)");
	const auto quantity = ScanQuantity(text, "size", text, "25MB or 1.5GiB");
	return OctetsOf(quantity, "size", text, SIZE_UNIT_LIST, size_unit_hints);
}

std::string FormatSize(std::uint64_t octets)
{
	std::string best;
	bool best_has_fraction = false;
	for (const auto &unit : canonical_size_units) {
		const auto whole = octets / unit.octets;
		const auto rest = octets % unit.octets;
		// rest < 2^30, so rest * 1000 cannot overflow. "0.5kB" is never
		// shorter than "500B".
		if (whole == 0 && unit.octets > 1)
			continue;
		if (rest * 1000 % unit.octets != 0)
			continue;
		auto text = std::to_string(whole);
		const bool has_fraction = rest != 0;
		if (has_fraction) {
			auto digits = std::to_string(rest * 1000 / unit.octets);
			digits.insert(0, 3 - digits.size(), '0');
			while (digits.back() == '0')
				digits.pop_back();
			text += "." + digits;
		}
		text += unit.name;
		if (best.empty() || text.size() < best.size() ||
		    (text.size() == best.size() && best_has_fraction && !has_fraction)) {
			best = std::move(text);
			best_has_fraction = has_fraction;
		}
	}
	return best;
}

CheckpointEvery ParseCheckpointEvery(std::string_view text)
{
	static constexpr std::string_view kind = "checkpoint";
	static constexpr std::string_view example = "500 messages or 50MB";
	if (TrimBlanks(text).empty())
		throw BadValue(kind, text,
			       "empty (write e.g. 500 messages, 50MB, or 500 messages or "
			       "50MB)");
	if (text.find(" and ") != std::string_view::npos)
		throw BadValue(kind, text,
			       "join a number of messages and a size with \"or\" "
			       "(whichever comes first)");

	std::vector<std::string_view> parts;
	for (std::string_view rest = text;;) {
		const auto at = rest.find(" or ");
		parts.push_back(TrimBlanks(rest.substr(0, at)));
		if (at == std::string_view::npos)
			break;
		rest = rest.substr(at + 4);
	}
	for (const auto part : parts)
		if (part.empty() || part == "or" || part.starts_with("or ") ||
		    part.ends_with(" or"))
			throw BadValue(kind, text,
				       "expected a number of messages or a size on both "
				       "sides of \"or\"");

	CheckpointEvery checkpoint;
	bool have_messages = false, have_bytes = false;
	const std::string at_most_one =
	    " (at most one number of messages and one size, joined by \"or\")";
	for (const auto part : parts) {
		const auto quantity = ScanQuantity(part, kind, text, example);
		if (quantity.unit.empty() || quantity.unit == "messages" ||
		    quantity.unit == "message") {
			if (have_messages)
				throw BadValue(kind, text,
					       "two numbers of messages" + at_most_one);
			if (!quantity.fraction.empty())
				throw BadValue(kind, text,
					       "a number of messages has no fraction");
			const auto messages = SaturatingNumber(quantity.whole);
			if (messages > MAX_MESSAGE_COUNT_LIMIT)
				throw BadValue(
				    kind, text,
				    "more than " +
					std::to_string(MAX_MESSAGE_COUNT_LIMIT) +
					" messages (a number alone counts messages; give "
					"a size with its unit, e.g. 50MB)");
			checkpoint.messages = static_cast<std::uint32_t>(messages);
			have_messages = true;
		} else {
			const auto bytes = OctetsOf(quantity, kind, text,
						    std::string("messages, ") +
							std::string(SIZE_UNIT_LIST),
						    checkpoint_unit_hints);
			if (have_bytes)
				throw BadValue(kind, text, "two sizes" + at_most_one);
			if (bytes != 0 && bytes < MIN_SIZE_LIMIT)
				throw BadValue(kind, text,
					       "the size must be 0 or at least " +
						   FormatSize(MIN_SIZE_LIMIT));
			checkpoint.bytes = bytes;
			have_bytes = true;
		}
	}
	return checkpoint;
}

std::string FormatCheckpointEvery(const CheckpointEvery &checkpoint)
{
	std::string text;
	if (checkpoint.messages != 0)
		text = std::to_string(checkpoint.messages) +
		       (checkpoint.messages == 1 ? " message" : " messages");
	if (checkpoint.bytes != 0) {
		if (!text.empty())
			text += " or ";
		text += FormatSize(checkpoint.bytes);
	}
	return text.empty() ? "0" : text;
}

std::size_t EditDistance(std::string_view a, std::string_view b)
{
	// Three rows of the dynamic-programming table are enough for the swap rule.
	std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1),
	    current(b.size() + 1);
	for (std::size_t j = 0; j <= b.size(); ++j)
		previous[j] = j;
	for (std::size_t i = 1; i <= a.size(); ++i) {
		current[0] = i;
		const char ca = ToLowerAscii(a[i - 1]);
		for (std::size_t j = 1; j <= b.size(); ++j) {
			const char cb = ToLowerAscii(b[j - 1]);
			const std::size_t cost = ca == cb ? 0 : 1;
			std::size_t best = std::min({previous[j] + 1, current[j - 1] + 1,
						     previous[j - 1] + cost});
			if (i > 1 && j > 1 && ca == ToLowerAscii(b[j - 2]) &&
			    ToLowerAscii(a[i - 2]) == cb)
				best = std::min(best, before[j - 2] + 1);
			current[j] = best;
		}
		std::swap(before, previous);
		std::swap(previous, current);
	}
	return previous[b.size()];
}

std::optional<std::string_view> NearestWord(std::string_view word,
					    std::span<const std::string_view> candidates)
{
	// A third of the length: "intervall" (3 allowed) finds "interval", but "host"
	// (1 allowed) does not turn into "port".
	const std::size_t allowed = std::clamp<std::size_t>(word.size() / 3, 1, 3);
	std::optional<std::string_view> best;
	std::size_t best_distance = allowed + 1;
	for (const auto candidate : candidates) {
		const auto distance = EditDistance(word, candidate);
		if (distance < best_distance) {
			best = candidate;
			best_distance = distance;
		}
	}
	return best;
}

std::string ExpandPath(std::string_view text, const EnvLookup &lookup)
{
	std::string out;
	std::size_t pos = 0;
	if (!text.empty() && text[0] == '~') {
		if (text.size() > 1 && text[1] != '/')
			throw ValueError(Quoted(text) + ": ~user is not supported (write "
							"the path out)");
		const auto home = lookup("HOME");
		if (!home || home->empty())
			throw ValueError(Quoted(text) +
					 ": $HOME is not set (needed for ~)");
		out = *home;
		pos = 1;
	}

	while (pos < text.size()) {
		const auto dollar = text.find('$', pos);
		out.append(text.substr(pos, dollar - pos));
		if (dollar == std::string_view::npos)
			break;
		pos = dollar + 1;
		std::string name;
		if (pos < text.size() && text[pos] == '$') {
			out += '$';
			++pos;
			continue;
		} else if (pos < text.size() && text[pos] == '{') {
			const auto close = text.find('}', pos + 1);
			if (close == std::string_view::npos)
				throw ValueError(Quoted(text) + ": unterminated \"${\"");
			name = text.substr(pos + 1, close - pos - 1);
			if (name.empty() || !IsVariableStart(name[0]) ||
			    !std::all_of(name.begin(), name.end(), IsVariableChar))
				throw ValueError(Quoted(text) + ": " +
						 Quoted("${" + name + "}") +
						 " is not a variable (only ${NAME} is "
						 "supported)");
			pos = close + 1;
		} else if (pos < text.size() && IsVariableStart(text[pos])) {
			const auto start = pos;
			while (pos < text.size() && IsVariableChar(text[pos]))
				++pos;
			name = text.substr(start, pos - start);
		} else {
			throw ValueError(
			    Quoted(text) +
			    ": a '$' must start $NAME or ${NAME} (write $$ for "
			    "a '$')");
		}
		const auto value = lookup(name);
		if (!value)
			throw ValueError(Quoted(text) + ": $" + name + " is not set");
		out += *value;
	}
	return out;
}

std::vector<std::string> SplitCommand(std::string_view text)
{
	// Tabs separate words; any other control character is a mistake.
	for (const char c : text)
		if (c != '\t' && HasControlCharacter(std::string_view(&c, 1)))
			throw ValueError("control character in the command");

	std::vector<std::string> words;
	std::string word;
	bool in_word = false;
	for (std::size_t pos = 0; pos < text.size(); ++pos) {
		const char c = text[pos];
		if (c == ' ' || c == '\t') {
			if (in_word)
				words.push_back(std::move(word));
			word.clear();
			in_word = false;
			continue;
		}
		in_word = true;
		if (c == '\\') {
			if (++pos == text.size())
				throw ValueError("trailing backslash in the command");
			word += text[pos];
		} else if (c == '\'') {
			const auto close = text.find('\'', pos + 1);
			if (close == std::string_view::npos)
				throw ValueError("unterminated ' in the command");
			word.append(text.substr(pos + 1, close - pos - 1));
			pos = close;
		} else if (c == '"') {
			for (++pos;; ++pos) {
				if (pos == text.size())
					throw ValueError(
					    "unterminated \" in the command");
				if (text[pos] == '"')
					break;
				// As in sh: \ quotes only what "..." would give a
				// meaning ($ ` " \); before anything else it stays.
				if (text[pos] == '\\' && pos + 1 < text.size() &&
				    std::string_view("\"\\$`").find(text[pos + 1]) !=
					std::string_view::npos)
					++pos;
				word += text[pos];
			}
		} else {
			word += c;
		}
	}
	if (in_word)
		words.push_back(std::move(word));
	if (words.empty())
		throw ValueError("empty command");
	return words;
}

bool HasControlCharacter(std::string_view text) noexcept
{
	return std::any_of(text.begin(), text.end(), [](char c) {
		const auto u = static_cast<unsigned char>(c);
		return u < 0x20 || u == 0x7f;
	});
}

std::string CheckHost(std::string_view host)
{
	if (host.empty())
		throw ValueError("empty host");
	if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
		host = host.substr(1, host.size() - 2);
	if (host.find(' ') != std::string_view::npos || HasControlCharacter(host))
		throw ValueError("bad host " + Quoted(host) +
				 ": blank or control character");
	if (host.find('@') != std::string_view::npos)
		throw ValueError("bad host " + Quoted(host) +
				 ": a host has no '@' (write the user under user:)");
	if (host.find('!') != std::string_view::npos)
		throw ValueError("bad host " + Quoted(host) +
				 ": a host has no '!' (write the TLS name under sni:)");
	// One ':' is a port; an IPv6 address has at least two.
	const auto colon = host.find(':');
	if (colon != std::string_view::npos && colon == host.rfind(':'))
		throw ValueError("bad host " + Quoted(host) +
				 ": a host has no port (write it under port:)");

	// The host grammar of the connection spec, so that `host:` and `server:` accept
	// the same hosts.
	std::string spec = "tcp:";
	if (colon != std::string_view::npos)
		spec += "[" + std::string(host) + "]";
	else
		spec += host;
	ConnectionSpec parsed;
	try {
		parsed = ParseConnectionSpec(spec);
	} catch (const SpecError &e) {
		std::string problem = e.what();
		// Replace the parser's prefix, which names the made-up spec, by the host.
		const std::string prefix =
		    "bad connection spec \"" + Escape(spec, 200) + "\": ";
		if (problem.compare(0, prefix.size(), prefix) == 0)
			problem.erase(0, prefix.size());
		throw ValueError("bad host " + Quoted(host) + ": " + problem);
	}
	if (parsed.host != host || !parsed.user.empty() || parsed.port ||
	    !parsed.sni.empty())
		throw ValueError("bad host " + Quoted(host));
	return parsed.host;
}

void CheckTlsName(std::string_view name)
{
	if (name.empty())
		throw ValueError("empty TLS name");
	for (const char c : name)
		if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '-' && c != '.' &&
		    c != '_')
			throw ValueError("bad TLS name " + Quoted(name) +
					 ": unexpected character " +
					 Quoted(std::string_view(&c, 1)) +
					 " (a DNS name or an IPv4 address)");
}

void CheckUser(std::string_view user)
{
	if (user.empty())
		throw ValueError("empty user");
	if (user.size() > 255)
		throw ValueError("user longer than 255 bytes");
	if (HasControlCharacter(user))
		throw ValueError("control character in the user");
}

bool IsNetrcAccountShape(std::string_view name) noexcept
{
	if (name.empty() || name.size() > 255 || name.front() == '@' ||
	    name.back() == '@')
		return false;
	return std::none_of(name.begin(), name.end(), [](char c) {
		const auto u = static_cast<unsigned char>(c);
		return u <= 0x20 || u == 0x7f || c == ':' || c == '!' || c == '[' ||
		       c == ']' || c == '"';
	});
}

std::optional<ConnectionSpec> CheckServer(std::string_view server)
{
	try {
		return ParseConnectionSpec(server);
	} catch (const SpecError &e) {
		if (IsNetrcAccountShape(SplitScheme(server).rest))
			return std::nullopt;
		throw ValueError(e.what());
	}
}

TlsMode ParseTlsMode(std::string_view text)
{
	static constexpr std::string_view names[] = {"implicit", "starttls", "none"};
	if (text == names[0])
		return TlsMode::Implicit;
	if (text == names[1])
		return TlsMode::StartTls;
	if (text == names[2])
		return TlsMode::None;
	throw ValueError(ExpectedOneOf(text, names));
}

pop3::Pipelining ParsePipelining(std::string_view text)
{
	static constexpr std::string_view names[] = {"auto", "on", "off"};
	if (text == names[0])
		return pop3::Pipelining::Auto;
	if (text == names[1])
		return pop3::Pipelining::On;
	if (text == names[2])
		return pop3::Pipelining::Off;
	throw ValueError(ExpectedOneOf(text, names));
}

Oversize ParseOversize(std::string_view text)
{
	static constexpr std::string_view names[] = {"skip", "delete"};
	if (text == names[0])
		return Oversize::Skip;
	if (text == names[1])
		return Oversize::Delete;
	throw ValueError(ExpectedOneOf(text, names));
}

pop3::AuthMethod ParseAuth(std::string_view text)
{
	if (const auto method = pop3::ParseAuthMethod(text))
		return *method;
	// One list of names, in Auth.cxx, for the flag, the key and the messages.
	std::vector<std::string_view> names;
	for (auto rest = pop3::AuthMethodNames(); !rest.empty();) {
		const auto bar = rest.find('|');
		names.push_back(rest.substr(0, bar));
		rest = bar == std::string_view::npos ? std::string_view{}
						     : rest.substr(bar + 1);
	}
	throw ValueError(ExpectedOneOf(text, names));
}

void CheckMdaPlaceholders(const std::vector<std::string> &argv)
{
	for (const auto &arg : argv)
		for (std::size_t i = 0; i < arg.size(); ++i) {
			if (arg[i] != '%')
				continue;
			const char c = i + 1 < arg.size() ? arg[i + 1] : '\0';
			if (c != 'a' && c != 'u' && c != 'F' && c != '%')
				throw ValueError("unknown placeholder " +
						 Quoted(c == '\0' ? std::string("%")
								  : std::string{'%', c}) +
						 " (popstream expands %a, the account, "
						 "%u, the user, %F, the "
						 "envelope sender, and "
						 "%% to %)");
			++i;
		}
}

} // namespace popstream::config
