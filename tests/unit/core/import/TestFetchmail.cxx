// popstream import fetchmail: an rc file in fetchmail's documented syntax (fetchmail(1),
// "THE RUN CONTROL FILE") read into popstream's keys, comments and errors.
#include "core/import/Imported.hxx"
#include "core/import/Write.hxx"

#include "ImportSamples.hxx"

#include <doctest/doctest.h>

using namespace popstream::importer;
using popstream::test::fetchmail_rc;

namespace {

const char *const fetchmail_yaml =
    R"yaml(# popstream config.yaml imported from fetchmail file fetchmailrc by 'popstream import fetchmail'.
# Read every comment, then check it with 'popstream check-config FILE'.
# set logfile ~/.fetchmail.log: not carried over: popstream logs to the journal and keeps its own state
# poll imap.example.org: not carried over: protocol imap; popstream fetches POP3 only
accounts:
  - name: pop-example-com-alice
    # fetchmail poll pop.example.com user alice
    host: pop.example.com
    tls: implicit
    user: alice
    keep: true
    max_message_size: 2MB
    oversize: skip
    max_messages_per_session: 50
    timeout: 1m
    interval: 10m
    # smtphost localhost (fetchmail's default): not carried over: popstream delivers to a Maildir, an mbox or an MDA
    maildir: ~/Maildir   # placeholder: confirm or change
    # fetchall: not carried over: popstream downloads every message it has not saved; with keep: false that is every message
    # is al here: not carried over: popstream delivers to the account's own delivery, not to local users
    # password: not carried over: a password is never copied; put it in ~/.netrc (machine pop.example.com login alice password ...), in the Secret Service (password: {secret: {...}}) or behind a password_command
  - name: pop-example-com-bob
    # fetchmail poll pop.example.com user bob
    # fetchmail used STLS only if the server offered it; popstream requires it (tls: none if the server has no STLS)
    host: pop.example.com
    tls: starttls
    user: bob
    keep: false
    timeout: 1m
    interval: 10m
    # fetchmail: mda "/usr/bin/procmail -d %T": %T became bob
    mda: [/usr/bin/procmail, "-d", bob]
    # password: not carried over: a password is never copied; put it in ~/.netrc (machine pop.example.com login bob password ...), in the Secret Service (password: {secret: {...}}) or behind a password_command
  - name: work
    # fetchmail poll work user carol@work.example
    host: mail.work.example
    port: 1110
    tls: starttls
    user: carol@work.example
    auth: apop
    checkpoint_every: 100
    timeout: 1m
    interval: 10m
    # smtphost localhost: not carried over: popstream delivers to a Maildir, an mbox or an MDA
    maildir: ~/Maildir   # placeholder: confirm or change
    # no sslcertck: not carried over: popstream always checks certificates; pin the server with tls_fingerprint instead
    # mimedecode: not carried over: popstream stores each message byte for byte
  - name: old-example-net
    # fetchmail skip old.example.net user dave (skip: not polled unless named)
    # fetchmail used STLS only if the server offered it; popstream requires it (tls: none if the server has no STLS)
    enabled: false
    host: old.example.net
    tls: starttls
    user: dave
    timeout: 1m
    interval: 10m
    # smtphost localhost (fetchmail's default): not carried over: popstream delivers to a Maildir, an mbox or an MDA
    maildir: ~/Maildir   # placeholder: confirm or change
    # password: not carried over: a password is never copied; put it in ~/.netrc (machine old.example.net login dave password ...), in the Secret Service (password: {secret: {...}}) or behind a password_command
)yaml";

std::string Yaml(const char *rc)
{
	return WriteConfig(ParseFetchmailrc(rc), "fetchmailrc");
}

/** @return the ImportError of @p rc as "LINE: MESSAGE", or "" if it parses */
std::string ErrorOf(const char *rc)
{
	try {
		ParseFetchmailrc(rc);
	} catch (const ImportError &e) {
		return std::to_string(e.Line()) + ": " + e.what();
	}
	return "";
}

} // namespace

TEST_CASE("fetchmail: globals, defaults, poll, skip, via, users, noise words")
{
	CHECK(Yaml(fetchmail_rc) == fetchmail_yaml);
}

