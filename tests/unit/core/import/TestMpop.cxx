// popstream import mpop: mpop configuration files (mpop(1), "USAGE") read into
// popstream's keys: defaults, accounts, inheritance with `account X : Y`.
#include "core/import/Imported.hxx"
#include "core/import/Write.hxx"

#include "ImportSamples.hxx"

#include <doctest/doctest.h>

using namespace popstream::importer;
using popstream::test::mpop_rc;

namespace {

const char *const mpop_yaml =
    R"yaml(# popstream config.yaml imported from mpop file mpoprc by 'popstream import mpop'.
# Read every comment, then check it with 'popstream check-config FILE'.
# received_header on (mpop's default): not carried over: popstream stores each message as the server sent it; received_header: true adds a Received: field
accounts:
  - name: freemail
    host: pop.freemail.example
    tls: implicit
    user: joe.smith
    password_command: [sh, "-c", "gpg --no-tty -q -d ~/.mpop-password.gpg"]
    keep: false
    max_message_size: 10MiB
    oversize: delete
    maildir: ~/Mail/inbox
    # uidls_file ~/.mpop_uidls/%U_at_%H: not carried over: popstream's journal remembers what it saved
  - name: work-mail
    # mpop account "work.mail"
    host: pop.work.example
    port: 1995
    tls: implicit
    user: joe.smith
    password_command: [sh, "-c", "gpg --no-tty -q -d ~/.mpop-password.gpg"]
    tls_fingerprint: "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"
    keep: true
    max_message_size: 10MiB
    oversize: skip
    # mpop: delivery mda "/usr/bin/procmail -f '%F' -d $USER"
    mda: [sh, "-c", "/usr/bin/procmail -f \"$1\" -d $USER", sh, "%F"]
    # uidls_file ~/.mpop_uidls/%U_at_%H: not carried over: popstream's journal remembers what it saved
    # only_new off: not carried over: popstream with keep: true downloads only what it has not saved yet
    # password: not carried over: a password is never copied; password_command gives it
  - name: plain
    # mpop used no TLS here; popstream then refuses methods that send the password in the clear
    host: "192.0.2.7"
    tls: none
    auth: user
    keep: false
    # mpop: delivery mbox "~/Mail/plain mbox"
    mbox: "~/Mail/plain mbox"
)yaml";

std::string ErrorOf(const char *rc)
{
	try {
		ParseMpoprc(rc);
	} catch (const ImportError &e) {
		return std::to_string(e.Line()) + ": " + e.what();
	}
	return "";
}

} // namespace

TEST_CASE("mpop: defaults, accounts and account X : Y")
{
	CHECK(WriteConfig(ParseMpoprc(mpop_rc), "mpoprc") == mpop_yaml);
	CHECK(std::string(mpop_yaml).find("secret123") == std::string::npos);
}

TEST_CASE("mpop: tls on is STARTTLS unless tls_starttls off, as mpop's default")
{
	const auto a = ParseMpoprc("account a\nhost p.example\ntls on\n").accounts.at(0);
	CHECK(a.tls == Tls::StartTls);
	const auto b = ParseMpoprc("account b\nhost p.example\ntls\ntls_starttls off\n")
			   .accounts.at(0);
	CHECK(b.tls == Tls::Implicit);
}

TEST_CASE("mpop: passwordeval of an OAuth method becomes oauth_token_command")
{
	const auto a = ParseMpoprc("account a\nhost p.example\nauth xoauth2\n"
				   "passwordeval oauth2-token me\n")
			   .accounts.at(0);
	CHECK(a.auth == "xoauth2");
	CHECK(a.password_command.empty());
	CHECK(a.token_command == std::vector<std::string>{"sh", "-c", "oauth2-token me"});
}

TEST_CASE("mpop: a later base overrides an earlier one, the account overrides both")
{
	const auto imported =
	    ParseMpoprc("account a\nhost a.example\nuser ua\nport 1000\n"
			"account b\nhost b.example\nuser ub\n"
			"account c : a, b\nport 2000\n");
	const auto &c = imported.accounts.at(2);
	CHECK(c.host == "b.example");
	CHECK(c.user == "ub");
	CHECK(c.port == 2000);
}

