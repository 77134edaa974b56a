#include "ConfigTestHelpers.hxx"
#include "TempDir.hxx"
#include "config/LoadConfig.hxx"

#include <doctest/doctest.h>

using namespace popstream;
using namespace popstream::config;
using namespace std::chrono_literals;
using popstream::test::ErrorOf;
using popstream::test::ErrorsOf;
using popstream::test::Parse;

namespace {

/** One valid account with @p extra as its fourth key, at line 5, column 5. */
std::string WithKey(const std::string &extra)
{
	return "accounts:\n"
	       "  - name: a\n"
	       "    host: h\n"
	       "    maildir: /m\n"
	       "    " +
	       extra + "\n";
}

} // namespace

TEST_CASE("a complete file: defaults applied, paths expanded, ports filled in")
{
	const auto config =
	    Parse("# popstream\n"
		  "defaults:\n"
		  "  interval: 10m\n"
		  "  timeout: 2m\n"
		  "  pipelining: off\n"
		  "  maildir: $MAILROOT/default\n"
		  "max_concurrent: 2\n"
		  "accounts:\n"
		  "  - name: work\n"
		  "    server: alice@mail.example.com\n"
		  "    maildir: ~/Mail/work\n"
		  "  - name: home\n"
		  "    host: pop.example.net\n"
		  "    tls: starttls\n"
		  "    user: bob\n"
		  "    password_command: pass show \"mail/home account\"\n"
		  "    interval: 1h30m\n"
		  "    enabled: false\n"
		  "  - name: tunnel\n"
		  "    host: localhost\n"
		  "    port: 1995\n"
		  "    sni: mail.example.com\n"
		  "    ca_file: ${HOME}/ca.pem\n"
		  "    pipelining: on\n"
		  "    password_command: [pass, show, mail/tunnel]\n");
	CHECK(config.path == "config.yaml");
	CHECK(config.max_concurrent == 2);
	REQUIRE(config.accounts.size() == 3);

	const auto &work = config.accounts[0];
	CHECK(work.name == "work");
	CHECK(work.server == "alice@mail.example.com");
	CHECK(work.host.empty());
	CHECK(work.port == 0);
	CHECK(work.tls == TlsMode::Implicit);
	CHECK(work.user.empty());
	CHECK(work.password_command.empty());
	CHECK(work.maildir == "/home/alice/Mail/work");
	CHECK(work.interval == 10min);
	CHECK(work.timeout == 2min);
	CHECK(work.pipelining == pop3::Pipelining::Off);
	CHECK(work.ca_file.empty());
	CHECK(work.enabled);
	CHECK(work.where.ToString() == "config.yaml:9:5");

	const auto &home = config.accounts[1];
	CHECK(home.name == "home");
	CHECK(home.server.empty());
	CHECK(home.host == "pop.example.net");
	CHECK(home.port == 110);
	CHECK(home.tls == TlsMode::StartTls);
	CHECK(home.user == "bob");
	CHECK(home.password_command ==
	      std::vector<std::string>{"pass", "show", "mail/home account"});
	CHECK(home.maildir == "/srv/mail/default");
	CHECK(home.interval == 90min);
	CHECK_FALSE(home.enabled);

	const auto &tunnel = config.accounts[2];
	CHECK(tunnel.host == "localhost");
	CHECK(tunnel.port == 1995);
	CHECK(tunnel.tls == TlsMode::Implicit);
	CHECK(tunnel.sni == "mail.example.com");
	CHECK(tunnel.ca_file == "/home/alice/ca.pem");
	CHECK(tunnel.pipelining == pop3::Pipelining::On);
	CHECK(tunnel.password_command ==
	      std::vector<std::string>{"pass", "show", "mail/tunnel"});
}

TEST_CASE("built-in defaults")
{
	const auto config = Parse("accounts:\n"
				  "  - name: a\n"
				  "    host: h\n"
				  "    maildir: /m\n"
				  "  - name: b\n"
				  "    host: h\n"
				  "    tls: none\n"
				  "    maildir: /m\n");
	CHECK(config.max_concurrent == 4);
	REQUIRE(config.accounts.size() == 2);
	const auto &a = config.accounts[0];
	CHECK(a.port == 995);
	CHECK(a.tls == TlsMode::Implicit);
	CHECK(a.interval == 5min);
	CHECK(a.timeout == 180s);
	CHECK(a.pipelining == pop3::Pipelining::Auto);
	CHECK(a.enabled);
	CHECK(a.sni.empty());
	CHECK(a.user.empty());
	CHECK(config.accounts[1].port == 110);
}

TEST_CASE("the connection is inherited as a whole: server or the explicit keys")
{
	const auto config = Parse("defaults:\n"
				  "  host: shared.example.com\n"
				  "  tls: none\n"
				  "  port: 1110\n"
				  "  user: shared\n"
				  "  maildir: /m\n"
				  "accounts:\n"
				  "  - name: explicit\n"
				  "    user: alice\n"
				  "  - name: spec\n"
				  "    server: tcp:bob@localhost:1110\n");
	REQUIRE(config.accounts.size() == 2);
	const auto &a = config.accounts[0];
	CHECK(a.host == "shared.example.com");
	CHECK(a.tls == TlsMode::None);
	CHECK(a.port == 1110);
	CHECK(a.user == "alice");
	const auto &b = config.accounts[1];
	CHECK(b.server == "tcp:bob@localhost:1110");
	CHECK(b.host.empty());
	CHECK(b.port == 0);
	CHECK(b.tls == TlsMode::Implicit);
	CHECK(b.user.empty());

	const auto reverse = Parse("defaults:\n"
				   "  server: alice@mail.example.com\n"
				   "  maildir: /m\n"
				   "accounts:\n"
				   "  - name: a\n"
				   "  - name: b\n"
				   "    host: other.example.com\n");
	CHECK(reverse.accounts[0].server == "alice@mail.example.com");
	CHECK(reverse.accounts[1].server.empty());
	CHECK(reverse.accounts[1].host == "other.example.com");
	CHECK(reverse.accounts[1].port == 995);
}

TEST_CASE("empty sni, user and ca_file reset inherited values")
{
	const auto config = Parse("defaults:\n"
				  "  sni: mail.example.com\n"
				  "  user: shared\n"
				  "  ca_file: /etc/ca.pem\n"
				  "  maildir: /m\n"
				  "accounts:\n"
				  "  - name: a\n"
				  "    host: h\n"
				  "    sni: \"\"\n"
				  "    user: \"\"\n"
				  "    ca_file: \"\"\n");
	const auto &a = config.accounts.at(0);
	CHECK(a.sni.empty());
	CHECK(a.user.empty());
	CHECK(a.ca_file.empty());
}

TEST_CASE("a netrc account name is accepted as server and resolved later")
{
	const auto config = Parse("accounts:\n"
				  "  - name: a\n"
				  "    server: ssl:bob+work\n"
				  "    maildir: /m\n");
	CHECK(config.accounts.at(0).server == "ssl:bob+work");
}

TEST_CASE("the message of the issue: unknown key with a suggestion")
{
	CHECK(ErrorOf("# popstream\n"
		      "defaults:\n"
		      "  maildir: ~/Mail/default\n"
		      "  interval: 10m\n"
		      "\n"
		      "accounts:\n"
		      "  - name: work\n"
		      "    server: alice@mail.example.com\n"
		      "    maildir: ~/Mail/work\n"
		      "  - name: home\n"
		      "    server: tcp:bob@localhost:1110\n"
		      "    intervall: 5m\n") ==
	      "config.yaml:12:5: accounts[1].intervall: unknown key; did you mean "
	      "\"interval\"?");
}

