#include "TlsFingerprint.hxx"
#include "core/util/Ascii.hxx"
#include "core/util/Base64.hxx"
#include "core/util/Escape.hxx"

namespace popstream {

namespace {

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
	if (const auto bad = b64.substr(0, 43).find_first_not_of(base64_alphabet);
	    bad != std::string_view::npos)
		throw Bad(whole, "\"" + Escape(b64.substr(bad, 1)) +
				     "\" is not a base64 character");
	// The characters are right: only padding bits can make it non-canonical.
	const auto digest = Base64Decode(b64);
	if (!digest || digest->size() != 32)
		throw Bad(whole, "the base64 after sha256// is not canonical");
	TlsFingerprint result;
	result.kind = TlsFingerprint::Kind::PublicKey;
	for (std::size_t i = 0; i < 32; ++i)
		result.digest[i] = static_cast<std::uint8_t>((*digest)[i]);
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
	return "sha256//" +
	       Base64Encode(std::string_view(
		   reinterpret_cast<const char *>(digest.data()), digest.size()));
}

std::string FormatTlsFingerprint(const TlsFingerprint &fingerprint)
{
	return fingerprint.kind == TlsFingerprint::Kind::Certificate
		   ? FormatCertificateFingerprint(fingerprint.digest)
		   : FormatPublicKeyPin(fingerprint.digest);
}

} // namespace popstream
