// Self-test of FakePop3Server: talks to it over a real socket (and once over TLS), so the
// case tests can trust what the server sends and records.

#include "CaseHarness.hxx"
#include "FakePop3Server.hxx"

#include <doctest/doctest.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace popstream::test;

namespace {

/** A blocking test client with a deadline on every read. */
class Client {
	int fd_;

public:
	explicit Client(std::uint16_t port)
	{
		fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(fd_ >= 0);
		sockaddr_in address{};
		address.sin_family = AF_INET;
		address.sin_port = htons(port);
		address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		REQUIRE(connect(fd_, reinterpret_cast<sockaddr *>(&address),
				sizeof(address)) == 0);
	}
	~Client()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	Client(const Client &) = delete;
	Client &operator=(const Client &) = delete;

	int Fd() const noexcept { return fd_; }

	void Close()
	{
		close(fd_);
		fd_ = -1;
	}

	void Send(std::string_view data)
	{
		REQUIRE(send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
			static_cast<ssize_t>(data.size()));
	}

	/**
	 * One recv() within @p timeout_ms.
	 * @return the bytes; empty at EOF or timeout; "<error N>" on error
	 */
	std::string ReadOnce(int timeout_ms = 2000)
	{
		pollfd p{fd_, POLLIN, 0};
		if (poll(&p, 1, timeout_ms) <= 0)
			return {};
		char buffer[65536];
		const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
		if (n < 0)
			return "<error " + std::to_string(errno) + ">";
		return std::string(buffer, static_cast<std::size_t>(n));
	}

	/** Reads until the input ends with @p suffix (or 2 s pass without data). */
	std::string ReadUntil(std::string_view suffix)
	{
		std::string data;
		while (!data.ends_with(suffix)) {
			const auto piece = ReadOnce();
			if (piece.empty() || piece.starts_with("<error"))
				break;
			data += piece;
		}
		return data;
	}

	/** Sends @p command + CRLF and returns the reply up to @p suffix. */
	std::string Ask(std::string_view command, std::string_view suffix = "\r\n")
	{
		Send(std::string(command) + "\r\n");
		return ReadUntil(suffix);
	}
};

void Login(Client &client)
{
	CHECK(client.ReadUntil("\r\n") == "+OK POP3 ready\r\n");
	CHECK(client.Ask("USER alice") == "+OK\r\n");
	CHECK(client.Ask("PASS s3cret") == "+OK maildrop ready\r\n");
}

} // namespace

