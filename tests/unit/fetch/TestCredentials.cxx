#include "fetch/Credentials.hxx"

#include "ScopedEnv.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <pwd.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace popstream;
using popstream::test::ScopedEnv;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

/** A private netrc file in a fresh directory. */
struct NetrcFixture {
	TempDir dir;
	std::string path = dir / "netrc";
	CredentialOptions options{path, "localuser"};

	explicit NetrcFixture(const std::string &text, unsigned mode = 0600)
	{
		WriteFile(path, text, mode);
	}
};

struct Failure {
	ExitCode code;
	std::string message;
};

Failure ErrorOf(std::string_view spec, const CredentialOptions &options)
{
	try {
		ResolveCredentials(spec, options);
	} catch (const CredentialError &e) {
		return {e.Code(), e.what()};
	}
	FAIL("no CredentialError for \"" << std::string(spec) << "\"");
	return {};
}

const char *const example_entry = "machine alice@localhost:1110 account "
				  "alice@mail.example.com password s3cret\n";

} // namespace

TEST_CASE("an account name resolves through its netrc entry (the cs.pop3 example)")
{
	NetrcFixture f(example_entry);
	const auto c = ResolveCredentials("tcp:alice@mail.example.com", f.options);
	CHECK_FALSE(c.tls);
	CHECK(c.host == "localhost");
	CHECK(c.port == 1110);
	CHECK(c.tls_name == "mail.example.com");
	CHECK(c.VerifyName() == "mail.example.com");
	CHECK(c.user == "alice");
	CHECK(c.password == "s3cret");
	CHECK(c.Label() == "alice@localhost:1110");
}

TEST_CASE("an account name without prefix means implicit TLS")
{
	NetrcFixture f(example_entry);
	const auto c = ResolveCredentials("alice@mail.example.com", f.options);
	CHECK(c.tls);
	CHECK(c.port == 1110);
	CHECK(c.tls_name == "mail.example.com");
}

TEST_CASE("account entries: login as user, default port, SNI from the machine")
{
	// The password is looked up by user@host:port like any other, so an account
	// entry whose machine is not exactly that form does not give its own password.
	NetrcFixture f("machine localhost account bob@mail.example.com login bob "
		       "password pb\n"
		       "machine localhost!imap.example.com:1995 account "
		       "\"work\" login carol password unused\n"
		       "machine carol@localhost:1995 password pc\n"
		       "machine bob@localhost:995 password pspecific\n"
		       "machine tcp:dave@localhost:1110 account dave password unused\n"
		       "machine dave@localhost:1110 password pd\n");

	auto c = ResolveCredentials("bob@mail.example.com", f.options);
	CHECK(c.user == "bob");
	CHECK(c.host == "localhost");
	CHECK(c.port == 995);
	CHECK(c.tls_name == "mail.example.com");
	CHECK(c.password == "pspecific");

	c = ResolveCredentials("work", f.options);
	CHECK(c.user == "carol");
	CHECK(c.port == 1995);
	CHECK(c.tls_name == "imap.example.com");
	CHECK(c.password == "pc");

	// The prefix of the machine applies unless the command line has one.
	c = ResolveCredentials("dave", f.options);
	CHECK_FALSE(c.tls);
	CHECK(c.port == 1110);
	CHECK(c.tls_name == "dave");
	CHECK(c.password == "pd");
	CHECK(ResolveCredentials("ssl:dave", f.options).tls);
}

