#include "FakePop3Server.hxx"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <set>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

namespace popstream::test {

namespace {

/** Command lines longer than this are cut off; no client under test sends such lines,
 * and a runaway client must not make the server grow without bound. */
constexpr std::size_t max_input = 1 << 20;

/** Size of one chunk of a stream in cleartext; large enough that streaming gigabytes is
 * fast, small enough that a hang-up is noticed quickly. */
constexpr std::size_t stream_chunk = 64 * 1024;

/** The same under TLS: the largest plaintext one TLS record carries. */
constexpr std::size_t tls_stream_chunk = 16 * 1024;

/** How long a closing server waits for the client to hang up after its FIN. Long enough
 * for any client to react; short enough that a client that keeps the socket while
 * reconnecting costs one second, not a test timeout. */
constexpr int close_linger_ms = 1000;

[[noreturn]] void ThrowErrno(const char *what)
{
	throw std::system_error(errno, std::generic_category(), what);
}

std::string Upper(std::string_view s)
{
	std::string r(s);
	for (auto &ch : r)
		if (ch >= 'a' && ch <= 'z')
			ch = static_cast<char>(ch - 'a' + 'A');
	return r;
}

std::string_view Trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
		s.remove_suffix(1);
	return s;
}

/** Splits a command line into its upper-cased verb and trimmed arguments. */
void SplitCommand(std::string_view line, std::string &verb, std::string &args)
{
	line = Trim(line);
	const auto space = line.find(' ');
	verb = Upper(line.substr(0, space));
	args = space == std::string_view::npos
		   ? std::string()
		   : std::string(Trim(line.substr(space + 1)));
}

/**
 * Waits until @p fd has @p events or @p stop_fd is signalled.
 * @param timeout_ms -1 for no limit
 * @return 1 ready, 0 timed out, -1 stopped or failed
 */
int WaitFd(int fd, short events, int stop_fd, int timeout_ms) noexcept
{
	pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
	for (;;) {
		const int n = poll(fds, 2, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fds[1].revents != 0)
			return -1;
		if (n == 0)
			return 0;
		return 1;
	}
}

/** Byte transport of one connection: plain TCP or TLS over it. */
class Transport {
protected:
	int fd_;
	int stop_fd_;

public:
	Transport(int fd, int stop_fd) noexcept : fd_(fd), stop_fd_(stop_fd) {}
	virtual ~Transport()
	{
		if (fd_ >= 0)
			close(fd_);
	}

	/** @return the socket, which this transport no longer closes (STLS hands it to
	 *          a TLS transport) */
	int Release() noexcept
	{
		const int fd = fd_;
		fd_ = -1;
		return fd;
	}
	Transport(const Transport &) = delete;
	Transport &operator=(const Transport &) = delete;

	/** @return octets read (> 0), 0 at end of input, -1 on error or shutdown */
	virtual ssize_t Read(char *buffer, std::size_t size) noexcept = 0;

	/** Sends @p data as one write (one TLS record if it fits).
	 * @return false if the peer is gone or the server shuts down */
	virtual bool Write(std::string_view data) noexcept = 0;

	/** @return true if input arrives within @p timeout_ms */
	virtual bool WaitReadable(int timeout_ms) noexcept
	{
		return WaitFd(fd_, POLLIN, stop_fd_, timeout_ms) > 0;
	}

	/** Sends the protocol-level goodbye, if the transport has one. */
	virtual void Goodbye() noexcept {}

	/** FIN: sends the goodbye and shuts the sending side. */
	void ShutdownWrite() noexcept
	{
		Goodbye();
		shutdown(fd_, SHUT_WR);
	}

	/** RST: see AfterReply::Reset for why it first waits for the client's ACKs. */
	void Reset() noexcept
	{
		for (int i = 0; i < 100; ++i) {
			int unacked = 0;
			if (ioctl(fd_, SIOCOUTQ, &unacked) != 0 || unacked == 0)
				break;
			if (WaitFd(stop_fd_, POLLIN, stop_fd_, 10) != 0)
				return;
		}
		WaitFd(stop_fd_, POLLIN, stop_fd_, 100);
		const linger l{1, 0};
		setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
};

class PlainTransport final : public Transport {
public:
	using Transport::Transport;

