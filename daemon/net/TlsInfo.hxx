#pragma once

#include <string>
#include <vector>

namespace popstream::net {

/** One certificate the server sent, as `popstream serverinfo` prints it. */
struct CertificateInfo {
	/** The subject and issuer distinguished names, as mbedTLS prints them
	 * ("CN=mail.example.com, O=Example"), escaped. */
	std::string subject, issuer;
	/** "YYYY-MM-DD HH:MM:SS UTC" (RFC 5280 §4.1.2.5). */
	std::string valid_from, valid_to;
	/** SHA-256 of the certificate's DER, "AB:CD:..."
	 * (FormatCertificateFingerprint()), the form `tls_fingerprint:` takes. */
	std::string sha256;
	/** "sha256//BASE64" of its SubjectPublicKeyInfo (FormatPublicKeyPin()). */
	std::string public_key_pin;
};

/** What a finished TLS handshake negotiated and what the server showed. */
struct TlsInfo {
	/** mbedTLS's names: "TLSv1.2", and an IANA suite spelled with '-'
	 * ("TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"). */
	std::string version, cipher_suite;
	/** The chain as the server sent it, leaf first. */
	std::vector<CertificateInfo> chain;
	/** Empty if the certificate was accepted; otherwise the reasons, as in the
	 * TlsVerify message ("unknown CA (not signed by a trusted authority); ..."). */
	std::string untrusted;
	/** The handshake resumed a session saved from an earlier connection (RFC 5246
	 * §7.3 abbreviated handshake): no certificate was sent, and #chain is the one
	 * verified when the session was made. */
	bool resumed = false;
};

} // namespace popstream::net