TEST_CASE("starttls: cleartext port, STLS required; also as a netrc account prefix")
{
	NetrcFixture f(example_entry +
		       std::string("machine starttls:erin@localhost:1110 account erin "
				   "password unused\n"
				   "machine erin@localhost:1110 password pe\n"
				   "machine mail.example.com password p\n"));
	auto c = ResolveCredentials("starttls:mail.example.com", f.options);
	CHECK_FALSE(c.tls);
	CHECK(c.starttls);
	CHECK(c.port == 110);
	CHECK(c.VerifyName() == "mail.example.com");
	CHECK(c.password == "p");

	// The prefix on the command line names a netrc account like tcp: does, and
	// wins over the machine's.
	c = ResolveCredentials("starttls:alice@mail.example.com", f.options);
	CHECK_FALSE(c.tls);
	CHECK(c.starttls);
	CHECK(c.host == "localhost");
	CHECK(c.port == 1110);
	CHECK(c.tls_name == "mail.example.com");
	CHECK(c.password == "s3cret");

	// A machine with starttls: keeps it unless the command line says otherwise.
	c = ResolveCredentials("erin", f.options);
	CHECK(c.starttls);
	CHECK(c.password == "pe");
	CHECK_FALSE(ResolveCredentials("tcp:erin", f.options).starttls);
	c = ResolveCredentials("ssl:erin", f.options);
	CHECK(c.tls);
	CHECK_FALSE(c.starttls);

	CHECK_FALSE(ResolveCredentials("tcp:mail.example.com", f.options).starttls);
	CHECK_FALSE(ResolveCredentials("mail.example.com", f.options).starttls);
}

TEST_CASE("host!sni: connect to the host, verify the SNI name")
{
	NetrcFixture f("machine alice@localhost:1995 password p\n");
	const auto c =
	    ResolveCredentials("alice@localhost!mail.example.com:1995", f.options);
	CHECK(c.tls);
	CHECK(c.host == "localhost");
	CHECK(c.port == 1995);
	CHECK(c.tls_name == "mail.example.com");
	CHECK(c.VerifyName() == "mail.example.com");
	CHECK(c.password == "p");
	CHECK(c.Label() == "alice@localhost:1995");
}

TEST_CASE("default ports and the local user as default user")
{
	NetrcFixture f("machine mail.example.com password p\n");
	auto c = ResolveCredentials("mail.example.com", f.options);
	CHECK(c.tls);
	CHECK(c.port == 995);
	CHECK(c.tls_name.empty());
	CHECK(c.VerifyName() == "mail.example.com");
	CHECK(c.user == "localuser");
	CHECK(c.Label() == "localuser@mail.example.com:995");

	c = ResolveCredentials("tcp:mail.example.com", f.options);
	CHECK_FALSE(c.tls);
	CHECK(c.port == 110);

	// Without an override, the effective user's login name.
	const passwd *pw = getpwuid(geteuid());
	REQUIRE(pw != nullptr);
	CHECK(LocalUserName() == pw->pw_name);
	CredentialOptions real_user{f.path, ""};
	CHECK(ResolveCredentials("mail.example.com", real_user).user == pw->pw_name);
}

TEST_CASE("the default user comes from the login of machine host:port, then host")
{
	NetrcFixture f("machine mail.example.com:995 login bob\n"
		       "machine bob@mail.example.com:995 password pb\n"
		       "machine other.example.com password nologin\n"
		       "machine other.example.com login carol password pc\n");
	auto c = ResolveCredentials("mail.example.com", f.options);
	CHECK(c.user == "bob");
	CHECK(c.password == "pb");

	// The first entry with a login gives the user; the first entry that fits that
	// user gives the password.
	c = ResolveCredentials("other.example.com", f.options);
	CHECK(c.user == "carol");
	CHECK(c.password == "nologin");

	// user@ in the spec wins over any login.
	c = ResolveCredentials("dave@other.example.com", f.options);
	CHECK(c.user == "dave");
	CHECK(c.password == "nologin");
}

TEST_CASE("password lookup order: user@host:port, host, default")
{
	NetrcFixture f("default login guest password pdefault\n"
		       "machine mail.example.com login carol password phost\n"
		       "machine alice@mail.example.com:995 password pspecific\n"
		       "default password pany\n");
	CHECK(ResolveCredentials("alice@mail.example.com", f.options).password ==
	      "pspecific");
	// The port is always part of the specific form.
	CHECK(ResolveCredentials("alice@mail.example.com:9995", f.options).password ==
	      "pany");
	CHECK(ResolveCredentials("carol@mail.example.com:9995", f.options).password ==
	      "phost");
	CHECK(ResolveCredentials("guest@imap.example.com", f.options).password ==
	      "pdefault");
	CHECK(ResolveCredentials("zed@imap.example.com", f.options).password == "pany");
}