	ssize_t Read(char *buffer, std::size_t size) noexcept override
	{
		for (;;) {
			if (WaitFd(fd_, POLLIN, stop_fd_, -1) <= 0)
				return -1;
			const ssize_t n = recv(fd_, buffer, size, 0);
			if (n < 0 && errno == EINTR)
				continue;
			return n;
		}
	}

	bool Write(std::string_view data) noexcept override
	{
		while (!data.empty()) {
			if (WaitFd(fd_, POLLOUT, stop_fd_, -1) <= 0)
				return false;
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
};

} // namespace

/** Server-side TLS configuration shared by every connection. */
struct detail::TlsConfig {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_ssl_config config;

	TlsConfig(const std::string &cert_file, const std::string &key_file)
	{
		mbedtls_entropy_init(&entropy);
		mbedtls_ctr_drbg_init(&drbg);
		mbedtls_x509_crt_init(&cert);
		mbedtls_pk_init(&key);
		mbedtls_ssl_config_init(&config);
		Check(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
					    nullptr, 0),
		      "seeding the DRBG");
		Check(mbedtls_x509_crt_parse_file(&cert, cert_file.c_str()),
		      ("loading " + cert_file).c_str());
		Check(mbedtls_pk_parse_keyfile(&key, key_file.c_str(), nullptr),
		      ("loading " + key_file).c_str());
		Check(mbedtls_ssl_config_defaults(&config, MBEDTLS_SSL_IS_SERVER,
						  MBEDTLS_SSL_TRANSPORT_STREAM,
						  MBEDTLS_SSL_PRESET_DEFAULT),
		      "TLS defaults");
		mbedtls_ssl_conf_rng(&config, mbedtls_ctr_drbg_random, &drbg);
		Check(mbedtls_ssl_conf_own_cert(&config, &cert, &key), "TLS certificate");
	}

	~TlsConfig()
	{
		mbedtls_ssl_config_free(&config);
		mbedtls_pk_free(&key);
		mbedtls_x509_crt_free(&cert);
		mbedtls_ctr_drbg_free(&drbg);
		mbedtls_entropy_free(&entropy);
	}

	TlsConfig(const TlsConfig &) = delete;
	TlsConfig &operator=(const TlsConfig &) = delete;

	static void Check(int rc, const char *what)
	{
		if (rc == 0)
			return;
		char text[200];
		mbedtls_strerror(rc, text, sizeof(text));
		throw std::runtime_error(std::string("fake POP3 server TLS: ") + what +
					 ": " + text);
	}
};

namespace {

/** Implicit TLS; every Write() is one mbedtls_ssl_write(), i.e. one record. */
class TlsTransport final : public Transport {
	std::shared_ptr<const detail::TlsConfig> tls_;
	mbedtls_ssl_context ssl_;

