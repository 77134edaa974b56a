// net::Connection against in-process loopback servers (plain TCP and mbedTLS), with
// certificates made at test time by tests/support/make-test-ca.
#include "LoopbackServer.hxx"
#include "TempDir.hxx"
#include "net/Connection.hxx"
#include "net/Describe.hxx"
#include "net/TlsLayer.hxx"

#include <doctest/doctest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <functional>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace popstream::net;
using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

/** Enough to need many reads, many TLS records and libuv's write queue. */
constexpr std::size_t kBulkBytes = 4 * 1024 * 1024;

/**
 * A loop for one test. The destructor runs it until every handle is closed and checks
 * that uv_loop_close() succeeds, which proves that the Connection left nothing behind.
 */
class TestLoop {
public:
	uv_loop_t loop;

	TestLoop() { REQUIRE(uv_loop_init(&loop) == 0); }
	~TestLoop()
	{
		CHECK(Drain());
		CHECK(uv_loop_close(&loop) == 0);
	}
	TestLoop(const TestLoop &) = delete;
	TestLoop &operator=(const TestLoop &) = delete;

	/**
	 * Runs the loop until @p done returns true, the loop has nothing left to do, or
	 * @p limit passes. @return done()
	 */
	bool RunUntil(const std::function<bool()> &done,
		      std::chrono::milliseconds limit = 30s)
	{
		// An unreferenced ticker wakes uv_run() regularly without keeping an
		// otherwise finished loop alive.
		uv_timer_t ticker;
		uv_timer_init(&loop, &ticker);
		uv_timer_start(
		    &ticker, [](uv_timer_t *) {}, 10, 10);
		uv_unref(reinterpret_cast<uv_handle_t *>(&ticker));
		const auto deadline = std::chrono::steady_clock::now() + limit;
		bool result = false;
		for (;;) {
			if (done && done()) {
				result = true;
				break;
			}
			if (std::chrono::steady_clock::now() > deadline)
				break;
			if (uv_run(&loop, UV_RUN_ONCE) == 0) {
				result = !done || done();
				break;
			}
		}
		uv_close(reinterpret_cast<uv_handle_t *>(&ticker), nullptr);
		uv_run(&loop, UV_RUN_NOWAIT);
		return result;
	}

	/** Runs until no handle or request is left. @return false on timeout */
	bool Drain(std::chrono::milliseconds limit = 30s)
	{
		return RunUntil(nullptr, limit);
	}
};

/** Records every callback; optional hooks act inside them. Owns the Connection so that
 * a hook can destroy it. */
struct Recorder final : ConnectionHandler {
	std::unique_ptr<Connection> connection;
	bool connected = false;
	std::string data;
	int data_calls = 0;
	std::optional<NetError> end;
	int end_calls = 0;
	/** A callback came after OnEnd(), or from inside one of our own API calls. */
	bool late_callback = false, reentered = false;
	bool in_api = false;

	std::function<void(Recorder &)> on_connected;
	std::function<void(Recorder &, std::string_view)> on_data;
	std::function<void(Recorder &)> on_end;

	void Connect(uv_loop_t &loop, const Endpoint &endpoint,
		     const Timeouts &timeouts = {})
	{
		connection = std::make_unique<Connection>(loop, *this);
		in_api = true;
		connection->Connect(endpoint, timeouts);
		in_api = false;
	}

	void Write(std::string bytes)
	{
		in_api = true;
		connection->Write(std::move(bytes));
		in_api = false;
	}

	bool Ended() const noexcept { return end.has_value(); }
	NetErrorKind Kind() const { return end ? end->Kind() : NetErrorKind::Io; }
	std::string Message() const { return end ? end->what() : "(no OnEnd)"; }

	void Note() noexcept
	{
		if (end)
			late_callback = true;
		if (in_api)
			reentered = true;
	}

	void OnConnected() noexcept override
	{
		Note();
		CHECK_FALSE(connected);
		connected = true;
		if (on_connected)
			on_connected(*this);
	}

	void OnData(std::string_view bytes) noexcept override
	{
		Note();
		CHECK(connected);
		CHECK_FALSE(bytes.empty());
		data += bytes;
		++data_calls;
		if (on_data)
			on_data(*this, bytes);
	}

	void OnEnd(const NetError &error) noexcept override
	{
		Note();
		end.emplace(error);
		++end_calls;
		if (on_end)
			on_end(*this);
	}
};

