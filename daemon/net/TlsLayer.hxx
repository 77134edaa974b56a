#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "TlsInfo.hxx"
#include "core/spec/TlsOptions.hxx"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

namespace popstream::net {

/**
 * The client side of TLS 1.2 (RFC 5246) with mbedTLS, over two memory queues: the owner
 * pushes ciphertext it received with PushInput() and sends whatever TakeOutput()
 * returns, so this class does no I/O and never blocks. The server certificate is
 * verified against a CA file and a name: a DNS name by mbedTLS (RFC 6125 §6.4) and sent
 * as SNI (RFC 6066 §3); an IP literal (IPv4, or IPv6 with or without brackets) by us
 * against the subjectAltName iPAddress entries only (RFC 6125 §6.2.1, RFC 5280
 * §4.2.1.6), and with no SNI, which RFC 6066 §3 forbids for addresses. With
 * TlsOptions::fingerprints the leaf certificate must match one of them instead, and
 * nothing else about it is checked. Failures throw NetError with a one-line message.
 *
 * Not copyable or movable: mbedTLS keeps a pointer to it.
 */
class TlsLayer {
public:
	/**
	 * Loads the CA file (and the client certificate) and prepares a handshake;
	 * nothing is sent yet.
	 * @param server_name DNS name (for SNI and the certificate check) or IP literal
	 *        ("192.0.2.1", "::1", "[::1]"; checked against the certificate's IP
	 *        addresses, no SNI)
	 * @param options TlsOptions::ca_file (PEM or DER; empty =
	 *        POPSTREAM_SYSTEM_CA_FILE from config.h), the pinned fingerprints, the
	 *        oldest version, the client certificate and key
	 * @param peer "host:port" used in error messages
	 * @param report_untrusted `popstream serverinfo` only: finish the handshake even
	 *        when the certificate fails verification, and report why in Info();
	 *        never for a connection that logs in
	 * @throws NetError (Tls) if the CA file cannot be read or holds no usable
	 *         certificate, the client certificate or key is unusable (as
	 *         CheckClientCertificate()), or mbedTLS cannot be set up
	 */
	TlsLayer(const std::string &server_name, const TlsOptions &options,
		 std::string peer, bool report_untrusted = false);
	~TlsLayer();
	TlsLayer(const TlsLayer &) = delete;
	TlsLayer &operator=(const TlsLayer &) = delete;

	/** Appends @p ciphertext (bytes received from the server) to the input queue. */
	void PushInput(std::string_view ciphertext);

	/** @return the ciphertext produced since the last call (possibly empty), to be
	 *          sent in order */
	std::string TakeOutput() noexcept;

	/**
	 * Advances the handshake as far as the queued input allows; call it after each
	 * PushInput() until it returns true, then send TakeOutput().
	 * @return true once the handshake is complete and the certificate was accepted
	 * @throws NetError TlsVerify if the certificate is rejected (the message lists
	 * every reason: unknown CA, expired, not yet valid, name mismatch, fingerprint
	 * mismatch...), Tls for any other handshake failure (alert, protocol version,
	 * not TLS at all)
	 */
	bool Handshake();

	/** @return the version, the cipher suite, the server's chain, whether it was
	 *          trusted and whether the session was resumed; only meaningful once
	 *          Handshake() has returned true */
	TlsInfo Info() const;

	/**
	 * Offers a session saved by SaveSession() of an earlier connection to the same
	 * server with the same trust settings, for an abbreviated handshake (RFC 5246
	 * §7.4.1.2: its session id; RFC 5077 §3.4: its ticket). Call before the first
	 * Handshake(). The caller must only offer a session made under the same
	 * TlsOptions and server name: a resumed handshake checks no certificate, since
	 * the server proves it holds the master secret agreed with the certificate that
	 * was verified when the session was made. As a second line, a session whose
	 * certificate has expired, or (with pins) no longer matches a pin, is not
	 * offered. A server that refuses the session simply completes a full handshake,
	 * verified as always, at no extra round trip.
	 * @param serialized the bytes of SaveSession(); a secret (they hold the master
	 *        secret)
	 * @return false if the session was not offered (unparsable, from another
	 *         mbedTLS build, or failing the checks above); never throws
	 */
	bool OfferSession(std::string_view serialized) noexcept;

	/**
	 * @return true once Handshake() has returned true if the server resumed the
	 *         session given to OfferSession() (the abbreviated handshake of RFC 5246
	 *         §7.3, told apart by the master secret, which only a resumption keeps)
	 */
	bool Resumed() const noexcept { return resumed_; }

	/**
	 * @return the negotiated session serialized for OfferSession() of a later
	 *         connection (mbedtls_ssl_session_save(): the master secret, the session
	 *         id, the RFC 5077 ticket if the server sent one, and the server's
	 *         certificate), or empty if there is nothing a server could resume
	 *         (neither a session id nor a ticket) or the handshake is not done.
	 *         The bytes are a secret: never log them, keep them only in memory or
	 *         in a file only the user can read.
	 */
	std::string SaveSession() const;

