#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <mbedtls/ssl_cache.h>

namespace popstream::test {

/**
 * The server's side of one accepted connection, used from the server thread with
 * blocking I/O. Plain TCP or TLS (mbedTLS server API); the script does not need to know
 * which. Reads give up after the receive timeout of the socket (20 s), so a broken test
 * cannot hang the server thread.
 */
class ServerPeer {
public:
	virtual ~ServerPeer() = default;

	/** @return bytes read into @p buffer (at most @p size), 0 on EOF, close_notify,
	 *          timeout or error */
	virtual std::size_t Read(char *buffer, std::size_t size) = 0;

	/** Sends all of @p data. @return false if the connection failed */
	virtual bool Write(std::string_view data) = 0;

	/** TLS: sends close_notify (RFC 5246 §7.2.1); plain: shuts down the sending side
	 * (FIN), so the client sees an orderly end either way. */
	virtual void CloseNotify() = 0;

	/** @return the accepted socket */
	virtual int Fd() const noexcept = 0;

	/** Reads until @p terminator has been received. @return everything read,
	 *          possibly ending early at EOF */
	std::string ReadUntil(std::string_view terminator);

	/** Reads until EOF (the client closed). @return the bytes received */
	std::string ReadToEnd();

	/** Makes the close at the end of the script abortive (SO_LINGER 0): the kernel
	 * sends a reset instead of a FIN, so the client reads ECONNRESET. */
	void Reset() noexcept;

	/** Batches the following writes into as few TCP segments as possible (TCP_CORK
	 * on) or sends what is batched (off). */
	void Cork(bool on) noexcept;
};

/** Certificate and key for LoopbackServer's TLS mode (PEM files). */
struct ServerTls {
	/** The server's certificate chain. */
	std::string cert_file;
	/** Its private key, unencrypted. */
	std::string key_file;
	/** If set, any other SNI name is refused with an unrecognized_name alert
	 * (RFC 6066 §3), as virtual-hosting servers do. */
	std::string only_sni = {};
	/** If set, runs on the cleartext connection before the handshake, as a POP3
	 * server does up to its reply to STLS (RFC 2595 §4). It must not read past the
	 * STLS line (ServerPeer::ReadUntil does not: the client waits for the reply). */
	std::function<void(ServerPeer &)> before_handshake = {};
	/** If set, the newest TLS version the server speaks, as mbedTLS's minor version
	 * (1 = TLS 1.0, 2 = 1.1), for clients' oldest-version setting (issue 11). */
	int max_tls_minor = 0;
	/** If set, the server keeps sessions there and resumes a session id a client
	 * offers (RFC 5246 §7.4.1.2); none = every handshake is a full one. Owned by
	 * the test, shared by the connections. */
	mbedtls_ssl_cache_context *session_cache = nullptr;
};

/**
 * A server on the loopback interface, run in a std::thread: it accepts one client
 * (waiting at most 20 s), optionally does the TLS handshake, then runs a script on the
 * connection, closes it and ends; or serves up to a given number of clients that way,
 * one after another. Failures in the thread are recorded, not thrown, so the test can
 * assert on them after Join().
 */
class LoopbackServer {
public:
	/** What the server does with the accepted connection. */
	using Script = std::function<void(ServerPeer &)>;

	/**
	 * Listens on an ephemeral port and starts the thread.
	 * @param script run after the (TLS) handshake; not run if the handshake fails
	 * @param tls certificate and key for implicit TLS; none = plain TCP
	 * @param ipv6 listen on ::1 instead of 127.0.0.1
	 * @param connections how many clients to serve in turn; after the first, the
	 *        server also stops waiting when Stop() is called
	 * @throws std::system_error if the socket cannot be set up
	 */
	explicit LoopbackServer(Script script, std::optional<ServerTls> tls = {},
				bool ipv6 = false, unsigned connections = 1);
	/** Stop(), then waits for the thread (see Join()). */
	~LoopbackServer();
	LoopbackServer(const LoopbackServer &) = delete;
	LoopbackServer &operator=(const LoopbackServer &) = delete;

	/** @return the TCP port listened on */
	std::uint16_t Port() const noexcept { return port_; }

	/** Waits until the thread has finished; safe to call more than once. */
	void Join();

	/** Makes the thread end once the connection it serves (if any) is over, without
	 * waiting for more clients; one already queued is still served. */
	void Stop() noexcept;

	/** @return how many connections were accepted so far */
	unsigned Accepted() const;

	/** @return the mbedTLS error text of a failed server handshake, or empty (call
	 *          after Join()) */
	std::string HandshakeError() const;

	/** @return the SNI host name the client sent on the last connection, or empty
	 *          (call after Join()) */
	std::string ServerName() const;

	/** @return a description of an unexpected failure in the thread, or empty */
	std::string Failure() const;

private:
	void Run(Script script, std::optional<ServerTls> tls,
		 unsigned connections) noexcept;
	void Serve(int fd, const Script &script, const std::optional<ServerTls> &tls);

	int listen_fd_ = -1;
	/** eventfd written by Stop(). */
	int stop_fd_ = -1;
	unsigned accepted_ = 0;
	std::uint16_t port_ = 0;
	mutable std::mutex mutex_;
	std::string handshake_error_, server_name_, failure_;
	std::thread thread_;
};

/**
 * A loopback listener that never accepts, with its accept queue already full (backlog 0
 * and filler connections), so the kernel drops further SYNs and a connect hangs until
 * the client gives up: a stand-in for a firewalled host.
 */
class StalledListener {
	int listen_fd_ = -1;
	int filler_fds_[2] = {-1, -1};
	std::uint16_t port_ = 0;

public:
	/** @throws std::system_error */
	StalledListener();
	~StalledListener();
	StalledListener(const StalledListener &) = delete;
	StalledListener &operator=(const StalledListener &) = delete;

	/** @return the TCP port listened on */
	std::uint16_t Port() const noexcept { return port_; }
};

/**
 * @return a loopback port that was free a moment ago and has nothing listening: bound
 *         and closed again, so connecting to it is refused
 */
std::uint16_t UnusedPort();

/** @return whether ::1 can be bound here (some containers have no IPv6 at all) */
bool HaveIpv6Loopback();

/**
 * Runs make-test-ca once per test process in a temporary directory.
 * @return that directory, holding ca.crt, server.crt/key, expired.crt/key, other-ca.crt
 */
const std::string &TestCaDir();

/**
 * Answers RFC 1939 commands for an empty maildrop until QUIT: enough for `dl` to log in,
 * list and quit, and for `serverinfo`.
 * @param capa the whole reply to CAPA, CRLFs and the final ".\r\n" included
 */
void ServeEmptyMaildrop(ServerPeer &peer, std::string_view capa);

} // namespace popstream::test