TEST_CASE("fake server: a well-behaved RFC 1939 session, deletions committed at QUIT")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "u1");
	server.AddMessage("Subject: dots\r\n\r\n.\r\n..x\r\nend", "u2");

	{
		Client client(server.Port());
		CHECK(client.ReadUntil("\r\n") == "+OK POP3 ready\r\n");
		CHECK(client.Ask("capa", "\r\n.\r\n") ==
		      "+OK Capability list follows\r\nUSER\r\nUIDL\r\nPIPELINING\r\n"
		      "RESP-CODES\r\n.\r\n");
		CHECK(client.Ask("STAT") == "-ERR not logged in\r\n");
		CHECK(client.Ask("USER alice") == "+OK\r\n");
		CHECK(client.Ask("PASS wrong").starts_with("-ERR [AUTH]"));
		CHECK(client.Ask("USER alice") == "+OK\r\n");
		CHECK(client.Ask("PASS s3cret") == "+OK maildrop ready\r\n");
		CHECK(client.Ask("STAT") == "+OK 2 100\r\n");
		CHECK(client.Ask("LIST", "\r\n.\r\n") == "+OK\r\n1 72\r\n2 28\r\n.\r\n");
		CHECK(client.Ask("LIST 2") == "+OK 2 28\r\n");
		CHECK(client.Ask("UIDL", "\r\n.\r\n") == "+OK\r\n1 u1\r\n2 u2\r\n.\r\n");
		CHECK(client.Ask("RETR 2", "\r\n.\r\n") ==
		      "+OK 28 octets\r\nSubject: dots\r\n\r\n..\r\n...x\r\nend\r\n.\r\n");
		CHECK(client.Ask("TOP 1 0", "\r\n.\r\n") ==
		      "+OK\r\nFrom: bob@example.com\r\nTo: alice@example.com\r\nSubject: "
		      "msg "
		      "1\r\n\r\n.\r\n");
		CHECK(client.Ask("RETR 3") == "-ERR no such message\r\n");
		CHECK(client.Ask("XYZZY") == "-ERR unknown command\r\n");
		CHECK(client.Ask("DELE 1") == "+OK\r\n");
		CHECK(client.Ask("RETR 1") == "-ERR no such message\r\n");
		CHECK(client.Ask("DELE 2") == "+OK\r\n");
		CHECK(client.Ask("RSET") == "+OK\r\n");
		CHECK(client.Ask("DELE 1") == "+OK\r\n");
		// Marks are not deletions: nothing is gone before QUIT.
		CHECK(server.RemainingUids() == std::vector<std::string>{"u1", "u2"});
		CHECK(client.Ask("QUIT") == "+OK bye\r\n");
		CHECK(client.ReadOnce() == "");
	}
	REQUIRE(server.WaitIdle());
	CHECK(server.RemainingUids() == std::vector<std::string>{"u2"});
	CHECK(server.ConnectionCount() == 1);
	CHECK(server.Commands(1).front() == "capa");
	CHECK(server.Commands(1).back() == "QUIT");

	// The next connection sees the committed state; a session without QUIT commits
	// nothing.
	{
		Client client(server.Port());
		Login(client);
		CHECK(client.Ask("UIDL", "\r\n.\r\n") == "+OK\r\n1 u2\r\n.\r\n");
		CHECK(client.Ask("DELE 1") == "+OK\r\n");
	}
	REQUIRE(server.WaitIdle());
	CHECK(server.ConnectionCount() == 2);
	CHECK(server.RemainingUids() == std::vector<std::string>{"u2"});
}

TEST_CASE("fake server: pipelined commands in one write are answered in order")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "u1");
	Client client(server.Port());
	Login(client);
	client.Send("STAT\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
	CHECK(client.ReadUntil("+OK bye\r\n") ==
	      "+OK 1 72\r\n+OK\r\n1 u1\r\n.\r\n+OK 72 octets\r\n" + StandardMessage(1) +
		  ".\r\n+OK\r\n+OK bye\r\n");
	REQUIRE(server.WaitIdle());
	CHECK(server.RemainingUids().empty());
	CHECK(server.Commands(1) == std::vector<std::string>{"USER alice", "PASS s3cret",
							     "STAT", "UIDL", "RETR 1",
							     "DELE 1", "QUIT"});
}

