#include "fetch/AccountCredentials.hxx"

#include "TempDir.hxx"

#include <doctest/doctest.h>

using namespace popstream;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

/** A private netrc file in a fresh directory and options pointing at it. */
struct NetrcFixture {
	TempDir dir;
	std::string path = dir / "netrc";
	CredentialOptions options{path, "localuser"};

	explicit NetrcFixture(const std::string &text, unsigned mode = 0600)
	{
		WriteFile(path, text, mode);
	}
};

config::Account ExplicitAccount(std::string host, std::uint16_t port, config::TlsMode tls,
				std::string user)
{
	config::Account account;
	account.name = "work";
	account.host = std::move(host);
	account.port = port;
	account.tls = tls;
	account.user = std::move(user);
	account.maildir = "/m";
	return account;
}

config::Account SpecAccount(std::string server)
{
	config::Account account;
	account.name = "work";
	account.server = std::move(server);
	account.maildir = "/m";
	return account;
}

std::string ErrorOf(const config::Account &account, const CredentialOptions &options)
{
	try {
		ResolveAccountCredentials(account, options);
	} catch (const CredentialError &e) {
		CHECK(e.Code() == ExitCode::Config);
		return e.what();
	}
	FAIL("no CredentialError");
	return {};
}

} // namespace

TEST_CASE("explicit keys, password from netrc by machine user@host:port")
{
	const NetrcFixture netrc("machine alice@localhost:1110 password s3cret\n");
	const auto credentials = ResolveAccountCredentials(
	    ExplicitAccount("localhost", 1110, config::TlsMode::None, "alice"),
	    netrc.options);
	CHECK_FALSE(credentials.tls);
	CHECK_FALSE(credentials.starttls);
	CHECK(credentials.host == "localhost");
	CHECK(credentials.port == 1110);
	CHECK(credentials.user == "alice");
	CHECK(credentials.password == "s3cret");
	CHECK(credentials.VerifyName() == "localhost");
}

TEST_CASE("explicit keys: implicit TLS, SNI, netrc machine host and login")
{
	const NetrcFixture netrc("machine mail.example.com login bob password pw\n");
	auto account = ExplicitAccount("localhost", 1995, config::TlsMode::Implicit, "");
	account.host = "mail.example.com";
	account.sni = "tls.example.com";
	const auto credentials = ResolveAccountCredentials(account, netrc.options);
	CHECK(credentials.tls);
	CHECK_FALSE(credentials.starttls);
	CHECK(credentials.port == 1995);
	CHECK(credentials.user == "bob");
	CHECK(credentials.password == "pw");
	CHECK(credentials.VerifyName() == "tls.example.com");
}

TEST_CASE("explicit keys: the user defaults to the local user")
{
	const NetrcFixture netrc("default password pw\n");
	const auto credentials = ResolveAccountCredentials(
	    ExplicitAccount("mail.example.com", 0, config::TlsMode::Implicit, ""),
	    netrc.options);
	CHECK(credentials.user == "localuser");
	CHECK(credentials.port == 995);
}

TEST_CASE("starttls: TLS before login, cleartext port and netrc machine")
{
	const NetrcFixture netrc("machine alice@mail.example.com:110 password pw\n");
	const auto credentials = ResolveAccountCredentials(
	    ExplicitAccount("mail.example.com", 0, config::TlsMode::StartTls, "alice"),
	    netrc.options);
	// A cleartext connection that STLS upgrades before the login.
	CHECK_FALSE(credentials.tls);
	CHECK(credentials.starttls);
	CHECK(credentials.port == 110);
	CHECK(credentials.password == "pw");
}

TEST_CASE("server: resolved as popstream dl resolves its spec, netrc accounts included")
{
	const NetrcFixture netrc(
	    "machine alice@localhost:1110 account alice@mail.example.com "
	    "password s3cret\n"
	    "machine carol@localhost:2110 account bob+work password pw2\n");
	const auto direct = ResolveAccountCredentials(
	    SpecAccount("tcp:alice@localhost:1110"), netrc.options);
	CHECK_FALSE(direct.tls);
	CHECK(direct.Label() == "alice@localhost:1110");
	CHECK(direct.password == "s3cret");

	const auto named = ResolveAccountCredentials(
	    SpecAccount("tcp:alice@mail.example.com"), netrc.options);
	CHECK(named.host == "localhost");
	CHECK(named.port == 1110);
	CHECK(named.VerifyName() == "mail.example.com");
	CHECK(named.password == "s3cret");

	// Not a spec at all, only a netrc account name.
	const auto shaped =
	    ResolveAccountCredentials(SpecAccount("tcp:bob+work"), netrc.options);
	CHECK_FALSE(shaped.tls);
	CHECK(shaped.Label() == "carol@localhost:2110");
	CHECK(shaped.password == "pw2");
}