	static int Send(void *ctx, const unsigned char *data, std::size_t size)
	{
		auto &self = *static_cast<TlsTransport *>(ctx);
		for (;;) {
			if (WaitFd(self.fd_, POLLOUT, self.stop_fd_, -1) <= 0)
				return MBEDTLS_ERR_NET_SEND_FAILED;
			const ssize_t n = send(self.fd_, data, size, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return errno == EPIPE || errno == ECONNRESET
					   ? MBEDTLS_ERR_NET_CONN_RESET
					   : MBEDTLS_ERR_NET_SEND_FAILED;
			return static_cast<int>(n);
		}
	}

	static int Receive(void *ctx, unsigned char *data, std::size_t size)
	{
		auto &self = *static_cast<TlsTransport *>(ctx);
		for (;;) {
			if (WaitFd(self.fd_, POLLIN, self.stop_fd_, -1) <= 0)
				return MBEDTLS_ERR_NET_RECV_FAILED;
			const ssize_t n = recv(self.fd_, data, size, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
							   : MBEDTLS_ERR_NET_RECV_FAILED;
			return static_cast<int>(n);
		}
	}

public:
	TlsTransport(int fd, int stop_fd, std::shared_ptr<const detail::TlsConfig> tls)
	    : Transport(fd, stop_fd), tls_(std::move(tls))
	{
		mbedtls_ssl_init(&ssl_);
	}

	~TlsTransport() override { mbedtls_ssl_free(&ssl_); }

	/** @return false if the handshake failed (the client gave up or rejected us) */
	bool Handshake() noexcept
	{
		if (mbedtls_ssl_setup(&ssl_, &tls_->config) != 0)
			return false;
		mbedtls_ssl_set_bio(&ssl_, this, Send, Receive, nullptr);
		return mbedtls_ssl_handshake(&ssl_) == 0;
	}

	ssize_t Read(char *buffer, std::size_t size) noexcept override
	{
		const int n = mbedtls_ssl_read(
		    &ssl_, reinterpret_cast<unsigned char *>(buffer), size);
		if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == 0)
			return 0;
		return n < 0 ? -1 : n;
	}

	bool Write(std::string_view data) noexcept override
	{
		while (!data.empty()) {
			const int n = mbedtls_ssl_write(
			    &ssl_, reinterpret_cast<const unsigned char *>(data.data()),
			    data.size());
			if (n <= 0)
				return false;
			data.remove_prefix(static_cast<std::size_t>(n));
		}
		return true;
	}

	bool WaitReadable(int timeout_ms) noexcept override
	{
		return mbedtls_ssl_get_bytes_avail(&ssl_) > 0 ||
		       Transport::WaitReadable(timeout_ms);
	}

	void Goodbye() noexcept override { mbedtls_ssl_close_notify(&ssl_); }
};

} // namespace

/** State of the connection being served. */
struct FakePop3Server::Connection {
	/** 1-based. */
	unsigned number;
	std::unique_ptr<Transport> transport;
	WriteSchedule schedule;
	std::chrono::microseconds gap;
	bool one_command_per_read;
	Phase phase = Phase::Authorization;
	/** Argument of the last USER command. */
	std::string user;
	/** The maildrop as it was at login; message n is snapshot[n - 1]. */
	std::vector<Entry> snapshot;
	std::vector<bool> marked;
	/** Input not yet split into lines. */
	std::string input;
	/** Replies held back by WriteSchedule::Coalesced. */
	std::string pending;
	/** True once anything has been written, so the first write needs no gap. */
	bool wrote = false;
	/** The connection runs over TLS (implicit, or after STLS). */
	bool tls = false;
};

FakePop3Server::FakePop3Server()
{
	listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd_ < 0)
		ThrowErrno("socket");
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t length = sizeof(address);
	if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&address), sizeof(address)) !=
		0 ||
	    listen(listen_fd_, 16) != 0 ||
	    getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&address), &length) !=
		0) {
		close(listen_fd_);
		ThrowErrno("fake POP3 server: listen on 127.0.0.1");
	}
	port_ = ntohs(address.sin_port);
	stop_fd_ = eventfd(0, EFD_CLOEXEC);
	if (stop_fd_ < 0) {
		close(listen_fd_);
		ThrowErrno("eventfd");
	}
	thread_ = std::thread([this] { Run(); });
}

FakePop3Server::~FakePop3Server()
{
	const std::uint64_t one = 1;
	[[maybe_unused]] const auto n = write(stop_fd_, &one, sizeof(one));
	thread_.join();
	close(stop_fd_);
	close(listen_fd_);
}

void FakePop3Server::SetCredentials(std::string user, std::string password)
{
	const std::lock_guard lock(mutex_);
	user_ = std::move(user);
	password_ = std::move(password);
}

void FakePop3Server::SetCapabilities(std::vector<std::string> capabilities)
{
	const std::lock_guard lock(mutex_);
	capabilities_ = std::move(capabilities);
}

void FakePop3Server::AddMessage(std::string data, std::string uid)
{
	const std::lock_guard lock(mutex_);
	mailbox_.push_back({{std::move(data), std::move(uid)}, next_id_++});
}

void FakePop3Server::RemoveMessage(std::string_view uid)
{
	const std::lock_guard lock(mutex_);
	std::erase_if(mailbox_, [&](const Entry &e) { return e.message.uid == uid; });
}

std::vector<StoredMessage> FakePop3Server::Mailbox() const
{
	const std::lock_guard lock(mutex_);
	std::vector<StoredMessage> result;
	for (const auto &e : mailbox_)
		result.push_back(e.message);
	return result;
}

std::vector<std::string> FakePop3Server::RemainingUids() const
{
	const std::lock_guard lock(mutex_);
	std::vector<std::string> result;
	for (const auto &e : mailbox_)
		result.push_back(e.message.uid);
	return result;
}

void FakePop3Server::AddRule(ReplyRule rule)
{
	const std::lock_guard lock(mutex_);
	rules_.push_back(std::move(rule));
}

