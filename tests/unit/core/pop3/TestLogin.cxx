// The login alone: the commands it sends in which order, when PASS may be pipelined,
// STLS, and how each failure is reported.
#include "FakeAuth.hxx"
#include "core/pop3/Login.hxx"
#include "core/pop3/Pipeline.hxx"

#include <doctest/doctest.h>

#include <algorithm>
#include <initializer_list>
#include <vector>

using namespace popstream::pop3;

namespace {

LoginConfig Config()
{
	LoginConfig c;
	c.user = "alice";
	c.password = "hunter2";
	// As over an ssh port forward: the password may go out without TLS.
	c.loopback = true;
	return c;
}

/** Plays the session's part: pops what a status line answers (not a CAPA +OK,
 * whose body follows), then hands the reply to the login. */
class Driver {
public:
	explicit Driver(LoginConfig config, Pipelining mode = Pipelining::Auto)
	    : pipeline(mode, false), login(std::move(config))
	{
		pipeline.Await(Command::Greeting);
	}

	Login::Step Reply(std::string_view line)
	{
		const auto reply = ParseReply(line);
		REQUIRE(reply);
		REQUIRE_FALSE(pipeline.Empty());
		if (!reply->ok || pipeline.Front().command != Command::Capa)
			pipeline.Pop();
		return login.OnReply(*reply, pipeline);
	}

	/** A CAPA body and its end. */
	template <class Lines>
	Login::Step Capabilities(const Lines &lines)
	{
		REQUIRE(Reply("+OK") == Login::Step::ReadCapabilities);
		for (const auto line : lines)
			login.OnCapabilityLine(line);
		pipeline.Pop();
		return login.OnCapabilitiesEnd(pipeline);
	}

	Login::Step Capabilities(std::initializer_list<std::string_view> lines)
	{
		REQUIRE(Reply("+OK") == Login::Step::ReadCapabilities);
		for (const auto line : lines)
			login.OnCapabilityLine(line);
		pipeline.Pop();
		return login.OnCapabilitiesEnd(pipeline);
	}

	std::string Sent() { return pipeline.TakeOutput(); }

	Pipeline pipeline;
	Login login;
};

} // namespace

TEST_CASE("loopback: greeting, CAPA, USER and PASS together, CAPA after login")
{
	Driver d(Config());
	CHECK(d.Reply("+OK POP3 ready") == Login::Step::Continue);
	CHECK(d.Sent() == "CAPA\r\n");
	CHECK(d.Capabilities({"USER", "PIPELINING", "UIDL"}) == Login::Step::Continue);
	CHECK(d.pipeline.Window() == limits::full_window_commands);
	// Nobody can read a loopback link: PASS need not wait for USER's +OK, and to a
	// server that pipelines the CAPA after login (capabilities may change: RFC 2449
	// section 5) and the session's listing go with them.
	CHECK(d.Sent() == "USER alice\r\nPASS hunter2\r\nCAPA\r\n");
	CHECK(d.login.TakeListingCue());
	CHECK_FALSE(d.login.TakeListingCue());
	CHECK(d.Reply("+OK") == Login::Step::Continue);
	CHECK(d.Sent().empty());
	CHECK_FALSE(d.login.LoggedIn());
	CHECK(d.Reply("+OK logged in") == Login::Step::LoggedIn);
	CHECK(d.login.Method() == AuthMethod::User);
	CHECK(d.Sent().empty());
	CHECK(d.login.LoggedIn());
	CHECK_FALSE(d.login.Done());
	CHECK(d.Capabilities({"UIDL"}) == Login::Step::Done);
	CHECK(d.login.Done());
	CHECK(d.pipeline.Empty());
	CHECK_FALSE(d.login.Caps().pipelining);
	CHECK(d.pipeline.Window() == limits::guarded_window_commands);
}

