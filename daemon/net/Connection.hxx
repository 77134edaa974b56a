#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <uv.h>

namespace popstream::net {

/** Where and how to connect. */
struct Endpoint {
	/** DNS name or IP literal (IPv6 without brackets) for the TCP connection. */
	std::string host;
	/** TCP port. */
	std::uint16_t port = 0;
	/** Implicit TLS from the first byte (POP3S, RFC 8314 §3.3) when true. */
	bool tls = false;
	/** Name sent in SNI and checked against the certificate (RFC 6125); empty = host.
	 */
	std::string tls_name;
	/** PEM file of CAs to trust instead of the system store; empty = system store. */
	std::string ca_file;
};

/** Limits, in milliseconds. */
struct Timeouts {
	/** From the start of name resolution until the connection (and TLS handshake) is
	 * up. */
	std::uint64_t connect_ms = 30'000;
	/** Longest silence from the server once connected. */
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
	/** The TLS handshake failed for a reason other than the certificate check. */
	Tls,
	/** The server's certificate was rejected (expired, unknown CA, name mismatch...).
	 */
	TlsVerify,
};

/**
 * A network failure. what() is one line for the user, naming the host (and port), e.g.
 * "cannot connect to 127.0.0.1:1110: connection refused" or
 * "TLS: certificate of mail.example.com rejected: name mismatch (certificate is for
 * pop.example.com)". It never contains data the server sent except escaped.
 */
class NetError : public std::runtime_error {
	NetErrorKind kind_;

public:
	NetError(NetErrorKind kind, const std::string &message)
	    : std::runtime_error(message), kind_(kind)
	{
	}
	/** @return what went wrong */
	NetErrorKind Kind() const noexcept { return kind_; }
};

/** Receives the events of a Connection. Callbacks run on the loop thread. */
class ConnectionHandler {
public:
	virtual ~ConnectionHandler() = default;
	/** The connection (and, with TLS, the verified handshake) is up. */
	virtual void OnConnected() noexcept = 0;
	/**
	 * Bytes from the server (plaintext after TLS). @p bytes is only valid during the
	 * call. Never called with an empty view.
	 */
	virtual void OnData(std::string_view bytes) noexcept = 0;
	/**
	 * The connection ended and no more callbacks will come. Called exactly once after
	 * Connect(), unless Close() was called first.
	 * @param error why; Kind() == Closed for an orderly EOF from the server
	 */
	virtual void OnEnd(const NetError &error) noexcept = 0;
};

/**
 * A client connection over libuv, optionally with implicit TLS (mbedTLS). It only moves
 * bytes: the POP3 protocol lives in core/pop3/Session.
 *
 * The object may be destroyed at any time, including from inside one of its own
 * callbacks; libuv handles it owns are released asynchronously by the loop.
 */
class Connection {
	struct Impl;
	std::unique_ptr<Impl> impl_;

public:
	/**
	 * @param loop the loop that runs every callback; must outlive the connection's
	 *        handles (run the loop until it has no more handles before closing it)
	 * @param handler receives the events; must outlive this object
	 */
	Connection(uv_loop_t &loop, ConnectionHandler &handler);
	~Connection();
	Connection(const Connection &) = delete;
	Connection &operator=(const Connection &) = delete;

	/**
	 * Resolves the host asynchronously, tries each address in turn, then (with TLS)
	 * performs the handshake and verifies the certificate chain against
	 * Endpoint::ca_file or the system CA bundle and the name against
	 * Endpoint::tls_name (or host). Completion is reported through OnConnected() or
	 * OnEnd(). Call once.
	 */
	void Connect(const Endpoint &endpoint, const Timeouts &timeouts);

	/**
	 * Queues @p bytes for sending, in order, after any earlier writes (and after the
	 * TLS handshake). A write failure is reported through OnEnd(). Writes made before
	 * OnConnected() are sent once connected.
	 */
	void Write(std::string bytes);

	/**
	 * @return bytes passed to Write() that have not yet been handed to the kernel
	 *         (plaintext size); lets a caller bound its output queue
	 */
	std::size_t PendingWriteBytes() const noexcept;

	/** Closes at once without further callbacks (no TLS close_notify is awaited). */
	void Close() noexcept;
};

} // namespace popstream::net