Endpoint PlainEndpoint(std::uint16_t port, std::string host = "127.0.0.1")
{
	Endpoint endpoint;
	endpoint.host = std::move(host);
	endpoint.port = port;
	return endpoint;
}

Endpoint TlsEndpoint(std::uint16_t port, std::string tls_name = "pop.example.com",
		     std::string ca_file = TestCaDir() + "/ca.crt")
{
	Endpoint endpoint = PlainEndpoint(port);
	endpoint.tls = true;
	endpoint.tls_name = std::move(tls_name);
	endpoint.tls_options.ca_file = std::move(ca_file);
	return endpoint;
}

ServerTls ServerCertificate(const std::string &name = "server")
{
	return {TestCaDir() + "/" + name + ".crt", TestCaDir() + "/" + name + ".key"};
}

std::string Peer(std::uint16_t port, const std::string &host = "127.0.0.1")
{
	return host + ":" + std::to_string(port);
}

/** Bytes of every value, so that nothing depends on text or line ends. */
std::string Pattern(std::size_t size)
{
	std::string bytes(size, '\0');
	std::uint32_t x = 2463534242u;
	for (auto &b : bytes) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b = static_cast<char>(x);
	}
	return bytes;
}

void Echo(ServerPeer &peer)
{
	char buffer[65536];
	while (const std::size_t n = peer.Read(buffer, sizeof(buffer)))
		if (!peer.Write(std::string_view(buffer, n)))
			break;
}

/** A POP3-like dialogue; the net layer must not care what the bytes mean. */
void Dialogue(ServerPeer &peer)
{
	if (peer.ReadUntil("\r\n") != "CAPA\r\n")
		return;
	peer.Write("+OK hello\r\n");
	if (peer.ReadUntil("\r\n") != "QUIT\r\n")
		return;
	peer.Write("+OK bye\r\n");
	peer.CloseNotify();
	peer.ReadToEnd();
}

/** Client half of Dialogue(): "CAPA" goes out before the connection is up. */
void StartDialogue(TestLoop &loop, Recorder &client, const Endpoint &endpoint)
{
	client.on_data = [](Recorder &r, std::string_view) {
		if (r.data == "+OK hello\r\n")
			r.Write("QUIT\r\n");
	};
	client.Connect(loop.loop, endpoint);
	client.Write("CAPA\r\n");
	CHECK(client.connection->PendingWriteBytes() == 6);
	CHECK_FALSE(client.connected);
}

/**
 * Connects to a server that shows certificate @p server_cert, with a write queued before
 * the handshake, and checks that the certificate is refused before any application data
 * flows, with the message "TLS: certificate of NAME rejected: @p reason" (NAME is the
 * TLS name, else the host).
 * @return the SNI name the server saw, empty if none was sent
 */
std::string ExpectRejected(const std::string &server_cert, const std::string &host,
			   const std::string &tls_name, const std::string &ca_file,
			   const std::string &reason, bool ipv6 = false)
{
	bool script_ran = false;
	LoopbackServer server([&](ServerPeer &) { script_ran = true; },
			      ServerCertificate(server_cert), ipv6);
	TestLoop loop;
	Recorder client;
	Endpoint endpoint = TlsEndpoint(server.Port(), tls_name, ca_file);
	endpoint.host = host;
	client.Connect(loop.loop, endpoint);
	client.Write("USER secret\r\n");
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK_FALSE(client.connected);
	CHECK(client.data_calls == 0);
	CHECK(client.Kind() == NetErrorKind::TlsVerify);
	CHECK(client.Message() == "TLS: certificate of " +
				      (tls_name.empty() ? host : tls_name) +
				      " rejected: " + reason);
	client.connection.reset();
	server.Join();
	// We aborted the handshake, so nothing was ever decrypted by the server.
	CHECK(server.HandshakeError() != "");
	CHECK_FALSE(script_ran);
	return server.ServerName();
}

} // namespace

TEST_CASE("plain round trip, with a write issued before OnConnected")
{
	LoopbackServer server(Dialogue);
	TestLoop loop;
	Recorder client;
	StartDialogue(loop, client, PlainEndpoint(server.Port()));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.connected);
	CHECK(client.data == "+OK hello\r\n+OK bye\r\n");
	CHECK(client.Kind() == NetErrorKind::Closed);
	CHECK(client.Message() ==
	      "connection to " + Peer(server.Port()) + " closed by the server");
	CHECK(client.connection->PendingWriteBytes() == 0);
	CHECK_FALSE(client.reentered);
	CHECK_FALSE(client.late_callback);
	server.Join();
	CHECK(server.Failure() == "");
}

