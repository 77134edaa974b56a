// Issue 11: XOAUTH2 and OAUTHBEARER with `dl --token-command`, against a scripted
// server that checks the exact bytes of the login (no real server here speaks them):
// the initial response on the AUTH line, the two-step form (RFC 5034 §4) when that
// line would pass the 255 octets RFC 2449 §4 allows (Office 365 answers longer ones
// with "-ERR Protocol error"), and the server's base64 JSON error (RFC 7628 §3.2.2)
// answered as each format wants before the -ERR.
#include "CaseChecks.hxx"
#include "CaseHarness.hxx"
#include "core/util/Base64.hxx"

#include <doctest/doctest.h>

#include <string>

using namespace popstream::test;

namespace {

const std::string token = "ya29.a0AfB_byC-token.for-alice";

/** The XOAUTH2 response for alice and @p t (Google's and Microsoft's format). */
std::string Xoauth2(const std::string &t)
{
	return "user=alice\x01"
	       "auth=Bearer " +
	       t + "\x01\x01";
}

/** The OAUTHBEARER response (RFC 7628 §3.1) for alice at 127.0.0.1:@p port. */
std::string Oauthbearer(const std::string &t, std::uint16_t port)
{
	return "n,a=alice,\x01"
	       "host=127.0.0.1\x01"
	       "port=" +
	       std::to_string(port) +
	       "\x01"
	       "auth=Bearer " +
	       t + "\x01\x01";
}

/** A server offering both token mechanisms, holding one message. */
void Prepare(FakePop3Server &server)
{
	server.SetCapabilities(
	    {"USER", "UIDL", "PIPELINING", "RESP-CODES", "SASL XOAUTH2 OAUTHBEARER"});
	server.AddMessage(StandardMessage(1), "u1");
}

/** A reply that ends a scripted SASL login successfully. */
ScriptedReply LoggedIn()
{
	ScriptedReply reply("+OK Logged in.\r\n");
	reply.logs_in = true;
	return reply;
}

DlOptions WithToken(const std::string &method, const std::string &command)
{
	DlOptions options;
	options.args = {"-v", "--auth", method, "--token-command", command};
	return options;
}

/** The JSON error Office 365 and Gmail send (RFC 7628 §3.2.2). */
const std::string json_error =
    R"({"status":"401","schemes":"Bearer","scope":"https://outlook.office.com/POP.AccessAsUser.All"})";

} // namespace

TEST_CASE("XOAUTH2: the token goes on the AUTH line, byte for byte")
{
	CaseHarness harness;
	FakePop3Server server;
	Prepare(server);
	const std::string line =
	    "AUTH XOAUTH2 " + popstream::Base64Encode(Xoauth2(token));
	server.AddRule({line, 0, Phase::Authorization, LoggedIn()});
	const auto run = harness.Dl(server, WithToken("xoauth2", "echo " + token));
	INFO(run.Describe());
	INFO(Join(server.Commands(1)));
	CHECK(run.ExitCode() == exit_code::ok);
	CHECK(HasCommand(server.Commands(1), line));
	CHECK(CountVerb(server.Commands(1), "USER") == 0);
	CHECK(CountVerb(server.Commands(1), "PASS") == 0);
	CHECK(harness.Files() == std::vector<std::string>{CrlfToLf(StandardMessage(1))});
	CHECK(server.RemainingUids().empty());
	// -v shows the command, never the token.
	CHECK(run.Err().find("AUTH XOAUTH2") != std::string::npos);
	CHECK(run.Err().find(token) == std::string::npos);
	CHECK(run.Err().find(popstream::Base64Encode(Xoauth2(token))) ==
	      std::string::npos);
}

TEST_CASE("OAUTHBEARER: the RFC 7628 response names the host and port")
{
	CaseHarness harness;
	FakePop3Server server;
	Prepare(server);
	const std::string line =
	    "AUTH OAUTHBEARER " +
	    popstream::Base64Encode(Oauthbearer(token, server.Port()));
	server.AddRule({line, 0, Phase::Authorization, LoggedIn()});
	// auto with a token command takes OAUTHBEARER first.
	DlOptions options;
	options.args = {"-v", "--token-command", "echo " + token};
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	INFO(Join(server.Commands(1)));
	CHECK(run.ExitCode() == exit_code::ok);
	CHECK(HasCommand(server.Commands(1), line));
	CHECK(harness.Files() == std::vector<std::string>{CrlfToLf(StandardMessage(1))});
	CHECK(run.Err().find(token) == std::string::npos);
}

