#pragma once

#include "TlsInfo.hxx"
#include "core/spec/TlsOptions.hxx"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <uv.h>

namespace popstream::net {

/** Where and how to connect (an account's server, from core/spec/ConnectionSpec). */
struct Endpoint {
	/** DNS name or IP literal (IPv6 without brackets) for the TCP connection. */
	std::string host;
	/** TCP port. */
	std::uint16_t port = 0;
	/** Implicit TLS from the first byte (POP3S, RFC 8314 §3.3) when true. */
	bool tls = false;
	/**
	 * Name checked against the certificate; empty = host. A DNS name is sent in SNI
	 * (RFC 6066 §3) and matched against the subjectAltName dNSName entries, or the CN
	 * when there are none (RFC 6125 §6.4). An IP literal (IPv6 with or without
	 * brackets) is not sent, and matches only an iPAddress entry with the same
	 * octets (RFC 6125 §6.2.1).
	 */
	std::string tls_name;
	/**
	 * TlsOptions::ca_file: PEM (or DER) file of CAs to trust instead of the system
	 * store; empty = the bundle named by POPSTREAM_SYSTEM_CA_FILE (meson option
	 * system_ca_file). Pinned fingerprints (which replace the CA, name and date
	 * checks), the oldest TLS version, a client certificate and key. Files are read
	 * when TLS starts; a missing or unusable one ends the connection with Tls.
	 */
	TlsOptions tls_options;
	/**
	 * `popstream serverinfo` only: a certificate that fails verification does not
	 * end the connection; Connection::Tls() says why it is not trusted. Never set
	 * for a connection that sends a secret.
	 */
	bool report_untrusted = false;
	/**
	 * A TLS session saved by Connection::TlsSession() of an earlier connection, to
	 * resume (RFC 5246 §7.3, RFC 5077); empty = a full handshake. A secret. The
	 * caller must offer it only to the same server with the same #tls_name and
	 * #tls_options, since a resumed handshake checks no certificate (see
	 * TlsLayer::OfferSession()). A server that refuses it costs nothing: the
	 * handshake goes on in full and is verified as always. Ignored with
	 * #report_untrusted.
	 */
	std::string tls_session;
};

/** Limits, in milliseconds; 0 means no limit. */
struct Timeouts {
	/** From Connect() until OnConnected(): name resolution, every TCP attempt and
	 * the TLS handshake together. Ends with ConnectTimeout. */
	std::uint64_t connect_ms = 30'000;
	/** Longest silence from the server once connected; every received byte restarts
	 * it, writes do not. Ends with IdleTimeout. */
	std::uint64_t idle_ms = 180'000;
};

/** Why a connection failed or ended. */
enum class NetErrorKind {
	/** The host name does not resolve (EX_NOHOST). */
	Resolve,
	/** The server actively refused the TCP connection. */
	Refused,
	/** The network or host is unreachable, or another connect error. */
	Connect,
	/** No connection (or no TLS handshake) within Timeouts::connect_ms. */
	ConnectTimeout,
	/** The server sent nothing for Timeouts::idle_ms. */
	IdleTimeout,
	/** The server closed the connection (EOF, or TLS close_notify). */
	Closed,
	/** The connection was reset or a read or write failed. */
	Io,
	/** TLS could not be set up (Endpoint::ca_file missing or unusable), or the
	 * handshake failed for a reason other than the certificate check. */
	Tls,
	/** The server's certificate was rejected (expired, unknown CA, name mismatch...).
	 */
	TlsVerify,
};

/**
 * A network failure. what() is one line for the user, naming the host (and port), never
 * containing data the server sent except escaped. The formats, by kind:
 * - Resolve: "cannot resolve host 'NAME': <gai_strerror text>"
 * - Refused, Connect: "cannot connect to HOST:PORT: connection refused", plus
 *   " (tried ADDR, ADDR)" when HOST is a name
 * - ConnectTimeout: "connection to HOST:PORT timed out after 30 s", plus " while
 *   resolving the host name" or " during the TLS handshake"
 * - IdleTimeout: "no reply from HOST:PORT for 180 s"
 * - Closed: "connection to HOST:PORT closed by the server"
 * - Io: "connection to HOST:PORT reset by the server", "connection to HOST:PORT failed:
 *   <reason>", "cannot send to HOST:PORT: <reason>", "TLS error on the connection to
 * HOST:PORT: <mbedTLS text>"
 * - Tls: "TLS handshake with HOST:PORT failed: <reason>", "TLS: cannot read CA file
 *   'PATH': <reason>", "TLS: CA file 'PATH' holds no usable certificate", and for the
 *   client certificate "TLS: cannot read client certificate 'PATH': <reason>", "TLS:
 *   cannot read key file 'PATH': <reason>", "TLS: key file 'PATH' must not be
 *   accessible by group or others (mode 0644); run chmod 600 PATH", "TLS: key file
 *   'PATH' is encrypted; ...", "TLS: key file 'PATH' does not belong to the client
 *   certificate 'PATH'"
 * - TlsVerify: "TLS: certificate of NAME rejected: R1; R2" where each R is one of
 *   "unknown CA (not signed by a trusted authority)", "certificate expired on
 *   YYYY-MM-DD", "certificate not yet valid (valid from YYYY-MM-DD)", "name mismatch
 *   (certificate is for A, B)", for an IP literal "name mismatch: ADDR is not among the
 *   certificate's IP addresses (A, B), and its DNS names (C, D) never match an IP
 *   address" (or "(none)", or "its CN (C) never matches", or nothing after the
 *   addresses), "certificate revoked", "certificate not meant for a TLS server (key
 *   usage)", "weak or unsupported signature algorithm or key", and with pinned
 *   fingerprints only "fingerprint mismatch: expected PIN or PIN; the server
 *   presented AB:CD:... (public key sha256//...)"
 * IPv6 literals are bracketed: "[::1]:995". Durations under a second read "0.25 s".
 */
class NetError : public std::runtime_error {
	NetErrorKind kind_;

public:
	/** @param message one line, see above */
	NetError(NetErrorKind kind, const std::string &message)
	    : std::runtime_error(message), kind_(kind)
	{
	}
	/** @return what went wrong */
	NetErrorKind Kind() const noexcept { return kind_; }
};

/**
 * Checks a CA file before connecting, so that one that cannot be read or holds no
 * certificate is a configuration error rather than a failed connection: the same
 * parse as the handshake's. Nothing happens for an empty @p path (the system store).
 *
 * @throws NetError (Tls) naming the file and the problem
 */
void CheckCaFile(const std::string &path);

/**
 * Checks a client certificate and key before connecting, so that a mistake in them is
 * a configuration error rather than a failed connection: both parse, the key is not
 * encrypted, belongs to the certificate, and is not accessible by group or others.
 * Nothing happens when neither file is given.
 *
 * @throws NetError (Tls) naming the file and the problem (see NetErrorKind::Tls)
 */
void CheckClientCertificate(const TlsOptions &options);

/**
 * Describes everything that decides whether a server certificate is trusted, so that a
 * TLS session saved under one trust setting is never resumed under another (a resumed
 * handshake checks no certificate, RFC 5246 §7.3): the server name, the CA file (or
 * the system store POPSTREAM_SYSTEM_CA_FILE) with its device, inode, size and
 * modification time (so a file edited in place counts as changed), the pinned
 * fingerprints, the oldest TLS version, the client certificate and key (path and the
 * same identity), and the mbedTLS version. Files that cannot be examined are named
 * as such; nothing is read, nothing throws.
 * @param server_name the name the certificate is checked against
 * @param options the account's TLS settings
 * @return one text, equal for two calls only if nothing above changed; holds no
 *         secret (paths and public fingerprints only)
 */
std::string TlsTrustKey(const std::string &server_name, const TlsOptions &options);

/**
 * Receives the events of a Connection. Callbacks run on the loop thread, only from the
 * loop itself: never from inside Connect(), Write() or Close(). Any of them may call
 * Write() or Close(), or destroy the Connection.
 */
class ConnectionHandler {
public:
	virtual ~ConnectionHandler() = default;
	/** The connection (and, with TLS, the verified handshake) is up; called at most
	 * once, before any OnData(). Writes made before it are already on their way. */
	virtual void OnConnected() noexcept = 0;
	/**
	 * Bytes from the server (plaintext after TLS). @p bytes is only valid during the
	 * call. Never called with an empty view.
	 */
	virtual void OnData(std::string_view bytes) noexcept = 0;
	/**
	 * The connection ended and no more callbacks will come. Called exactly once after
	 * Connect(), unless Close() was called (or the Connection destroyed) first.
	 * @param error why; Kind() == Closed for an orderly EOF or TLS close_notify from
	 *        the server; only valid during the call
	 */
	virtual void OnEnd(const NetError &error) noexcept = 0;
	/**
	 * The TLS handshake started by Connection::StartTls() succeeded and the
	 * certificate was verified; data from now on is encrypted.
	 */
	virtual void OnTlsStarted() noexcept {}
};

/**
 * A client connection over libuv, optionally with implicit TLS (mbedTLS 2.28, TLS 1.2
 * minimum). It only moves bytes: the POP3 protocol lives in core/pop3/Session.
 *
 * The object may be destroyed at any time, including from inside one of its own
 * callbacks; destruction implies Close(). The libuv handles it owns are closed with
 * uv_close() and freed by their close callbacks, so the loop must run once more after
 * the destruction (uv_run until it returns 0) before uv_loop_close(). A host name whose
 * lookup is already running in libuv's thread pool keeps the loop alive until the
 * resolver returns.
 */
class Connection {
	struct Impl;
	std::unique_ptr<Impl> impl_;

public:
	/**
	 * Nothing happens until Connect(): no handle is created yet.
	 * @param loop the loop that runs every callback; must outlive the connection's
	 *        handles (run the loop until it has no more handles before closing it)
	 * @param handler receives the events; must outlive this object or Close()
	 */
	Connection(uv_loop_t &loop, ConnectionHandler &handler);
	/** Implies Close(); the handles are freed later by the loop. */
	~Connection();
	Connection(const Connection &) = delete;
	Connection &operator=(const Connection &) = delete;