TEST_CASE("TLS round trip: ca_file, SNI pop.example.com at 127.0.0.1, close_notify")
{
	LoopbackServer server(Dialogue, ServerCertificate());
	TestLoop loop;
	Recorder client;
	StartDialogue(loop, client, TlsEndpoint(server.Port()));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.connected);
	CHECK(client.data == "+OK hello\r\n+OK bye\r\n");
	// The server sent close_notify and kept the socket open: that alone ends it.
	CHECK(client.Kind() == NetErrorKind::Closed);
	CHECK(client.Message() ==
	      "connection to " + Peer(server.Port()) + " closed by the server");
	CHECK_FALSE(client.late_callback);
	client.connection.reset();
	server.Join();
	CHECK(server.HandshakeError() == "");
	CHECK(server.ServerName() == "pop.example.com");
	CHECK(server.Failure() == "");
}

namespace {

/** What one TLS connection with a session on offer showed. */
struct SessionRun {
	TlsInfo info;
	/** Connection::TlsSession() once connected. */
	std::string saved;
};

/** Runs Dialogue() over TLS to @p server, offering @p session. */
SessionRun RunWithSession(LoopbackServer &server, const std::string &session)
{
	TestLoop loop;
	Recorder client;
	SessionRun run;
	Endpoint endpoint = TlsEndpoint(server.Port());
	endpoint.tls_session = session;
	client.on_connected = [&](Recorder &r) {
		const auto info = r.connection->Tls();
		REQUIRE(info);
		run.info = *info;
		run.saved = r.connection->TlsSession();
	};
	StartDialogue(loop, client, endpoint);
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.data == "+OK hello\r\n+OK bye\r\n");
	CHECK(client.Kind() == NetErrorKind::Closed);
	client.connection.reset();
	return run;
}

} // namespace

TEST_CASE("TLS session: saved, resumed by a server that caches it, refused by one that "
	  "does not")
{
	mbedtls_ssl_cache_context cache;
	mbedtls_ssl_cache_init(&cache);
	ServerTls caching = ServerCertificate();
	caching.session_cache = &cache;
	std::string saved;
	{
		LoopbackServer server(Dialogue, caching, false, 4);
		const auto first = RunWithSession(server, "");
		CHECK_FALSE(first.info.resumed);
		REQUIRE_FALSE(first.saved.empty());
		REQUIRE_FALSE(first.info.chain.empty());

		const auto second = RunWithSession(server, first.saved);
		CHECK(second.info.resumed);
		CHECK(second.info.untrusted.empty());
		// The chain verified when the session was made.
		REQUIRE(second.info.chain.size() == first.info.chain.size());
		CHECK(second.info.chain[0].sha256 == first.info.chain[0].sha256);
		CHECK_FALSE(second.saved.empty());

		const auto again = RunWithSession(server, second.saved);
		CHECK(again.info.resumed);
		saved = again.saved;

		// Not a session: ignored, a full handshake.
		const auto garbage = RunWithSession(server, "not a session");
		CHECK_FALSE(garbage.info.resumed);
		server.Join();
		CHECK(server.Failure() == "");
	}
	mbedtls_ssl_cache_free(&cache);

	// A server without the session (restarted, or one that never caches): the
	// handshake goes on in full, verified, and works as without an offer.
	LoopbackServer forgetful(Dialogue, ServerCertificate());
	const auto refused = RunWithSession(forgetful, saved);
	CHECK_FALSE(refused.info.resumed);
	CHECK_FALSE(refused.saved.empty());
	CHECK(refused.saved != saved);
	forgetful.Join();
	CHECK(forgetful.HandshakeError() == "");
	CHECK(forgetful.Failure() == "");

	// A session whose certificate no longer matches the pins is not even offered.
	popstream::TlsOptions pinned;
	pinned.ca_file = TestCaDir() + "/ca.crt";
	pinned.fingerprints.push_back(
	    popstream::ParseTlsFingerprint(refused.info.chain[0].sha256));
	CHECK(TlsLayer("pop.example.com", pinned, "peer").OfferSession(saved));
	pinned.fingerprints[0] =
	    popstream::ParseTlsFingerprint("sha256//" + std::string(43, 'A') + "=");
	CHECK_FALSE(TlsLayer("pop.example.com", pinned, "peer").OfferSession(saved));
	CHECK_FALSE(TlsLayer("pop.example.com", pinned, "peer").OfferSession(""));
}

