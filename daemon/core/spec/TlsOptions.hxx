#pragma once

#include "TlsFingerprint.hxx"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace popstream {

/** The oldest TLS version a connection accepts (`tls_min_version`). */
enum class TlsVersion {
	/** RFC 2246; deprecated by RFC 8996, for old servers only. */
	Tls1_0,
	/** RFC 4346; deprecated by RFC 8996. */
	Tls1_1,
	/** RFC 5246; the default (RFC 8314 §4.1). */
	Tls1_2,
};

/** A `tls_min_version` that is not one this build has. what() is one line. */
class TlsVersionError : public std::invalid_argument {
public:
	using std::invalid_argument::invalid_argument;
};

/**
 * @param text "1.0", "1.1" or "1.2"
 * @return the version
 * @throws TlsVersionError `bad TLS version "TEXT" (expected 1.0, 1.1 or 1.2)`, or for
 *         "1.3" `TLS 1.3 is not available: this build supports TLS up to 1.2
 *         (mbedTLS 2.28)`
 */
TlsVersion ParseTlsVersion(std::string_view text);

/** @return "1.0", "1.1" or "1.2" */
const char *TlsVersionName(TlsVersion version) noexcept;

/**
 * How the server is authenticated and how popstream authenticates itself, for one
 * account: the `ca_file`, `tls_fingerprint`, `tls_min_version`, `tls_cert` and
 * `tls_key` keys and their `dl` flags. Paths are already expanded.
 */
struct TlsOptions {
	/** PEM (or DER) CAs to trust instead of the system store; empty = system. */
	std::string ca_file;
	/** When not empty, the server's leaf certificate must match one of these, and
	 * the CA, name and date checks are not made (a pinned self-signed server). */
	std::vector<TlsFingerprint> fingerprints;
	/** The oldest version accepted. */
	TlsVersion min_version = TlsVersion::Tls1_2;
	/** PEM client certificate (RFC 5246 §7.4.6), with #key_file; empty = none. */
	std::string cert_file;
	/** Its unencrypted PEM private key; must not be readable by group or others. */
	std::string key_file;
};

} // namespace popstream