TEST_CASE("the listing follows the credentials only where the server pipelines in full")
{
	SUBCASE("a guarded window (CAPA without PIPELINING): USER and PASS only")
	{
		Driver d(Config());
		d.Reply("+OK");
		d.Capabilities({"USER", "UIDL"});
		CHECK(d.Sent() == "CAPA\r\nUSER alice\r\nPASS hunter2\r\n");
		CHECK_FALSE(d.login.TakeListingCue());
		d.Reply("+OK");
		CHECK(d.Reply("+OK") == Login::Step::LoggedIn);
		CHECK(d.Sent() == "CAPA\r\n");
	}
	SUBCASE("APOP reveals no secret: the listing goes with it, even in cleartext")
	{
		auto config = Config();
		config.loopback = false;
		config.method = AuthMethod::Apop;
		config.provider = popstream::test::MakeFakeAuth();
		Driver d(config);
		d.Reply("+OK <1896.697170952@dbc.mtview.ca.us>");
		d.Capabilities({"PIPELINING"});
		const std::string sent = d.Sent();
		CHECK(sent.starts_with("CAPA\r\nAPOP alice "));
		CHECK(sent.ends_with("\r\nCAPA\r\n"));
		CHECK(d.login.TakeListingCue());
		CHECK(d.Reply("+OK") == Login::Step::LoggedIn);
		CHECK(d.Sent().empty());
	}
	SUBCASE("a refused login ends at its own reply, the listing still unanswered")
	{
		Driver d(Config());
		d.Reply("+OK");
		d.Capabilities({"PIPELINING"});
		CHECK(d.Sent() == "CAPA\r\nUSER alice\r\nPASS hunter2\r\nCAPA\r\n");
		d.Reply("+OK");
		CHECK(d.Reply("-ERR [AUTH] Authentication failed.") ==
		      Login::Step::Failed);
		CHECK(d.login.Failure().kind == LoginFailureKind::Auth);
		CHECK(d.pipeline.Front().command == Command::Capa);
	}
	SUBCASE("AUTH PLAIN with its initial response is a whole login: the listing "
		"goes with it")
	{
		auto config = Config();
		config.method = AuthMethod::Plain;
		config.provider = popstream::test::MakeFakeAuth();
		Driver d(config);
		d.Reply("+OK");
		d.Capabilities({"PIPELINING", "SASL PLAIN"});
		const std::string sent = d.Sent();
		CHECK(sent.starts_with("CAPA\r\nAUTH PLAIN "));
		CHECK(sent.ends_with("\r\nCAPA\r\n"));
		CHECK(std::count(sent.begin(), sent.end(), '\n') == 3);
		CHECK(d.login.TakeListingCue());
		CHECK(d.Reply("+OK logged in") == Login::Step::LoggedIn);
		CHECK(d.Sent().empty());
	}
	SUBCASE("a challenge after PLAIN's initial response ends the login: the "
		"listing behind it would be read as the response")
	{
		auto config = Config();
		config.method = AuthMethod::Plain;
		config.provider = popstream::test::MakeFakeAuth();
		Driver d(config);
		d.Reply("+OK");
		d.Capabilities({"PIPELINING", "SASL PLAIN"});
		d.Sent();
		d.pipeline.Pop(); // the continuation answers AUTH
		CHECK(d.login.OnContinuation("", d.pipeline) == Login::Step::Failed);
		CHECK(d.login.Failure().kind == LoginFailureKind::Protocol);
		CHECK(d.login.Failure().message ==
		      "protocol error: the server answered AUTH PLAIN with its initial "
		      "response by a challenge (\"+ \"), though RFC 5034 §4 lets none "
		      "follow it");
		CHECK(d.Sent().empty());
	}
	SUBCASE("a SASL exchange with challenges never has company")
	{
		auto config = Config();
		config.method = AuthMethod::ScramSha256;
		config.provider = popstream::test::MakeFakeAuth();
		Driver d(config);
		d.Reply("+OK");
		d.Capabilities({"PIPELINING", "SASL SCRAM-SHA-256"});
		const std::string sent = d.Sent();
		CHECK(sent.starts_with("CAPA\r\nAUTH SCRAM-SHA-256 "));
		CHECK(std::count(sent.begin(), sent.end(), '\n') == 2);
		CHECK_FALSE(d.login.TakeListingCue());
	}
}