TEST_CASE("TLS: an empty tls_name means the host name is checked and sent")
{
	LoopbackServer server(Dialogue, ServerCertificate());
	TestLoop loop;
	Recorder client;
	Endpoint endpoint = TlsEndpoint(server.Port(), "");
	endpoint.host = "localhost";
	StartDialogue(loop, client, endpoint);
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.data == "+OK hello\r\n+OK bye\r\n");
	CHECK(client.Kind() == NetErrorKind::Closed);
	client.connection.reset();
	server.Join();
	CHECK(server.ServerName() == "localhost");
}

TEST_CASE("several MiB in both directions arrive intact")
{
	for (const bool tls : {false, true}) {
		CAPTURE(tls);
		LoopbackServer server(Echo, tls ? std::optional(ServerCertificate())
						: std::nullopt);
		TestLoop loop;
		Recorder client;
		client.Connect(loop.loop, tls ? TlsEndpoint(server.Port())
					      : PlainEndpoint(server.Port()));
		const std::string sent = Pattern(kBulkBytes);
		// Uneven pieces, all queued before the connection is up.
		for (std::size_t offset = 0; offset < sent.size();) {
			const std::size_t n = std::min<std::size_t>(
			    sent.size() - offset, 1 + (offset * 7919) % 100'000);
			client.Write(sent.substr(offset, n));
			offset += n;
		}
		CHECK(client.connection->PendingWriteBytes() == kBulkBytes);
		std::size_t max_pending_after_connect = 0;
		client.on_data = [&](Recorder &r, std::string_view) {
			max_pending_after_connect = std::max(
			    max_pending_after_connect, r.connection->PendingWriteBytes());
		};
		REQUIRE(loop.RunUntil(
		    [&] { return client.Ended() || client.data.size() >= kBulkBytes; }));
		CHECK_FALSE(client.Ended());
		CHECK(client.data.size() == kBulkBytes);
		// Extra parentheses: on failure, do not print two 4 MiB strings.
		CHECK((client.data == sent));
		CHECK(client.connection->PendingWriteBytes() == 0);
		CHECK(max_pending_after_connect < kBulkBytes);
		client.connection->Close();
		server.Join();
		CHECK(server.Failure() == "");
	}
}

TEST_CASE("connection refused names host and port")
{
	const std::uint16_t port = UnusedPort();
	TestLoop loop;
	Recorder client;
	client.Connect(loop.loop, PlainEndpoint(port));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK_FALSE(client.connected);
	CHECK(client.Kind() == NetErrorKind::Refused);
	CHECK(client.Message() ==
	      "cannot connect to " + Peer(port) + ": connection refused");
}

TEST_CASE("a host name lists the addresses it tried")
{
	const std::uint16_t port = UnusedPort();
	TestLoop loop;
	Recorder client;
	client.Connect(loop.loop, PlainEndpoint(port, "localhost"));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.Kind() == NetErrorKind::Refused);
	CHECK(client.Message().starts_with(
	    "cannot connect to localhost:" + std::to_string(port) +
	    ": connection refused (tried "));
	CHECK(client.Message().find("127.0.0.1") != std::string::npos);
}

TEST_CASE("IPv6 literal: round trip and bracketed messages")
{
	if (!HaveIpv6Loopback()) {
		MESSAGE("no IPv6 loopback here; skipped");
		return;
	}
	{
		LoopbackServer server(Dialogue, std::nullopt, true);
		TestLoop loop;
		Recorder client;
		StartDialogue(loop, client, PlainEndpoint(server.Port(), "::1"));
		REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
		CHECK(client.data == "+OK hello\r\n+OK bye\r\n");
		CHECK(client.Message() ==
		      "connection to [::1]:" + std::to_string(server.Port()) +
			  " closed by the server");
	}
	const std::uint16_t port = UnusedPort();
	TestLoop loop;
	Recorder client;
	client.Connect(loop.loop, PlainEndpoint(port, "::1"));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.Kind() == NetErrorKind::Refused);
	CHECK(client.Message() ==
	      "cannot connect to [::1]:" + std::to_string(port) + ": connection refused");
}