TEST_CASE("mpop: errors name their line")
{
	CHECK(ErrorOf("account a\nhost x\nfrobnicate on\n") ==
	      "3: unknown command frobnicate");
	CHECK(ErrorOf("host x\n") == "1: host before the first account or defaults");
	CHECK(ErrorOf("account a : nosuch\nhost x\n") ==
	      "1: account a inherits from nosuch, which is not defined above it");
	CHECK(ErrorOf("account a\nhost x\naccount a\n") ==
	      "3: account a is defined twice");
	CHECK(ErrorOf("account a\nuser \"joe\n") ==
	      "2: unclosed quote in user's argument");
	CHECK(ErrorOf("defaults\ntls on\naccount a\nuser joe\n") ==
	      "3: account a has no host");
	CHECK(ErrorOf("# nothing\n") == "0: no account");
	// Not a mistake in the file: the CLI says EX_CONFIG, not EX_DATAERR.
	CHECK_THROWS_AS(ParseMpoprc("defaults\ntls on\n"), NothingToImport);
	CHECK(ErrorOf(std::string("account a\nhost x\n\x01\x7f on\n").c_str()) ==
	      "3: unknown command ??");
	CHECK(ErrorOf("account a\nhost limit off\n") ==
	      "2: host: bad host \"limit off\": blank or control character");
}

TEST_CASE("mpop: eval is named with its line, its command never shown")
{
	const auto yaml = WriteConfig(
	    ParseMpoprc("account a\nhost p.example\neval echo password s3cret\n"), "rc");
	CHECK(yaml.find("s3cret") == std::string::npos);
	CHECK(yaml.find("    # eval (line 3): not carried over: the importer runs no "
			"commands; write the line it produces\n") != std::string::npos);
}

TEST_CASE("mpop: a relative Maildir is taken from the home directory, with a comment")
{
	const auto yaml = WriteConfig(
	    ParseMpoprc("account a\nhost p.example\ndelivery maildir Mail/in\n"), "rc");
	CHECK(yaml.find("    # mpop: delivery maildir Mail/in: a relative path, taken "
			"from your home directory: confirm\n"
			"    maildir: ~/Mail/in\n") != std::string::npos);
}

TEST_CASE("mpop: what popstream refuses only in combination becomes a comment")
{
	auto a =
	    ParseMpoprc("account a\nhost p.example\nauth oauthbearer\n").accounts.at(0);
	CHECK(a.auth.empty());
	REQUIRE(a.dropped.size() == 1);
	CHECK(a.dropped[0].option == "auth");
	a = ParseMpoprc("account a\nhost p.example\ntls off\ntls_cert_file /c.pem\n"
			"tls_key_file /k.pem\ntls_fingerprint " +
			std::string(64, 'a') + "\n")
		.accounts.at(0);
	CHECK(a.tls_cert.empty());
	CHECK(a.tls_key.empty());
	CHECK(a.tls_fingerprints.empty());
	CHECK(a.dropped.size() == 2);
	a = ParseMpoprc("account a\nhost p.example\ntls on\nauth external\n"
			"tls_cert_file /c.pem\n")
		.accounts.at(0);
	CHECK(a.auth.empty());
	CHECK(a.tls_cert.empty());
	CHECK(a.dropped.size() == 2);
}

TEST_CASE("mpop: '$' in a path is literal, as mpop wrote it")
{
	const auto yaml = WriteConfig(
	    ParseMpoprc("account a\nhost p.example\ndelivery maildir $HOME/Mail\n"),
	    "rc");
	CHECK(yaml.find("    maildir: \"~/$$HOME/Mail\"\n") != std::string::npos);
	const auto b = WriteConfig(
	    ParseMpoprc("account a\nhost p.example\ndelivery maildir /m/$x\n"), "rc");
	CHECK(b.find("    maildir: \"/m/$$x\"\n") != std::string::npos);
}

TEST_CASE("mpop: a value with a control character is not carried over")
{
	const auto yaml = WriteConfig(ParseMpoprc("account a\nhost p.example\n"
						  "delivery maildir ~/M\x01il\n"
						  "passwordeval \"pass\tshow\"\n"),
				      "rc");
	CHECK(yaml.find("password_command:") == std::string::npos);
	CHECK(yaml.find("    # maildir ~/M?il: not carried over: a control character, "
			"which popstream refuses\n") != std::string::npos);
	CHECK(yaml.find("    # password_command sh -c pass?show: not carried over: a "
			"control character, which popstream refuses\n") !=
	      std::string::npos);
	CHECK(yaml.find("    maildir: ~/Maildir\n") != std::string::npos);
}

TEST_CASE("mpop: a quoted argument loses its quotes only, as in mpop: backslashes stay "
	  "for the shell")
{
	const auto yaml = WriteConfig(
	    ParseMpoprc(
		"account a\nhost p.example\npasswordeval \"printf '%s\\n' pw\"\n"),
	    "rc");
	CHECK(
	    yaml.find("    password_command: [sh, \"-c\", \"printf '%s\\\\n' pw\"]\n") !=
	    std::string::npos);
}
