#include "LoopbackServer.hxx"

#include "Process.hxx"
#include "TempDir.hxx"
#include <algorithm>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

namespace popstream::test {

namespace {

/** Long enough for any test step, short enough that a broken test still ends. */
constexpr int kServerTimeoutSeconds = 20;

[[noreturn]] void ThrowErrno(const char *what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

std::string MbedtlsText(int ret)
{
	char buffer[160];
	mbedtls_strerror(ret, buffer, sizeof(buffer));
	return buffer;
}

class PlainPeer final : public ServerPeer {
	int fd_;

public:
	explicit PlainPeer(int fd) noexcept : fd_(fd) {}

	std::size_t Read(char *buffer, std::size_t size) override
	{
		for (;;) {
			const ssize_t n = recv(fd_, buffer, size, 0);
			if (n < 0 && errno == EINTR)
				continue;
			return n > 0 ? static_cast<std::size_t>(n) : 0;
		}
	}

	bool Write(std::string_view data) override
	{
		while (!data.empty()) {
			const ssize_t n =
			    send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return false;
			data.remove_prefix(static_cast<std::size_t>(n));
		}
		return true;
	}

	void CloseNotify() override { shutdown(fd_, SHUT_WR); }

	int Fd() const noexcept override { return fd_; }
};

/** mbedTLS server objects for one connection, freed in reverse order. */
class TlsPeer final : public ServerPeer {
	int fd_;
	mbedtls_net_context net_;
	mbedtls_entropy_context entropy_;
	mbedtls_ctr_drbg_context drbg_;
	mbedtls_x509_crt cert_;
	mbedtls_pk_context key_;
	mbedtls_ssl_config config_;
	mbedtls_ssl_context ssl_;
	std::string server_name_;

	std::string only_sni_;

	static int OnSni(void *ctx, mbedtls_ssl_context *, const unsigned char *name,
			 std::size_t length)
	{
		auto &self = *static_cast<TlsPeer *>(ctx);
		self.server_name_.assign(reinterpret_cast<const char *>(name), length);
		// Non-zero makes mbedTLS answer with a fatal unrecognized_name alert.
		return self.only_sni_.empty() || self.only_sni_ == self.server_name_ ? 0
										     : -1;
	}

	void Check(int ret, const char *what)
	{
		if (ret != 0)
			throw std::runtime_error(std::string("test server: ") + what +
						 ": " + MbedtlsText(ret));
	}

public:
	explicit TlsPeer(int fd) noexcept : fd_(fd)
	{
		mbedtls_net_init(&net_);
		net_.fd = fd;
		mbedtls_entropy_init(&entropy_);
		mbedtls_ctr_drbg_init(&drbg_);
		mbedtls_x509_crt_init(&cert_);
		mbedtls_pk_init(&key_);
		mbedtls_ssl_config_init(&config_);
		mbedtls_ssl_init(&ssl_);
	}

	/** Loads the certificate and prepares the handshake. @throws std::runtime_error
	 */
	void Setup(const ServerTls &tls)
	{
		only_sni_ = tls.only_sni;
		Check(mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
					    nullptr, 0),
		      "seed");
		Check(mbedtls_x509_crt_parse_file(&cert_, tls.cert_file.c_str()),
		      "certificate");
		Check(mbedtls_pk_parse_keyfile(&key_, tls.key_file.c_str(), nullptr),
		      "key");
		Check(mbedtls_ssl_config_defaults(&config_, MBEDTLS_SSL_IS_SERVER,
						  MBEDTLS_SSL_TRANSPORT_STREAM,
						  MBEDTLS_SSL_PRESET_DEFAULT),
		      "config");
		mbedtls_ssl_conf_rng(&config_, mbedtls_ctr_drbg_random, &drbg_);
		if (tls.max_tls_minor != 0) {
			mbedtls_ssl_conf_min_version(&config_,
						     MBEDTLS_SSL_MAJOR_VERSION_3,
						     MBEDTLS_SSL_MINOR_VERSION_1);
			mbedtls_ssl_conf_max_version(
			    &config_, MBEDTLS_SSL_MAJOR_VERSION_3, tls.max_tls_minor);
		}
		Check(mbedtls_ssl_conf_own_cert(&config_, &cert_, &key_), "own cert");
		if (tls.session_cache != nullptr)
			mbedtls_ssl_conf_session_cache(&config_, tls.session_cache,
						       mbedtls_ssl_cache_get,
						       mbedtls_ssl_cache_set);
		mbedtls_ssl_conf_sni(&config_, OnSni, this);
		Check(mbedtls_ssl_setup(&ssl_, &config_), "setup");
		mbedtls_ssl_set_bio(&ssl_, &net_, mbedtls_net_send, mbedtls_net_recv,
				    nullptr);
	}

	~TlsPeer() override
	{
		mbedtls_ssl_free(&ssl_);
		mbedtls_ssl_config_free(&config_);
		mbedtls_pk_free(&key_);
		mbedtls_x509_crt_free(&cert_);
		mbedtls_ctr_drbg_free(&drbg_);
		mbedtls_entropy_free(&entropy_);
		// The fd belongs to LoopbackServer; mbedtls_net_free() would close it.
	}

	/** @return empty on success, else the mbedTLS error text */
	std::string Handshake()
	{
		const int ret = mbedtls_ssl_handshake(&ssl_);
		return ret == 0 ? std::string() : MbedtlsText(ret);
	}

	const std::string &ServerName() const noexcept { return server_name_; }

	std::size_t Read(char *buffer, std::size_t size) override
	{
		const int ret = mbedtls_ssl_read(
		    &ssl_, reinterpret_cast<unsigned char *>(buffer), size);
		return ret > 0 ? static_cast<std::size_t>(ret) : 0;
	}

	bool Write(std::string_view data) override
	{
		while (!data.empty()) {
			const int ret = mbedtls_ssl_write(
			    &ssl_, reinterpret_cast<const unsigned char *>(data.data()),
			    data.size());
			if (ret <= 0)
				return false;
			data.remove_prefix(static_cast<std::size_t>(ret));
		}
		return true;
	}

	void CloseNotify() override { mbedtls_ssl_close_notify(&ssl_); }

	int Fd() const noexcept override { return fd_; }
};

} // namespace

std::string ServerPeer::ReadUntil(std::string_view terminator)
{
	std::string received;
	char buffer[4096];
	while (received.find(terminator) == std::string::npos) {
		const std::size_t n = Read(buffer, sizeof(buffer));
		if (n == 0)
			break;
		received.append(buffer, n);
	}
	return received;
}

std::string ServerPeer::ReadToEnd()
{
	std::string received;
	char buffer[65536];
	while (const std::size_t n = Read(buffer, sizeof(buffer)))
		received.append(buffer, n);
	return received;
}

void ServerPeer::Reset() noexcept
{
	const linger abortive{1, 0};
	setsockopt(Fd(), SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
}

void ServerPeer::Cork(bool on) noexcept
{
	const int value = on ? 1 : 0;
	setsockopt(Fd(), IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
}

LoopbackServer::LoopbackServer(Script script, std::optional<ServerTls> tls, bool ipv6,
			       unsigned connections)
{
	stop_fd_ = eventfd(0, EFD_CLOEXEC);
	if (stop_fd_ < 0)
		ThrowErrno("eventfd");
	listen_fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd_ < 0) {
		const int error = errno;
		close(stop_fd_);
		errno = error;
		ThrowErrno("socket");
	}
	sockaddr_storage address{};
	socklen_t length = 0;
	if (ipv6) {
		auto &a6 = reinterpret_cast<sockaddr_in6 &>(address);
		a6.sin6_family = AF_INET6;
		a6.sin6_addr = in6addr_loopback;
		length = sizeof(a6);
	} else {
		auto &a4 = reinterpret_cast<sockaddr_in &>(address);
		a4.sin_family = AF_INET;
		a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		length = sizeof(a4);
	}
	if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
	    listen(listen_fd_, 4) != 0 ||
	    getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&address), &length) !=
		0) {
		const int error = errno;
		close(listen_fd_);
		close(stop_fd_);
		errno = error;
		ThrowErrno("bind/listen");
	}
	port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6 &>(address).sin6_port
			   : reinterpret_cast<sockaddr_in &>(address).sin_port);
	thread_ = std::thread(&LoopbackServer::Run, this, std::move(script),
			      std::move(tls), connections);
}