TEST_CASE("DNS failure for a name under .invalid is reported promptly")
{
	// RFC 6761 §6.4: .invalid never resolves. In this sandbox the resolver answers
	// at once; the connect timeout bounds the test should a resolver ever hang (it
	// would then end with ConnectTimeout "while resolving the host name" and fail
	// here).
	TestLoop loop;
	Recorder client;
	Endpoint endpoint = PlainEndpoint(110, "no-such-host.invalid");
	Timeouts timeouts;
	timeouts.connect_ms = 20'000;
	const auto start = std::chrono::steady_clock::now();
	client.Connect(loop.loop, endpoint, timeouts);
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(std::chrono::steady_clock::now() - start < 10s);
	CHECK(client.Kind() == NetErrorKind::Resolve);
	CHECK(
	    client.Message().starts_with("cannot resolve host 'no-such-host.invalid': "));
	CHECK(client.Message().size() > 46);
	CHECK_FALSE(client.reentered);
}

TEST_CASE("idle timeout: restarted by every read, then fires")
{
	LoopbackServer server([](ServerPeer &peer) {
		peer.Write("+OK\r\n");
		for (int i = 0; i < 4; ++i) {
			std::this_thread::sleep_for(150ms);
			peer.Write("x\r\n");
		}
		peer.ReadToEnd();
	});
	TestLoop loop;
	Recorder client;
	Timeouts timeouts;
	timeouts.idle_ms = 400;
	client.Connect(loop.loop, PlainEndpoint(server.Port()), timeouts);
	std::chrono::steady_clock::time_point last_data;
	client.on_data = [&](Recorder &, std::string_view) {
		last_data = std::chrono::steady_clock::now();
	};
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(std::chrono::steady_clock::now() - last_data >= 350ms);
	CHECK(client.data == "+OK\r\nx\r\nx\r\nx\r\nx\r\n");
	CHECK(client.Kind() == NetErrorKind::IdleTimeout);
	CHECK(client.Message() == "no reply from " + Peer(server.Port()) + " for 0.4 s");
	client.connection.reset();
	server.Join();
}

TEST_CASE("connect timeout while the TCP connection hangs")
{
	StalledListener listener;
	TestLoop loop;
	Recorder client;
	Timeouts timeouts;
	timeouts.connect_ms = 300;
	const auto start = std::chrono::steady_clock::now();
	client.Connect(loop.loop, PlainEndpoint(listener.Port()), timeouts);
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(std::chrono::steady_clock::now() - start >= 250ms);
	CHECK_FALSE(client.connected);
	CHECK(client.Kind() == NetErrorKind::ConnectTimeout);
	CHECK(client.Message() ==
	      "connection to " + Peer(listener.Port()) + " timed out after 0.3 s");
}

TEST_CASE("connect timeout covers the TLS handshake")
{
	// A server that accepts and never answers the ClientHello.
	LoopbackServer server([](ServerPeer &peer) { peer.ReadToEnd(); });
	TestLoop loop;
	Recorder client;
	Timeouts timeouts;
	timeouts.connect_ms = 300;
	client.Connect(loop.loop, TlsEndpoint(server.Port()), timeouts);
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK_FALSE(client.connected);
	CHECK(client.Kind() == NetErrorKind::ConnectTimeout);
	CHECK(client.Message() == "connection to " + Peer(server.Port()) +
				      " timed out after 0.3 s during the TLS handshake");
	client.connection.reset();
	server.Join();
}

TEST_CASE("server EOF gives Closed after the last data")
{
	LoopbackServer server(
	    [](ServerPeer &peer) { peer.Write("-ERR going away\r\n"); });
	TestLoop loop;
	Recorder client;
	client.Connect(loop.loop, PlainEndpoint(server.Port()));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.data == "-ERR going away\r\n");
	CHECK(client.Kind() == NetErrorKind::Closed);
	CHECK(client.Message() ==
	      "connection to " + Peer(server.Port()) + " closed by the server");
}

TEST_CASE("TLS: EOF without close_notify also gives Closed")
{
	LoopbackServer server([](ServerPeer &peer) { peer.Write("+OK\r\n"); },
			      ServerCertificate());
	TestLoop loop;
	Recorder client;
	client.Connect(loop.loop, TlsEndpoint(server.Port()));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.data == "+OK\r\n");
	CHECK(client.Kind() == NetErrorKind::Closed);
}

TEST_CASE("a reset connection gives Io")
{
	LoopbackServer server([](ServerPeer &peer) {
		peer.Write("+OK\r\n");
		peer.ReadUntil("\r\n");
		peer.Reset();
	});
	TestLoop loop;
	Recorder client;
	client.Connect(loop.loop, PlainEndpoint(server.Port()));
	client.Write("USER x\r\n");
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK(client.Kind() == NetErrorKind::Io);
	CHECK(client.Message() ==
	      "connection to " + Peer(server.Port()) + " reset by the server");
}

