#include "Connection.hxx"
#include "Describe.hxx"
#include "TlsLayer.hxx"
#include "core/util/Escape.hxx"

#include <array>
#include <cassert>
#include <cstring>
#include <deque>
#include <netdb.h>
#include <netinet/in.h>
#include <optional>
#include <sys/socket.h>
#include <vector>

namespace popstream::net {

namespace {

/** One read: big enough that a fast RETR stream costs few callbacks, and the size
 * libuv suggests for streams anyway. */
constexpr std::size_t kReadBufferBytes = 64 * 1024;

/** The most plaintext one TLS record carries (RFC 5246 §6.2.1, 2^14 bytes). */
constexpr std::size_t kTlsPlainBytes = 16 * 1024;

/** With TLS, plaintext is encrypted only while less ciphertext than this waits in
 * libuv: it bounds the copies in memory and keeps PendingWriteBytes() close to the
 * truth, which the caller uses to bound its own queue. */
constexpr std::size_t kTlsWriteHighWater = 64 * 1024;

/**
 * One TCP attempt. A handle whose connect failed cannot be reused, so each address gets
 * a fresh one. The connect request lives beside it because libuv completes the request
 * (with UV_ECANCELED at worst) before the handle's close callback frees both.
 */
struct Socket {
	uv_tcp_t tcp;
	uv_connect_t connect;
};

/** A write in flight; owns its bytes until libuv is done with them. */
struct WriteRequest {
	uv_write_t req;
	std::string data;
};

} // namespace

/**
 * The state of a connection. It is heap-allocated apart from Connection because the
 * libuv handles inside it must stay valid until their close callbacks have run, which is
 * after Connection may have been destroyed: ~Connection hands ownership to the Impl
 * itself (owner_gone), and the last close callback deletes it.
 */
struct Connection::Impl {
	/** Where the connection is; callbacks check it to ignore late libuv events. */
	enum class State {
		/** Connect() not called yet. */
		Idle,
		/** uv_getaddrinfo() is running. */
		Resolving,
		/** uv_tcp_connect() to addresses[next_address - 1] is running. */
		Connecting,
		/** TCP is up; the TLS handshake is running. */
		Handshaking,
		/** OnConnected() was (or is being) called; data flows. */
		Connected,
		/** An error was found inside an API call; OnEnd() comes from a 0 ms
		   timer. */
		Ending,
		/** OnEnd() was called, or Close(): no more callbacks. */
		Done,
	};

	Impl(uv_loop_t &_loop, ConnectionHandler &_handler) noexcept
	    : loop(_loop), handler(_handler)
	{
	}

	uv_loop_t &loop;
	ConnectionHandler &handler;
	Endpoint endpoint;
	Timeouts timeouts;
	/** "host:port" for messages. */
	std::string peer;
	State state = State::Idle;

	/** Also delivers deferred errors, so it exists whenever OnEnd() may be due. */
	uv_timer_t connect_timer;
	uv_timer_t idle_timer;
	bool timers_open = false;
	uv_getaddrinfo_t resolve_request;
	bool resolve_pending = false;
	Socket *socket = nullptr;
	/** Handles initialised and not yet through their close callback. */
	unsigned open_handles = 0;

	std::vector<sockaddr_storage> addresses;
	std::size_t next_address = 0;
	/** The addresses tried so far, for the error message. */
	std::string tried;
	int last_connect_error = 0;

	std::unique_ptr<TlsLayer> tls;
	/** The handshake in progress upgrades an established cleartext connection. */
	bool upgrading = false;

	/** Plaintext not yet handed to libuv (or to TLS); the front may be partly sent.
	 */
	std::deque<std::string> out_queue;
	std::size_t out_offset = 0;
	std::size_t out_bytes = 0;

	std::optional<NetError> pending_error;
	/** libuv callbacks of ours on the stack. */
	unsigned busy = 0;
	/** Public calls (Connect, Write) on the stack: errors found there are deferred so
	 * that the handler is never re-entered from a call it made itself. */
	unsigned api_calls = 0;
	bool owner_gone = false;