TEST_CASE("unknown keys")
{
	CHECK(ErrorOf(WithKey("colour: blue")) ==
	      "config.yaml:5:5: accounts[0].colour: unknown key");
	CHECK(ErrorOf(WithKey("Maildir: /x")) ==
	      "config.yaml:5:5: accounts[0].Maildir: unknown key; did you mean "
	      "\"maildir\"?");
	CHECK(ErrorOf(WithKey("password: s3cret")) ==
	      "config.yaml:5:15: accounts[0].password: a password is never read from "
	      "this file; use password: {secret: {ATTRIBUTE: VALUE}} (the Secret "
	      "Service), password_command, or netrc");
	CHECK(ErrorOf(WithKey("pass: s3cret")) ==
	      "config.yaml:5:5: accounts[0].pass: unknown key; passwords are not read "
	      "from this file (use password: {secret: {...}}, password_command, or "
	      "netrc)");
	CHECK(
	    ErrorsOf("x: &shared {maildir: /m}\n"
		     "accounts:\n"
		     "  - name: a\n"
		     "    host: h\n"
		     "    <<: *shared\n") ==
	    std::vector<std::string>{
		"config.yaml:1:1: x: unknown key",
		"config.yaml:3:5: accounts[0].maildir: missing (set it in the account or "
		"under defaults:)",
		"config.yaml:5:5: accounts[0].<<: unknown key; YAML merge keys are not "
		"supported (put shared keys under defaults:)",
	    });
	CHECK(ErrorOf("defaults:\n"
		      "  pipelineing: on\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n") ==
	      "config.yaml:2:3: defaults.pipelineing: unknown key; did you mean "
	      "\"pipelining\"?");
	CHECK(ErrorOf("defaults:\n"
		      "  name: x\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n") ==
	      "config.yaml:2:3: defaults.name: not allowed under defaults: (each account "
	      "has its own)");
	CHECK(ErrorOf("max_concurent: 2\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n") == "config.yaml:1:1: max_concurent: unknown "
					      "key; did you mean \"max_concurrent\"?");
	CHECK(
	    ErrorOf("accounts:\n"
		    "  - name: a\n"
		    "    host: h\n"
		    "    maildir: /m\n"
		    "interval: 5m\n") ==
	    "config.yaml:5:1: interval: unknown key at the top; account keys go into an "
	    "entry of accounts: or under defaults:");
}

TEST_CASE("values of the wrong type")
{
	CHECK(
	    ErrorOf(WithKey("interval: {m: 5}")) ==
	    "config.yaml:5:15: accounts[0].interval: expected a duration such as 90s, 5m "
	    "or 1h, got a map");
	CHECK(
	    ErrorOf(WithKey("enabled: yes")) ==
	    "config.yaml:5:14: accounts[0].enabled: expected true or false, got \"yes\"");
	CHECK(ErrorOf(WithKey("enabled: \"true\"")) ==
	      "config.yaml:5:14: accounts[0].enabled: expected true or false, got a "
	      "string");
	CHECK(ErrorOf(WithKey("port: \"995\"")) ==
	      "config.yaml:5:11: accounts[0].port: expected a number, got a string");
	CHECK(ErrorOf(WithKey("port: 99x")) ==
	      "config.yaml:5:11: accounts[0].port: expected a number, got \"99x\"");
	CHECK(ErrorOf(WithKey("user:")) ==
	      "config.yaml:5:5: accounts[0].user: expected a string, got nothing (null)");
	CHECK(ErrorOf(WithKey("user: [a, b]")) ==
	      "config.yaml:5:11: accounts[0].user: expected a string, got a list");
	CHECK(
	    ErrorOf(WithKey("password_command: {a: b}")) ==
	    "config.yaml:5:23: accounts[0].password_command: expected a command (a list "
	    "of strings, or one string), got a map");
	CHECK(
	    ErrorOf(WithKey("password_command: [pass, {x: 1}]")) ==
	    "config.yaml:5:30: accounts[0].password_command[1]: expected a string, got a "
	    "map");
	CHECK(ErrorOf("max_concurrent: many\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n") ==
	      "config.yaml:1:17: max_concurrent: expected a number, got \"many\"");
}

TEST_CASE("values out of range or malformed")
{
	CHECK(ErrorOf(WithKey("port: 0")) ==
	      "config.yaml:5:11: accounts[0].port: must be between 1 and 65535, not 0");
	CHECK(ErrorOf(WithKey("port: 99999999999999999999")) ==
	      "config.yaml:5:11: accounts[0].port: must be between 1 and 65535, not "
	      "99999999999999999999");
	CHECK(ErrorOf(WithKey("tls: startls")) ==
	      "config.yaml:5:10: accounts[0].tls: bad value \"startls\" (expected "
	      "implicit, "
	      "starttls or none); did you mean \"starttls\"?");
	CHECK(ErrorOf(WithKey("pipelining: true")) ==
	      "config.yaml:5:17: accounts[0].pipelining: bad value \"true\" (expected "
	      "auto, "
	      "on or off)");
	CHECK(ErrorOf(WithKey("interval: 5x")) ==
	      "config.yaml:5:15: accounts[0].interval: bad duration \"5x\": unknown unit "
	      "\"x\" (expected s, m, h or d)");
	CHECK(
	    ErrorOf(WithKey("interval: 5s")) ==
	    "config.yaml:5:15: accounts[0].interval: must be between 10s and 7d, not 5s");
	CHECK(
	    ErrorOf(WithKey("interval: 8d")) ==
	    "config.yaml:5:15: accounts[0].interval: must be between 10s and 7d, not 8d");
	CHECK(ErrorOf(WithKey("timeout: 2h")) ==
	      "config.yaml:5:14: accounts[0].timeout: must be between 5s and 1h, not 2h");
	CHECK(ErrorOf(WithKey("connect_timeout: 0s")) ==
	      "config.yaml:5:22: accounts[0].connect_timeout: must be between 1s and 1h, "
	      "not 0s");
	CHECK(ErrorOf(WithKey("sni: a:b")) ==
	      "config.yaml:5:10: accounts[0].sni: bad TLS name \"a:b\": unexpected "
	      "character \":\" (a DNS name or an IPv4 address)");
	CHECK(ErrorOf(WithKey("user: \"a\\r\\nPASS x\"")) ==
	      "config.yaml:5:11: accounts[0].user: control character in the value");
	CHECK(ErrorOf(WithKey("password_command: []")) ==
	      "config.yaml:5:23: accounts[0].password_command: empty command");
	CHECK(ErrorOf(WithKey("password_command: \"\"")) ==
	      "config.yaml:5:23: accounts[0].password_command: empty command");
	CHECK(ErrorOf(WithKey("password_command: \"pass 'x\"")) ==
	      "config.yaml:5:23: accounts[0].password_command: unterminated ' in the "
	      "command");
	CHECK(
	    ErrorOf(WithKey("password_command: ['', x]")) ==
	    "config.yaml:5:23: accounts[0].password_command: the program name (the first "
	    "word) is empty");
	CHECK(ErrorOf("max_concurrent: 0\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n") ==
	      "config.yaml:1:17: max_concurrent: must be between 1 and 64, not 0");
}

TEST_CASE("names")
{
	CHECK(ErrorOf("accounts:\n"
		      "  - name: my account\n"
		      "    host: h\n"
		      "    maildir: /m\n") == "config.yaml:2:11: accounts[0].name: bad "
					      "account name \"my account\" (1 to 64 "
					      "letters, digits, '_' or '-')");
	CHECK(ErrorOf("accounts:\n"
		      "  - host: h\n"
		      "    maildir: /m\n") ==
	      "config.yaml:2:5: accounts[0].name: missing (every account needs a unique "
	      "name)");
	CHECK(ErrorsOf("accounts:\n"
		       "  - name: work\n"
		       "    host: a\n"
		       "    maildir: /m\n"
		       "  - name: home\n"
		       "    host: b\n"
		       "    maildir: /m\n"
		       "  - name: work\n"
		       "    host: c\n"
		       "    maildir: /m\n"
		       "  - name: home\n"
		       "    host: d\n"
		       "    maildir: /m\n") ==
	      std::vector<std::string>{
		  "config.yaml:8:11: accounts[2].name: duplicate account name \"work\" "
		  "(first at line 2)",
		  "config.yaml:11:11: accounts[3].name: duplicate account name \"home\" "
		  "(first at line 5)",
	      });
}

