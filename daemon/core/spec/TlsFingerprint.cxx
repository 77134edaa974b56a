#include "TlsFingerprint.hxx"
#include "core/util/Escape.hxx"

namespace popstream {

namespace {

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int HexValue(char c) noexcept
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int Base64Value(char c) noexcept
{
	for (int i = 0; i < 64; ++i)
		if (base64_alphabet[i] == c)
			return i;
	return -1;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) noexcept
{
	if (s.size() < prefix.size())
		return false;
	for (std::size_t i = 0; i < prefix.size(); ++i) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
		if (c != prefix[i])
			return false;
	}
	return true;
}

std::string_view Trim(std::string_view s) noexcept
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
		s.remove_suffix(1);
	return s;
}

FingerprintError Bad(std::string_view text, std::string_view problem)
{
	return FingerprintError("bad TLS fingerprint \"" + Escape(text, 200) +
				"\": " + std::string(problem));
}

constexpr std::string_view expected =
    " (expected the certificate's SHA-256 as 64 hex digits, colons allowed, or "
    "sha256// and the base64 SHA-256 of its public key)";

TlsFingerprint ParsePublicKey(std::string_view whole, std::string_view b64)
{
	// 32 octets are 43 base64 digits and one '='; the last digit carries 2 bits
	// of padding that must be zero, so each digest has exactly one spelling.
	if (b64.size() != 44 || b64[43] != '=')
		throw Bad(whole, "sha256// must be followed by 44 base64 characters "
				 "ending in '=' (a SHA-256)");
	TlsFingerprint result;
	result.kind = TlsFingerprint::Kind::PublicKey;
	std::uint32_t bits = 0;
	int nbits = 0;
	std::size_t out = 0;
	for (std::size_t i = 0; i < 43; ++i) {
		const int v = Base64Value(b64[i]);
		if (v < 0)
			throw Bad(whole, "\"" + Escape(b64.substr(i, 1)) +
					     "\" is not a base64 character");
		bits = (bits << 6) | static_cast<std::uint32_t>(v);
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			result.digest[out++] = static_cast<std::uint8_t>(bits >> nbits);
		}
	}
	if ((bits & ((1u << nbits) - 1)) != 0)
		throw Bad(whole, "the base64 after sha256// is not canonical");
	return result;
}

} // namespace

TlsFingerprint ParseTlsFingerprint(std::string_view text)
{
	const std::string_view whole = text;
	text = Trim(text);
	if (text.empty())
		throw Bad(whole, std::string("empty") + std::string(expected));
	if (StartsWithNoCase(text, "sha256//"))
		return ParsePublicKey(whole, text.substr(8));
	if (text.find("//") != std::string_view::npos)
		throw Bad(whole, "only sha256// public key pins are supported");
	// What `openssl x509 -noout -fingerprint -sha256` prints before the digest.
	for (const std::string_view label :
	     {"sha256 fingerprint=", "sha2-256 fingerprint="})
		if (StartsWithNoCase(text, label)) {
			text.remove_prefix(label.size());
			break;
		}

	TlsFingerprint result;
	result.kind = TlsFingerprint::Kind::Certificate;
	const bool colons = text.find(':') != std::string_view::npos;
	std::size_t out = 0;
	std::size_t i = 0;
	while (i < text.size()) {
		if (out == result.digest.size())
			throw Bad(whole, std::string("longer than a SHA-256") +
					     std::string(expected));
		if (i + 1 >= text.size() && HexValue(text[i]) >= 0)
			throw Bad(whole, std::string("odd number of hex digits") +
					     std::string(expected));
		const int hi = HexValue(text[i]);
		const int lo = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
		if (hi < 0 || lo < 0) {
			const char bad = hi < 0 ? text[i] : text[i + 1];
			throw Bad(whole, "\"" + Escape(std::string_view(&bad, 1)) +
					     "\" is not a hex digit" +
					     std::string(expected));
		}
		result.digest[out++] = static_cast<std::uint8_t>(hi << 4 | lo);
		i += 2;
		if (colons && out < result.digest.size() && i < text.size()) {
			if (text[i] != ':')
				throw Bad(whole,
					  "with colons, every two hex digits must be "
					  "followed by ':'");
			++i;
		}
	}
	if (out != result.digest.size())
		throw Bad(whole, "shorter than a SHA-256 (" + std::to_string(out * 2) +
				     " hex digits, not 64)" + std::string(expected));
	return result;
}

std::string FormatCertificateFingerprint(const Sha256Digest &digest)
{
	static constexpr char hex[] = "0123456789ABCDEF";
	std::string out;
	out.reserve(digest.size() * 3);
	for (std::size_t i = 0; i < digest.size(); ++i) {
		if (i != 0)
			out += ':';
		out += hex[digest[i] >> 4];
		out += hex[digest[i] & 15];
	}
	return out;
}

std::string FormatPublicKeyPin(const Sha256Digest &digest)
{
	std::string out = "sha256//";
	std::uint32_t bits = 0;
	int nbits = 0;
	for (const std::uint8_t byte : digest) {
		bits = (bits << 8) | byte;
		nbits += 8;
		while (nbits >= 6) {
			nbits -= 6;
			out += base64_alphabet[(bits >> nbits) & 63];
		}
	}
	// 256 bits leave 4, written as one more digit and one '='.
	out += base64_alphabet[(bits << (6 - nbits)) & 63];
	out += '=';
	return out;
}

std::string FormatTlsFingerprint(const TlsFingerprint &fingerprint)
{
	return fingerprint.kind == TlsFingerprint::Kind::Certificate
		   ? FormatCertificateFingerprint(fingerprint.digest)
		   : FormatPublicKeyPin(fingerprint.digest);
}

} // namespace popstream