	std::array<char, kReadBufferBytes> read_buffer;
	std::array<char, kTlsPlainBytes> plain_buffer;

	/** Keeps the Impl alive until the outermost callback returns. */
	class CallbackScope {
		Impl &impl_;

	public:
		explicit CallbackScope(Impl &impl) noexcept : impl_(impl)
		{
			++impl_.busy;
		}
		~CallbackScope()
		{
			if (--impl_.busy == 0)
				impl_.MaybeDelete();
		}
		CallbackScope(const CallbackScope &) = delete;
		CallbackScope &operator=(const CallbackScope &) = delete;
	};

	/** Marks a public call in progress. */
	class ApiScope {
		Impl &impl_;

	public:
		explicit ApiScope(Impl &impl) noexcept : impl_(impl)
		{
			++impl_.api_calls;
		}
		~ApiScope() { --impl_.api_calls; }
		ApiScope(const ApiScope &) = delete;
		ApiScope &operator=(const ApiScope &) = delete;
	};

	bool Ended() const noexcept
	{
		return state == State::Ending || state == State::Done;
	}

	uv_stream_t *Stream() noexcept
	{
		return reinterpret_cast<uv_stream_t *>(&socket->tcp);
	}

	void MaybeDelete() noexcept
	{
		if (owner_gone && busy == 0 && open_handles == 0 && !resolve_pending)
			delete this;
	}

	void Connect(const Endpoint &_endpoint, const Timeouts &_timeouts);
	void StartTls();
	void Write(std::string bytes);
	std::size_t PendingWriteBytes() const noexcept;
	void Close() noexcept;
	void Release() noexcept;

	/** Sets up `tls` for the endpoint, reading the CA file. @return false if that
	 * failed; the connection has then failed too */
	bool CreateTls();
	/** Runs @p step, one mbedTLS call that may queue records, and sends what it
	 * queued. A NetError from it is fatal, and the alert mbedTLS queued for it is
	 * sent first (best effort) so that the server sees why we leave.
	 * @return false if the connection failed */
	template <typename Step>
	bool RunTlsStep(Step &&step);
	void TryNextAddress();
	void Established();
	void AdvanceHandshake();
	void ReadPlaintext();
	int PendingSocketError(int status) noexcept;
	void Flush();
	bool QueueWrite(std::string data);
	bool SendTlsOutput();
	void SendTlsOutputBestEffort() noexcept;
	void RestartIdleTimer() noexcept;

	void Fail(NetErrorKind kind, const std::string &message);
	void Fail(const NetError &error);
	void FailWrite(int status);
	void Deliver();
	void Shutdown(bool keep_connect_timer) noexcept;
	void CloseSocket() noexcept;
	void CloseTimer(uv_timer_t &timer) noexcept;