TEST_CASE("TLS certificate rejections")
{
	struct Case {
		const char *what;
		const char *server_cert;
		std::string tls_name, ca_file, reason;
	};
	const std::string ca = TestCaDir() + "/ca.crt";
	const Case cases[] = {
	    {"name mismatch", "server", "wrong.example.org", ca,
	     "name mismatch (certificate is for pop.example.com, localhost)"},
	    {"unknown CA", "server", "pop.example.com", TestCaDir() + "/other-ca.crt",
	     "unknown CA (not signed by a trusted authority)"},
	    {"system bundle", "server", "pop.example.com", "",
	     "unknown CA (not signed by a trusted authority)"},
	    {"expired", "expired", "pop.example.com", ca,
	     "certificate expired on 2021-01-01"},
	};
	for (const Case &c : cases) {
		CAPTURE(c.what);
		ExpectRejected(c.server_cert, "127.0.0.1", c.tls_name, c.ca_file,
			       c.reason);
	}
}

TEST_CASE("TLS to an IP literal: no SNI, and the certificate's IP address matches")
{
	struct Case {
		const char *server_cert;
		bool ipv6;
		std::string host, tls_name;
	};
	const Case cases[] = {
	    {"ip4", false, "127.0.0.1", ""},
	    // As a user may write it after '!' or in the config's sni key.
	    {"ip4", false, "127.0.0.1", "127.0.0.1"},
	    {"ip6", true, "::1", ""},
	    {"ip6", true, "::1", "[::1]"},
	    {"ip6", true, "::1", "0:0:0:0:0:0:0:1"},
	};
	for (const Case &c : cases) {
		CAPTURE(c.tls_name);
		CAPTURE(c.host);
		if (c.ipv6 && !HaveIpv6Loopback()) {
			MESSAGE("no IPv6 loopback here; skipped");
			continue;
		}
		LoopbackServer server(Dialogue, ServerCertificate(c.server_cert), c.ipv6);
		TestLoop loop;
		Recorder client;
		Endpoint endpoint = TlsEndpoint(server.Port(), c.tls_name);
		endpoint.host = c.host;
		StartDialogue(loop, client, endpoint);
		REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
		CHECK(client.Message() == "connection to " +
					      FormatPeer(c.host, server.Port()) +
					      " closed by the server");
		CHECK(client.data == "+OK hello\r\n+OK bye\r\n");
		client.connection.reset();
		server.Join();
		CHECK(server.HandshakeError() == "");
		// RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted".
		CHECK(server.ServerName() == "");
	}
}

TEST_CASE("TLS to an IP literal: rejections name the address and the certificate's names")
{
	struct Case {
		const char *what;
		const char *server_cert;
		bool ipv6;
		std::string host, ca_file, reason;
	};
	const std::string ca = TestCaDir() + "/ca.crt";
	const Case cases[] = {
	    {"another address", "ip4-other", false, "127.0.0.1", ca,
	     "name mismatch: 127.0.0.1 is not among the certificate's IP addresses "
	     "(127.0.0.2)"},
	    // Its subjectAltName holds DNS:localhost, which resolves to this very
	    // address, but RFC 6125 §6.2.1 compares addresses with addresses only.
	    {"DNS names only", "server", false, "127.0.0.1", ca,
	     "name mismatch: 127.0.0.1 is not among the certificate's IP addresses "
	     "(none), and its DNS names (pop.example.com, localhost) never match an IP "
	     "address"},
	    // 127.0.0.1 and ::1 are one host, not one address; and the CN (localhost)
	    // is ignored too.
	    {"IPv4 certificate, IPv6 address", "ip4", true, "::1", ca,
	     "name mismatch: ::1 is not among the certificate's IP addresses "
	     "(127.0.0.1)"},
	    {"IPv6 certificate, IPv4 address", "ip6", false, "127.0.0.1", ca,
	     "name mismatch: 127.0.0.1 is not among the certificate's IP addresses "
	     "(::1)"},
	    // The chain is still verified by mbedTLS when the name is ours to check.
	    {"unknown CA", "ip4", false, "127.0.0.1", TestCaDir() + "/other-ca.crt",
	     "unknown CA (not signed by a trusted authority)"},
	    {"expired", "expired", false, "127.0.0.1", ca,
	     "certificate expired on 2021-01-01; name mismatch: 127.0.0.1 is not among "
	     "the certificate's IP addresses (none), and its DNS names (pop.example.com, "
	     "localhost) never match an IP address"},
	};
	for (const Case &c : cases) {
		CAPTURE(c.what);
		if (c.ipv6 && !HaveIpv6Loopback()) {
			MESSAGE("no IPv6 loopback here; skipped");
			continue;
		}
		// RFC 6066 §3: no SNI for an address, even when the handshake fails.
		CHECK(ExpectRejected(c.server_cert, c.host, "", c.ca_file, c.reason,
				     c.ipv6) == "");
	}
}

