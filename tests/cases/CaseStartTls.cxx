// Issue 11: `popstream dl starttls:` against servers that try to keep the connection in
// cleartext (RFC 2595 §4). STLS not offered, refused, answered with cleartext bytes
// injected behind its +OK, a handshake that never comes, and capabilities that change
// once TLS is up. In every case the test reads what the server received before TLS
// (what anyone on the path could read) and checks that neither the password nor a
// login command is in it, along with the exit status and the message. Real binary,
// scripted server, the tests' own CA.
#include "CaseChecks.hxx"
#include "CaseHarness.hxx"

#include <doctest/doctest.h>

using namespace popstream::test;

namespace {

constexpr int exit_unavailable = 69;

/** A server with two messages that offers STLS with the test CA's certificate. */
void Setup(FakePop3Server &server, std::vector<std::string> before_tls = {})
{
	server.AddMessage(StandardMessage(1), "u1");
	server.AddMessage(StandardMessage(2), "u2");
	server.EnableStartTls(TestCaDirectory() + "/server.crt",
			      TestCaDirectory() + "/server.key", std::move(before_tls));
}

/** Checks that nothing secret, and no login command, was sent before TLS. */
void CheckCleartext(const FakePop3Server &server, std::string_view expected)
{
	const std::string cleartext = server.CleartextInput(1);
	INFO("cleartext: " << Escape(cleartext));
	CHECK(cleartext.find("s3cret") == std::string::npos);
	CHECK(cleartext.find("USER") == std::string::npos);
	CHECK(cleartext.find("AUTH") == std::string::npos);
	CHECK(cleartext.find("APOP") == std::string::npos);
	CHECK(cleartext == expected);
}

} // namespace

TEST_CASE("starttls: fetches over TLS after STLS; only CAPA and STLS in cleartext")
{
	CaseHarness h;
	FakePop3Server server;
	Setup(server);
	DlOptions options;
	options.starttls = true;
	options.args = {"-v"};
	const auto run = h.Dl(server, options);
	INFO(run.Describe());
	CHECK(run.ExitCode() == exit_code::ok);
	CHECK(h.Files() == std::vector<std::string>{CrlfToLf(StandardMessage(1)),
						    CrlfToLf(StandardMessage(2))});
	CHECK(server.RemainingUids().empty());
	CheckCleartext(server, "CAPA\r\nSTLS\r\n");
	// The password went only over TLS, with USER (nobody else can read it).
	CHECK(HasCommand(server.Commands(1), "PASS s3cret"));
	CHECK(run.Err().find("s3cret") == std::string::npos);
}

TEST_CASE("starttls: STLS not offered ends the attempt before any credential")
{
	CaseHarness h;
	FakePop3Server server;
	server.AddMessage(StandardMessage(1), "u1");
	DlOptions options;
	options.starttls = true;
	const auto run = h.Dl(server, options);
	INFO(run.Describe());
	CHECK(run.ExitCode() == exit_unavailable);
	CHECK(run.Err().find("server refused STLS: \"-ERR unknown command\"; not "
			     "logging in without TLS") != std::string::npos);
	CheckCleartext(server, "CAPA\r\nSTLS\r\n");
	CHECK(server.RemainingUids() == std::vector<std::string>{"u1"});
	CHECK(h.Files().empty());
}

TEST_CASE("starttls: -ERR to STLS ends the attempt before any credential")
{
	CaseHarness h;
	FakePop3Server server;
	Setup(server);
	server.Reply("STLS", "-ERR [SYS/TEMP] TLS not available now\r\n");
	DlOptions options;
	options.starttls = true;
	const auto run = h.Dl(server, options);
	INFO(run.Describe());
	CHECK(run.ExitCode() == exit_unavailable);
	CHECK(run.Err().find("server refused STLS: \"-ERR [SYS/TEMP] TLS not available "
			     "now\"; not logging in without TLS") != std::string::npos);
	CheckCleartext(server, "CAPA\r\nSTLS\r\n");
	CHECK(server.RemainingUids().size() == 2);
}

TEST_CASE("starttls: cleartext injected behind STLS's +OK is an attack, not data")
{
	CaseHarness h;
	FakePop3Server server;
	Setup(server);
	// A man in the middle appends a reply that the client would read as if it had
	// come over TLS (CVE-2011-0411 for SMTP).
	server.Reply("STLS", "+OK Begin TLS\r\n+OK\r\nSASL PLAIN\r\n.\r\n");
	DlOptions options;
	options.starttls = true;
	const auto run = h.Dl(server, options);
	INFO(run.Describe());
	CHECK(run.ExitCode() == exit_code::protocol);
	CHECK(run.Err().find("protocol error: server sent data after accepting STLS") !=
	      std::string::npos);
	CheckCleartext(server, "CAPA\r\nSTLS\r\n");
	CHECK(server.RemainingUids().size() == 2);
}

TEST_CASE("starttls: a handshake that never comes times out, nothing sent")
{
	CaseHarness h;
	FakePop3Server server;
	Setup(server);
	server.Reply("STLS", "+OK Begin TLS\r\n", AfterReply::Stall);
	DlOptions options;
	options.starttls = true;
	options.args = {"--connect-timeout", "2"};
	const auto run = h.Dl(server, options);
	INFO(run.Describe());
	CHECK(run.ExitCode() == exit_code::temp_fail);
	CHECK(run.Err().find("timed out") != std::string::npos);
	// Only the ClientHello followed STLS: ciphertext, no credential in it.
	const std::string cleartext = server.CleartextInput(1);
	REQUIRE(cleartext.starts_with("CAPA\r\nSTLS\r\n"));
	CHECK(cleartext.find("s3cret") == std::string::npos);
	CHECK(cleartext.find("USER") == std::string::npos);
	CHECK(server.RemainingUids().size() == 2);
}

TEST_CASE("starttls: what CAPA said before TLS is forgotten")
{
	CaseHarness h;
	FakePop3Server server;
	// Before TLS (forgeable) the server claims SASL PLAIN and PIPELINING; over TLS
	// it offers USER only, without PIPELINING. The login must follow the second.
	Setup(server, {"SASL PLAIN", "PIPELINING", "UIDL", "STLS"});
	server.SetCapabilities({"USER", "UIDL"});
	DlOptions options;
	options.starttls = true;
	options.args = {"-v"};
	const auto run = h.Dl(server, options);
	INFO(run.Describe());
	CHECK(run.ExitCode() == exit_code::ok);
	CHECK(h.Files().size() == 2);
	const auto commands = server.Commands(1);
	INFO(Join(commands));
	CHECK(CountVerb(commands, "AUTH") == 0);
	CHECK(HasCommand(commands, "USER alice"));
	CHECK(CountVerb(commands, "CAPA") == 3);
	CheckCleartext(server, "CAPA\r\nSTLS\r\n");
}