TEST_CASE("IPv6 hosts are bracketed in the machine name and the label")
{
	NetrcFixture f("machine alice@[::1]:1110 password p6\n");
	const auto c = ResolveCredentials("tcp:alice@[::1]:1110", f.options);
	CHECK(c.host == "::1");
	CHECK(c.port == 1110);
	CHECK(c.password == "p6");
	CHECK(c.Label() == "alice@[::1]:1110");
}

TEST_CASE("a missing netrc file is reported with the account that needs it")
{
	TempDir dir;
	const auto path = dir / "missing";
	const auto failure = ErrorOf("tcp:alice@localhost:1110", {path, "u"});
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message == "cannot read " + path +
				     ": No such file or directory (needed for the "
				     "password of alice@localhost:1110)");
	try {
		LoadNetrcFile(path);
		FAIL("no error");
	} catch (const CredentialError &e) {
		CHECK(e.Code() == ExitCode::Config);
		CHECK(std::string(e.what()) ==
		      "cannot read " + path + ": No such file or directory");
	}
}

TEST_CASE("no matching entry lists what was looked for")
{
	NetrcFixture f("machine localhost login bob password pb\n"
		       "default login carol password pc\n"
		       "machine alice@localhost:995 password wrong-port\n");
	const auto failure = ErrorOf("tcp:alice@localhost:1110", f.options);
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message ==
	      f.path + ": no password for alice@localhost:1110 (looked for machine "
		       "\"alice@localhost:1110\", machine \"localhost\", default)");
}

TEST_CASE("an entry without a password, or with an empty one, is an error")
{
	NetrcFixture f("machine alice@localhost:1110 account a\n"
		       "machine localhost password \"\"\n"
		       "default login carol\n");
	auto failure = ErrorOf("tcp:alice@localhost:1110", f.options);
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message == f.path + ":1: machine \"alice@localhost:1110\" has no "
					  "password (needed for alice@localhost:1110)");

	failure = ErrorOf("tcp:bob@localhost:1110", f.options);
	CHECK(failure.message == f.path + ":2: machine \"localhost\" has an empty "
					  "password (needed for bob@localhost:1110)");

	failure = ErrorOf("carol@imap.example.com", f.options);
	CHECK(failure.message == f.path + ":3: default entry has no password (needed for "
					  "carol@imap.example.com:995)");
}

TEST_CASE("passwords with line breaks are refused without being shown")
{
	NetrcFixture f("machine localhost password \"s3cret\nDELE 1\"\n");
	const auto failure = ErrorOf("tcp:alice@localhost", f.options);
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message == f.path + ":1: machine \"localhost\" has a password with "
					  "a line break or NUL, which POP3 cannot send");
}

TEST_CASE("a login with control characters is refused")
{
	NetrcFixture f("machine localhost login \"bob\r\nDELE 1\" password p\n");
	const auto failure = ErrorOf("localhost", f.options);
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message ==
	      f.path +
		  ":1: machine \"localhost\": the login contains a control character");
}

TEST_CASE("a netrc readable by group or others is refused")
{
	for (const unsigned mode : {0644u, 0640u, 0604u, 0601u, 0660u}) {
		CAPTURE(mode);
		NetrcFixture f(example_entry, mode);
		char octal[8];
		std::snprintf(octal, sizeof(octal), "%04o", mode);
		const auto failure = ErrorOf("tcp:alice@mail.example.com", f.options);
		CHECK(failure.code == ExitCode::Config);
		CHECK(failure.message ==
		      f.path + ": must not be accessible by group or others (mode " +
			  octal + "); run chmod 600 " + f.path);
		CHECK(failure.message.find("s3cret") == std::string::npos);
	}
	NetrcFixture ok(example_entry, 0400);
	CHECK(ResolveCredentials("tcp:alice@mail.example.com", ok.options).password ==
	      "s3cret");
}