	/**
	 * Resolves the host asynchronously (uv_getaddrinfo), tries each IPv4 and IPv6
	 * address in turn until one accepts, sets TCP_NODELAY, then (with TLS) performs
	 * the handshake and verifies the certificate chain against Endpoint::ca_file or
	 * the system CA bundle and the name against Endpoint::tls_name (or host).
	 * Completion is reported through OnConnected() or OnEnd(), never from inside this
	 * call (an unreadable CA file is reported from the loop too). Call once.
	 */
	void Connect(const Endpoint &endpoint, const Timeouts &timeouts);

	/**
	 * Queues @p bytes for sending, in order, after any earlier writes (and after the
	 * TLS handshake). A write failure is reported through OnEnd(), later. Writes made
	 * before OnConnected() (even before Connect()) are sent once connected; writes
	 * after OnEnd() or Close() are dropped. Empty writes are ignored.
	 */
	void Write(std::string bytes);

	/**
	 * @return bytes passed to Write() that have not yet been handed to the kernel;
	 *         lets a caller bound its output queue. With TLS, bytes already encrypted
	 *         count at their ciphertext size (about 30 bytes more per 16 KiB record),
	 *         and at most 64 KiB of ciphertext is queued ahead of the kernel.
	 */
	std::size_t PendingWriteBytes() const noexcept;