LoopbackServer::~LoopbackServer()
{
	Stop();
	Join();
	close(listen_fd_);
	close(stop_fd_);
}

void LoopbackServer::Stop() noexcept
{
	const std::uint64_t one = 1;
	[[maybe_unused]] const ssize_t n = write(stop_fd_, &one, sizeof(one));
}

unsigned LoopbackServer::Accepted() const
{
	std::lock_guard lock(mutex_);
	return accepted_;
}

void LoopbackServer::Join()
{
	if (thread_.joinable())
		thread_.join();
}

std::string LoopbackServer::HandshakeError() const
{
	std::lock_guard lock(mutex_);
	return handshake_error_;
}

std::string LoopbackServer::ServerName() const
{
	std::lock_guard lock(mutex_);
	return server_name_;
}

std::string LoopbackServer::Failure() const
{
	std::lock_guard lock(mutex_);
	return failure_;
}

void LoopbackServer::Run(Script script, std::optional<ServerTls> tls,
			 unsigned connections) noexcept
{
	for (unsigned i = 0; i < connections; ++i) {
		// The first client is always awaited, so that a test which never
		// connects reports it; later ones only until Stop().
		pollfd pfds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
		const int ready =
		    poll(pfds, i == 0 ? 1 : 2, kServerTimeoutSeconds * 1000);
		if (ready > 0 && (pfds[0].revents & POLLIN) == 0)
			return; // stopped, nobody waiting
		if (ready != 1 && ready != 2) {
			if (i == 0) {
				std::lock_guard lock(mutex_);
				failure_ = "no client connected";
			}
			return;
		}
		const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
		if (fd < 0) {
			std::lock_guard lock(mutex_);
			failure_ = std::string("accept: ") + std::strerror(errno);
			return;
		}
		{
			std::lock_guard lock(mutex_);
			++accepted_;
		}
		Serve(fd, script, tls);
		close(fd);
	}
}