TEST_CASE("required keys: the connection and the maildir")
{
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n") ==
	      "config.yaml:2:5: accounts[0].maildir: missing (set it in the account or "
	      "under defaults:)");
	CHECK(
	    ErrorOf("accounts:\n"
		    "  - name: a\n"
		    "    maildir: /m\n") ==
	    "config.yaml:2:5: accounts[0].server: missing: set \"server\" (a connection "
	    "spec) or \"host\"");
}

TEST_CASE("connection specs are checked at load time")
{
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    server: imap:alice@mail.example.com\n"
		      "    maildir: /m\n") ==
	      "config.yaml:3:13: accounts[0].server: bad connection spec "
	      "\"imap:alice@mail.example.com\": unknown prefix \"imap:\" (expected "
	      "\"ssl:\", \"tcp:\" or \"starttls:\")");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    server: alice@mail.example.com:99999\n"
		      "    maildir: /m\n") ==
	      "config.yaml:3:13: accounts[0].server: bad connection spec "
	      "\"alice@mail.example.com:99999\": port 99999 is not in 1-65535");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: mail.example.com:995\n"
		      "    maildir: /m\n") ==
	      "config.yaml:3:11: accounts[0].host: bad host \"mail.example.com:995\": a "
	      "host has no port (write it under port:)");
	CHECK(
	    ErrorOf("accounts:\n"
		    "  - name: a\n"
		    "    server: alice@mail.example.com\n"
		    "    port: 995\n"
		    "    maildir: /m\n") ==
	    "config.yaml:4:5: accounts[0].port: cannot be combined with \"server\" (the "
	    "spec [{ssl,tcp}:][user@]host[!sni][:port] sets host, port, TLS and user; "
	    "use "
	    "either)");
	CHECK(ErrorOf("defaults:\n"
		      "  host: h\n"
		      "  server: s\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    maildir: /m\n") ==
	      "config.yaml:2:3: defaults.host: cannot be combined with \"server\" (the "
	      "spec "
	      "[{ssl,tcp}:][user@]host[!sni][:port] sets host, port, TLS and user; use "
	      "either)");
}

TEST_CASE("paths")
{
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: Mail/a\n") ==
	      "config.yaml:4:14: accounts[0].maildir: \"Mail/a\" is not an absolute path "
	      "(start it with /, ~/ or $HOME/)");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: $UNSET/a\n") ==
	      "config.yaml:4:14: accounts[0].maildir: \"$UNSET/a\": $UNSET is not set");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: \"/m\\0x\"\n") ==
	      "config.yaml:4:14: accounts[0].maildir: control character in the value");

	auto options = test::TestOptions();
	options.check_files = true;
	CHECK(ErrorOf(WithKey("ca_file: ~/missing.pem"), options) ==
	      "config.yaml:5:14: accounts[0].ca_file: cannot read "
	      "\"/home/alice/missing.pem\": No such file or directory");
	test::TempDir dir;
	test::WriteFile(dir / "ca.pem", "x");
	const auto config = Parse(WithKey("ca_file: " + (dir / "ca.pem")), options);
	CHECK(config.accounts.at(0).ca_file == dir / "ca.pem");
}

TEST_CASE("a key given twice in one map")
{
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n"
		      "    maildir: /n\n") ==
	      "config.yaml:5:5: accounts[0].maildir: duplicate key (first at line 4)");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n"
		      "accounts: []\n") ==
	      "config.yaml:5:1: accounts: duplicate key (first at line 1)");
}

TEST_CASE("the shape of the document")
{
	CHECK(ErrorOf("") == "config.yaml:1:1: empty file; expected \"accounts:\" (see "
			     "popstream.yaml(5))");
	CHECK(ErrorOf("# nothing yet\n") == "config.yaml:1:1: empty file; expected "
					    "\"accounts:\" (see popstream.yaml(5))");
	CHECK(
	    ErrorOf("- a\n- b\n") ==
	    "config.yaml:1:1: expected a map with \"accounts:\" at the top, got a list");
	CHECK(ErrorOf("accounts:\n") ==
	      "config.yaml:1:1: accounts: no accounts (add at least one)");
	CHECK(ErrorOf("accounts: []\n") ==
	      "config.yaml:1:11: accounts: no accounts (add at least one)");
	CHECK(ErrorOf("accounts:\n  name: a\n") ==
	      "config.yaml:2:3: accounts: expected a list of accounts, got a map");
	CHECK(ErrorOf("accounts:\n  - work\n") ==
	      "config.yaml:2:5: accounts[0]: expected a map (one account), got a value");
	CHECK(
	    ErrorOf(
		"defaults: 5\naccounts:\n  - name: a\n    host: h\n    maildir: /m\n") ==
	    "config.yaml:1:11: defaults: expected a map of account keys, got a value");
	CHECK(ErrorsOf("acounts:\n"
		       "  - name: a\n") ==
	      std::vector<std::string>{
		  "config.yaml:1:1: acounts: unknown key; did you mean \"accounts\"?",
		  "config.yaml:1:1: accounts: missing (the list of accounts to fetch)",
	      });
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n"
		      "---\n"
		      "accounts: []\n") == "config.yaml:6:1: more than one YAML document "
					   "(\"---\"); only one is allowed");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    ? [x]\n"
		      "    : y\n"
		      "    host: h\n"
		      "    maildir: /m\n") ==
	      "config.yaml:3:7: accounts[0]: keys must be strings, got a list");
}

TEST_CASE("YAML syntax errors come with 1-based positions")
{
	// yaml-cpp's own what() counts from 1 too: "error at line 3, column 13".
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    maildir: [/m\n"
		      "    host: h\n") ==
	      "config.yaml:4:9: end of sequence flow not found");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "\thost: h\n") ==
	      "config.yaml:3:1: illegal tab when looking for indentation");
	CHECK(ErrorOf("accounts: *missing\n") ==
	      "config.yaml:1:11: the referenced anchor is not defined");
}

TEST_CASE("all errors are reported, in file order, at most MAX_ERRORS")
{
	// defaults: comes last in the file but is read first; messages are still in
	// file order.
	CHECK(ErrorsOf("accounts:\n"
		       "  - name: a\n"
		       "    host: h\n"
		       "    intervall: 5m\n"
		       "  - name: b b\n"
		       "    server: imap:x\n"
		       "defaults:\n"
		       "  maildir: relative\n") ==
	      std::vector<std::string>{
		  "config.yaml:4:5: accounts[0].intervall: unknown key; did you mean "
		  "\"interval\"?",
		  "config.yaml:5:11: accounts[1].name: bad account name \"b b\" (1 to 64 "
		  "letters, digits, '_' or '-')",
		  "config.yaml:6:13: accounts[1].server: bad connection spec \"imap:x\": "
		  "unknown prefix \"imap:\" (expected \"ssl:\", \"tcp:\" or "
		  "\"starttls:\")",
		  "config.yaml:8:12: defaults.maildir: \"relative\" is not an absolute "
		  "path "
		  "(start it with /, ~/ or $HOME/)",
	      });

	std::string text = "accounts:\n";
	for (int i = 0; i < 25; ++i)
		text += "  - {name: a" + std::to_string(i) +
			", host: h, maildir: /m, colour: x}\n";
	const auto errors = ErrorsOf(text);
	REQUIRE(errors.size() == MAX_ERRORS + 1);
	CHECK(errors[0] == "config.yaml:2:38: accounts[0].colour: unknown key");
	CHECK(errors[19] == "config.yaml:21:39: accounts[19].colour: unknown key");
	CHECK(errors[20] == "config.yaml: 5 more errors not shown");
}