TEST_CASE("a netrc owned by someone else is refused")
{
	NetrcFixture f(example_entry);
	const uid_t other = geteuid() == 0 ? 65534 : 0;
	if (geteuid() == 0)
		REQUIRE(chown(f.path.c_str(), other, static_cast<gid_t>(-1)) == 0);
	else
		// Without root, point at a root-owned file instead.
		f.options.netrc_path = "/etc/passwd";
	const auto failure = ErrorOf("tcp:alice@mail.example.com", f.options);
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message == f.options.netrc_path + ": must be owned by you (uid " +
				     std::to_string(geteuid()) +
				     "), but is owned by uid " + std::to_string(other));
}

TEST_CASE("a directory is not a netrc file")
{
	TempDir dir;
	const auto failure = ErrorOf("localhost", {dir.Path(), "u"});
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message == dir.Path() + ": not a regular file");
}

namespace {

/** Makes @p path a pipe and writes example_entry into it from a thread, as process
 * substitution would. */
std::thread FeedFifo(const std::string &path)
{
	REQUIRE(mkfifo(path.c_str(), 0600) == 0);
	REQUIRE(chmod(path.c_str(), 0600) == 0);
	return std::thread([path] {
		const int fd = open(path.c_str(), O_WRONLY);
		if (fd < 0)
			return;
		const std::string text = example_entry;
		[[maybe_unused]] auto n = write(fd, text.data(), text.size());
		close(fd);
	});
}

} // namespace

TEST_CASE("a pipe is accepted (process substitution from a password manager)")
{
	TempDir dir;
	const auto path = dir / "fifo";
	std::thread writer = FeedFifo(path);
	const auto c = ResolveCredentials("tcp:alice@mail.example.com", {path, "u"});
	writer.join();
	CHECK(c.password == "s3cret");
}

TEST_CASE("ResolveDeferred: the password is looked up only when asked, from one read")
{
	// Everything about the password waits for the lookup, which popstream calls
	// once connected: a closed port must not be reported as a missing password.
	TempDir dir;
	const auto missing = dir / "missing";
	auto pending = ResolveDeferred("tcp:alice@localhost:1110", {missing, "u"});
	CHECK(pending.account.Label() == "alice@localhost:1110");
	CHECK(pending.account.password.empty());
	try {
		pending.password();
		FAIL("no error");
	} catch (const CredentialError &e) {
		CHECK(e.Code() == ExitCode::Config);
		CHECK(e.NoPassword());
		CHECK(std::string(e.what()) ==
		      "cannot read " + missing +
			  ": No such file or directory (needed "
			  "for the password of alice@localhost:1110)");
	}

	// No entry, or an entry without a password: nothing found, so a prompt may
	// follow. An empty password is a mistake in the file, not a gap.
	NetrcFixture f("machine alice@localhost:1110 account a\n"
		       "machine localhost password \"\"\n");
	const auto no_password = [&](std::string_view spec) {
		try {
			ResolveDeferred(spec, f.options).password();
		} catch (const CredentialError &e) {
			return e.NoPassword();
		}
		FAIL("no error");
		return false;
	};
	CHECK(no_password("tcp:alice@localhost:1110"));
	CHECK(no_password("tcp:alice@elsewhere.example.com:1110"));
	CHECK_FALSE(no_password("tcp:bob@localhost:1110"));

	// The lookup keeps the file as read: a pipe is read once, at resolve time.
	const auto fifo = dir / "fifo";
	std::thread writer = FeedFifo(fifo);
	pending = ResolveDeferred("tcp:alice@mail.example.com", {fifo, "u"});
	writer.join();
	CHECK(pending.password() == "s3cret");
	CHECK(pending.password() == "s3cret");
}

