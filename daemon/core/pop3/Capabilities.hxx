#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::pop3 {

/**
 * What a server said it supports in its CAPA response (RFC 2449 §5-6, STLS from
 * RFC 2595 §4, SASL from RFC 5034). Unknown capabilities are ignored, as §5 requires.
 */
struct Capabilities {
	/** CAPA was answered with +OK at all; false for RFC 1939-only servers. */
	bool known = false;
	/** RFC 2449 §6.6: the server accepts several commands before replying. */
	bool pipelining = false;
	/** RFC 2449 §6.5 / RFC 1939 §7: the UIDL command works. */
	bool uidl = false;
	/** RFC 2449 §6.3: USER/PASS login is offered. */
	bool user = false;
	/** RFC 2595 §4: STLS is offered. */
	bool stls = false;
	/** RFC 2449 §6.4: "[CODE]" response codes are used. */
	bool resp_codes = false;
	/** RFC 2449 §6.8 LOGIN-DELAY: the minimum seconds between logins, if announced.
	 */
	std::optional<std::uint64_t> login_delay_s;
	/** RFC 5034 §4 SASL mechanisms, upper-cased. */
	std::vector<std::string> sasl;
	/** RFC 2449 §6.5: TOP is offered. */
	bool top = false;
	/** RFC 2449 §6.7 EXPIRE: "NEVER", a number of days, or "0", possibly followed by
	 * "USER" (pre-login), upper-cased and blank-separated; nothing if not
	 * announced. */
	std::optional<std::string> expire;
	/** RFC 2449 §6.9 IMPLEMENTATION: the server's free text as sent (untrusted:
	 * escape before printing), cut to 200 octets; nothing if not announced. */
	std::optional<std::string> implementation;

	/**
	 * Folds in one line of the CAPA response (after dot-unstuffing). Tags are matched
	 * case-insensitively; a malformed argument (LOGIN-DELAY x) leaves that field
	 * unset.
	 */
	void AddLine(std::string_view line);
};

} // namespace popstream::pop3
