#include "ConnectionSpec.hxx"

#include "core/util/Ascii.hxx"
#include "core/util/Escape.hxx"

namespace popstream {

namespace {

constexpr bool IsAsciiAlpha(char c) noexcept
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool IsAsciiDigit(char c) noexcept
{
	return c >= '0' && c <= '9';
}

constexpr bool IsHexDigit(char c) noexcept
{
	return IsAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/** Characters of DNS names and IPv4 addresses. '_' is not valid in host names but
 * appears in real internal names, and getaddrinfo() resolves it. */
constexpr bool IsNameChar(char c) noexcept
{
	return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '-' || c == '.' || c == '_';
}

/** Builds the one-line error; every problem text is written by us except the spec,
 * which is escaped because it may hold any byte. */
SpecError Bad(std::string_view spec, std::string_view problem)
{
	std::string msg = "bad connection spec \"";
	msg += Escape(spec, 200);
	msg += "\": ";
	msg += problem;
	return SpecError(msg);
}

std::string Quoted(std::string_view text)
{
	return "\"" + Escape(text, 100) + "\"";
}

/** @return true if every byte of @p text satisfies @p pred */
template <typename Pred>
bool All(std::string_view text, Pred pred) noexcept
{
	for (const char c : text)
		if (!pred(c))
			return false;
	return true;
}

/**
 * Detects a mistyped scheme such as `imap:host` or `pop3s:alice@host`, which would
 * otherwise be read as host "imap" with a bad port. A word followed by ':' is a host
 * instead when what follows is a port (digits, or nothing yet), or looks like the rest
 * of an unbracketed IPv6 address (`fe80::1`, `host:1:2`), which gets its own message.
 */
std::optional<std::string_view> UnknownScheme(std::string_view rest) noexcept
{
	const auto colon = rest.find(':');
	if (colon == std::string_view::npos || colon == 0 || !IsAsciiAlpha(rest[0]))
		return std::nullopt;
	const auto word = rest.substr(0, colon);
	if (!All(word, [](char c) {
		    return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '+' || c == '-';
	    }))
		return std::nullopt;
	const auto after = rest.substr(colon + 1);
	if (after.empty() ||
	    All(after, [](char c) { return IsAsciiDigit(c) || c == ':'; }))
		return std::nullopt;
	if (All(word, IsHexDigit) &&
	    All(after, [](char c) { return IsHexDigit(c) || c == ':' || c == '.'; }))
		return std::nullopt;
	return rest.substr(0, colon + 1);
}

/** @return true for the text between '[' and ']': hex digits, ':' and '.', at least
 * one ':', optionally followed by a "%zone" (RFC 4007 §11). */
bool IsIpv6Literal(std::string_view text) noexcept
{
	const auto percent = text.find('%');
	const auto address = text.substr(0, percent);
	if (address.find(':') == std::string_view::npos)
		return false;
	for (const char c : address)
		if (!IsHexDigit(c) && c != ':' && c != '.')
			return false;
	if (percent != std::string_view::npos) {
		const auto zone = text.substr(percent + 1);
		if (zone.empty())
			return false;
		for (const char c : zone)
			if (!IsNameChar(c))
				return false;
	}
	return true;
}

/** @return the first byte of @p text that IsNameChar() rejects, or npos */
std::size_t FindNonNameChar(std::string_view text) noexcept
{
	for (std::size_t i = 0; i < text.size(); ++i)
		if (!IsNameChar(text[i]))
			return i;
	return std::string_view::npos;
}

std::uint16_t ParsePort(std::string_view spec, std::string_view text)
{
	if (text.empty())
		throw Bad(spec, "empty port after ':'");
	for (const char c : text)
		if (!IsAsciiDigit(c))
			throw Bad(spec, "port " + Quoted(text) + " is not a number");
	// Six or more significant digits cannot be in range; checking the length first
	// keeps the arithmetic below from overflowing on absurd input.
	auto digits = text;
	while (digits.size() > 1 && digits.front() == '0')
		digits.remove_prefix(1);
	unsigned long value = 0;
	if (digits.size() <= 5)
		for (const char c : digits)
			value = value * 10 + static_cast<unsigned long>(c - '0');
	if (digits.size() > 5 || value < 1 || value > 65535)
		throw Bad(spec, "port " + std::string(text) + " is not in 1-65535");
	return static_cast<std::uint16_t>(value);
}

} // namespace

SchemeSplit SplitScheme(std::string_view spec) noexcept
{
	SchemeSplit result;
	result.rest = spec;
	if (StartsWithNoCase(spec, "ssl:")) {
		result.explicit_scheme = true;
		result.rest.remove_prefix(4);
	} else if (StartsWithNoCase(spec, "tcp:")) {
		result.tls = false;
		result.explicit_scheme = true;
		result.rest.remove_prefix(4);
	} else if (StartsWithNoCase(spec, "starttls:")) {
		result.tls = false;
		result.starttls = true;
		result.explicit_scheme = true;
		result.rest.remove_prefix(9);
	}
	return result;
}

ConnectionSpec ParseConnectionSpec(std::string_view spec)
{
	if (spec.empty())
		throw Bad(spec, "the spec is empty");
	for (const char c : spec) {
		const auto u = static_cast<unsigned char>(c);
		// Whatever is in the spec may end up in a USER command or a log line, so
		// CR/LF injection is stopped here.
		if (u < 0x20 || u == 0x7f)
			throw Bad(spec, "control character in the spec");
		if (c == ' ')
			throw Bad(spec, "space in the spec");
	}

	ConnectionSpec result;
	const auto scheme = SplitScheme(spec);
	result.tls = scheme.tls;
	result.starttls = scheme.starttls;
	result.explicit_scheme = scheme.explicit_scheme;
	auto rest = scheme.rest;

	if (scheme.explicit_scheme) {
		// `ssl:tcp:995` is the host "tcp" on port 995, which is how
		// FormatConnectionSpec() writes it; `ssl:tcp:host` is a doubled prefix
		// (and so is `starttls:ssl:host`).
		const auto again = SplitScheme(rest);
		if (again.explicit_scheme &&
		    (again.rest.empty() || !All(again.rest, IsAsciiDigit)))
			throw Bad(spec,
				  "more than one \"ssl:\"/\"tcp:\"/\"starttls:\" prefix");
	} else if (const auto unknown = UnknownScheme(rest)) {
		// Only checked without a prefix: `ssl:a:b@host` is how a user name with a
		// ':' is written, and FormatConnectionSpec() always writes a prefix.
		throw Bad(spec, "unknown prefix " + Quoted(*unknown) +
				    " (expected \"ssl:\", \"tcp:\" or \"starttls:\")");
	}

	// Host names, SNI names and IPv6 literals never contain '@', so the last one
	// ends the user name, which may contain '@' itself (alice@example.com).
	if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
		if (at == 0)
			throw Bad(spec, "empty user before '@'");
		result.user = rest.substr(0, at);
		rest.remove_prefix(at + 1);
	}