TEST_CASE("an open cleartext link: nothing that reveals the password is sent")
{
	auto config = Config();
	config.loopback = false;
	Driver d(config);
	d.Reply("+OK POP3 ready");
	SUBCASE("auto finds nothing safe")
	{
		CHECK(d.Capabilities({"USER", "SASL PLAIN LOGIN"}) ==
		      Login::Step::Failed);
		CHECK(d.login.Failure().kind == LoginFailureKind::Method);
		CHECK(d.login.Failure().message ==
		      "cannot log in: no login method the server offers keeps the "
		      "password secret on this cleartext connection (it offers USER, "
		      "PLAIN, LOGIN); use starttls: or ssl:, or allow_plaintext "
		      "(--allow-plaintext) if nobody can read the path");
	}
	SUBCASE("USER asked for")
	{
		Driver u([] {
			auto c = Config();
			c.loopback = false;
			c.method = AuthMethod::User;
			return c;
		}());
		u.Reply("+OK");
		CHECK(u.Capabilities({"USER"}) == Login::Step::Failed);
		CHECK(u.login.Failure().message ==
		      "refusing to send the password in cleartext (user) over a "
		      "connection that is neither TLS nor to loopback; use starttls: "
		      "or ssl:, or allow_plaintext (--allow-plaintext) if nobody can "
		      "read the path");
		CHECK(u.Sent() == "CAPA\r\n");
	}
	SUBCASE("allow_plaintext says the path is trusted")
	{
		Driver a([] {
			auto c = Config();
			c.loopback = false;
			c.allow_plaintext = true;
			return c;
		}());
		a.Reply("+OK");
		CHECK(a.Capabilities({"USER"}) == Login::Step::Continue);
		CHECK(a.Sent() == "CAPA\r\nUSER alice\r\nPASS hunter2\r\n");
	}
	CHECK(d.Sent() == "CAPA\r\n");
}

TEST_CASE("a CAPA refused before login is not sent again after it")
{
	Driver d(Config());
	d.Reply("+OK");
	d.Sent();
	CHECK(d.Reply("-ERR unknown command") == Login::Step::Continue);
	CHECK(d.Sent() == "USER alice\r\n");
	d.Reply("+OK");
	d.Sent();
	CHECK(d.Reply("+OK") == Login::Step::LoggedIn);
	CHECK(d.login.Done());
	CHECK(d.Sent().empty());
	CHECK_FALSE(d.login.Caps().known);
	CHECK(d.pipeline.Window() == 1);
}

TEST_CASE("a CAPA refused after login keeps what CAPA said before it")
{
	Driver d(Config());
	d.Reply("+OK");
	d.Capabilities({"PIPELINING"});
	d.Reply("+OK");
	d.Reply("+OK");
	CHECK(d.Sent() == "CAPA\r\nUSER alice\r\nPASS hunter2\r\nCAPA\r\n");
	CHECK(d.Reply("-ERR not now") == Login::Step::Done);
	CHECK(d.login.Caps().pipelining);
}

TEST_CASE("over TLS, PASS goes out with USER when the server pipelines")
{
	auto config = Config();
	config.secure = true;
	Driver d(config);
	d.Reply("+OK");
	d.Capabilities({"PIPELINING"});
	CHECK(d.Sent() == "CAPA\r\nUSER alice\r\nPASS hunter2\r\nCAPA\r\n");
	// Each of the two replies answers its own command; PASS and CAPA are not sent
	// twice.
	CHECK(d.Reply("+OK") == Login::Step::Continue);
	CHECK(d.Sent().empty());
	CHECK(d.Reply("+OK") == Login::Step::LoggedIn);
	CHECK(d.Sent().empty());

	SUBCASE("but not to a server that does not answer CAPA")
	{
		Driver old(config);
		old.Reply("+OK");
		old.Reply("-ERR");
		CHECK(old.Sent() == "CAPA\r\nUSER alice\r\n");
	}
}

TEST_CASE("STLS: no credentials before the handshake, and capabilities learnt again")
{
	auto config = Config();
	config.starttls = true;
	Driver d(config);
	d.Reply("+OK");
	CHECK(d.Capabilities({"STLS", "PIPELINING"}) == Login::Step::Continue);
	CHECK(d.Sent() == "CAPA\r\nSTLS\r\n");
	CHECK(d.Reply("+OK begin TLS") == Login::Step::StartTls);
	CHECK(d.pipeline.Empty());
	CHECK(d.Sent().empty());
	CHECK(d.login.TlsStarted(d.pipeline) == Login::Step::Continue);
	// What the server said in cleartext could have been forged (RFC 2595 section 4).
	CHECK_FALSE(d.login.Caps().known);
	CHECK(d.pipeline.Window() == 1);
	CHECK(d.Sent() == "CAPA\r\n");
	// A second call is no second handshake.
	CHECK(d.login.TlsStarted(d.pipeline) == Login::Step::Continue);
	CHECK(d.Sent().empty());
	d.Capabilities({"PIPELINING", "USER"});
	// The link is encrypted now: PASS may follow USER at once.
	CHECK(d.Sent() == "USER alice\r\nPASS hunter2\r\nCAPA\r\n");
}