void FakePop3Server::Reply(std::string command, std::string bytes, AfterReply after,
			   unsigned connection)
{
	AddRule({std::move(command), connection, Phase::Any,
		 ScriptedReply(std::move(bytes), after)});
}

void FakePop3Server::Greeting(std::string bytes, AfterReply after, unsigned connection)
{
	Reply({}, std::move(bytes), after, connection);
}

void FakePop3Server::SetForgetDeletions(bool on)
{
	const std::lock_guard lock(mutex_);
	forget_deletions_ = on;
}

void FakePop3Server::ClearRules()
{
	const std::lock_guard lock(mutex_);
	rules_.clear();
}

void FakePop3Server::SetWriteSchedule(WriteSchedule schedule)
{
	const std::lock_guard lock(mutex_);
	schedule_ = schedule;
}

void FakePop3Server::SetWriteGap(std::chrono::microseconds gap)
{
	const std::lock_guard lock(mutex_);
	gap_ = gap;
}

void FakePop3Server::SetOneCommandPerRead(bool on)
{
	const std::lock_guard lock(mutex_);
	one_command_per_read_ = on;
}

void FakePop3Server::EnableTls(const std::string &cert_file, const std::string &key_file)
{
	auto tls = std::make_shared<detail::TlsConfig>(cert_file, key_file);
	const std::lock_guard lock(mutex_);
	tls_ = std::move(tls);
}

unsigned FakePop3Server::ConnectionCount() const
{
	const std::lock_guard lock(mutex_);
	return static_cast<unsigned>(records_.size());
}

std::vector<std::string> FakePop3Server::Commands(unsigned connection) const
{
	const std::lock_guard lock(mutex_);
	if (connection == 0 || connection > records_.size())
		return {};
	return records_[connection - 1].commands;
}

std::vector<std::string> FakePop3Server::AllCommands() const
{
	const std::lock_guard lock(mutex_);
	std::vector<std::string> result;
	for (const auto &r : records_)
		result.insert(result.end(), r.commands.begin(), r.commands.end());
	return result;
}

std::vector<std::string> FakePop3Server::DiscardedCommands(unsigned connection) const
{
	const std::lock_guard lock(mutex_);
	if (connection == 0 || connection > records_.size())
		return {};
	return records_[connection - 1].discarded;
}

std::uint64_t FakePop3Server::StreamedBytes(unsigned connection) const
{
	const std::lock_guard lock(mutex_);
	if (connection == 0 || connection > records_.size())
		return 0;
	return records_[connection - 1].streamed;
}

bool FakePop3Server::WaitIdle(std::chrono::milliseconds timeout)
{
	std::unique_lock lock(mutex_);
	// Two idle polls that both found the backlog empty: the second one started after
	// this call, so every connection made before it has been served completely.
	const auto target = idle_ticks_ + 2;
	return idle_cond_.wait_for(lock, timeout,
				   [&] { return !busy_ && idle_ticks_ >= target; });
}

std::string FakePop3Server::DotStuff(std::string_view message)
{
	std::string out;
	out.reserve(message.size() + message.size() / 64 + 5);
	bool line_start = true;
	for (const char ch : message) {
		if (line_start && ch == '.')
			out += '.';
		out += ch;
		line_start = ch == '\n';
	}
	if (!line_start)
		out += "\r\n";
	out += ".\r\n";
	return out;
}

void FakePop3Server::Run() noexcept
{
	for (;;) {
		pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
		const int n = poll(fds, 2, 10);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fds[1].revents != 0)
			return;
		if (n == 0) {
			const std::lock_guard lock(mutex_);
			++idle_ticks_;
			idle_cond_.notify_all();
			continue;
		}
		const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		{
			const std::lock_guard lock(mutex_);
			busy_ = true;
		}
		try {
			Serve(fd);
		} catch (...) {
			// Only allocation can throw here; the connection is dropped and
			// the test sees the client's reaction.
		}
		const std::lock_guard lock(mutex_);
		busy_ = false;
		idle_cond_.notify_all();
	}
}