TEST_CASE("a mistake under defaults: is reported once, not once per account")
{
	// Neither account gets "maildir: missing", and a does not get "server: missing".
	CHECK(
	    ErrorsOf("defaults:\n"
		     "  maildir: $UNSET/m\n"
		     "  host: bad host\n"
		     "accounts:\n"
		     "  - name: a\n"
		     "  - name: b\n"
		     "    server: alice@mail.example.com\n") ==
	    std::vector<std::string>{
		"config.yaml:2:12: defaults.maildir: \"$UNSET/m\": $UNSET is not set",
		"config.yaml:3:9: defaults.host: bad host \"bad host\": blank or control "
		"character",
	    });
}

TEST_CASE("LoadConfig reads the file")
{
	test::TempDir dir;
	const auto path = dir / "config.yaml";
	test::WriteFile(path, "accounts:\n"
			      "  - name: a\n"
			      "    host: h\n"
			      "    maildir: /m\n");
	const auto config = LoadConfig(path, test::TestOptions());
	CHECK(config.path == path);
	CHECK(config.accounts.at(0).where.ToString() == path + ":2:5");

	test::WriteFile(path, "accounts:\n  - name: a\n");
	try {
		LoadConfig(path, test::TestOptions());
		FAIL("no ConfigError");
	} catch (const ConfigError &e) {
		CHECK(e.Messages() ==
		      std::vector<std::string>{
			  path + ":2:5: accounts[0].server: missing: set \"server\" (a "
				 "connection spec) or \"host\"",
			  path +
			      ":2:5: accounts[0].maildir: missing (set it in the account "
			      "or under defaults:)",
		      });
		CHECK(std::string(e.what()) == e.Messages()[0] + "\n" + e.Messages()[1]);
		CHECK(ConfigError::Code() == ExitCode::Config);
	}

	try {
		LoadConfig(dir / "missing.yaml");
		FAIL("no ConfigError");
	} catch (const ConfigError &e) {
		CHECK(std::string(e.what()) ==
		      dir / "missing.yaml" + ": cannot read: No such file or directory");
	}
	try {
		LoadConfig(dir.Path());
		FAIL("no ConfigError");
	} catch (const ConfigError &e) {
		CHECK(std::string(e.what()) ==
		      dir.Path() + ": is a directory, not a file");
	}
}

TEST_CASE("the default path follows the XDG Base Directory Specification")
{
	const test::ScopedEnv home("HOME", "/home/alice");
	{
		const test::ScopedEnv xdg("XDG_CONFIG_HOME", "/xdg");
		CHECK(DefaultConfigPath() == "/xdg/popstream/config.yaml");
	}
	{
		const test::ScopedEnv xdg("XDG_CONFIG_HOME", "relative");
		CHECK(DefaultConfigPath() == "/home/alice/.config/popstream/config.yaml");
	}
	{
		const test::ScopedEnv xdg("XDG_CONFIG_HOME", nullptr);
		CHECK(DefaultConfigPath() == "/home/alice/.config/popstream/config.yaml");
	}
}

TEST_CASE("the process environment: HOME falls back on the passwd entry")
{
	const auto lookup = ProcessEnvironment();
	{
		const test::ScopedEnv home("HOME", "/somewhere");
		CHECK(lookup("HOME") == "/somewhere");
	}
	{
		const test::ScopedEnv home("HOME", nullptr);
		const auto fallback = lookup("HOME");
		REQUIRE(fallback);
		CHECK_FALSE(fallback->empty());
	}
	const test::ScopedEnv var("POPSTREAM_TEST_VAR", "x");
	CHECK(lookup("POPSTREAM_TEST_VAR") == "x");
	CHECK_FALSE(lookup("POPSTREAM_TEST_UNSET_VAR"));
}

TEST_CASE("keep, delete_after, limits and checkpoints: built-in defaults")
{
	// The Config must outlive the reference (AddressSanitizer caught a dangling one).
	const auto config = Parse(WithKey("enabled: true"));
	const auto &a = config.accounts.at(0);
	CHECK_FALSE(a.keep);
	CHECK(a.delete_after == 0s);
	CHECK(a.max_message_size == 0);
	CHECK(a.oversize == Oversize::Skip);
	CHECK(a.max_messages_per_session == 0);
	CHECK(a.max_bytes_per_session == 0);
	CHECK(a.checkpoint_messages == 0);
	CHECK(a.checkpoint_bytes == 0);
}

TEST_CASE("keep, delete_after, limits and checkpoints: valid values")
{
	const auto config = Parse("accounts:\n"
				  "  - name: a\n"
				  "    host: h\n"
				  "    maildir: /m\n"
				  "    keep: true\n"
				  "    delete_after: 14d\n"
				  "    max_message_size: 25MB\n"
				  "    oversize: delete\n"
				  "    max_messages_per_session: 500\n"
				  "    max_bytes_per_session: 1.5GiB\n"
				  "    checkpoint_every: 100 messages or 50MiB\n"
				  "  - name: b\n"
				  "    host: h\n"
				  "    maildir: /m\n"
				  "    keep: true\n"
				  "    delete_after: 1h30m\n"
				  "    max_message_size: 1048576\n"
				  "    oversize: skip\n"
				  "    max_bytes_per_session: \"50 MB\"\n"
				  "    checkpoint_every: 250\n"
				  "  - name: c\n"
				  "    host: h\n"
				  "    maildir: /m\n"
				  "    checkpoint_every: 10MB\n");
	REQUIRE(config.accounts.size() == 3);
	const auto &a = config.accounts[0];
	CHECK(a.keep);
	CHECK(a.delete_after == 14 * 24h);
	CHECK(a.max_message_size == 25'000'000);
	CHECK(a.oversize == Oversize::Delete);
	CHECK(a.max_messages_per_session == 500);
	CHECK(a.max_bytes_per_session == 1536ULL * 1024 * 1024);
	CHECK(a.checkpoint_messages == 100);
	CHECK(a.checkpoint_bytes == 50 * 1024 * 1024);
	const auto &b = config.accounts[1];
	CHECK(b.delete_after == 90min);
	CHECK(b.max_message_size == 1048576);
	CHECK(b.oversize == Oversize::Skip);
	CHECK(b.max_bytes_per_session == 50'000'000);
	CHECK(b.checkpoint_messages == 250);
	CHECK(b.checkpoint_bytes == 0);
	const auto &c = config.accounts[2];
	CHECK(c.checkpoint_messages == 0);
	CHECK(c.checkpoint_bytes == 10'000'000);
}