TEST_CASE("login failures say which, and never echo the password")
{
	SUBCASE("the greeting")
	{
		Driver d(Config());
		CHECK(d.Reply("-ERR maintenance") == Login::Step::Failed);
		CHECK(d.login.Failure().kind == LoginFailureKind::Greeting);
		CHECK(d.login.Failure().message ==
		      "server not ready: \"-ERR maintenance\"");
		CHECK(d.Sent().empty());
	}
	SUBCASE("STLS refused: no USER, no PASS")
	{
		auto config = Config();
		config.starttls = true;
		Driver d(config);
		d.Reply("+OK");
		d.Reply("-ERR");
		CHECK(d.Sent() == "CAPA\r\nSTLS\r\n");
		CHECK(d.Reply("-ERR no TLS here") == Login::Step::Failed);
		CHECK(d.login.Failure().kind == LoginFailureKind::StartTls);
		CHECK(d.Sent().empty());
	}
	SUBCASE("USER refused with a code that says later (RFC 3206)")
	{
		Driver d(Config());
		d.Reply("+OK");
		d.Reply("-ERR");
		CHECK(d.Reply("-ERR [IN-USE] mailbox locked") == Login::Step::Failed);
		CHECK(d.login.Failure().kind == LoginFailureKind::AuthTemporary);
		REQUIRE(d.login.Failure().reply);
		CHECK(d.login.Failure().reply->code == "IN-USE");
		CHECK(d.Sent() == "CAPA\r\nUSER alice\r\n");
	}
	SUBCASE("PASS refused, the server echoing the password")
	{
		Driver d(Config());
		d.Reply("+OK");
		d.Reply("-ERR");
		d.Reply("+OK");
		CHECK(d.Reply("-ERR [AUTH] wrong password hunter2") ==
		      Login::Step::Failed);
		CHECK(d.login.Failure().kind == LoginFailureKind::Auth);
		CHECK(d.login.Failure().message ==
		      "login failed: \"-ERR [AUTH] wrong password ********\"");
	}
}

TEST_CASE("skip_capa: a reconnect to a server that hung up on CAPA never sends it")
{
	auto config = Config();
	config.skip_capa = true;
	Driver d(config);
	d.Reply("+OK");
	d.Reply("+OK");
	CHECK(d.Reply("+OK") == Login::Step::LoggedIn);
	CHECK(d.login.Done());
	CHECK(d.Sent() == "USER alice\r\nPASS hunter2\r\n");
}

TEST_CASE("a password looked up once connected is the one sent")
{
	auto config = Config();
	config.password.clear();
	Driver d(config);
	d.login.SetPassword("late");
	d.Reply("+OK");
	d.Reply("-ERR");
	d.Reply("+OK");
	CHECK(d.Sent() == "CAPA\r\nUSER alice\r\nPASS late\r\n");
	CHECK(Login::Redact("pass late\r\n") == "PASS ********");
	CHECK(Login::Redact("USER alice\r\n") == "USER alice");
}

TEST_CASE("APOP timestamps are validated before anything is hashed over them")
{
	std::string problem;
	CHECK(ApopTimestamp("+OK POP3 <1896.697170952@dbc.mtview.ca.us>", problem) ==
	      "<1896.697170952@dbc.mtview.ca.us>");
	const auto refused = [&](std::string_view greeting) {
		problem.clear();
		const bool none = !ApopTimestamp(greeting, problem);
		return none && !problem.empty();
	};
	CHECK(refused("+OK POP3 ready"));
	CHECK(problem == "its greeting has no APOP timestamp");
	CHECK(refused("+OK <>"));
	CHECK(problem ==
	      "the APOP timestamp in its greeting is not of the form <...@...>");
	CHECK(refused("+OK <1.2>"));
	CHECK(refused("+OK <@host>"));
	CHECK(refused("+OK <1.2@>"));
	CHECK(refused("+OK <1.2@h\xe9st>"));
	CHECK(problem == "the APOP timestamp in its greeting holds a space, control or "
			 "8-bit character");
	CHECK(refused("+OK <1 2@host>"));
	CHECK(refused("+OK <1.2@host"));
	CHECK(refused("+OK <1@a> <2@b>"));
	CHECK(problem == "its greeting holds more than one APOP timestamp");
	CHECK(refused("+OK <<1@a>"));
	CHECK(refused("+OK <" + std::string(2000, 'a') + "@b>"));
	CHECK(problem == "the APOP timestamp in its greeting is 2004 octets long");
	CHECK(ApopTimestamp(
	    "+OK <" + std::string(limits::max_apop_timestamp_bytes - 4, 'a') + "@b>",
	    problem));
}