void FakePop3Server::Serve(int fd)
{
	const int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	Connection c;
	std::shared_ptr<const detail::TlsConfig> tls;
	{
		const std::lock_guard lock(mutex_);
		records_.emplace_back();
		c.number = static_cast<unsigned>(records_.size());
		c.schedule = schedule_;
		c.gap = gap_;
		c.one_command_per_read = one_command_per_read_;
		tls = tls_;
	}
	if (tls) {
		auto transport = std::make_unique<TlsTransport>(fd, stop_fd_, tls);
		const bool ok = transport->Handshake();
		c.transport = std::move(transport);
		c.tls = true;
		if (!ok)
			return;
	} else
		c.transport = std::make_unique<PlainTransport>(fd, stop_fd_);

	ScriptedReply greeting("+OK POP3 ready\r\n");
	FindRule(c, true, {}, {}, greeting);
	if (!Send(c, greeting))
		return;

	char buffer[16384];
	for (;;) {
		// Coalesced: replies wait while the client is still sending commands;
		// once it pauses, everything held back goes out in one write.
		if (!c.pending.empty() && !c.transport->WaitReadable(10) && !Flush(c))
			return;
		const ssize_t n = c.transport->Read(buffer, sizeof(buffer));
		if (n <= 0) {
			// The client hung up. In coalesced mode nothing can still be
			// pending: replies are flushed before every blocking read.
			return;
		}
		c.input.append(buffer, static_cast<std::size_t>(n));
		if (!c.tls) {
			const std::lock_guard lock(mutex_);
			records_[c.number - 1].cleartext.append(
			    buffer, static_cast<std::size_t>(n));
		}
		bool first = true;
		std::size_t eol;
		while ((eol = c.input.find('\n')) != std::string::npos) {
			std::string line = c.input.substr(0, eol);
			c.input.erase(0, eol + 1);
			if (!line.empty() && line.back() == '\r')
				line.pop_back();
			if (c.one_command_per_read && !first) {
				RecordCommand(c, line, true);
				continue;
			}
			first = false;
			if (!HandleLine(c, line))
				return;
		}
		if (c.one_command_per_read && !first)
			c.input.clear();
		if (c.input.size() > max_input)
			c.input.clear();
	}
}

void FakePop3Server::EnableStartTls(const std::string &cert_file,
				    const std::string &key_file,
				    std::vector<std::string> capabilities_before_tls)
{
	auto config = std::make_shared<detail::TlsConfig>(cert_file, key_file);
	const std::lock_guard lock(mutex_);
	starttls_ = std::move(config);
	if (capabilities_before_tls.empty()) {
		capabilities_before_tls = capabilities_;
		capabilities_before_tls.push_back("STLS");
	}
	capabilities_before_tls_ = std::move(capabilities_before_tls);
}

std::string FakePop3Server::CleartextInput(unsigned connection) const
{
	const std::lock_guard lock(mutex_);
	if (connection == 0 || connection > records_.size())
		return {};
	return records_[connection - 1].cleartext;
}

void FakePop3Server::RecordCommand(const Connection &c, const std::string &line,
				   bool discarded)
{
	const std::lock_guard lock(mutex_);
	auto &record = records_[c.number - 1];
	record.commands.push_back(line);
	if (discarded)
		record.discarded.push_back(line);
}

bool FakePop3Server::FindRule(const Connection &c, bool greeting, std::string_view verb,
			      std::string_view args, ScriptedReply &out) const
{
	const std::lock_guard lock(mutex_);
	const ReplyRule *best = nullptr;
	int best_score = -1;
	for (const auto &rule : rules_) {
		if (rule.connection != 0 && rule.connection != c.number)
			continue;
		if (rule.phase != Phase::Any && rule.phase != c.phase)
			continue;
		std::string rule_verb, rule_args;
		SplitCommand(rule.command, rule_verb, rule_args);
		const bool greeting_rule = rule_verb.empty() && !rule.empty_line;
		if (greeting != greeting_rule)
			continue;
		if (!greeting && rule.empty_line != verb.empty())
			continue;
		if (!greeting && !rule.empty_line &&
		    (rule_verb != verb || (!rule_args.empty() && rule_args != args)))
			continue;
		const int score =
		    (rule.connection != 0 ? 2 : 0) + (rule_args.empty() ? 0 : 1);
		// ">=": among equally specific rules, the one added last wins.
		if (score >= best_score) {
			best = &rule;
			best_score = score;
		}
	}
	if (best == nullptr)
		return false;
	out = best->reply;
	return true;
}