TEST_CASE("password_command: used instead of netrc, which may then be missing")
{
	TempDir dir;
	CredentialOptions options{dir / "no-netrc", "localuser"};
	auto account =
	    ExplicitAccount("mail.example.com", 0, config::TlsMode::Implicit, "");
	account.password_command = {"printf", "from-command\\n"};
	const auto credentials = ResolveAccountCredentials(account, options);
	CHECK(credentials.user == "localuser");
	CHECK(credentials.password == "from-command");

	auto spec = SpecAccount("alice@mail.example.com");
	spec.password_command = {"printf", "from-command\\n"};
	CHECK(ResolveAccountCredentials(spec, options).password == "from-command");
}

TEST_CASE("password_command wins over a netrc password")
{
	const NetrcFixture netrc("machine alice@localhost:1110 password s3cret\n");
	auto account = ExplicitAccount("localhost", 1110, config::TlsMode::None, "alice");
	account.password_command = {"printf", "other"};
	CHECK(ResolveAccountCredentials(account, netrc.options).password == "other");
}

TEST_CASE("password_command with a user: an unsafe netrc is not even read")
{
	const NetrcFixture netrc("machine h password x\n", 0644);
	auto account = ExplicitAccount("h", 0, config::TlsMode::Implicit, "alice");
	account.password_command = {"printf", "pw"};
	CHECK(ResolveAccountCredentials(account, netrc.options).password == "pw");
	// Without a command the same netrc is refused.
	account.password_command.clear();
	CHECK(ErrorOf(account, netrc.options)
		  .find("must not be accessible by group or "
			"others") != std::string::npos);
}

TEST_CASE("errors name the account")
{
	TempDir dir;
	CredentialOptions options{dir / "no-netrc", "localuser"};
	CHECK(ErrorOf(ExplicitAccount("h", 0, config::TlsMode::Implicit, "alice"),
		      options) ==
	      "account \"work\": cannot read " + dir / "no-netrc" +
		  ": No such file or directory (needed for the password of alice@h:995)");

	const NetrcFixture netrc("machine other password x\n");
	CHECK(
	    ErrorOf(SpecAccount("alice@mail.example.com"), netrc.options) ==
	    "account \"work\": " + netrc.path +
		": no password for alice@mail.example.com:995 (looked for machine "
		"\"alice@mail.example.com:995\", machine \"mail.example.com\", default)");

	// LoadConfig() rejects this, but a hand-made Account must still fail as a
	// config error, not a usage error.
	CHECK(
	    ErrorOf(SpecAccount("imap:x"), netrc.options) ==
	    "account \"work\": bad connection spec \"imap:x\": unknown prefix \"imap:\" "
	    "(expected \"ssl:\", \"tcp:\" or \"starttls:\")");

	auto account = ExplicitAccount("h", 0, config::TlsMode::Implicit, "alice");
	account.password_command = {"sh", "-c", "echo hunter2; exit 1"};
	const auto message = ErrorOf(account, options);
	CHECK(message ==
	      "account \"work\": password command \"sh\": failed with exit status 1");
}

TEST_CASE("ResolveAccountConnection: no password, no command, no netrc needed")
{
	TempDir dir;
	CredentialOptions options{dir / "no-netrc", "localuser"};
	auto account =
	    ExplicitAccount("mail.example.com", 0, config::TlsMode::StartTls, "");
	account.password_command = {"touch", dir / "ran"};
	const auto credentials = ResolveAccountConnection(account, options);
	CHECK(credentials.user == "localuser");
	CHECK(credentials.port == 110);
	CHECK_FALSE(credentials.tls);
	CHECK(credentials.starttls);
	CHECK(credentials.password.empty());
	CHECK(test::ListDir(dir.Path()).empty());

	account.password_command.clear();
	CHECK(ResolveAccountConnection(account, options).password.empty());

	try {
		ResolveAccountConnection(SpecAccount("tcp:nosuch+account"), options);
		FAIL("no CredentialError");
	} catch (const CredentialError &e) {
		CHECK(e.Code() == ExitCode::Usage);
		CHECK(std::string(e.what()) ==
		      "account \"work\": bad connection spec \"tcp:nosuch+account\": "
		      "unexpected "
		      "character \"+\" in host \"nosuch+account\"");
	}
}