TEST_CASE("fake server: rules by command, arguments, connection and phase")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "u1");
	server.AddMessage(StandardMessage(2), "u2");
	server.Greeting("+OK\r\n");
	server.Reply("RETR", "-ERR any\r\n");
	server.Reply("retr 2", "-ERR two\r\n");
	server.Reply("RETR 2", "-ERR two on 2\r\n", AfterReply::Continue, 2);
	server.AddRule(
	    {"CAPA", 0, Phase::Authorization, ScriptedReply("+OK\r\nUSER\r\n.\r\n")});
	server.AddRule(
	    {"CAPA", 0, Phase::Transaction, ScriptedReply("+OK\r\nUIDL\r\n.\r\n")});
	// A scripted reply that is not +OK has no effect: this DELE marks nothing.
	server.Reply("DELE 1", "\r\n");

	for (unsigned connection = 1; connection <= 2; ++connection) {
		Client client(server.Port());
		CHECK(client.ReadUntil("\r\n") == "+OK\r\n");
		CHECK(client.Ask("CAPA", "\r\n.\r\n") == "+OK\r\nUSER\r\n.\r\n");
		CHECK(client.Ask("USER alice") == "+OK\r\n");
		CHECK(client.Ask("PASS s3cret") == "+OK maildrop ready\r\n");
		CHECK(client.Ask("CAPA", "\r\n.\r\n") == "+OK\r\nUIDL\r\n.\r\n");
		CHECK(client.Ask("RETR 1") == "-ERR any\r\n");
		CHECK(client.Ask("RETR 2") ==
		      (connection == 2 ? "-ERR two on 2\r\n" : "-ERR two\r\n"));
		CHECK(client.Ask("DELE 1") == "\r\n");
		CHECK(client.Ask("QUIT") == "+OK bye\r\n");
		REQUIRE(server.WaitIdle());
	}
	CHECK(server.RemainingUids() == std::vector<std::string>{"u1", "u2"});

	// A scripted "+OK" does the work: DELE marks, QUIT commits and closes.
	server.ClearRules();
	server.Reply("DELE", "+OK scripted\r\n");
	server.Reply("QUIT", "+OK\r\n");
	{
		Client client(server.Port());
		Login(client);
		CHECK(client.Ask("DELE 2") == "+OK scripted\r\n");
		CHECK(client.Ask("QUIT") == "+OK\r\n");
		CHECK(client.ReadOnce() == "");
	}
	REQUIRE(server.WaitIdle());
	CHECK(server.RemainingUids() == std::vector<std::string>{"u1"});
}

TEST_CASE("fake server: close, reset and stall after a reply")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "u1");

	SUBCASE("close sends FIN after the data, even with pipelined input unread")
	{
		server.Reply("CAPA", "+OK\r\nUSER\r\n.\r\n", AfterReply::Close);
		Client client(server.Port());
		CHECK(client.ReadUntil("\r\n") == "+OK POP3 ready\r\n");
		client.Send("CAPA\r\nUSER alice\r\n");
		CHECK(client.ReadUntil(".\r\n") == "+OK\r\nUSER\r\n.\r\n");
		CHECK(client.ReadOnce() == "");
		client.Close();
		REQUIRE(server.WaitIdle());
		// What arrived after the reply is recorded too, though never answered.
		CHECK(server.Commands(1) ==
		      std::vector<std::string>{"CAPA", "USER alice"});
	}
	SUBCASE("reset delivers the data, then RST")
	{
		server.Reply("RETR 1", "+OK 72 octets\r\nFrom: partial",
			     AfterReply::Reset);
		Client client(server.Port());
		Login(client);
		client.Send("RETR 1\r\n");
		// Read only after the reset has happened: the data must still be there.
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		CHECK(client.ReadOnce() == "+OK 72 octets\r\nFrom: partial");
		CHECK(client.ReadOnce() == "<error " + std::to_string(ECONNRESET) + ">");
	}
	SUBCASE("stall keeps the connection open and silent, recording what arrives")
	{
		server.Reply("STAT", "+OK 1 72\r\n", AfterReply::Stall);
		Client client(server.Port());
		Login(client);
		CHECK(client.Ask("STAT") == "+OK 1 72\r\n");
		client.Send("NOOP\r\n");
		CHECK(client.ReadOnce(300) == "");
		client.Close();
		REQUIRE(server.WaitIdle());
		CHECK(server.Commands(1).back() == "NOOP");
	}
	REQUIRE(server.WaitIdle());
	CHECK(server.RemainingUids() == std::vector<std::string>{"u1"});
}