	static void OnResolved(uv_getaddrinfo_t *req, int status, addrinfo *result);
	static void OnTcpConnected(uv_connect_t *req, int status);
	static void OnAlloc(uv_handle_t *handle, std::size_t suggested, uv_buf_t *buf);
	static void OnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
	static void OnWritten(uv_write_t *req, int status);
	static void OnConnectTimer(uv_timer_t *timer);
	static void OnIdleTimer(uv_timer_t *timer);
	static void OnSocketClosed(uv_handle_t *handle);
	static void OnTimerClosed(uv_handle_t *handle);
};

void Connection::Impl::Connect(const Endpoint &_endpoint, const Timeouts &_timeouts)
{
	assert(state == State::Idle);
	if (state != State::Idle)
		return;
	ApiScope api(*this);
	endpoint = _endpoint;
	timeouts = _timeouts;
	peer = FormatPeer(endpoint.host, endpoint.port);

	uv_timer_init(&loop, &connect_timer);
	uv_timer_init(&loop, &idle_timer);
	connect_timer.data = this;
	idle_timer.data = this;
	open_handles += 2;
	timers_open = true;
	state = State::Resolving;
	if (timeouts.connect_ms > 0)
		uv_timer_start(&connect_timer, OnConnectTimer, timeouts.connect_ms, 0);

	if (endpoint.host.empty()) {
		Fail(NetErrorKind::Resolve,
		     "cannot resolve host '': the host name is empty");
		return;
	}
	if (endpoint.tls) {
		// Set up TLS (and read the CA file) before any network traffic, so that a
		// configuration mistake is reported as such and not as a network error.
		if (!CreateTls())
			return;
	}

	addrinfo hints{};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	// No AI_ADDRCONFIG: glibc ignores loopback addresses when deciding which
	// families are configured, so "localhost" fails on a host with only lo.
	hints.ai_flags = AI_NUMERICSERV;
	const std::string service = std::to_string(endpoint.port);
	resolve_request.data = this;
	const int status = uv_getaddrinfo(&loop, &resolve_request, OnResolved,
					  endpoint.host.c_str(), service.c_str(), &hints);
	if (status < 0) {
		Fail(NetErrorKind::Resolve, "cannot resolve host '" +
						Escape(endpoint.host, 256) +
						"': " + DescribeResolveError(status));
		return;
	}
	resolve_pending = true;
}

void Connection::Impl::OnResolved(uv_getaddrinfo_t *req, int status, addrinfo *result)
{
	auto &self = *static_cast<Impl *>(req->data);
	self.resolve_pending = false;
	CallbackScope scope(self);
	if (self.state != State::Resolving) {
		// Cancelled (UV_EAI_CANCELED) or finished after a timeout or Close().
		uv_freeaddrinfo(result);
		return;
	}
	if (status < 0) {
		uv_freeaddrinfo(result);
		self.Fail(NetErrorKind::Resolve,
			  "cannot resolve host '" + Escape(self.endpoint.host, 256) +
			      "': " + DescribeResolveError(status));
		return;
	}
	for (const addrinfo *ai = result; ai != nullptr; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(sockaddr_storage))
			continue;
		sockaddr_storage address{};
		std::memcpy(&address, ai->ai_addr, ai->ai_addrlen);
		self.addresses.push_back(address);
	}
	uv_freeaddrinfo(result);
	if (self.addresses.empty()) {
		self.Fail(NetErrorKind::Resolve, "cannot resolve host '" +
						     Escape(self.endpoint.host, 256) +
						     "': no IPv4 or IPv6 address");
		return;
	}
	self.state = State::Connecting;
	self.TryNextAddress();
}

void Connection::Impl::TryNextAddress()
{
	// Addresses are tried one after the other in getaddrinfo's order (RFC 6724),
	// each until it fails; the connect timer bounds the whole sequence.
	while (next_address < addresses.size()) {
		const auto &address =
		    reinterpret_cast<const sockaddr &>(addresses[next_address++]);
		if (!tried.empty())
			tried += ", ";
		tried += FormatAddress(address);

		auto *s = new Socket{};
		if (const int status = uv_tcp_init(&loop, &s->tcp); status < 0) {
			delete s;
			last_connect_error = status;
			continue;
		}
		s->tcp.data = this;
		s->connect.data = this;
		++open_handles;
		socket = s;
		const int status =
		    uv_tcp_connect(&s->connect, &s->tcp, &address, OnTcpConnected);
		if (status == 0)
			return;
		// E.g. UV_ENETUNREACH for IPv6 on a host without an IPv6 route.
		last_connect_error = status;
		CloseSocket();
	}

	std::string message =
	    "cannot connect to " + peer + ": " + DescribeUvError(last_connect_error);
	if (tried != Escape(endpoint.host, 256))
		message += " (tried " + tried + ")";
	Fail(last_connect_error == UV_ECONNREFUSED ? NetErrorKind::Refused
						   : NetErrorKind::Connect,
	     message);
}