TEST_CASE("fetchmail: no password from the file reaches the output")
{
	const auto yaml = Yaml(fetchmail_rc);
	for (const char *secret : {"hunter2", "pw \"two\"", "two"})
		CHECK(yaml.find(secret) == std::string::npos);
}

TEST_CASE("fetchmail: user LOCAL here is REMOTE there logs in as REMOTE")
{
	const auto imported = ParseFetchmailrc(
	    "poll pop.example.com proto pop3 user jim here is jsmith there ssl\n");
	REQUIRE(imported.accounts.size() == 1);
	CHECK(imported.accounts[0].user == "jsmith");
	CHECK(imported.accounts[0].tls == Tls::Implicit);
	REQUIRE(imported.accounts[0].dropped.size() == 1);
	CHECK(imported.accounts[0].dropped[0].option == "is jim here");
}

TEST_CASE("fetchmail: limit with limitflush deletes, a tiny limit is not copied")
{
	auto a =
	    ParseFetchmailrc("poll p.example proto pop3 user u limit 50000 limitflush\n")
		.accounts.at(0);
	CHECK(a.max_message_size == "50kB");
	CHECK(a.oversize == "delete");
	a = ParseFetchmailrc("poll p.example proto pop3 user u limit 25\n")
		.accounts.at(0);
	CHECK(a.max_message_size.empty());
	REQUIRE(a.dropped.size() == 1);
	CHECK(a.dropped[0].option == "limit");
	CHECK(a.dropped[0].value == "25");
}

TEST_CASE("fetchmail: a poll entry without user is the local user's, as in fetchmail")
{
	const auto a =
	    ParseFetchmailrc("poll pop.example.com proto pop3 ssl\n").accounts.at(0);
	CHECK(a.name == "pop-example-com");
	CHECK(a.user.empty());
}

TEST_CASE("fetchmail: syntax errors name their line")
{
	CHECK(ErrorOf("poll a.example\n  user joe\n  frobnicate\n") ==
	      "3: a word that is not a fetchmail keyword (a value that needs quotes?)");
	// The word is not repeated: after an unquoted password it may be part of it.
	CHECK(ErrorOf("poll a.example user joe password hunter2 hunter3\n") ==
	      "1: a word that is not a fetchmail keyword (a value that needs quotes?)");
	CHECK(ErrorOf("poll a.example user \"joe\n password x\n") == "1: unclosed quote");
	CHECK(ErrorOf("keep\n") == "1: keep before the first poll entry");
	CHECK(ErrorOf("poll a.example user joe password \"x\" \"s3cret\"\n") ==
	      "1: a quoted string where a keyword is due");
	CHECK(ErrorOf("set frob 1\n") == "1: unknown global option frob");
	CHECK(ErrorOf("poll a.example\nuser\n") == "2: user needs a value");
	CHECK(ErrorOf("poll a.example user joe limit\n") == "1: limit needs a value");
	CHECK(ErrorOf("poll a.example proto imap user joe\n") == "0: no POP3 poll entry");
	CHECK(ErrorOf("") == "0: no POP3 poll entry");
	// Not a mistake in the file: the CLI says EX_CONFIG, not EX_DATAERR.
	CHECK_THROWS_AS(ParseFetchmailrc("poll a.example proto imap user joe\n"),
			NothingToImport);
	CHECK(ErrorOf("poll a.example\n via alice@b.example\n") ==
	      "2: via: bad host \"alice@b.example\": a host has no '@' (write the user "
	      "under user:)");
}

TEST_CASE("fetchmail: '#' inside a word is part of it, as fetchmail reads it")
{
	// Not a comment: the password is pa#ss, and keep and ssl still apply.
	const auto a = ParseFetchmailrc("poll mail.example.org proto pop3 user joe "
					"password pa#ss keep ssl # a comment\n")
			   .accounts.at(0);
	CHECK(a.keep == std::optional<bool>(true));
	CHECK(a.tls == Tls::Implicit);
}

TEST_CASE("fetchmail: secrets are named, never shown")
{
	const auto yaml = WriteConfig(
	    ParseFetchmailrc("poll p.example proto pop3 esmtppassword smtp-s3cret\n"
			     "  user u password pop-s3cret\n"),
	    "rc");
	CHECK(yaml.find("s3cret") == std::string::npos);
	CHECK(yaml.find("    # esmtppassword: not carried over: popstream delivers to a "
			"Maildir, not by SMTP\n") != std::string::npos);
}