	/**
	 * Upgrades a cleartext connection to TLS in place (POP3 STLS, RFC 2595 §4): the
	 * handshake and the certificate check use Endpoint::tls_name (or host) and
	 * Endpoint::ca_file, within Timeouts::connect_ms. Success is reported through
	 * OnTlsStarted(), failure through OnEnd(). Call it only once the server has
	 * accepted STLS and before writing anything else; writes made meanwhile are
	 * sent encrypted once the handshake is done.
	 */
	void StartTls();

	/**
	 * @return what the TLS handshake negotiated and the server's certificate chain,
	 *         once OnConnected() (implicit TLS) or OnTlsStarted() has been called;
	 *         nothing before, or without TLS
	 */
	std::optional<TlsInfo> Tls() const;

	/**
	 * @return the TLS session of this connection, serialized for
	 *         Endpoint::tls_session of a later one (TlsLayer::SaveSession()), once
	 *         OnConnected() (implicit TLS) or OnTlsStarted() has been called; empty
	 *         before, without TLS, or when the server offered nothing to resume.
	 *         A secret: never log it.
	 */
	std::string TlsSession() const;

	/**
	 * Replaces Timeouts::idle_ms from now on and restarts the idle timer: for a
	 * reply known to take long, such as the one to QUIT after many DELEs (the
	 * server deletes before it answers, RFC 1939 §6). @param ms 0 = no idle
	 * timeout. No effect once the connection has ended.
	 */
	void SetIdleTimeout(std::uint64_t ms) noexcept;

	/**
	 * @return whether the connected peer is a loopback address (127.0.0.0/8, ::1, or
	 *         an IPv4-mapped 127.x): what is sent cannot be read on the way, as for
	 *         an ssh port forward. False before OnConnected() or if unknown.
	 */
	bool PeerIsLoopback() const noexcept;

	/**
	 * Closes at once without further callbacks. With TLS, a close_notify alert is
	 * sent if the socket takes it immediately; no answer is awaited. Unsent writes
	 * are dropped. Safe to call more than once, and before Connect().
	 */
	void Close() noexcept;
};

} // namespace popstream::net