void Connection::Impl::OnTcpConnected(uv_connect_t *req, int status)
{
	auto &self = *static_cast<Impl *>(req->data);
	CallbackScope scope(self);
	if (self.state != State::Connecting || status == UV_ECANCELED)
		return;
	assert(self.socket != nullptr && req == &self.socket->connect);
	if (status < 0) {
		self.last_connect_error = status;
		self.CloseSocket();
		self.TryNextAddress();
		return;
	}
	// POP3 commands are small and pipelined: Nagle's algorithm would hold each
	// batch back until the previous one is acknowledged.
	uv_tcp_nodelay(&self.socket->tcp, 1);
	if (const int rc = uv_read_start(self.Stream(), OnAlloc, OnRead); rc < 0) {
		self.Fail(NetErrorKind::Io, "connection to " + self.peer +
						" failed: " + DescribeUvError(rc));
		return;
	}
	if (self.tls) {
		self.state = State::Handshaking;
		self.AdvanceHandshake();
		if (self.state == State::Connected)
			self.ReadPlaintext();
	} else {
		self.Established();
	}
}

bool Connection::Impl::CreateTls()
{
	try {
		tls = std::make_unique<TlsLayer>(
		    endpoint.tls_name.empty() ? endpoint.host : endpoint.tls_name,
		    endpoint.tls_options, peer, endpoint.report_untrusted);
		if (!endpoint.tls_session.empty()) {
			tls->OfferSession(endpoint.tls_session);
			// The copy is no longer needed; do not leave the secret behind.
			std::fill(endpoint.tls_session.begin(),
				  endpoint.tls_session.end(), '\0');
			endpoint.tls_session.clear();
		}
		return true;
	} catch (const NetError &error) {
		Fail(error);
		return false;
	}
}

template <typename Step>
bool Connection::Impl::RunTlsStep(Step &&step)
{
	try {
		step();
	} catch (const NetError &error) {
		// mbedTLS has queued an alert; let the server see why we leave.
		SendTlsOutputBestEffort();
		Fail(error);
		return false;
	}
	return SendTlsOutput();
}

void Connection::Impl::AdvanceHandshake()
{
	bool done = false;
	if (!RunTlsStep([&] { done = tls->Handshake(); }))
		return;
	if (done)
		Established();
}

void Connection::Impl::Established()
{
	state = State::Connected;
	uv_timer_stop(&connect_timer);
	RestartIdleTimer();
	// Writes made before the connection was up go first, in order.
	Flush();
	if (state != State::Connected)
		return;
	if (upgrading) {
		upgrading = false;
		handler.OnTlsStarted();
		return;
	}
	handler.OnConnected();
}

void Connection::Impl::StartTls()
{
	assert(state == State::Connected && !tls);
	if (state != State::Connected || tls)
		return;
	ApiScope api(*this);
	if (!CreateTls())
		return;
	upgrading = true;
	state = State::Handshaking;
	if (timeouts.connect_ms > 0)
		uv_timer_start(&connect_timer, OnConnectTimer, timeouts.connect_ms, 0);
	AdvanceHandshake();
}

void Connection::Impl::OnAlloc(uv_handle_t *handle, std::size_t, uv_buf_t *buf)
{
	// One read is in flight at a time, and its bytes are consumed (passed to OnData
	// or to TLS) before the next, so one buffer serves every read.
	auto &self = *static_cast<Impl *>(handle->data);
	*buf = uv_buf_init(self.read_buffer.data(),
			   static_cast<unsigned>(self.read_buffer.size()));
}