TEST_CASE("keep, delete_after, limits and checkpoints are inherited from defaults:")
{
	const auto config = Parse("defaults:\n"
				  "  maildir: /m\n"
				  "  keep: true\n"
				  "  delete_after: 14d\n"
				  "  max_message_size: 25MB\n"
				  "  oversize: delete\n"
				  "  max_messages_per_session: 500\n"
				  "  max_bytes_per_session: 1GB\n"
				  "  checkpoint_every: 100 messages or 50MiB\n"
				  "accounts:\n"
				  "  - name: inherits\n"
				  "    host: h\n"
				  "  - name: overrides\n"
				  "    host: h\n"
				  "    delete_after: 30d\n"
				  "    max_message_size: 100MiB\n"
				  "    checkpoint_every: 20MB\n"
				  "  - name: resets\n"
				  "    host: h\n"
				  "    delete_after: 0\n"
				  "    max_message_size: 0\n"
				  "    max_messages_per_session: 0\n"
				  "    max_bytes_per_session: 0\n"
				  "    checkpoint_every: 0\n"
				  "  - name: deletes\n"
				  "    host: h\n"
				  "    keep: false\n");
	REQUIRE(config.accounts.size() == 4);
	const auto &inherits = config.accounts[0];
	CHECK(inherits.keep);
	CHECK(inherits.delete_after == 14 * 24h);
	CHECK(inherits.max_message_size == 25'000'000);
	CHECK(inherits.oversize == Oversize::Delete);
	CHECK(inherits.max_messages_per_session == 500);
	CHECK(inherits.max_bytes_per_session == 1'000'000'000);
	CHECK(inherits.checkpoint_messages == 100);
	CHECK(inherits.checkpoint_bytes == 50 * 1024 * 1024);

	const auto &overrides = config.accounts[1];
	CHECK(overrides.delete_after == 30 * 24h);
	CHECK(overrides.max_message_size == 100 * 1024 * 1024);
	CHECK(overrides.oversize == Oversize::Delete);
	// One key sets both parts: the number of messages is not inherited.
	CHECK(overrides.checkpoint_messages == 0);
	CHECK(overrides.checkpoint_bytes == 20'000'000);

	const auto &resets = config.accounts[2];
	CHECK(resets.keep);
	CHECK(resets.delete_after == 0s);
	CHECK(resets.max_message_size == 0);
	CHECK(resets.max_messages_per_session == 0);
	CHECK(resets.max_bytes_per_session == 0);
	CHECK(resets.checkpoint_messages == 0);
	CHECK(resets.checkpoint_bytes == 0);

	// keep: false does not inherit delete_after: every message is deleted once
	// saved.
	const auto &deletes = config.accounts[3];
	CHECK_FALSE(deletes.keep);
	CHECK(deletes.delete_after == 0s);
	CHECK(deletes.max_message_size == 25'000'000);
}

TEST_CASE("delete_after needs keep: true in the same map or inherited by the account")
{
	CHECK(ErrorOf(WithKey("delete_after: 14d")) ==
	      "config.yaml:5:19: accounts[0].delete_after: needs keep: true (keep is "
	      "false, so every message is deleted as soon as it is saved)");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n"
		      "    keep: false\n"
		      "    delete_after: 14d\n") ==
	      "config.yaml:6:19: accounts[0].delete_after: needs keep: true (keep is "
	      "false, so every message is deleted as soon as it is saved)");
	// Under defaults: keep must be there too; reported once, not per account.
	CHECK(ErrorOf("defaults:\n"
		      "  maildir: /m\n"
		      "  delete_after: 14d\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    keep: true\n"
		      "  - name: b\n"
		      "    host: h\n") ==
	      "config.yaml:3:17: defaults.delete_after: needs keep: true (keep is false, "
	      "so every message is deleted as soon as it is saved)");
	// An account that turns keep off cannot set delete_after either.
	CHECK(ErrorOf("defaults:\n"
		      "  maildir: /m\n"
		      "  keep: true\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    keep: false\n"
		      "    delete_after: 7d\n") ==
	      "config.yaml:8:19: accounts[0].delete_after: needs keep: true (keep is "
	      "false, so every message is deleted as soon as it is saved)");
	// 0 (never) is allowed without keep; a bad keep gives only its own message.
	Parse(WithKey("delete_after: 0"));
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n"
		      "    keep: yes\n"
		      "    delete_after: 14d\n") ==
	      "config.yaml:5:11: accounts[0].keep: expected true or false, got \"yes\"");
}

TEST_CASE("keep, delete_after, limits and checkpoints: each error at its value")
{
	CHECK(ErrorOf(WithKey("keep: 1")) ==
	      "config.yaml:5:11: accounts[0].keep: expected true or false, got \"1\"");
	CHECK(ErrorOf(WithKey("keep: \"true\"")) ==
	      "config.yaml:5:11: accounts[0].keep: expected true or false, got a string");
	CHECK(ErrorOf(WithKey("keep: true\n    delete_after: 30m")) ==
	      "config.yaml:6:19: accounts[0].delete_after: must be 0 (never) or between "
	      "1h and 3650d, not 30m");
	CHECK(ErrorOf(WithKey("keep: true\n    delete_after: 3651d")) ==
	      "config.yaml:6:19: accounts[0].delete_after: bad duration \"3651d\": too "
	      "long (at most 3650d)");
	CHECK(ErrorOf(WithKey("keep: true\n    delete_after: 2 weeks")) ==
	      "config.yaml:6:19: accounts[0].delete_after: bad duration \"2 weeks\": "
	      "unknown unit \" weeks\" (expected s, m, h or d)");
	CHECK(ErrorOf(WithKey("keep: true\n    delete_after: [14d]")) ==
	      "config.yaml:6:19: accounts[0].delete_after: expected a duration such as "
	      "90s, 5m or 1h, got a list");

	CHECK(ErrorOf(WithKey("max_message_size: 25")) ==
	      "config.yaml:5:23: accounts[0].max_message_size: must be 0 (no limit) or "
	      "between 1kB and 1024GiB, not 25 (a number without a unit counts octets; "
	      "write e.g. 25MB)");
	CHECK(ErrorOf(WithKey("max_message_size: 500B")) ==
	      "config.yaml:5:23: accounts[0].max_message_size: must be 0 (no limit) or "
	      "between 1kB and 1024GiB, not 500B");
	CHECK(ErrorOf(WithKey("max_message_size: 25mb")) ==
	      "config.yaml:5:23: accounts[0].max_message_size: bad size \"25mb\": "
	      "unknown unit \"mb\" (expected B, kB, MB, GB, KiB, MiB or GiB); did you "
	      "mean \"MB\"?");
	CHECK(ErrorOf(WithKey("max_message_size: 2TB")) ==
	      "config.yaml:5:23: accounts[0].max_message_size: bad size \"2TB\": unknown "
	      "unit \"TB\" (expected B, kB, MB, GB, KiB, MiB or GiB)");
	CHECK(ErrorOf(WithKey("max_message_size: 2000GB")) ==
	      "config.yaml:5:23: accounts[0].max_message_size: bad size \"2000GB\": too "
	      "large (at most 1024GiB)");
	CHECK(ErrorOf(WithKey("max_message_size: {MB: 25}")) ==
	      "config.yaml:5:23: accounts[0].max_message_size: expected a size such as "
	      "25MB or 1.5GiB, got a map");
	CHECK(ErrorOf(WithKey("max_message_size:")) ==
	      "config.yaml:5:5: accounts[0].max_message_size: expected a size such as "
	      "25MB or 1.5GiB, got nothing (null)");

	CHECK(ErrorOf(WithKey("oversize: remove")) ==
	      "config.yaml:5:15: accounts[0].oversize: bad value \"remove\" (expected "
	      "skip or delete)");
	CHECK(ErrorOf(WithKey("oversize: Delete")) ==
	      "config.yaml:5:15: accounts[0].oversize: bad value \"Delete\" (expected "
	      "skip or delete); did you mean \"delete\"?");

	CHECK(ErrorOf(WithKey("max_messages_per_session: 1000001")) ==
	      "config.yaml:5:31: accounts[0].max_messages_per_session: must be between 0 "
	      "and 1000000, not 1000001");
	CHECK(
	    ErrorOf(WithKey("max_messages_per_session: -1")) ==
	    "config.yaml:5:31: accounts[0].max_messages_per_session: expected a number, "
	    "got \"-1\"");
	CHECK(ErrorOf(WithKey("max_messages_per_session: 500 messages")) ==
	      "config.yaml:5:31: accounts[0].max_messages_per_session: expected a "
	      "number, got \"500 messages\"");

	CHECK(ErrorOf(WithKey("max_bytes_per_session: 1.5")) ==
	      "config.yaml:5:28: accounts[0].max_bytes_per_session: bad size \"1.5\": a "
	      "fraction needs a unit (write e.g. 1.5MB; a number alone counts octets)");
	CHECK(ErrorOf(WithKey("max_bytes_per_session: 1,5GB")) ==
	      "config.yaml:5:28: accounts[0].max_bytes_per_session: bad size \"1,5GB\": "
	      "write a decimal point, not a comma");

	CHECK(ErrorOf(WithKey("checkpoint_every: 500 mesages")) ==
	      "config.yaml:5:23: accounts[0].checkpoint_every: bad checkpoint \"500 "
	      "mesages\": unknown unit \"mesages\" (expected messages, B, kB, MB, GB, "
	      "KiB, MiB or GiB); did you mean \"messages\"?");
	CHECK(ErrorOf(WithKey("checkpoint_every: 50000000")) ==
	      "config.yaml:5:23: accounts[0].checkpoint_every: bad checkpoint "
	      "\"50000000\": more than 1000000 messages (a number alone counts messages; "
	      "give a size with its unit, e.g. 50MB)");
	CHECK(ErrorOf(WithKey("checkpoint_every: 500 messages and 50MB")) ==
	      "config.yaml:5:23: accounts[0].checkpoint_every: bad checkpoint \"500 "
	      "messages and 50MB\": join a number of messages and a size with \"or\" "
	      "(whichever comes first)");
	CHECK(ErrorOf(WithKey("checkpoint_every: [500, 50MB]")) ==
	      "config.yaml:5:23: accounts[0].checkpoint_every: expected a number of "
	      "messages or a size, such as 500 or 50MB, got a list");
}