TEST_CASE("fake server: write schedules cut where the case says")
{
	FakePop3Server server;
	server.AddMessage("A: b\r\n\r\n.x\r\n", "u1");
	// A gap long enough that every write arrives in its own recv().
	server.SetWriteGap(std::chrono::milliseconds(40));
	const std::string retr = "+OK 12 octets\r\nA: b\r\n\r\n..x\r\n.\r\n";

	struct Expectation {
		WriteSchedule schedule;
		std::vector<std::string> pieces;
	};
	const Expectation expectations[] = {
	    {WriteSchedule::Whole, {retr}},
	    {WriteSchedule::SplitCrLf,
	     {"+OK 12 octets\r", "\nA: b\r", "\n\r", "\n..x\r", "\n.\r", "\n"}},
	    {WriteSchedule::SplitTerminatorAfterDot,
	     {"+OK 12 octets\r\nA: b\r\n\r\n..x\r\n.", "\r\n"}},
	    {WriteSchedule::SplitTerminatorBeforeDot,
	     {"+OK 12 octets\r\nA: b\r\n\r\n..x\r\n", ".\r\n"}},
	    {WriteSchedule::SplitTerminatorBeforeLf,
	     {"+OK 12 octets\r\nA: b\r\n\r\n..x\r\n.\r", "\n"}},
	    {WriteSchedule::SplitStuffedDots,
	     {"+OK 12 octets\r\nA: b\r\n\r\n.", ".x\r\n.\r\n"}},
	};
	for (const auto &e : expectations) {
		CAPTURE(static_cast<int>(e.schedule));
		server.SetWriteSchedule(WriteSchedule::Whole);
		server.SetWriteSchedule(e.schedule);
		Client client(server.Port());
		CHECK(client.ReadUntil("\r\n") == "+OK POP3 ready\r\n");
		CHECK(client.Ask("USER alice") == "+OK\r\n");
		CHECK(client.Ask("PASS s3cret") == "+OK maildrop ready\r\n");
		client.Send("RETR 1\r\n");
		std::vector<std::string> pieces;
		std::string all;
		while (all != retr) {
			auto piece = client.ReadOnce();
			if (piece.empty())
				break;
			all += piece;
			pieces.push_back(std::move(piece));
		}
		CHECK(Join(pieces) == Join(e.pieces));
	}
}

TEST_CASE("fake server: one byte per write")
{
	FakePop3Server server;
	server.SetWriteGap(std::chrono::milliseconds(1));
	server.SetWriteSchedule(WriteSchedule::OneByte);
	Client client(server.Port());
	std::string greeting;
	int reads = 0;
	while (greeting.size() < 16) {
		const auto piece = client.ReadOnce();
		if (piece.empty())
			break;
		greeting += piece;
		++reads;
	}
	CHECK(greeting == "+OK POP3 ready\r\n");
	// Some writes may merge when the client is slow; most must not.
	CHECK(reads > 8);
}

TEST_CASE("fake server: coalesced schedule answers a pipelined burst in one write")
{
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "u1");
	server.SetWriteSchedule(WriteSchedule::Coalesced);
	Client client(server.Port());
	CHECK(client.ReadUntil("\r\n") == "+OK POP3 ready\r\n");
	client.Send("USER alice\r\n");
	client.Send("PASS s3cret\r\n");
	client.Send("STAT\r\nLIST\r\n");
	CHECK(client.ReadOnce() ==
	      "+OK\r\n+OK maildrop ready\r\n+OK 1 72\r\n+OK\r\n1 72\r\n.\r\n");
}

TEST_CASE("fake server: one command per read discards the rest of the read")
{
	FakePop3Server server;
	server.SetOneCommandPerRead(true);
	Client client(server.Port());
	CHECK(client.ReadUntil("\r\n") == "+OK POP3 ready\r\n");
	client.Send("USER alice\r\nPASS s3cret\r\n");
	CHECK(client.ReadUntil("\r\n") == "+OK\r\n");
	CHECK(client.ReadOnce(300) == "");
	CHECK(client.Ask("PASS s3cret") == "+OK maildrop ready\r\n");
	client.Close();
	REQUIRE(server.WaitIdle());
	CHECK(server.Commands(1) ==
	      std::vector<std::string>{"USER alice", "PASS s3cret", "PASS s3cret"});
	CHECK(server.DiscardedCommands(1) == std::vector<std::string>{"PASS s3cret"});
}