void Connection::Impl::OnRead(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	auto &self = *static_cast<Impl *>(stream->data);
	CallbackScope scope(self);
	if (self.Ended() || nread == 0)
		return;
	if (nread < 0) {
		int status = static_cast<int>(nread);
		if (status == UV_EOF)
			status = self.PendingSocketError(status);
		if (status == UV_EOF && self.state == State::Handshaking)
			self.Fail(NetErrorKind::Tls,
				  "TLS handshake with " + self.peer +
				      " failed: connection closed by the "
				      "server");
		else if (status == UV_EOF)
			self.Fail(NetErrorKind::Closed,
				  "connection to " + self.peer + " closed by the server");
		else if (status == UV_ECONNRESET)
			self.Fail(NetErrorKind::Io,
				  "connection to " + self.peer + " reset by the server");
		else
			self.Fail(NetErrorKind::Io,
				  "connection to " + self.peer +
				      " failed: " + DescribeUvError(status));
		return;
	}

	const std::string_view bytes(buf->base, static_cast<std::size_t>(nread));
	if (self.state == State::Connected)
		self.RestartIdleTimer();
	if (!self.tls) {
		self.handler.OnData(bytes);
		return;
	}
	self.tls->PushInput(bytes);
	if (self.state == State::Handshaking) {
		self.AdvanceHandshake();
		// The server's first application data may share a read with Finished.
		if (self.state != State::Connected)
			return;
	}
	self.ReadPlaintext();
}

int Connection::Impl::PendingSocketError(int status) noexcept
{
	// When data and a reset arrive together, libuv (1.44, uv__stream_io) reads the
	// data and then reports EOF because of POLLHUP without another read(), so the
	// ECONNRESET is still pending in the socket and would be lost.
	uv_os_fd_t fd;
	if (uv_fileno(reinterpret_cast<const uv_handle_t *>(&socket->tcp), &fd) != 0)
		return status;
	int error = 0;
	socklen_t length = sizeof(error);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error == 0)
		return status;
	return uv_translate_sys_error(error);
}

void Connection::Impl::ReadPlaintext()
{
	while (state == State::Connected) {
		TlsLayer::ReadResult result;
		if (!RunTlsStep([&] { result = tls->Read(plain_buffer); }))
			return;
		if (result.closed) {
			Fail(NetErrorKind::Closed,
			     "connection to " + peer + " closed by the server");
			return;
		}
		if (result.size == 0)
			return;
		// The handler may Close() or destroy us here; the loop condition and
		// CallbackScope cover both.
		handler.OnData(std::string_view(plain_buffer.data(), result.size));
	}
}

void Connection::Impl::Write(std::string bytes)
{
	if (bytes.empty() || Ended())
		return;
	ApiScope api(*this);
	out_bytes += bytes.size();
	out_queue.push_back(std::move(bytes));
	Flush();
}

void Connection::Impl::Flush()
{
	if (state != State::Connected)
		return;
	if (!tls) {
		// libuv keeps its own ordered queue and tries to write at once.
		while (!out_queue.empty()) {
			std::string data = std::move(out_queue.front());
			out_queue.pop_front();
			out_bytes -= data.size();
			if (!QueueWrite(std::move(data)))
				return;
		}
		return;
	}
	while (!out_queue.empty() &&
	       uv_stream_get_write_queue_size(Stream()) < kTlsWriteHighWater) {
		const std::string &front = out_queue.front();
		std::size_t n = 0;
		try {
			n = tls->Write(std::string_view(front).substr(out_offset));
		} catch (const NetError &error) {
			Fail(error);
			return;
		}
		if (n == 0)
			// WANT_WRITE: the next Flush (after a write completes) repeats
			// the call with the same bytes, since the front is never
			// modified.
			break;
		out_offset += n;
		out_bytes -= n;
		if (out_offset == front.size()) {
			out_queue.pop_front();
			out_offset = 0;
		}
		if (!SendTlsOutput())
			return;
	}
}

bool Connection::Impl::QueueWrite(std::string data)
{
	auto *request = new WriteRequest{};
	request->data = std::move(data);
	request->req.data = this;
	const uv_buf_t buf = uv_buf_init(request->data.data(),
					 static_cast<unsigned>(request->data.size()));
	if (const int status = uv_write(&request->req, Stream(), &buf, 1, OnWritten);
	    status < 0) {
		delete request;
		FailWrite(status);
		return false;
	}
	return true;
}