TEST_CASE("CR, LF or NUL in the user name, password or token: nothing is sent")
{
	for (const std::string &bad :
	     {std::string("pw\r\nDELE 1"), std::string("pw\n"), std::string("p\0w", 3)}) {
		auto config = Config();
		config.password = bad;
		Driver d(config);
		d.Reply("+OK");
		CHECK(d.Capabilities({"USER", "PIPELINING"}) == Login::Step::Failed);
		CHECK(d.login.Failure().kind == LoginFailureKind::Method);
		CHECK(d.login.Failure().message == "cannot log in: the user name or the "
						   "password contains CR, LF or NUL; "
						   "nothing was sent");
		CHECK(d.Sent() == "CAPA\r\n");
	}
	auto config = Config();
	config.user = "alice\r\nQUIT";
	Driver d(config);
	d.Reply("+OK");
	CHECK(d.Capabilities({"USER"}) == Login::Step::Failed);
	CHECK(d.Sent() == "CAPA\r\n");
}

TEST_CASE("a log sees no secret of any method")
{
	Pipeline pipeline(Pipelining::Off, false);
	pipeline.KeepShown();
	// Only the listing may follow credentials (invariant 4), so RETR comes first
	// and PASS last here.
	pipeline.Submit(Command::Retr, "RETR 1");
	pipeline.Submit(Command::User, "USER alice");
	pipeline.Submit(Command::Apop, "APOP alice c4c9334bac560ecc979e58001b3e22fb");
	pipeline.Submit(Command::Auth, "AUTH PLAIN AGFsaWNlAGh1bnRlcjI=");
	pipeline.Submit(Command::Auth, "AUTH LOGIN");
	pipeline.Submit(Command::Auth, "aHVudGVyMg==");
	pipeline.Submit(Command::Auth, "QUIT");
	pipeline.Submit(Command::Auth, "");
	pipeline.Submit(Command::Auth, "*");
	pipeline.Submit(Command::Pass, "PASS hunter2");
	CHECK(pipeline.TakeShown() ==
	      std::vector<std::string>{"RETR 1", "USER alice", "APOP alice ********",
				       "AUTH PLAIN ********", "AUTH LOGIN", "********",
				       "********", "", "*", "PASS ********"});
	CHECK(pipeline.TakeShown().empty());

	Pipeline quiet(Pipelining::Off, false);
	quiet.Submit(Command::Pass, "PASS hunter2");
	CHECK(quiet.TakeShown().empty());
}

TEST_CASE("a SASL challenge longer than the bound is refused, not decoded")
{
	auto config = Config();
	config.secure = true;
	config.method = AuthMethod::CramMd5;
	config.provider = popstream::test::MakeFakeAuth();
	Driver d(config);
	d.Reply("+OK");
	d.Capabilities({"SASL CRAM-MD5"});
	CHECK(d.Sent() == "CAPA\r\nAUTH CRAM-MD5\r\n");
	d.pipeline.Pop();
	CHECK(d.login.OnContinuation(std::string(8000, 'A'), d.pipeline) ==
	      Login::Step::Continue);
	CHECK(d.Sent() == "*\r\n");
	CHECK(d.Reply("-ERR cancelled") == Login::Step::Failed);
	CHECK(d.login.Failure().kind == LoginFailureKind::Protocol);
	CHECK(
	    d.login.Failure().message ==
	    "protocol error: the server's CRAM-MD5 challenge is longer than 4096 octets");
}