TEST_CASE("the new keys: nearest-key suggestions, and all errors reported")
{
	CHECK(
	    ErrorsOf("defaults:\n"
		     "  keeep: true\n"
		     "  delete-after: 14d\n"
		     "accounts:\n"
		     "  - name: a\n"
		     "    host: h\n"
		     "    maildir: /m\n"
		     "    max_mesage_size: 25MB\n"
		     "    oversized: delete\n"
		     "    max_messages_per_sesion: 5\n"
		     "    max_byte_per_session: 1GB\n"
		     "    checkpoint_evry: 500\n"
		     "    max_message_size: 25\n"
		     "    checkpoint_every: 1.5 messages\n") ==
	    std::vector<std::string>{
		"config.yaml:2:3: defaults.keeep: unknown key; did you mean \"keep\"?",
		"config.yaml:3:3: defaults.delete-after: unknown key; did you mean "
		"\"delete_after\"?",
		"config.yaml:8:5: accounts[0].max_mesage_size: unknown key; did you mean "
		"\"max_message_size\"?",
		"config.yaml:9:5: accounts[0].oversized: unknown key; did you mean "
		"\"oversize\"?",
		"config.yaml:10:5: accounts[0].max_messages_per_sesion: unknown key; did "
		"you mean \"max_messages_per_session\"?",
		"config.yaml:11:5: accounts[0].max_byte_per_session: unknown key; did "
		"you "
		"mean \"max_bytes_per_session\"?",
		"config.yaml:12:5: accounts[0].checkpoint_evry: unknown key; did you "
		"mean "
		"\"checkpoint_every\"?",
		"config.yaml:13:23: accounts[0].max_message_size: must be 0 (no limit) "
		"or "
		"between 1kB and 1024GiB, not 25 (a number without a unit counts octets; "
		"write e.g. 25MB)",
		"config.yaml:14:23: accounts[0].checkpoint_every: bad checkpoint \"1.5 "
		"messages\": a number of messages has no fraction",
	    });
	CHECK(ErrorOf("keep: true\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n") ==
	      "config.yaml:1:1: keep: unknown key at the top; account keys go into an "
	      "entry of accounts: or under defaults:");
}

TEST_CASE("the annotated example loads, with every key")
{
	const auto path =
	    test::RequireEnv("POPSTREAM_SOURCE_ROOT") + "/config/popstream.yaml.example";
	const auto config = LoadConfig(path, test::TestOptions());
	REQUIRE(config.accounts.size() == 7);
	const auto &corp = config.accounts[3];
	CHECK(corp.auth == pop3::AuthMethod::ScramSha256);
	CHECK(corp.tls == TlsMode::StartTls);
	const auto &o365 = config.accounts[4];
	CHECK(o365.auth == pop3::AuthMethod::Xoauth2);
	REQUIRE(o365.oauth);
	CHECK(o365.oauth->provider == oauth::Provider::Microsoft);
	CHECK(o365.oauth->client_id == "00000000-0000-0000-0000-000000000000");
	CHECK(corp.password_secret == std::vector<std::pair<std::string, std::string>>{
					  {"service", "pop"}, {"user", "alice@corp"}});
	const auto &shared = config.accounts[5];
	CHECK(shared.name == "shared");
	CHECK(shared.keep);
	CHECK(shared.delete_after == 14 * 24h);
	CHECK(shared.max_message_size == 25'000'000);
	CHECK(shared.oversize == Oversize::Skip);
	CHECK(shared.max_messages_per_session == 0);
	CHECK(shared.max_bytes_per_session == 200 * 1024 * 1024);
	CHECK(shared.checkpoint_messages == 200);
	CHECK(shared.checkpoint_bytes == 20 * 1024 * 1024);
	// The defaults: section spells out the built-in defaults.
	const config::Account built_in;
	const auto &work = config.accounts[0];
	CHECK(work.keep == built_in.keep);
	CHECK(work.delete_after == built_in.delete_after);
	CHECK(work.max_message_size == built_in.max_message_size);
	CHECK(work.checkpoint_messages == built_in.checkpoint_messages);
	CHECK(work.checkpoint_bytes == built_in.checkpoint_bytes);
	CHECK(work.auth == built_in.auth);
	CHECK(work.allow_plaintext == built_in.allow_plaintext);
}

TEST_CASE("auth, allow_plaintext and oauth_token_command: values and inheritance")
{
	const auto config =
	    Parse("defaults:\n"
		  "  auth: scram-sha-256\n"
		  "  allow_plaintext: true\n"
		  "  maildir: /m\n"
		  "accounts:\n"
		  "  - name: a\n"
		  "    host: h\n"
		  "  - name: b\n"
		  "    host: h\n"
		  "    auth: XOAUTH2\n"
		  "    allow_plaintext: false\n"
		  "    oauth_token_command: oauth2l fetch --json \"a b\"\n"
		  "  - name: c\n"
		  "    host: h\n"
		  "    auth: auto\n"
		  "    oauth_token_command: [get-token, c]\n"
		  "  - name: d\n"
		  "    host: h\n"
		  "    auth: external\n"
		  "    tls_cert: /c.pem\n"
		  "    tls_key: /c.key\n"
		  "  - name: e\n"
		  "    host: h\n"
		  "    auth: apop\n"
		  "    password_command: [pass, e]\n");
	REQUIRE(config.accounts.size() == 5);
	const auto &a = config.accounts[0];
	CHECK(a.auth == pop3::AuthMethod::ScramSha256);
	CHECK(a.allow_plaintext);
	CHECK(a.oauth_token_command.empty());
	const auto &b = config.accounts[1];
	CHECK(b.auth == pop3::AuthMethod::Xoauth2);
	CHECK_FALSE(b.allow_plaintext);
	CHECK(b.oauth_token_command ==
	      std::vector<std::string>{"oauth2l", "fetch", "--json", "a b"});
	CHECK(config.accounts[2].auth == pop3::AuthMethod::Auto);
	CHECK(config.accounts[2].oauth_token_command ==
	      std::vector<std::string>{"get-token", "c"});
	// EXTERNAL needs neither a password nor a token.
	CHECK(config.accounts[3].auth == pop3::AuthMethod::External);
	CHECK(config.accounts[4].auth == pop3::AuthMethod::Apop);

	// Built in: the strongest method offered, and no secret in the clear.
	const auto plain = Parse(WithKey("keep: false"));
	CHECK(plain.accounts[0].auth == pop3::AuthMethod::Auto);
	CHECK_FALSE(plain.accounts[0].allow_plaintext);
}