TEST_CASE("fetchmail: ssl is implicit TLS, sslproto alone STLS, sslproto '' none")
{
	const auto tls = [](const char *options) {
		return ParseFetchmailrc(std::string("poll p.example proto pop3 user u ") +
					options + "\n")
		    .accounts.at(0)
		    .tls;
	};
	CHECK(tls("ssl") == Tls::Implicit);
	CHECK(tls("sslproto tls1.2+") == Tls::StartTls);
	CHECK(tls("sslproto ''") == Tls::None);
	CHECK(tls("") == Tls::StartTls);
}

TEST_CASE("fetchmail: turning off what popstream never does needs no comment")
{
	const auto a = ParseFetchmailrc("poll p.example proto pop3 user u no rewrite "
					"no mimedecode no dns no uidl\n")
			   .accounts.at(0);
	REQUIRE(a.dropped.size() == 1);
	CHECK(a.dropped[0].option == "no uidl");
}

TEST_CASE("fetchmail: options with several values end at the next keyword")
{
	const auto a =
	    ParseFetchmailrc("poll mx.example proto pop3 envelope 1 Delivered-To "
			     "aka a.example b.example localdomains c.example "
			     "user u keep smtphost h1 h2 fetchlimit 7\n")
		.accounts.at(0);
	CHECK(a.keep == true);
	CHECK(a.max_messages_per_session == 7);
	REQUIRE(a.dropped.size() == 3);
	CHECK(a.dropped[0].option == "envelope 1 Delivered-To");
	CHECK(a.dropped[1].option == "aka a.example b.example");
	CHECK(a.dropped[2].option == "localdomains c.example");
	CHECK(a.delivery.origin == "smtphost h1 h2");
}

TEST_CASE("fetchmail: mda's %T is the entry's local user, else the one importing; %F "
	  "stays the sender")
{
	const auto yaml =
	    WriteConfig(ParseFetchmailrc("poll pop.example.com proto pop3 user joe ssl\n"
					 "  mda \"/usr/bin/procmail -f %F -d %T\"\n",
					 "joe2"),
			"rc");
	CHECK(
	    yaml.find("    # fetchmail: mda \"/usr/bin/procmail -f %F -d %T\": %T became "
		      "joe2 (the user running popstream import)\n"
		      "    mda: [/usr/bin/procmail, \"-f\", \"%F\", \"-d\", joe2]\n") !=
	    std::string::npos);

	const auto several = WriteConfig(
	    ParseFetchmailrc("poll pop.example.com proto pop3 user joe is a b here ssl\n"
			     "  mda \"procmail -d %T\"\n",
			     "joe2"),
	    "rc");
	CHECK(
	    several.find("    # fetchmail: mda \"procmail -d %T\": not carried over: "
			 "%T, the local recipient, is one of several local users\n"
			 "    maildir: ~/Maildir   # placeholder: confirm or change\n") !=
	    std::string::npos);
	CHECK(several.find("# is a b here: not carried over") != std::string::npos);

	// Without %T, the local user is not used, and says so.
	const auto plain = WriteConfig(
	    ParseFetchmailrc("poll p.example proto pop3 user joe is al here ssl\n"
			     "  mda \"/usr/bin/maildrop\"\n"),
	    "rc");
	CHECK(plain.find("    # fetchmail: mda \"/usr/bin/maildrop\"\n"
			 "    mda: [/usr/bin/maildrop]\n") != std::string::npos);
	CHECK(plain.find("# is al here: not carried over") != std::string::npos);
}

TEST_CASE("fetchmail: auth password is a method, not the password keyword")
{
	for (const char *word : {"auth", "authenticate"}) {
		CAPTURE(word);
		const auto imported =
		    ParseFetchmailrc(std::string("poll h.example proto pop3 ") + word +
				     " password user u\n");
		REQUIRE(imported.accounts.size() == 1);
		CHECK(imported.accounts[0].auth.empty());
		CHECK(imported.accounts[0].user == "u");
	}
}