	/** Outcome of Read(). */
	struct ReadResult {
		/** Plaintext bytes stored, 0 if more input is needed. */
		std::size_t size = 0;
		/** The server sent close_notify (RFC 5246 §7.2.1): no more data will
		 * come. */
		bool closed = false;
	};

	/**
	 * Decrypts at most one record into @p out. Call until it returns size 0.
	 * @throws NetError (Io) if a record is corrupt or the server sent a fatal alert
	 */
	ReadResult Read(std::span<char> out);

	/**
	 * Encrypts a prefix of @p plaintext into the output queue.
	 * @return bytes consumed (at most one record, 16 KiB); 0 means "try again later
	 *         with exactly the same bytes", as mbedTLS requires after WANT_WRITE
	 * @throws NetError (Io) on a fatal mbedTLS error
	 */
	std::size_t Write(std::string_view plaintext);

	/** Queues a close_notify alert (RFC 5246 §7.2.1), best effort; never throws. */
	void CloseNotify() noexcept;

private:
	/** mbedTLS f_send: appends to output_. noexcept: C frames cannot unwind. */
	static int OnSend(void *ctx, const unsigned char *buffer,
			  std::size_t length) noexcept;
	/** mbedTLS f_recv: takes from input_ or returns MBEDTLS_ERR_SSL_WANT_READ. */
	static int OnReceive(void *ctx, unsigned char *buffer,
			     std::size_t length) noexcept;
	/** mbedTLS verify callback: records what the error message will need, and for
	 * an IP literal flags the leaf MBEDTLS_X509_BADCERT_CN_MISMATCH unless one of its
	 * iPAddress entries holds that address. */
	static int OnVerify(void *ctx, mbedtls_x509_crt *crt, int depth,
			    std::uint32_t *flags) noexcept;

	/** Loads the CAs and configures mbedTLS. @throws NetError (Tls) */
	void Setup(const TlsOptions &options);
	/** Parses @p path into ca_. @throws NetError (Tls) naming the file */
	void LoadCaFile(const std::string &path);
	/** Releases every mbedTLS object; each may be in its init state. */
	void Free() noexcept;
	/** @throws NetError describing the mbedTLS handshake error @p ret */
	[[noreturn]] void ThrowHandshakeError(int ret) const;
	/** @return the reason for MBEDTLS_X509_BADCERT_CN_MISMATCH, naming the server
	 * name or address and what the certificate holds instead */
	std::string NameMismatch() const;
	/** @return the TlsVerify message for mbedTLS verification flags @p flags */
	std::string VerifyMessage(std::uint32_t flags) const;
	/** @return the reasons of VerifyMessage(), without the prefix naming the
	 * server */
	std::string VerifyReasons(std::uint32_t flags) const;
	/** @return "fingerprint mismatch: expected ...; the server presented ..." */
	std::string FingerprintMismatch() const;

	/** SNI and verification name, as configured. */
	std::string server_name_;
	/** The address in network byte order (4 or 16 octets) when server_name_ is an
	 * IP literal, else empty. */
	std::string server_ip_;
	/** "host:port" for messages. */
	std::string peer_;

	mbedtls_entropy_context entropy_;
	mbedtls_ctr_drbg_context drbg_;
	mbedtls_x509_crt ca_;
	/** The client certificate and its key, when configured. */
	mbedtls_x509_crt own_cert_;
	mbedtls_pk_context own_key_;
	mbedtls_ssl_config config_;
	mbedtls_ssl_context ssl_;

	/** Received ciphertext; bytes before input_pos_ are consumed. */
	std::string input_;
	std::size_t input_pos_ = 0;
	/** Ciphertext waiting for TakeOutput(). */
	std::string output_;

	/** Names the server certificate is valid for (subjectAltName, else CN), escaped.
	 */
	std::vector<std::string> leaf_names_;
	/** The same, apart: subjectAltName DNS names and IP addresses, and the CN(s) of a
	 * certificate without subjectAltName, for the IP literal message. */
	std::vector<std::string> leaf_dns_, leaf_ips_, leaf_cns_;
	/** "YYYY-MM-DD" of the validity bound that failed, from the verify callback. */
	std::string expired_on_, valid_from_;
	/** True if the expired or not-yet-valid certificate is an issuer, not the leaf.
	 */
	bool issuer_date_ = false;

	/** Pinned fingerprints (TlsOptions::fingerprints); empty = CA checks. */
	std::vector<TlsFingerprint> pins_;
	/** TlsOptions::min_version, for the message when the server has only older. */
	TlsVersion min_version_;
	/** The leaf's two SHA-256 digests, taken in OnVerify(). */
	Sha256Digest leaf_sha256_{}, leaf_spki_sha256_{};
	/** The leaf matched a pin (only with pins_). */
	bool pin_matched_ = false;
	/** See the constructor. */
	bool report_untrusted_ = false;

	/** The master secret of the session given to OfferSession(), to tell a resumed
	 * handshake from a full one; wiped by the destructor. */
	unsigned char offered_master_[48] = {};
	bool offered_ = false;
	/** See Resumed(). */
	bool resumed_ = false;
	/** Handshake() has returned true. */
	bool established_ = false;
};

} // namespace popstream::net
