#include "Base64.hxx"

#include <cstdint>

namespace popstream {

namespace {

constexpr std::string_view ALPHABET =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** @return the 6-bit value of @p c, or -1 if it is not in the alphabet */
int Value(char c) noexcept
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

} // namespace

std::string Base64Encode(std::string_view octets)
{
	std::string out;
	out.reserve((octets.size() + 2) / 3 * 4);
	std::size_t i = 0;
	for (; i + 3 <= octets.size(); i += 3) {
		const std::uint32_t v = static_cast<std::uint8_t>(octets[i]) << 16 |
					static_cast<std::uint8_t>(octets[i + 1]) << 8 |
					static_cast<std::uint8_t>(octets[i + 2]);
		out += ALPHABET[v >> 18 & 63];
		out += ALPHABET[v >> 12 & 63];
		out += ALPHABET[v >> 6 & 63];
		out += ALPHABET[v & 63];
	}
	const std::size_t rest = octets.size() - i;
	if (rest > 0) {
		std::uint32_t v = static_cast<std::uint8_t>(octets[i]) << 16;
		if (rest == 2)
			v |= static_cast<std::uint8_t>(octets[i + 1]) << 8;
		out += ALPHABET[v >> 18 & 63];
		out += ALPHABET[v >> 12 & 63];
		out += rest == 2 ? ALPHABET[v >> 6 & 63] : '=';
		out += '=';
	}
	return out;
}

std::optional<std::string> Base64Decode(std::string_view text)
{
	if (text.size() % 4 != 0)
		return std::nullopt;
	std::string out;
	out.reserve(text.size() / 4 * 3);
	for (std::size_t i = 0; i < text.size(); i += 4) {
		const bool last = i + 4 == text.size();
		std::size_t pad = 0;
		if (last && text[i + 3] == '=')
			pad = text[i + 2] == '=' ? 2 : 1;
		std::uint32_t v = 0;
		for (std::size_t j = 0; j < 4; ++j) {
			int d = 0;
			if (j < 4 - pad) {
				d = Value(text[i + j]);
				if (d < 0)
					return std::nullopt;
			}
			v = v << 6 | static_cast<std::uint32_t>(d);
		}
		// Non-zero bits under the padding would give a second spelling.
		if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
			return std::nullopt;
		out += static_cast<char>(v >> 16 & 0xff);
		if (pad < 2)
			out += static_cast<char>(v >> 8 & 0xff);
		if (pad < 1)
			out += static_cast<char>(v & 0xff);
	}
	return out;
}

} // namespace popstream