bool Connection::Impl::SendTlsOutput()
{
	std::string output = tls->TakeOutput();
	return output.empty() || QueueWrite(std::move(output));
}

void Connection::Impl::SendTlsOutputBestEffort() noexcept
{
	// A final alert: uv_try_write sends what the kernel takes now and needs no
	// callback, so it cannot outlive the connection.
	const std::string output = tls->TakeOutput();
	if (output.empty() || socket == nullptr)
		return;
	const uv_buf_t buf = uv_buf_init(const_cast<char *>(output.data()),
					 static_cast<unsigned>(output.size()));
	uv_try_write(Stream(), &buf, 1);
}

void Connection::Impl::OnWritten(uv_write_t *req, int status)
{
	auto &self = *static_cast<Impl *>(req->data);
	delete reinterpret_cast<WriteRequest *>(req);
	CallbackScope scope(self);
	if (self.Ended() || status == UV_ECANCELED)
		return;
	if (status < 0) {
		self.FailWrite(status);
		return;
	}
	if (self.tls)
		self.Flush();
}

void Connection::Impl::FailWrite(int status)
{
	if (status == UV_ECONNRESET || status == UV_EPIPE)
		Fail(NetErrorKind::Io, "connection to " + peer + " reset by the server");
	else
		Fail(NetErrorKind::Io,
		     "cannot send to " + peer + ": " + DescribeUvError(status));
}

void Connection::Impl::RestartIdleTimer() noexcept
{
	if (timeouts.idle_ms > 0)
		uv_timer_start(&idle_timer, OnIdleTimer, timeouts.idle_ms, 0);
}

void Connection::Impl::OnConnectTimer(uv_timer_t *timer)
{
	auto &self = *static_cast<Impl *>(timer->data);
	CallbackScope scope(self);
	const char *phase = nullptr;
	switch (self.state) {
	case State::Ending:
		self.Deliver();
		return;
	case State::Resolving:
		phase = " while resolving the host name";
		break;
	case State::Connecting:
		phase = "";
		break;
	case State::Handshaking:
		phase = " during the TLS handshake";
		break;
	case State::Idle:
	case State::Connected:
	case State::Done:
		return;
	}
	self.Fail(NetErrorKind::ConnectTimeout,
		  "connection to " + self.peer + " timed out after " +
		      FormatSeconds(self.timeouts.connect_ms) + phase);
}

void Connection::Impl::OnIdleTimer(uv_timer_t *timer)
{
	auto &self = *static_cast<Impl *>(timer->data);
	CallbackScope scope(self);
	if (self.state != State::Connected)
		return;
	self.Fail(NetErrorKind::IdleTimeout, "no reply from " + self.peer + " for " +
						 FormatSeconds(self.timeouts.idle_ms));
}

void Connection::Impl::Fail(NetErrorKind kind, const std::string &message)
{
	Fail(NetError(kind, message));
}

void Connection::Impl::Fail(const NetError &error)
{
	if (Ended())
		return;
	const bool defer = api_calls > 0;
	Shutdown(defer);
	if (defer) {
		state = State::Ending;
		pending_error.emplace(error);
		uv_timer_start(&connect_timer, OnConnectTimer, 0, 0);
		return;
	}
	state = State::Done;
	handler.OnEnd(error);
}

void Connection::Impl::Deliver()
{
	state = State::Done;
	CloseTimer(connect_timer);
	const NetError error = std::move(*pending_error);
	pending_error.reset();
	handler.OnEnd(error);
}

void Connection::Impl::Shutdown(bool keep_connect_timer) noexcept
{
	if (timers_open) {
		CloseTimer(idle_timer);
		if (!keep_connect_timer)
			CloseTimer(connect_timer);
	}
	if (resolve_pending)
		// If it is already running, libuv still calls OnResolved later, which
		// is why resolve_pending keeps the Impl alive.
		uv_cancel(reinterpret_cast<uv_req_t *>(&resolve_request));
	CloseSocket();
	out_queue.clear();
	out_offset = 0;
	out_bytes = 0;
}