bool FakePop3Server::HandleLine(Connection &c, const std::string &line)
{
	RecordCommand(c, line, false);
	std::string verb, args;
	SplitCommand(line, verb, args);

	ScriptedReply reply;
	if (FindRule(c, false, verb, args, reply)) {
		if (reply.logs_in && reply.bytes.starts_with("+OK") &&
		    c.phase == Phase::Authorization)
			Login(c);
		else if (reply.bytes.starts_with("+OK")) {
			// The scripted server claims success, so it did the work.
			const bool was_authorization = c.phase == Phase::Authorization;
			BuiltIn(c, verb, args);
			if (verb == "PASS" && was_authorization &&
			    c.phase == Phase::Authorization)
				Login(c);
		}
		if (verb == "QUIT" && reply.after == AfterReply::Continue)
			reply.after = AfterReply::Close;
	} else
		reply = BuiltIn(c, verb, args);
	if (!Send(c, reply))
		return false;
	if (verb == "STLS" && reply.bytes.starts_with("+OK") &&
	    reply.after == AfterReply::Continue)
		return StartTls(c);
	return true;
}

bool FakePop3Server::StartTls(Connection &c)
{
	std::shared_ptr<const detail::TlsConfig> tls;
	{
		const std::lock_guard lock(mutex_);
		tls = starttls_;
	}
	if (!tls || c.tls)
		return true;
	// RFC 2595 §4: what the client sent after STLS in cleartext is not a command
	// of the TLS session (it stays recorded as cleartext).
	c.input.clear();
	auto transport =
	    std::make_unique<TlsTransport>(c.transport->Release(), stop_fd_, tls);
	const bool ok = transport->Handshake();
	c.transport = std::move(transport);
	c.tls = true;
	return ok;
}

void FakePop3Server::Login(Connection &c)
{
	const std::lock_guard lock(mutex_);
	c.phase = Phase::Transaction;
	c.snapshot = mailbox_;
	c.marked.assign(c.snapshot.size(), false);
}

void FakePop3Server::Commit(Connection &c)
{
	std::set<std::uint64_t> gone;
	for (std::size_t i = 0; i < c.snapshot.size(); ++i)
		if (c.marked[i])
			gone.insert(c.snapshot[i].id);
	const std::lock_guard lock(mutex_);
	std::erase_if(mailbox_, [&](const Entry &e) { return gone.contains(e.id); });
}