TEST_CASE("a token too long for the AUTH line goes in the two-step form")
{
	// 300 octets: the initial response alone is over 400 in base64.
	const std::string long_token = "ya29." + std::string(295, 'x');
	for (const auto *method : {"xoauth2", "oauthbearer"}) {
		INFO(method);
		CaseHarness harness;
		FakePop3Server server;
		Prepare(server);
		const bool x = std::string(method) == "xoauth2";
		const std::string mechanism = x ? "XOAUTH2" : "OAUTHBEARER";
		const std::string response = popstream::Base64Encode(
		    x ? Xoauth2(long_token) : Oauthbearer(long_token, server.Port()));
		// RFC 5034 §4: the empty challenge, then the response on its own line.
		server.AddRule(
		    {"AUTH " + mechanism, 0, Phase::Authorization, {"+ \r\n"}});
		server.AddRule({response, 0, Phase::Authorization, LoggedIn()});
		const auto run =
		    harness.Dl(server, WithToken(method, "echo " + long_token));
		INFO(run.Describe());
		const auto commands = server.Commands(1);
		INFO(Join(commands));
		CHECK(run.ExitCode() == exit_code::ok);
		CHECK(HasCommand(commands, "AUTH " + mechanism));
		CHECK(HasCommand(commands, response));
		// No command line over RFC 2449's 255 octets but the response itself,
		// which RFC 5034 §4 does not bound.
		for (const auto &c : commands)
			if (c != response)
				CHECK(c.size() + 2 <= 255);
		CHECK(harness.Files() ==
		      std::vector<std::string>{CrlfToLf(StandardMessage(1))});
		CHECK(run.Err().find(long_token) == std::string::npos);
	}
}

TEST_CASE("the server's JSON error after the continuation: 77, the reply and the error")
{
	for (const auto *method : {"xoauth2", "oauthbearer"}) {
		INFO(method);
		CaseHarness harness;
		FakePop3Server server;
		Prepare(server);
		const bool x = std::string(method) == "xoauth2";
		const std::string line =
		    x ? "AUTH XOAUTH2 " + popstream::Base64Encode(Xoauth2(token))
		      : "AUTH OAUTHBEARER " +
			    popstream::Base64Encode(Oauthbearer(token, server.Port()));
		server.AddRule({line,
				0,
				Phase::Authorization,
				{"+ " + popstream::Base64Encode(json_error) + "\r\n"}});
		// XOAUTH2 answers the error with an empty line, OAUTHBEARER with
		// 0x01 (RFC 7628 §3.2.3); either way the server then says -ERR.
		const std::string refused =
		    "-ERR Authentication failure: unknown user name "
		    "or bad password.\r\n";
		if (x)
			server.AddRule({"", 0, Phase::Authorization, {refused}, true});
		else
			server.AddRule({"AQ==", 0, Phase::Authorization, {refused}});
		const auto run = harness.Dl(server, WithToken(method, "echo " + token));
		INFO(run.Describe());
		const auto commands = server.Commands(1);
		INFO(Join(commands));
		CHECK(run.ExitCode() == exit_code::no_perm);
		CHECK(HasCommand(commands, line));
		CHECK(HasCommand(commands, x ? "" : "AQ=="));
		CHECK(CountVerb(commands, "STAT") == 0);
		CHECK(CountVerb(commands, "RETR") == 0);
		// The server's reply and what its JSON said, on the error line.
		CHECK(run.Err().find("-ERR Authentication failure: unknown user name or "
				     "bad password.") != std::string::npos);
		CHECK(run.Err().find("401") != std::string::npos);
		CHECK(run.Err().find("POP.AccessAsUser.All") != std::string::npos);
		CHECK(run.Err().find(token) == std::string::npos);
		CHECK(harness.Files().empty());
		CHECK(server.RemainingUids() == std::vector<std::string>{"u1"});
	}
}

TEST_CASE("a failing token command ends the run with 78 before AUTH")
{
	CaseHarness harness;
	FakePop3Server server;
	Prepare(server);
	const auto run = harness.Dl(server, WithToken("xoauth2", "false"));
	INFO(run.Describe());
	CHECK(run.ExitCode() == exit_code::config);
	CHECK(run.Err().find("token command \"false\": failed with exit status 1") !=
	      std::string::npos);
	CHECK(CountVerb(server.Commands(1), "AUTH") == 0);
}

TEST_CASE("EXTERNAL: the client certificate logs in, with an empty initial response")
{
	// RFC 4422 Appendix A: the identity is the TLS client certificate's; the
	// response is empty, sent as "=" on the AUTH line (RFC 5034 §4). No password or
	// token is looked up.
	CaseHarness harness;
	FakePop3Server server;
	server.SetCapabilities({"USER", "UIDL", "PIPELINING", "SASL PLAIN EXTERNAL"});
	server.AddMessage(StandardMessage(1), "u1");
	server.EnableTls(TestCaDirectory() + "/server.crt",
			 TestCaDirectory() + "/server.key");
	server.AddRule({"AUTH EXTERNAL =", 0, Phase::Authorization, LoggedIn()});
	DlOptions options;
	options.tls = true;
	options.args = {"-v",
			"--auth",
			"external",
			"--tls-cert",
			TestCaDirectory() + "/client.crt",
			"--tls-key",
			TestCaDirectory() + "/client.key"};
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	INFO(Join(server.Commands(1)));
	CHECK(run.ExitCode() == exit_code::ok);
	CHECK(HasCommand(server.Commands(1), "AUTH EXTERNAL ="));
	CHECK(CountVerb(server.Commands(1), "USER") == 0);
	CHECK(CountVerb(server.Commands(1), "PASS") == 0);
	CHECK(harness.Files() == std::vector<std::string>{CrlfToLf(StandardMessage(1))});
	CHECK(server.RemainingUids().empty());
}