TEST_CASE("fake server: an endless stream stops when the client hangs up")
{
	FakePop3Server server;
	ReplyRule rule{"", 0, Phase::Any,
		       ScriptedReply("+OK ").Streaming("A", 1ULL << 40)};
	server.AddRule(rule);
	Client client(server.Port());
	std::size_t received = 0;
	std::string first;
	while (received < (4 << 20)) {
		const auto piece = client.ReadOnce();
		if (piece.empty())
			break;
		if (first.size() < 8)
			first = (first + piece).substr(0, 8);
		received += piece.size();
	}
	CHECK(first == "+OK AAAA");
	CHECK(received >= (4 << 20));
	client.Close();
	REQUIRE(server.WaitIdle());
	CHECK(server.StreamedBytes(1) < (1ULL << 32));
	CHECK(server.StreamedBytes(1) >= received - 4);
}

TEST_CASE("fake server: implicit TLS with the test CA's certificate")
{
	const auto &ca = TestCaDirectory();
	FakePop3Server server;
	server.EnableTls(ca + "/server.crt", ca + "/server.key");
	server.SetWriteSchedule(WriteSchedule::SplitCrLf);
	Client client(server.Port());

	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca_cert;
	mbedtls_ssl_config config;
	mbedtls_ssl_context ssl;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_x509_crt_init(&ca_cert);
	mbedtls_ssl_config_init(&config);
	mbedtls_ssl_init(&ssl);
	REQUIRE(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr,
				      0) == 0);
	REQUIRE(mbedtls_x509_crt_parse_file(&ca_cert, (ca + "/ca.crt").c_str()) == 0);
	REQUIRE(mbedtls_ssl_config_defaults(&config, MBEDTLS_SSL_IS_CLIENT,
					    MBEDTLS_SSL_TRANSPORT_STREAM,
					    MBEDTLS_SSL_PRESET_DEFAULT) == 0);
	mbedtls_ssl_conf_authmode(&config, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&config, &ca_cert, nullptr);
	mbedtls_ssl_conf_rng(&config, mbedtls_ctr_drbg_random, &drbg);
	REQUIRE(mbedtls_ssl_setup(&ssl, &config) == 0);
	REQUIRE(mbedtls_ssl_set_hostname(&ssl, "pop.example.com") == 0);
	mbedtls_net_context net;
	net.fd = client.Fd();
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, nullptr);
	CHECK(mbedtls_ssl_handshake(&ssl) == 0);
	CHECK(mbedtls_ssl_get_verify_result(&ssl) == 0);

	// SplitCrLf: the greeting comes as two records, "+OK POP3 ready\r" and "\n".
	std::vector<std::string> records;
	std::string all;
	while (all != "+OK POP3 ready\r\n") {
		unsigned char buffer[256];
		const int n = mbedtls_ssl_read(&ssl, buffer, sizeof(buffer));
		if (n <= 0)
			break;
		records.emplace_back(reinterpret_cast<char *>(buffer),
				     static_cast<std::size_t>(n));
		all += records.back();
	}
	CHECK(Join(records) == Join({"+OK POP3 ready\r", "\n"}));
	const std::string quit = "QUIT\r\n";
	CHECK(mbedtls_ssl_write(&ssl,
				reinterpret_cast<const unsigned char *>(quit.data()),
				quit.size()) == static_cast<int>(quit.size()));
	unsigned char buffer[256];
	const int n = mbedtls_ssl_read(&ssl, buffer, sizeof(buffer));
	CHECK(std::string(reinterpret_cast<char *>(buffer),
			  n > 0 ? static_cast<std::size_t>(n) : 0) == "+OK bye\r");

	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&config);
	mbedtls_x509_crt_free(&ca_cert);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	client.Close();
	REQUIRE(server.WaitIdle());
	CHECK(server.Commands(1) == std::vector<std::string>{"QUIT"});
}
