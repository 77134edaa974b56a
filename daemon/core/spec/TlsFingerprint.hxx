#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace popstream {

/** A SHA-256 digest (FIPS 180-4), 32 octets. */
using Sha256Digest = std::array<std::uint8_t, 32>;

/**
 * One pinned server certificate (`tls_fingerprint:`, `--tls-fingerprint`): the SHA-256
 * of the leaf certificate's DER, or of its SubjectPublicKeyInfo (RFC 5280 §4.1.2.7),
 * which survives a renewal that keeps the key (curl's `--pinnedpubkey sha256//...`).
 */
struct TlsFingerprint {
	enum class Kind {
		/** SHA-256 of the whole certificate, as `openssl x509 -fingerprint
		 * -sha256` prints it. */
		Certificate,
		/** SHA-256 of the certificate's SubjectPublicKeyInfo. */
		PublicKey,
	};
	Kind kind = Kind::Certificate;
	Sha256Digest digest{};

	bool operator==(const TlsFingerprint &) const = default;
};

/** A fingerprint that is neither form. what() is one line naming the text (escaped)
 * and what was expected. */
class FingerprintError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

/**
 * Parses a pinned fingerprint in either form:
 * - 64 hex digits, case-insensitive, optionally with a ':' between every two
 *   (`AB:CD:...`), optionally after `sha256 Fingerprint=` as openssl prints it;
 * - `sha256//` followed by the 44-character standard base64 (RFC 4648 §4, with its
 *   '=') of the SubjectPublicKeyInfo's SHA-256.
 *
 * @param text the value as written; blanks around it are ignored
 * @return the kind and the digest
 * @throws FingerprintError `bad TLS fingerprint "TEXT": PROBLEM` for anything else
 *         (wrong length, a non-hex digit, misplaced colons, bad base64, another
 *         hash such as `sha1//`)
 */
TlsFingerprint ParseTlsFingerprint(std::string_view text);

/**
 * @param digest a certificate's SHA-256
 * @return "AB:CD:..." (uppercase hex, 95 characters), the form openssl prints and
 *         ParseTlsFingerprint() reads
 */
std::string FormatCertificateFingerprint(const Sha256Digest &digest);

/**
 * @param digest the SHA-256 of a SubjectPublicKeyInfo
 * @return "sha256//" and the digest in base64 (52 characters), curl's pin form
 */
std::string FormatPublicKeyPin(const Sha256Digest &digest);

/** @return FormatCertificateFingerprint() or FormatPublicKeyPin(), by kind */
std::string FormatTlsFingerprint(const TlsFingerprint &fingerprint);

} // namespace popstream