ScriptedReply FakePop3Server::BuiltIn(Connection &c, const std::string &verb,
				      const std::string &args)
{
	auto ok = [](std::string bytes) { return ScriptedReply(std::move(bytes)); };
	const bool transaction = c.phase == Phase::Transaction;

	// Message number argument: index into the snapshot, or -1 if it names no
	// (undeleted) message.
	auto message_index = [&](std::string_view text) -> long {
		if (text.empty() || text.size() > 9 ||
		    !std::all_of(text.begin(), text.end(),
				 [](char ch) { return ch >= '0' && ch <= '9'; }))
			return -1;
		const long n = std::stol(std::string(text));
		if (n < 1 || static_cast<std::size_t>(n) > c.snapshot.size() ||
		    c.marked[static_cast<std::size_t>(n - 1)])
			return -1;
		return n - 1;
	};
	const auto no_such = ok("-ERR no such message\r\n");

	if (verb == "CAPA") {
		std::string bytes = "+OK Capability list follows\r\n";
		const std::lock_guard lock(mutex_);
		const bool before_tls = starttls_ && !c.tls;
		for (const auto &capability :
		     before_tls ? capabilities_before_tls_ : capabilities_)
			bytes += capability + "\r\n";
		return ok(bytes + ".\r\n");
	}
	if (verb == "STLS") {
		const std::lock_guard lock(mutex_);
		if (starttls_ && !c.tls && !transaction)
			return ok("+OK Begin TLS negotiation\r\n");
		return ok("-ERR unknown command\r\n");
	}
	if (verb == "QUIT") {
		bool forget;
		{
			const std::lock_guard lock(mutex_);
			forget = forget_deletions_;
		}
		if (transaction && !forget)
			Commit(c);
		return ScriptedReply("+OK bye\r\n", AfterReply::Close);
	}
	if (verb == "USER") {
		if (transaction)
			return ok("-ERR already logged in\r\n");
		c.user = args;
		return ok("+OK\r\n");
	}
	if (verb == "PASS") {
		if (transaction)
			return ok("-ERR already logged in\r\n");
		bool valid;
		{
			const std::lock_guard lock(mutex_);
			valid = c.user == user_ && args == password_;
		}
		if (!valid)
			return ok("-ERR [AUTH] invalid user name or password\r\n");
		Login(c);
		return ok("+OK maildrop ready\r\n");
	}
	static const std::set<std::string> transaction_verbs = {
	    "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "NOOP", "RSET"};
	if (!transaction_verbs.contains(verb))
		return ok("-ERR unknown command\r\n");
	if (!transaction)
		return ok("-ERR not logged in\r\n");

	if (verb == "NOOP")
		return ok("+OK\r\n");
	if (verb == "RSET") {
		c.marked.assign(c.snapshot.size(), false);
		return ok("+OK\r\n");
	}
	if (verb == "STAT") {
		std::size_t count = 0, octets = 0;
		for (std::size_t i = 0; i < c.snapshot.size(); ++i)
			if (!c.marked[i]) {
				++count;
				octets += c.snapshot[i].message.data.size();
			}
		return ok("+OK " + std::to_string(count) + " " + std::to_string(octets) +
			  "\r\n");
	}
	if (verb == "LIST" || verb == "UIDL") {
		auto item = [&](std::size_t i) {
			return std::to_string(i + 1) + " " +
			       (verb == "LIST"
				    ? std::to_string(c.snapshot[i].message.data.size())
				    : c.snapshot[i].message.uid);
		};
		if (!args.empty()) {
			const long i = message_index(args);
			return i < 0 ? no_such
				     : ok("+OK " + item(static_cast<std::size_t>(i)) +
					  "\r\n");
		}
		std::string bytes = "+OK\r\n";
		for (std::size_t i = 0; i < c.snapshot.size(); ++i)
			if (!c.marked[i])
				bytes += item(i) + "\r\n";
		return ok(bytes + ".\r\n");
	}
	std::string number, rest;
	SplitCommand(args, number, rest);
	const long i = message_index(number);
	if (i < 0)
		return no_such;
	const auto &data = c.snapshot[static_cast<std::size_t>(i)].message.data;
	if (verb == "DELE") {
		c.marked[static_cast<std::size_t>(i)] = true;
		return ok("+OK\r\n");
	}
	if (verb == "RETR")
		return ok("+OK " + std::to_string(data.size()) + " octets\r\n" +
			  DotStuff(data));
	// TOP n k: the header, the blank line and the first k body lines.
	if (rest.empty() || rest.size() > 9 ||
	    !std::all_of(rest.begin(), rest.end(),
			 [](char ch) { return ch >= '0' && ch <= '9'; }))
		return ok("-ERR bad TOP arguments\r\n");
	long lines = std::stol(rest);
	std::size_t end = data.find("\r\n\r\n");
	end = end == std::string::npos ? data.size() : end + 4;
	while (end < data.size() && lines-- > 0) {
		const auto eol = data.find('\n', end);
		end = eol == std::string::npos ? data.size() : eol + 1;
	}
	return ok("+OK\r\n" + DotStuff(std::string_view(data).substr(0, end)));
}

bool FakePop3Server::Send(Connection &c, const ScriptedReply &reply)
{
	bool alive;
	if (c.schedule == WriteSchedule::Coalesced) {
		c.pending += reply.bytes;
		alive = reply.after == AfterReply::Continue && reply.stream_unit.empty()
			    ? true
			    : Flush(c);
	} else
		alive = WritePieces(c, reply.bytes);
	if (alive && !reply.stream_unit.empty())
		alive = Stream(c, reply);
	if (!alive)
		return false;

	switch (reply.after) {
	case AfterReply::Continue:
		return true;
	case AfterReply::Close:
		// Closing with unread input would make the kernel send an RST instead
		// of a FIN, and the client would see a reset where the script says
		// close: so shut the sending side and read until the client hangs up.
		c.transport->ShutdownWrite();
		Drain(c, close_linger_ms);
		return false;
	case AfterReply::Reset:
		RecordPendingLines(c, c.one_command_per_read);
		c.transport->Reset();
		return false;
	case AfterReply::Stall:
		// Answer nothing and wait for the client to give up.
		Drain(c, -1);
		return false;
	}
	return false;
}

void FakePop3Server::RecordPendingLines(Connection &c, bool discarded)
{
	std::size_t eol;
	while ((eol = c.input.find('\n')) != std::string::npos) {
		std::string line = c.input.substr(0, eol);
		c.input.erase(0, eol + 1);
		if (!line.empty() && line.back() == '\r')
			line.pop_back();
		RecordCommand(c, line, discarded);
	}
	if (c.input.size() > max_input)
		c.input.clear();
}

void FakePop3Server::Drain(Connection &c, int timeout_ms)
{
	// Lines that arrived with the command just answered were never handled; in
	// one-command-per-read mode they were thrown away with the rest of that read.
	RecordPendingLines(c, c.one_command_per_read);
	const auto deadline =
	    std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	char buffer[4096];
	for (;;) {
		if (timeout_ms >= 0) {
			const auto left =
			    std::chrono::duration_cast<std::chrono::milliseconds>(
				deadline - std::chrono::steady_clock::now());
			if (left.count() <= 0 ||
			    !c.transport->WaitReadable(static_cast<int>(left.count())))
				return;
		}
		const ssize_t n = c.transport->Read(buffer, sizeof(buffer));
		if (n <= 0)
			return;
		c.input.append(buffer, static_cast<std::size_t>(n));
		RecordPendingLines(c, false);
	}
}

bool FakePop3Server::Flush(Connection &c)
{
	std::string bytes;
	bytes.swap(c.pending);
	return bytes.empty() || c.transport->Write(bytes);
}

bool FakePop3Server::WritePieces(Connection &c, std::string_view bytes)
{
	if (bytes.empty())
		return true;
	std::vector<std::size_t> cuts;
	auto cut_terminators = [&](std::size_t offset) {
		for (auto p = bytes.find("\r\n.\r\n"); p != std::string_view::npos;
		     p = bytes.find("\r\n.\r\n", p + 1))
			cuts.push_back(p + offset);
	};
	switch (c.schedule) {
	case WriteSchedule::Whole:
	case WriteSchedule::Coalesced:
		break;
	case WriteSchedule::OneByte:
		for (std::size_t i = 1; i < bytes.size(); ++i)
			cuts.push_back(i);
		break;
	case WriteSchedule::SplitCrLf:
		for (auto p = bytes.find("\r\n"); p != std::string_view::npos;
		     p = bytes.find("\r\n", p + 1))
			cuts.push_back(p + 1);
		break;
	case WriteSchedule::SplitTerminatorAfterDot:
		cut_terminators(3);
		break;
	case WriteSchedule::SplitTerminatorBeforeDot:
		cut_terminators(2);
		break;
	case WriteSchedule::SplitTerminatorBeforeLf:
		cut_terminators(4);
		break;
	case WriteSchedule::SplitStuffedDots:
		for (auto p = bytes.find("\n.."); p != std::string_view::npos;
		     p = bytes.find("\n..", p + 1))
			cuts.push_back(p + 2);
		break;
	}
	cuts.push_back(bytes.size());

	const bool gaps =
	    c.schedule != WriteSchedule::Whole && c.schedule != WriteSchedule::Coalesced;
	std::size_t begin = 0;
	for (const auto end : cuts) {
		if (gaps && c.wrote)
			std::this_thread::sleep_for(c.gap);
		if (!c.transport->Write(bytes.substr(begin, end - begin)))
			return false;
		c.wrote = true;
		begin = end;
	}
	return true;
}

bool FakePop3Server::Stream(Connection &c, const ScriptedReply &reply)
{
	std::size_t chunk_size =
	    dynamic_cast<TlsTransport *>(c.transport.get()) != nullptr ? tls_stream_chunk
								       : stream_chunk;
	if (reply.stream_chunk != 0)
		chunk_size = std::min(chunk_size, reply.stream_chunk);
	// Whole units only, so each chunk continues the pattern where the last one
	// ended; the chunk is built once, whatever the length of the stream.
	std::string chunk;
	while (chunk.size() + reply.stream_unit.size() <= chunk_size || chunk.empty())
		chunk += reply.stream_unit;

	std::uint64_t sent = 0;
	while (sent < reply.stream_limit) {
		const auto size = static_cast<std::size_t>(
		    std::min<std::uint64_t>(chunk.size(), reply.stream_limit - sent));
		if (!c.transport->Write(std::string_view(chunk).substr(0, size)))
			return false;
		sent += size;
		{
			const std::lock_guard lock(mutex_);
			records_[c.number - 1].streamed = sent;
		}
		if (reply.stream_pause.count() > 0 &&
		    WaitFd(stop_fd_, POLLIN, stop_fd_,
			   static_cast<int>(reply.stream_pause.count())) != 0)
			return false;
	}
	return true;
}

} // namespace popstream::test