TEST_CASE("auth, allow_plaintext and oauth_token_command: bad values")
{
	CHECK(ErrorOf(WithKey("auth: scram")) ==
	      "config.yaml:5:11: accounts[0].auth: bad value \"scram\" (expected auto, "
	      "user, apop, plain, login, cram-md5, scram-sha-1, scram-sha-256, external, "
	      "xoauth2 or oauthbearer)");
	CHECK(
	    ErrorOf(WithKey("auth: cram_md5")) ==
	    "config.yaml:5:11: accounts[0].auth: bad value \"cram_md5\" (expected auto, "
	    "user, apop, plain, login, cram-md5, scram-sha-1, scram-sha-256, external, "
	    "xoauth2 or oauthbearer); did you mean \"cram-md5\"?");
	CHECK(ErrorOf(WithKey("auth: [plain]")) ==
	      "config.yaml:5:11: accounts[0].auth: expected a string, got a list");
	CHECK(
	    ErrorOf(WithKey("allow_plaintext: yes")) ==
	    "config.yaml:5:22: accounts[0].allow_plaintext: expected true or false, got "
	    "\"yes\"");
	CHECK(ErrorOf(WithKey("oauth_token_command: []")) ==
	      "config.yaml:5:26: accounts[0].oauth_token_command: empty command");
	CHECK(ErrorOf(WithKey("oauth_token_command: \"get 'x\"")) ==
	      "config.yaml:5:26: accounts[0].oauth_token_command: unterminated ' in the "
	      "command");
}

TEST_CASE("a login method without its secret, or a secret command it never runs")
{
	// The token methods need the token command; the account's own auth: is named...
	CHECK(ErrorOf(WithKey("auth: xoauth2")) ==
	      "config.yaml:5:11: accounts[0].auth: \"xoauth2\" needs oauth or "
	      "oauth_token_command (XOAUTH2 and OAUTHBEARER log in with an OAuth 2.0 "
	      "access token, not a password)");
	// ...or, inherited, the account that lacks the command.
	CHECK(ErrorOf("defaults:\n"
		      "  auth: oauthbearer\n"
		      "accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n") ==
	      "config.yaml:4:5: accounts[0].auth: \"oauthbearer\" needs oauth or "
	      "oauth_token_command (XOAUTH2 and OAUTHBEARER log in with an OAuth 2.0 "
	      "access token, not a password)");
	// A token command with a password method would silently not run.
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n"
		      "    auth: scram-sha-256\n"
		      "    oauth_token_command: get-token\n") ==
	      "config.yaml:6:26: accounts[0].oauth_token_command: not used with auth: "
	      "\"scram-sha-256\", which logs in with the password (the token is for "
	      "xoauth2, oauthbearer or auto)");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n"
		      "    auth: external\n"
		      "    oauth_token_command: get-token\n"
		      "    tls_cert: /c.pem\n"
		      "    tls_key: /c.key\n") ==
	      "config.yaml:6:26: accounts[0].oauth_token_command: not used with auth: "
	      "\"external\", which logs in with the client certificate (the token is for "
	      "xoauth2, oauthbearer or auto)");
	// The token methods never use the password, and auto with a token uses the
	// token.
	CHECK(
	    ErrorOf("accounts:\n"
		    "  - name: a\n"
		    "    host: h\n"
		    "    maildir: /m\n"
		    "    auth: xoauth2\n"
		    "    oauth_token_command: get-token\n"
		    "    password_command: pass a\n") ==
	    "config.yaml:7:23: accounts[0].password_command: not used with auth: "
	    "\"xoauth2\", which logs in with the token of oauth_token_command (set auth "
	    "to a password method to use the password)");
	CHECK(
	    ErrorOf("accounts:\n"
		    "  - name: a\n"
		    "    host: h\n"
		    "    maildir: /m\n"
		    "    oauth_token_command: get-token\n"
		    "    password_command: pass a\n") ==
	    "config.yaml:6:23: accounts[0].password_command: not used with auth: "
	    "\"auto\", which logs in with the token of oauth_token_command (set auth to "
	    "a password method to use the password)");
	CHECK(ErrorOf("accounts:\n"
		      "  - name: a\n"
		      "    host: h\n"
		      "    maildir: /m\n"
		      "    auth: external\n"
		      "    password_command: pass a\n"
		      "    tls_cert: /c.pem\n"
		      "    tls_key: /c.key\n") ==
	      "config.yaml:6:23: accounts[0].password_command: not used with auth: "
	      "\"external\", which logs in with the client certificate");

	// A command inherited from defaults: cannot be unset; choosing the method is
	// how an account opts out of it, and that is no error.
	const auto config = Parse("defaults:\n"
				  "  oauth_token_command: get-token\n"
				  "  maildir: /m\n"
				  "accounts:\n"
				  "  - name: a\n"
				  "    host: h\n"
				  "    auth: scram-sha-256\n"
				  "    password_command: pass a\n"
				  "  - name: b\n"
				  "    host: h\n");
	REQUIRE(config.accounts.size() == 2);
	CHECK(config.accounts[0].auth == pop3::AuthMethod::ScramSha256);
	CHECK(config.accounts[1].oauth_token_command ==
	      std::vector<std::string>{"get-token"});
}