TEST_CASE("TLS: a DNS name is still sent as SNI and never matches an IP address entry")
{
	// ip4.crt holds only IP:127.0.0.1, with CN=localhost: mbedTLS must not fall back
	// to the CN (RFC 6125 §6.4.4), so "localhost" is refused.
	CHECK(ExpectRejected("ip4", "127.0.0.1", "localhost", TestCaDir() + "/ca.crt",
			     "name mismatch (certificate is for 127.0.0.1)") ==
	      "localhost");
}

TEST_CASE("TLS: a fatal alert from the server is named")
{
	ServerTls tls = ServerCertificate();
	tls.only_sni = "pop.example.com";
	LoopbackServer server([](ServerPeer &) {}, tls);
	TestLoop loop;
	Recorder client;
	client.Connect(loop.loop, TlsEndpoint(server.Port(), "mail.example.net"));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK_FALSE(client.connected);
	CHECK(client.Kind() == NetErrorKind::Tls);
	CHECK(
	    client.Message() ==
	    "TLS handshake with " + Peer(server.Port()) +
		" failed: the server sent alert 112 (unrecognized name: the server does "
		"not know that SNI name)");
	client.connection.reset();
	server.Join();
	CHECK(server.ServerName() == "mail.example.net");
}

TEST_CASE("a missing or unusable ca_file is a clear error, reported from the loop")
{
	TempDir dir;
	WriteFile(dir / "junk.pem", "not a certificate\n");
	struct Case {
		std::string ca_file, message;
	};
	const Case cases[] = {
	    {"/nonexistent/popstream/ca.crt",
	     "TLS: cannot read CA file '/nonexistent/popstream/ca.crt': no such file or "
	     "directory"},
	    {dir / "junk.pem",
	     "TLS: CA file '" + (dir / "junk.pem") + "' holds no usable certificate"},
	};
	for (const Case &c : cases) {
		CAPTURE(c.ca_file);
		TestLoop loop;
		Recorder client;
		client.Connect(loop.loop,
			       TlsEndpoint(UnusedPort(), "pop.example.com", c.ca_file));
		CHECK_FALSE(client.Ended());
		REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
		CHECK_FALSE(client.reentered);
		CHECK(client.Kind() == NetErrorKind::Tls);
		CHECK(client.Message().starts_with(c.message));
	}
}

TEST_CASE("TLS to a plain-text server fails with a hint")
{
	LoopbackServer server([](ServerPeer &peer) {
		peer.Write("+OK POP3 server ready\r\n");
		peer.ReadToEnd();
	});
	TestLoop loop;
	Recorder client;
	client.Connect(loop.loop, TlsEndpoint(server.Port()));
	REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
	CHECK_FALSE(client.connected);
	CHECK(client.Kind() == NetErrorKind::Tls);
	CHECK(client.Message().starts_with("TLS handshake with " + Peer(server.Port()) +
					   " failed: the server does not speak TLS"));
	client.connection.reset();
	server.Join();
}

TEST_CASE("destroying the Connection inside OnData")
{
	for (const bool tls : {false, true}) {
		CAPTURE(tls);
		LoopbackServer server(
		    [](ServerPeer &peer) {
			    // Both chunks in one segment, so that TLS has a second record
			    // waiting in the same read when the first is delivered.
			    peer.Cork(true);
			    peer.Write("first\r\n");
			    peer.Write("second\r\n");
			    peer.Cork(false);
			    peer.ReadToEnd();
		    },
		    tls ? std::optional(ServerCertificate()) : std::nullopt);
		TestLoop loop;
		Recorder client;
		client.on_data = [](Recorder &r, std::string_view) {
			r.Write("QUIT\r\n");
			r.connection.reset();
		};
		client.Connect(loop.loop, tls ? TlsEndpoint(server.Port())
					      : PlainEndpoint(server.Port()));
		REQUIRE(loop.RunUntil([&] { return !client.connection; }));
		CHECK(loop.Drain());
		CHECK(client.data_calls == 1);
		CHECK(client.data.starts_with("first\r\n"));
		CHECK_FALSE(client.Ended());
		server.Join();
		CHECK(server.Failure() == "");
	}
}