	std::size_t pos;
	if (!rest.empty() && rest.front() == '[') {
		const auto close = rest.find(']');
		if (close == std::string_view::npos)
			throw Bad(spec, "unterminated '[' (expected \"[IPv6-address]\")");
		const auto address = rest.substr(1, close - 1);
		if (address.empty())
			throw Bad(spec, "empty host");
		if (!IsIpv6Literal(address))
			throw Bad(spec, Quoted(address) + " is not an IPv6 address");
		result.host = address;
		pos = close + 1;
		if (pos < rest.size() && rest[pos] != '!' && rest[pos] != ':')
			throw Bad(spec, "unexpected " + Quoted(rest.substr(pos)) +
					    " after ']'");
	} else {
		const auto host_end = rest.find_first_of("!:");
		const auto host = rest.substr(0, host_end);
		const auto before_sni = rest.substr(0, rest.find('!'));
		if (before_sni.find(':') != before_sni.rfind(':'))
			throw Bad(spec, "an IPv6 address must be written in brackets, "
					"e.g. \"[::1]:995\"");
		if (host.empty())
			throw Bad(spec, "empty host");
		if (const auto bad = FindNonNameChar(host); bad != std::string_view::npos)
			throw Bad(spec, "unexpected character " +
					    Quoted(host.substr(bad, 1)) + " in host " +
					    Quoted(host));
		result.host = host;
		pos = host_end == std::string_view::npos ? rest.size() : host_end;
	}

	if (pos < rest.size() && rest[pos] == '!') {
		const auto sni_end = rest.find(':', pos + 1);
		const auto sni = rest.substr(pos + 1, sni_end == std::string_view::npos
							  ? std::string_view::npos
							  : sni_end - pos - 1);
		if (sni.empty())
			throw Bad(spec, "empty SNI name after '!'");
		if (const auto bad = FindNonNameChar(sni); bad != std::string_view::npos)
			throw Bad(spec, "unexpected character " +
					    Quoted(sni.substr(bad, 1)) + " in SNI name " +
					    Quoted(sni));
		result.sni = sni;
		pos = sni_end == std::string_view::npos ? rest.size() : sni_end;
	}

	if (pos < rest.size()) {
		// Only ':' can be left here: the branches above stop at '!' or ':' and
		// reject anything else.
		result.port = ParsePort(spec, rest.substr(pos + 1));
	}

	return result;
}

std::string FormatHostPort(std::string_view host, std::uint16_t port)
{
	std::string out;
	if (host.find(':') != std::string_view::npos) {
		out += '[';
		out += host;
		out += ']';
	} else {
		out += host;
	}
	out += ':';
	out += std::to_string(port);
	return out;
}

std::string FormatConnectionSpec(const ConnectionSpec &spec)
{
	std::string out = spec.tls ? "ssl:" : spec.starttls ? "starttls:" : "tcp:";
	if (!spec.user.empty()) {
		out += spec.user;
		out += '@';
	}
	if (spec.sni.empty())
		return out + FormatHostPort(spec.host, spec.Port());
	// The SNI name goes between host and port, so the host/port helper cannot be
	// used whole.
	const auto host_port = FormatHostPort(spec.host, spec.Port());
	const auto colon = host_port.rfind(':');
	out.append(host_port, 0, colon);
	out += '!';
	out += spec.sni;
	out.append(host_port, colon);
	return out;
}

} // namespace popstream