TEST_CASE("netrc syntax errors name the file and line")
{
	NetrcFixture f("machine localhost\n  password correct horse\n");
	const auto failure = ErrorOf("localhost", f.options);
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message == f.path + ":2: unexpected token where a keyword was "
					  "expected (quote values that contain spaces)");
	CHECK(failure.message.find("horse") == std::string::npos);
}

TEST_CASE("a bad spec is a usage error")
{
	NetrcFixture f(example_entry);
	auto failure = ErrorOf("x:99999", f.options);
	CHECK(failure.code == ExitCode::Usage);
	CHECK(failure.message == "bad connection spec \"x:99999\": port 99999 is not in "
				 "1-65535");

	failure = ErrorOf("imap:alice@mail.example.com", f.options);
	CHECK(failure.code == ExitCode::Usage);
	CHECK(failure.message ==
	      "bad connection spec \"imap:alice@mail.example.com\": "
	      "unknown prefix \"imap:\" (expected \"ssl:\", \"tcp:\" or \"starttls:\")");
}

TEST_CASE("a bad machine in an account entry is a config error")
{
	NetrcFixture f("\nmachine \"local host\" account work password p\n"
		       "default account home password q\n");
	auto failure = ErrorOf("work", f.options);
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message == f.path +
				     ":2: machine of account \"work\": bad connection "
				     "spec \"local host\": space in the spec");

	failure = ErrorOf("tcp:home", f.options);
	CHECK(failure.code == ExitCode::Config);
	CHECK(failure.message ==
	      f.path +
		  ":3: default entry: account \"home\" names no machine to connect to");
}

TEST_CASE("the netrc path comes from $NETRC, then $HOME, then the passwd entry")
{
	{
		ScopedEnv netrc("NETRC", "/some/where/netrc");
		ScopedEnv home("HOME", "/home/x");
		CHECK(NetrcPath() == "/some/where/netrc");
	}
	{
		ScopedEnv netrc("NETRC", "");
		ScopedEnv home("HOME", "/home/x");
		CHECK(NetrcPath() == "/home/x/.netrc");
	}
	{
		ScopedEnv netrc("NETRC", nullptr);
		ScopedEnv home("HOME", nullptr);
		const passwd *pw = getpwuid(geteuid());
		REQUIRE(pw != nullptr);
		CHECK(NetrcPath() == std::string(pw->pw_dir) + "/.netrc");
	}
}

TEST_CASE("ResolveCredentials reads $NETRC or $HOME/.netrc when no path is given")
{
	TempDir home;
	WriteFile(home / ".netrc", example_entry, 0600);
	{
		ScopedEnv netrc("NETRC", nullptr);
		ScopedEnv home_env("HOME", home.Path().c_str());
		CHECK(ResolveCredentials("tcp:alice@mail.example.com").password ==
		      "s3cret");
	}

	TempDir other;
	WriteFile(other / "n",
		  "machine alice@localhost:1110 account "
		  "alice@mail.example.com password fromenv\n",
		  0600);
	{
		ScopedEnv netrc("NETRC", (other / "n").c_str());
		ScopedEnv home_env("HOME", home.Path().c_str());
		CHECK(ResolveCredentials("tcp:alice@mail.example.com").password ==
		      "fromenv");
	}
}

TEST_CASE("no error message or label contains the password")
{
	const std::string secret = "s3cret-Zq9";
	const std::string entry =
	    "machine alice@localhost:1110 account alice@mail.example.com "
	    "password " +
	    secret + "\n";
	for (const unsigned mode : {0600u, 0644u}) {
		NetrcFixture f(entry, mode);
		for (const char *spec :
		     {"tcp:alice@mail.example.com", "bob@localhost:1110", "x:99999",
		      "tcp:alice@localhost:1110"}) {
			CAPTURE(spec);
			try {
				const auto c = ResolveCredentials(spec, f.options);
				CHECK(c.Label().find(secret) == std::string::npos);
			} catch (const CredentialError &e) {
				CHECK(std::string(e.what()).find(secret) ==
				      std::string::npos);
			}
		}
	}
}