TEST_CASE("auto: the strongest method offered that the credentials allow")
{
	struct Row {
		std::vector<std::string_view> caps;
		bool secure, loopback, token, cert_only;
		std::string greeting;
		AuthMethod expected;
	};
	const std::vector<Row> rows = {
	    {{"USER", "SASL PLAIN SCRAM-SHA-1 SCRAM-SHA-256"},
	     true,
	     false,
	     false,
	     false,
	     "+OK",
	     AuthMethod::ScramSha256},
	    {{"USER", "SASL PLAIN SCRAM-SHA-1"},
	     true,
	     false,
	     false,
	     false,
	     "+OK",
	     AuthMethod::ScramSha1},
	    {{"USER", "SASL PLAIN CRAM-MD5"},
	     true,
	     false,
	     false,
	     false,
	     "+OK",
	     AuthMethod::Plain},
	    {{"USER", "SASL CRAM-MD5"},
	     true,
	     false,
	     false,
	     false,
	     "+OK",
	     AuthMethod::User},
	    {{"USER", "SASL PLAIN CRAM-MD5"},
	     false,
	     false,
	     false,
	     false,
	     "+OK",
	     AuthMethod::CramMd5},
	    {{"USER"}, false, false, false, false, "+OK <1@h>", AuthMethod::Apop},
	    {{"USER"}, false, true, false, false, "+OK <1@h>", AuthMethod::User},
	    {{"SASL LOGIN"}, true, false, false, false, "+OK", AuthMethod::Login},
	    {{"SASL PLAIN XOAUTH2 OAUTHBEARER"},
	     true,
	     false,
	     true,
	     false,
	     "+OK",
	     AuthMethod::Oauthbearer},
	    {{"SASL PLAIN XOAUTH2"},
	     true,
	     false,
	     true,
	     false,
	     "+OK",
	     AuthMethod::Xoauth2},
	    {{"SASL PLAIN EXTERNAL"},
	     true,
	     false,
	     false,
	     true,
	     "+OK",
	     AuthMethod::External},
	};
	for (const auto &row : rows) {
		auto config = Config();
		config.secure = row.secure;
		config.loopback = row.loopback;
		config.provider = popstream::test::MakeFakeAuth();
		if (row.token) {
			config.password.clear();
			config.token = "tok";
		}
		if (row.cert_only) {
			config.password.clear();
			config.client_certificate = true;
		}
		Driver d(config);
		d.Reply(row.greeting);
		CAPTURE(row.greeting);
		CHECK(d.Capabilities(row.caps) == Login::Step::Continue);
		d.Sent();
		// Method() is set once the credentials went out.
		CHECK(AuthMethodName(d.login.Method()) == AuthMethodName(row.expected));
	}
}

TEST_CASE("capa_before_greeting: CAPA leaves at once and its reply follows the greeting")
{
	auto config = Config();
	config.capa_before_greeting = true;
	Driver d(config);
	d.login.Start(d.pipeline);
	CHECK(d.Sent() == "CAPA\r\n");
	// Once only.
	d.login.Start(d.pipeline);
	CHECK(d.Sent().empty());
	// The greeting is answered first (FIFO), and sends no second CAPA.
	CHECK(d.Reply("+OK POP3 ready <1.2@example.com>") == Login::Step::Continue);
	CHECK(d.Sent().empty());
	CHECK(d.Capabilities({"USER", "PIPELINING", "UIDL"}) == Login::Step::Continue);
	CHECK(d.Sent() == "USER alice\r\nPASS hunter2\r\nCAPA\r\n");
	CHECK(d.login.TakeListingCue());
	CHECK(d.Reply("+OK") == Login::Step::Continue);
	CHECK(d.Reply("+OK logged in") == Login::Step::LoggedIn);
	CHECK(d.Capabilities({"UIDL"}) == Login::Step::Done);
	CHECK(d.pipeline.Empty());
}

TEST_CASE("capa_before_greeting: a refused greeting still fails the login")
{
	auto config = Config();
	config.capa_before_greeting = true;
	Driver d(config);
	d.login.Start(d.pipeline);
	CHECK(d.Sent() == "CAPA\r\n");
	CHECK(d.Reply("-ERR [SYS/TEMP] busy") == Login::Step::Failed);
	CHECK(d.login.Failure().kind == LoginFailureKind::Greeting);
	CHECK(d.Sent().empty());
}

TEST_CASE("capa_before_greeting: never before STLS, never with skip_capa")
{
	for (const bool starttls : {true, false}) {
		CAPTURE(starttls);
		auto config = Config();
		config.capa_before_greeting = true;
		config.starttls = starttls;
		config.skip_capa = !starttls;
		Driver d(config);
		d.login.Start(d.pipeline);
		CHECK(d.Sent().empty());
	}
}