TEST_CASE("oauth: presets filled, custom providers checked, every error at its key")
{
	const auto config =
	    Parse(WithKey("oauth: {provider: microsoft, client_id: 0000-abcd}\n"
			  "    auth: xoauth2"));
	REQUIRE(config.accounts.size() == 1);
	REQUIRE(config.accounts[0].oauth);
	const auto &ms = *config.accounts[0].oauth;
	CHECK(ms.provider == oauth::Provider::Microsoft);
	CHECK(ms.client_id == "0000-abcd");
	CHECK(ms.tenant == "common");
	CHECK(ms.token_endpoint ==
	      "https://login.microsoftonline.com/common/oauth2/v2.0/token");
	CHECK(ms.device_endpoint ==
	      "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
	CHECK(ms.scope ==
	      "https://outlook.office.com/POP.AccessAsUser.All offline_access");
	CHECK(oauth::PreferredGrant(ms) == oauth::Grant::Device);

	const auto google =
	    Parse(WithKey("oauth:\n      provider: google\n      client_id: x.apps\n"
			  "      client_secret: s3cret"));
	REQUIRE(google.accounts[0].oauth);
	CHECK(google.accounts[0].oauth->scope == "https://mail.google.com/");
	CHECK(oauth::PreferredGrant(*google.accounts[0].oauth) ==
	      oauth::Grant::AuthorizationCode);

	CHECK(ErrorOf(WithKey("oauth: {provider: yahoo}")) ==
	      "config.yaml:5:23: accounts[0].oauth.provider: unknown provider \"yahoo\" "
	      "(microsoft, google, custom or goa)");
	CHECK(ErrorOf(WithKey("oauth: {client_id: x}")) ==
	      "config.yaml:5:12: accounts[0].oauth: missing provider (microsoft, google, "
	      "custom or goa)");
	CHECK(ErrorOf(WithKey("oauth: {provider: custom, client_id: x, "
			      "token_endpoint: https://t/}")) ==
	      "config.yaml:5:12: accounts[0].oauth: custom needs device_endpoint or "
	      "authorization_endpoint");
	CHECK(ErrorOf(WithKey("oauth: {provider: custom, client_id: x, "
			      "token_endpoint: http://example.org/t, device_endpoint: "
			      "https://d/}")) ==
	      "config.yaml:5:12: accounts[0].oauth: custom: endpoint "
	      "\"http://example.org/t\" is not an https URL");
	CHECK(ErrorOf(WithKey("oauth: {provider: microsoft}")) ==
	      "config.yaml:5:12: accounts[0].oauth: microsoft needs client_id (register "
	      "one with the provider; popstream ships none)");
	CHECK(ErrorOf(WithKey("oauth: {provider: goa, tenant: x}")) ==
	      "config.yaml:5:12: accounts[0].oauth: goa needs account (the GNOME Online "
	      "Accounts id)");
	CHECK(ErrorOf(WithKey("oauth: {provider: goa, acount: x}")) ==
	      "config.yaml:5:36: accounts[0].oauth.acount: unknown key \"acount\" "
	      "(provider, client_id, client_secret, tenant, scope, token_endpoint, "
	      "device_endpoint, authorization_endpoint, account)");
	CHECK(ErrorOf(WithKey("oauth: microsoft")) ==
	      "config.yaml:5:12: accounts[0].oauth: expected a map, got a value");
	// Two sources of one token, or a token for a password method, are refused.
	CHECK(ErrorOf(WithKey("oauth: {provider: goa, account: a1}\n"
			      "    oauth_token_command: get-token")) ==
	      "config.yaml:5:12: accounts[0].oauth: oauth and oauth_token_command both "
	      "give the token (choose one)");
	CHECK(ErrorOf(WithKey("oauth: {provider: goa, account: a1}\n"
			      "    auth: scram-sha-1")) ==
	      "config.yaml:5:12: accounts[0].oauth: not used with auth: \"scram-sha-1\" "
	      "(OAuth 2.0 tokens are for xoauth2, oauthbearer or auto)");
}

TEST_CASE("password: {secret: {...}} keeps the attributes in order, and nothing else")
{
	const auto config =
	    Parse(WithKey("password: {secret: {service: pop, user: alice}}"));
	REQUIRE(config.accounts.size() == 1);
	const std::vector<std::pair<std::string, std::string>> expected{
	    {"service", "pop"}, {"user", "alice"}};
	CHECK(config.accounts[0].password_secret == expected);
	CHECK(ErrorOf(WithKey("password: {plain: hunter2}")) ==
	      "config.yaml:5:23: accounts[0].password.plain: unknown key \"plain\" "
	      "(secret: the Secret Service attributes to look the password up by; a "
	      "password itself never goes into this file)");
	CHECK(ErrorOf(WithKey("password: {secret: {}}")) ==
	      "config.yaml:5:24: accounts[0].password.secret: empty map");
	CHECK(ErrorOf(WithKey("password: {secret: {a: b}}\n"
			      "    password_command: pass x")) ==
	      "config.yaml:5:15: accounts[0].password: password and password_command "
	      "both give the password (choose one)");
}

TEST_CASE("on_new_mail: a command, inherited from defaults, and checked like one")
{
	const auto config = Parse("defaults:\n"
				  "  on_new_mail: [notmuch, new]\n"
				  "  maildir: /m\n"
				  "accounts:\n"
				  "  - name: a\n"
				  "    server: alice@mail.example.com\n"
				  "  - name: b\n"
				  "    server: bob@mail.example.com\n"
				  "    on_new_mail: notify-send 'New mail'\n");
	REQUIRE(config.accounts.size() == 2);
	CHECK(config.accounts[0].on_new_mail ==
	      std::vector<std::string>{"notmuch", "new"});
	CHECK(config.accounts[1].on_new_mail ==
	      std::vector<std::string>{"notify-send", "New mail"});
	CHECK(ErrorOf(WithKey("on_new_mail: {a: b}")) ==
	      "config.yaml:5:18: accounts[0].on_new_mail: expected a command (a list of "
	      "strings, or one string), got a map");
}

TEST_CASE("mda: one delivery per account; the account's own replaces the inherited one")
{
	const auto config = Parse("defaults:\n"
				  "  maildir: /m\n"
				  "accounts:\n"
				  "  - name: a\n"
				  "    server: alice@mail.example.com\n"
				  "  - name: b\n"
				  "    server: bob@mail.example.com\n"
				  "    mda: [procmail, -d, '%u']\n");
	REQUIRE(config.accounts.size() == 2);
	CHECK(config.accounts[0].maildir == "/m");
	CHECK(config.accounts[0].mda.empty());
	CHECK(config.accounts[1].maildir.empty());
	CHECK(config.accounts[1].mda == std::vector<std::string>{"procmail", "-d", "%u"});
	CHECK(
	    ErrorOf(WithKey("mda: [procmail, -d, '%T']"))
		.find(
		    "accounts[0].mda: unknown placeholder \"%T\" (popstream expands %a, "
		    "the account, %u, the user, %F, the envelope sender, and %% to %)") !=
	    std::string::npos);
	CHECK(Parse("accounts:\n  - name: a\n    server: alice@mail.example.com\n"
		    "    mda: [procmail, -f, '%F', -a, '100%%']\n")
		  .accounts[0]
		  .mda ==
	      std::vector<std::string>{"procmail", "-f", "%F", "-a", "100%%"});
	CHECK(ErrorOf(WithKey("mda: [procmail]")) ==
	      "config.yaml:5:10: accounts[0].mda: maildir and mda both say where the "
	      "mail goes (choose one)");
}

TEST_CASE("received_header and account_header: off by default, set per account or in "
	  "defaults; a field name is checked where it is written")
{
	const auto config = Parse("defaults:\n"
				  "  maildir: /m\n"
				  "  account_header: X-Popstream-Account\n"
				  "accounts:\n"
				  "  - name: a\n"
				  "    server: alice@mail.example.com\n"
				  "    received_header: true\n"
				  "  - name: b\n"
				  "    server: bob@mail.example.com\n"
				  "    account_header: ''\n");
	REQUIRE(config.accounts.size() == 2);
	CHECK(config.accounts[0].received_header);
	CHECK(config.accounts[0].account_header == "X-Popstream-Account");
	CHECK_FALSE(config.accounts[1].received_header);
	CHECK(config.accounts[1].account_header.empty());
	CHECK(ErrorOf(WithKey("account_header: 'X Account'")) ==
	      "config.yaml:5:21: accounts[0].account_header: a header field name is "
	      "printable ASCII without spaces or ':' (RFC 5322 §2.2), such as "
	      "X-Popstream-Account");
	CHECK(ErrorOf(WithKey("received_header: sometimes"))
		  .find("config.yaml:5:22: accounts[0].received_header: ") == 0);
}

TEST_CASE("mbox: one delivery of maildir, mda and mbox per account; the account's own "
	  "replaces the inherited one")
{
	const auto config = Parse("defaults:\n"
				  "  maildir: /m\n"
				  "accounts:\n"
				  "  - name: a\n"
				  "    server: alice@mail.example.com\n"
				  "    mbox: /var/mail/alice\n"
				  "  - name: b\n"
				  "    server: bob@mail.example.com\n");
	REQUIRE(config.accounts.size() == 2);
	CHECK(config.accounts[0].maildir.empty());
	CHECK(config.accounts[0].mbox == "/var/mail/alice");
	CHECK(config.accounts[1].maildir == "/m");
	CHECK(config.accounts[1].mbox.empty());
	CHECK(ErrorOf(WithKey("mbox: /x")) ==
	      "config.yaml:5:11: accounts[0].mbox: maildir and mbox both say where the "
	      "mail goes (choose one)");
}