void Connection::Impl::CloseSocket() noexcept
{
	if (socket == nullptr)
		return;
	uv_close(reinterpret_cast<uv_handle_t *>(&socket->tcp), OnSocketClosed);
	socket = nullptr;
}

void Connection::Impl::CloseTimer(uv_timer_t &timer) noexcept
{
	auto *handle = reinterpret_cast<uv_handle_t *>(&timer);
	if (!uv_is_closing(handle))
		uv_close(handle, OnTimerClosed);
}

void Connection::Impl::OnSocketClosed(uv_handle_t *handle)
{
	auto &self = *static_cast<Impl *>(handle->data);
	delete reinterpret_cast<Socket *>(handle);
	--self.open_handles;
	self.MaybeDelete();
}

void Connection::Impl::OnTimerClosed(uv_handle_t *handle)
{
	auto &self = *static_cast<Impl *>(handle->data);
	--self.open_handles;
	self.MaybeDelete();
}

std::size_t Connection::Impl::PendingWriteBytes() const noexcept
{
	std::size_t bytes = out_bytes;
	if (state == State::Connected && socket != nullptr)
		bytes += uv_stream_get_write_queue_size(
		    reinterpret_cast<const uv_stream_t *>(&socket->tcp));
	return bytes;
}

void Connection::Impl::Close() noexcept
{
	if (state == State::Done)
		return;
	if (state == State::Connected && tls) {
		// Tells the server the end is deliberate (RFC 5246 §7.2.1); we do not
		// wait for its answer.
		tls->CloseNotify();
		SendTlsOutputBestEffort();
	}
	state = State::Done;
	pending_error.reset();
	Shutdown(false);
}

void Connection::Impl::Release() noexcept
{
	Close();
	owner_gone = true;
	MaybeDelete();
}

Connection::Connection(uv_loop_t &loop, ConnectionHandler &handler)
    : impl_(std::make_unique<Impl>(loop, handler))
{
}

Connection::~Connection()
{
	if (impl_)
		impl_.release()->Release();
}

void Connection::Connect(const Endpoint &endpoint, const Timeouts &timeouts)
{
	impl_->Connect(endpoint, timeouts);
}

std::optional<TlsInfo> Connection::Tls() const
{
	if (!impl_->tls || impl_->state != Impl::State::Connected)
		return std::nullopt;
	return impl_->tls->Info();
}

std::string Connection::TlsSession() const
{
	if (!impl_->tls || impl_->state != Impl::State::Connected)
		return {};
	return impl_->tls->SaveSession();
}

void Connection::StartTls()
{
	impl_->StartTls();
}

void Connection::Write(std::string bytes)
{
	impl_->Write(std::move(bytes));
}

bool Connection::PeerIsLoopback() const noexcept
{
	if (!impl_ || impl_->state != Impl::State::Connected || !impl_->socket)
		return false;
	sockaddr_storage peer{};
	int length = sizeof(peer);
	if (uv_tcp_getpeername(&impl_->socket->tcp, reinterpret_cast<sockaddr *>(&peer),
			       &length) != 0)
		return false;
	if (peer.ss_family == AF_INET) {
		const auto &v4 = reinterpret_cast<const sockaddr_in &>(peer);
		return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
	}
	if (peer.ss_family == AF_INET6) {
		const auto &v6 = reinterpret_cast<const sockaddr_in6 &>(peer).sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&v6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
	}
	return false;
}

void Connection::SetIdleTimeout(std::uint64_t ms) noexcept
{
	impl_->timeouts.idle_ms = ms;
	if (impl_->state != Impl::State::Connected)
		return;
	if (ms > 0)
		impl_->RestartIdleTimer();
	else
		uv_timer_stop(&impl_->idle_timer);
}

std::size_t Connection::PendingWriteBytes() const noexcept
{
	return impl_->PendingWriteBytes();
}

void Connection::Close() noexcept
{
	impl_->Close();
}

} // namespace popstream::net
