#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace popstream {

/** RFC 8314 §3.3: POP3 over implicit TLS ("pop3s"). */
inline constexpr std::uint16_t DEFAULT_TLS_PORT = 995;

/** RFC 1939 §3: cleartext POP3. */
inline constexpr std::uint16_t DEFAULT_CLEARTEXT_PORT = 110;

/**
 * A connection spec that does not follow the popstream spec grammar (see
 * ParseConnectionSpec()). what() is one line of the form
 * `bad connection spec "SPEC": PROBLEM`, with SPEC escaped by Escape().
 */
class SpecError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

/**
 * One parsed connection spec:
 * `[{ssl,tcp,starttls}:]{[user@]host[!sni_name][:port]}` (the grammar of cs.pop3,
 * extended with bracketed IPv6 literals and `starttls:`).
 */
struct ConnectionSpec {
	/** true for implicit TLS (`ssl:` or no prefix), false for a connection that
	 * starts in cleartext (`tcp:`, `starttls:`). */
	bool tls = true;

	/** Only with #tls false (`starttls:`): upgrade the cleartext connection with STLS
	 * (RFC 2595 §4) before anything else, and never fall back to cleartext. */
	bool starttls = false;

	/** true if the spec carried an explicit `ssl:`, `tcp:` or `starttls:` prefix;
	 * lets a caller tell "the user asked for TLS" from "TLS by default". */
	bool explicit_scheme = false;

	/** The POP3 user name; empty = not given (the caller picks a default). May
	 * contain
	 * '@'. Never contains control characters. */
	std::string user;

	/** The host to connect to: a DNS name, an IPv4 address, or an IPv6 address
	 * without its brackets. Never empty. */
	std::string host;

	/** The TLS server name (SNI and certificate check) when it differs from #host,
	 * e.g. for an ssh port forward; empty = use #host. */
	std::string sni;

	/** The TCP port; empty = the default of the scheme (see Port()). */
	std::optional<std::uint16_t> port;

	/** @return #port, or 995 with implicit TLS and 110 for `tcp:` and `starttls:`
	 * (STLS starts on the cleartext port, RFC 2595 §4) */
	std::uint16_t Port() const noexcept
	{
		return port ? *port : tls ? DEFAULT_TLS_PORT : DEFAULT_CLEARTEXT_PORT;
	}
};

/** The result of SplitScheme(). */
struct SchemeSplit {
	/** false for `tcp:` and `starttls:`. */
	bool tls = true;
	/** true only for `starttls:`. */
	bool starttls = false;
	/** true if a prefix was removed. */
	bool explicit_scheme = false;
	/** What follows the prefix (a view into the argument of SplitScheme()). */
	std::string_view rest;
};

/**
 * Removes a leading `ssl:`, `tcp:` or `starttls:` (ASCII case-insensitive) from @p spec.
 * Nothing else is checked, so that the rest can first be looked up as a netrc account
 * name, which is free text.
 *
 * @param spec a connection spec or `[{ssl,tcp,starttls}:]netrc_account`
 * @return the scheme and the remainder; without a prefix, TLS and all of @p spec
 */
SchemeSplit SplitScheme(std::string_view spec) noexcept;

/**
 * Parses a connection spec: `[{ssl,tcp,starttls}:]{[user@]host[!sni_name][:port]}`.
 *
 * - No prefix or `ssl:` means implicit TLS (default port 995), `tcp:` cleartext (110),
 *   `starttls:` cleartext upgraded by STLS before anything else (110, RFC 2595 §4).
 * - The user is everything before the last '@', so it may itself contain '@'
 *   (`alice@example.com@mail.example.com`).
 * - The host is a DNS name (letters, digits, '-', '.', '_'), an IPv4 address, or an
 *   IPv6 address in brackets, optionally with a zone (`[fe80::1%eth0]`).
 * - `!sni_name` names the server for TLS when the host is only a tunnel end.
 * - The port is decimal, 1-65535.
 *
 * @param spec the spec as typed by the user (without a netrc account lookup)
 * @return the parsed spec; ConnectionSpec::port stays empty when no port was given
 * @throws SpecError naming @p spec and the problem: unknown or repeated prefix, empty
 *         user before '@', empty host, empty SNI name after '!', empty or non-numeric
 *         port or one outside 1-65535, unterminated '[', an unbracketed IPv6 address,
 *         stray characters or control characters
 */
ConnectionSpec ParseConnectionSpec(std::string_view spec);

/**
 * @param host a host name or IPv4 address, or an IPv6 address without brackets
 * @param port a TCP port
 * @return `host:port`, with the host in brackets if it contains ':'
 */
std::string FormatHostPort(std::string_view host, std::uint16_t port);

/**
 * Prints a spec back in canonical form for logs: `ssl:user@host!sni:port`,
 * `tcp:...` or `starttls:...`, always with the scheme and the effective port; `user@` and
 * `!sni` only when set; IPv6 hosts in brackets. Parsing the result gives back the same
 * spec (with the port made explicit).
 *
 * @param spec a spec, normally from ParseConnectionSpec()
 * @return the canonical text; it contains no password because a spec has none
 */
std::string FormatConnectionSpec(const ConnectionSpec &spec);

} // namespace popstream
