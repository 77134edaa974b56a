// The login alone: the commands it sends in which order, when PASS may be pipelined,
// STLS, and how each failure is reported.
#include "core/pop3/Login.hxx"
#include "core/pop3/Pipeline.hxx"

#include <doctest/doctest.h>

#include <initializer_list>

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
	// Nobody can read a loopback link: PASS need not wait for USER's +OK.
	CHECK(d.Sent() == "USER alice\r\nPASS hunter2\r\n");
	CHECK(d.Reply("+OK") == Login::Step::Continue);
	CHECK(d.Sent().empty());
	CHECK_FALSE(d.login.LoggedIn());
	CHECK(d.Reply("+OK logged in") == Login::Step::LoggedIn);
	CHECK(d.login.Method() == AuthMethod::User);
	// Capabilities may change after login (RFC 2449 section 5).
	CHECK(d.Sent() == "CAPA\r\n");
	CHECK(d.login.LoggedIn());
	CHECK_FALSE(d.login.Done());
	CHECK(d.Capabilities({"UIDL"}) == Login::Step::Done);
	CHECK(d.login.Done());
	CHECK(d.pipeline.Empty());
	CHECK_FALSE(d.login.Caps().pipelining);
	CHECK(d.pipeline.Window() == limits::guarded_window_commands);
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
	CHECK(d.Sent() == "CAPA\r\nUSER alice\r\nPASS hunter2\r\n");
	// Each of the two replies answers its own command; PASS is not sent twice.
	CHECK(d.Reply("+OK") == Login::Step::Continue);
	CHECK(d.Sent().empty());
	CHECK(d.Reply("+OK") == Login::Step::LoggedIn);
	CHECK(d.Sent() == "CAPA\r\n");

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
	CHECK(d.Sent() == "USER alice\r\nPASS hunter2\r\n");
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