TEST_CASE("destroying the Connection inside OnEnd")
{
	SUBCASE("after EOF")
	{
		LoopbackServer server([](ServerPeer &peer) { peer.Write("bye\r\n"); });
		TestLoop loop;
		Recorder client;
		client.on_end = [](Recorder &r) { r.connection.reset(); };
		client.Connect(loop.loop, PlainEndpoint(server.Port()));
		REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
		CHECK(loop.Drain());
		CHECK(client.Kind() == NetErrorKind::Closed);
		CHECK(client.end_calls == 1);
	}
	SUBCASE("after TLS close_notify")
	{
		LoopbackServer server(
		    [](ServerPeer &peer) {
			    peer.Write("bye\r\n");
			    peer.CloseNotify();
			    peer.ReadToEnd();
		    },
		    ServerCertificate());
		TestLoop loop;
		Recorder client;
		client.on_end = [](Recorder &r) { r.connection.reset(); };
		client.Connect(loop.loop, TlsEndpoint(server.Port()));
		REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
		CHECK(loop.Drain());
		CHECK(client.data == "bye\r\n");
		CHECK(client.Kind() == NetErrorKind::Closed);
		server.Join();
	}
	SUBCASE("after a refused connect")
	{
		TestLoop loop;
		Recorder client;
		client.on_end = [](Recorder &r) { r.connection.reset(); };
		client.Connect(loop.loop, PlainEndpoint(UnusedPort()));
		REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
		CHECK(loop.Drain());
		CHECK(client.Kind() == NetErrorKind::Refused);
	}
	SUBCASE("after an error found inside Connect()")
	{
		TestLoop loop;
		Recorder client;
		client.on_end = [](Recorder &r) { r.connection.reset(); };
		client.Connect(loop.loop, TlsEndpoint(UnusedPort(), "pop.example.com",
						      "/nonexistent"));
		REQUIRE(loop.RunUntil([&] { return client.Ended(); }));
		CHECK(loop.Drain());
		CHECK(client.Kind() == NetErrorKind::Tls);
	}
}

TEST_CASE("Close() or destruction stops every callback")
{
	SUBCASE("Close() inside OnConnected")
	{
		LoopbackServer server([](ServerPeer &peer) {
			peer.Write("+OK\r\n");
			peer.ReadToEnd();
		});
		TestLoop loop;
		Recorder client;
		client.on_connected = [](Recorder &r) {
			r.connection->Close();
			r.Write("ignored\r\n");
			r.connection->Close();
		};
		client.Connect(loop.loop, PlainEndpoint(server.Port()));
		REQUIRE(loop.RunUntil([&] { return client.connected; }));
		CHECK(loop.Drain());
		CHECK(client.data_calls == 0);
		CHECK_FALSE(client.Ended());
		server.Join();
	}
	SUBCASE("destruction inside OnConnected, TLS")
	{
		LoopbackServer server([](ServerPeer &peer) { peer.ReadToEnd(); },
				      ServerCertificate());
		TestLoop loop;
		Recorder client;
		client.on_connected = [](Recorder &r) { r.connection.reset(); };
		client.Connect(loop.loop, TlsEndpoint(server.Port()));
		REQUIRE(loop.RunUntil([&] { return client.connected; }));
		CHECK(loop.Drain());
		CHECK_FALSE(client.Ended());
		server.Join();
	}
	SUBCASE("destruction while the name is being resolved")
	{
		TestLoop loop;
		Recorder client;
		client.Connect(loop.loop, PlainEndpoint(UnusedPort(), "localhost"));
		client.connection.reset();
		CHECK(loop.Drain());
		CHECK_FALSE(client.Ended());
	}
	SUBCASE("Close() during the TLS handshake")
	{
		LoopbackServer server([](ServerPeer &peer) { peer.ReadToEnd(); });
		TestLoop loop;
		Recorder client;
		client.Connect(loop.loop, TlsEndpoint(server.Port()));
		loop.RunUntil([] { return false; }, 200ms);
		client.connection->Close();
		CHECK(loop.Drain());
		CHECK_FALSE(client.Ended());
		CHECK_FALSE(client.connected);
		server.Join();
	}
	SUBCASE("a Connection that never connected")
	{
		TestLoop loop;
		Recorder client;
		client.connection = std::make_unique<Connection>(loop.loop, client);
		client.Write("queued\r\n");
		client.connection.reset();
		CHECK(loop.Drain());
	}
}