void LoopbackServer::Serve(int fd, const Script &script,
			   const std::optional<ServerTls> &tls)
{
	const timeval timeout{kServerTimeoutSeconds, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	try {
		if (tls) {
			if (tls->before_handshake) {
				PlainPeer plain(fd);
				tls->before_handshake(plain);
			}
			TlsPeer peer(fd);
			peer.Setup(*tls);
			const std::string error = peer.Handshake();
			{
				std::lock_guard lock(mutex_);
				handshake_error_ = error;
				server_name_ = peer.ServerName();
			}
			if (error.empty())
				script(peer);
		} else {
			PlainPeer peer(fd);
			script(peer);
		}
	} catch (const std::exception &e) {
		std::lock_guard lock(mutex_);
		failure_ = e.what();
	}
}

StalledListener::StalledListener()
{
	listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t length = sizeof(address);
	if (listen_fd_ < 0 ||
	    bind(listen_fd_, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
	    listen(listen_fd_, 0) != 0 ||
	    getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&address), &length) != 0)
		ThrowErrno("stalled listener");
	port_ = ntohs(address.sin_port);
	// Linux queues backlog + 1 connections; non-blocking connects fill the queue
	// without waiting for the ones the kernel leaves hanging.
	for (int &fd : filler_fds_) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			ThrowErrno("socket");
		connect(fd, reinterpret_cast<sockaddr *>(&address), length);
	}
	// Let the first handshake complete, so the queue is full before the test.
	pollfd pfd{filler_fds_[0], POLLOUT, 0};
	poll(&pfd, 1, 2000);
}

StalledListener::~StalledListener()
{
	for (const int fd : filler_fds_)
		if (fd >= 0)
			close(fd);
	if (listen_fd_ >= 0)
		close(listen_fd_);
}

std::uint16_t UnusedPort()
{
	const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t length = sizeof(address);
	if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
	    getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0)
		ThrowErrno("bind");
	close(fd);
	return ntohs(address.sin_port);
}

bool HaveIpv6Loopback()
{
	const int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	sockaddr_in6 address{};
	address.sin6_family = AF_INET6;
	address.sin6_addr = in6addr_loopback;
	const bool ok =
	    bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof(address)) == 0;
	close(fd);
	return ok;
}

const std::string &TestCaDir()
{
	static const TempDir dir;
	static const std::string path = [] {
		const std::string script =
		    RequireEnv("POPSTREAM_SOURCE_ROOT") + "/tests/support/make-test-ca";
		ProcessOptions options;
		options.argv = {"sh", script, dir.Path()};
		const ProcessResult result = Run(options);
		if (result.exit_code != 0)
			throw std::runtime_error("make-test-ca failed: " + result.err);
		return dir.Path();
	}();
	return path;
}

void ServeEmptyMaildrop(ServerPeer &peer, std::string_view capa)
{
	peer.Write("+OK ready\r\n");
	std::string input;
	char buffer[4096];
	for (;;) {
		const auto eol = input.find("\r\n");
		if (eol == std::string::npos) {
			const std::size_t n = peer.Read(buffer, sizeof(buffer));
			if (n == 0)
				return;
			input.append(buffer, n);
			continue;
		}
		const std::string verb = input.substr(0, std::min(eol, input.find(' ')));
		input.erase(0, eol + 2);
		if (verb == "CAPA")
			peer.Write(std::string(capa));
		else if (verb == "USER" || verb == "PASS" || verb == "NOOP")
			peer.Write("+OK\r\n");
		else if (verb == "STAT")
			peer.Write("+OK 0 0\r\n");
		else if (verb == "LIST" || verb == "UIDL")
			peer.Write("+OK\r\n.\r\n");
		else if (verb == "QUIT") {
			peer.Write("+OK bye\r\n");
			peer.CloseNotify();
			peer.ReadToEnd();
			return;
		} else
			peer.Write("-ERR unknown command\r\n");
	}
}

} // namespace popstream::test
