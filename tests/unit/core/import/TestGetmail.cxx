// popstream import getmail: getmail6 getmailrc files (INI) read into popstream's keys.
#include "core/import/Imported.hxx"
#include "core/import/Write.hxx"

#include "ImportSamples.hxx"

#include <doctest/doctest.h>

using namespace popstream::importer;
using popstream::test::getmail_rc;

namespace {

const char *const getmail_yaml =
    R"yaml(# popstream config.yaml imported from getmail file getmailrc-work by 'popstream import getmail'.
# Read every comment, then check it with 'popstream check-config FILE'.
# received = true (getmail's default): not carried over: popstream stores each message as the server sent it; received_header: true adds a Received: field
accounts:
  - name: work
    host: pop.example.com
    port: 995
    tls: implicit
    user: alice@example.com
    password_command: [/usr/bin/pass, show, mail/work]
    tls_fingerprint: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
    keep: true
    delete_after: 14d
    max_message_size: 25MB
    oversize: skip
    max_messages_per_session: 500
    maildir: ~/Mail/work/
    # verbose 2: not carried over: popstream logs to the journal
    # message_log ~/.getmail/log: not carried over: popstream logs to the journal
)yaml";

std::string ErrorOf(const char *rc)
{
	try {
		ParseGetmailrc(rc, "x");
	} catch (const ImportError &e) {
		return std::to_string(e.Line()) + ": " + e.what();
	}
	return "";
}

} // namespace

TEST_CASE("getmail: retriever, destination and options sections")
{
	CHECK(
	    WriteConfig(ParseGetmailrc(getmail_rc, GetmailAccountName("getmailrc-work")),
			"getmailrc-work") == getmail_yaml);
}

TEST_CASE("getmail: the account name comes from the file name")
{
	CHECK(GetmailAccountName("/home/a/.getmail/getmailrc-work") == "work");
	CHECK(GetmailAccountName("/home/a/.getmail/getmailrc") == "getmail");
	CHECK(GetmailAccountName("home.getmailrc") == "home");
	CHECK(GetmailAccountName("rc.d/other") == "other");
}

TEST_CASE("getmail: cleartext POP3, a plain password, MDA_external and getmail's keep")
{
	const char *const rc = "[retriever]\n"
			       "type = SimplePOP3Retriever\n"
			       "server = pop.example.net\n"
			       "username = bob\n"
			       "password = s3cret-pw\n"
			       "use_apop = yes\n"
			       "\n"
			       "[destination]\n"
			       "type = MDA_external\n"
			       "path = /usr/bin/maildrop\n"
			       "arguments = (\"-f\", \"%(sender)\",\n"
			       "    \"-d\", \"bob\")\n"
			       "unixfrom = true\n";
	const auto yaml = WriteConfig(ParseGetmailrc(rc, "home"), "getmailrc");
	CHECK(yaml ==
	      "# popstream config.yaml imported from getmail file getmailrc by "
	      "'popstream import getmail'.\n"
	      "# Read every comment, then check it with 'popstream check-config "
	      "FILE'.\n"
	      "# received = true (getmail's default): not carried over: popstream "
	      "stores each message as the server sent it; received_header: true "
	      "adds a Received: field\n"
	      "accounts:\n"
	      "  - name: home\n"
	      "    # getmail used no TLS here; popstream then refuses methods that "
	      "send the password in the clear\n"
	      "    host: pop.example.net\n"
	      "    tls: none\n"
	      "    user: bob\n"
	      "    auth: apop\n"
	      "    keep: true\n"
	      "    # getmail: type MDA_external path /usr/bin/maildrop arguments "
	      "(\"-f\", \"%(sender)\",?\"-d\", \"bob\")\n"
	      "    mda: [/usr/bin/maildrop, \"-f\", \"%F\", \"-d\", bob]\n"
	      "    # [destination] unixfrom true: not carried over: popstream hands "
	      "the MDA the message as stored, without a From_ line\n"
	      "    # password: not carried over: a password is never copied; put it "
	      "in ~/.netrc (machine pop.example.net login bob password ...), in the "
	      "Secret Service (password: {secret: {...}}) or behind a "
	      "password_command\n");
	CHECK(yaml.find("s3cret") == std::string::npos);
}

TEST_CASE("getmail: Mboxrd, received, and an MDA placeholder popstream has not")
{
	const auto yaml = WriteConfig(
	    ParseGetmailrc("[retriever]\ntype = SimplePOP3SSLRetriever\n"
			   "server = pop.example.net\nusername = bob\n"
			   "[destination]\ntype = Mboxrd\npath = ~/mail/inbox\n"
			   "locktype = flock\n[options]\nreceived = true\n"
			   "delivered_to = false\n",
			   "home"),
	    "getmailrc");
	CHECK(yaml.find("    received_header: true\n"
			"    # getmail: type Mboxrd path ~/mail/inbox\n"
			"    mbox: ~/mail/inbox\n"
			"    # [destination] locktype flock: not carried over: popstream "
			"locks an mbox with a dotlock and fcntl, as procmail and mutt "
			"do\n") != std::string::npos);
	CHECK(yaml.find("delivered_to false: not carried over: popstream adds no "
			"Delivered-To: field") != std::string::npos);

	const auto multidrop = WriteConfig(
	    ParseGetmailrc("[retriever]\ntype = SimplePOP3SSLRetriever\n"
			   "server = pop.example.net\nusername = bob\n"
			   "[destination]\ntype = MDA_external\npath = /usr/bin/deliver\n"
			   "arguments = (\"%(local)\", \"100%\")\n"
			   "[options]\nreceived = false\n",
			   "home"),
	    "getmailrc");
	CHECK(multidrop.find(
		  "    # getmail: type MDA_external path /usr/bin/deliver "
		  "arguments (\"%(local)\", \"100%\"): not carried over: "
		  "getmail's %(local) has no popstream placeholder\n"
		  "    maildir: ~/Maildir   # placeholder: confirm or change\n") !=
	      std::string::npos);
	CHECK(multidrop.find("received") == std::string::npos);
}

TEST_CASE("getmail: errors name their line")
{
	CHECK(ErrorOf("server = x\n") == "1: parameter before the first [section]");
	CHECK(ErrorOf("[retriever]\ntype SimplePOP3Retriever\n") ==
	      "2: not NAME = VALUE");
	CHECK(ErrorOf("[retriever]\ntype = SimpleIMAPSSLRetriever\nserver = i\n") ==
	      "2: retriever type SimpleIMAPSSLRetriever is IMAP; popstream fetches POP3 "
	      "only");
	// Not a mistake in the file: the CLI says EX_CONFIG, not EX_DATAERR.
	CHECK_THROWS_AS(
	    ParseGetmailrc("[retriever]\ntype = SimpleIMAPRetriever\nserver = i\n", "x"),
	    NothingToImport);
	CHECK(ErrorOf("[retriever]\ntype = SimplePOP3Retriever\n") ==
	      "1: [retriever] has no server");
	CHECK(ErrorOf("[options]\ndelete = true\n") == "0: no [retriever] section");
	CHECK(ErrorOf("[retriever]\ntype = SimplePOP3Retriever\nserver = p.example\n"
		      "password_command = /usr/bin/pass\n") ==
	      "4: password_command: not in parentheses (a tuple such as ('cmd', 'arg'))");
	CHECK(ErrorOf(
		  "[retriever]\ntype = SimplePOP3Retriever\nserver = a\nserver = b\n") ==
	      "4: server given twice in its section");
}

TEST_CASE("getmail: an unknown key that may hold a secret is named without its value")
{
	const auto yaml = WriteConfig(ParseGetmailrc("[retriever]\n"
						     "type = SimplePOP3SSLRetriever\n"
						     "server = p.example\n"
						     "client_secret = s3cret\n"
						     "mailboxes = (\"INBOX\",)\n",
						     "x"),
				      "rc");
	CHECK(yaml.find("s3cret") == std::string::npos);
	CHECK(yaml.find("    # client_secret: not carried over: popstream has no such "
			"retriever setting\n") != std::string::npos);
	CHECK(yaml.find("    # mailboxes (\"INBOX\",): not carried over") !=
	      std::string::npos);
}

TEST_CASE("getmail: ';' and '#' comments, ':' separators and folded key case")
{
	const auto a = ParseGetmailrc("; getmail6\n"
				      "[retriever]\n"
				      "# POP3 over TLS\n"
				      "Type: SimplePOP3SSLRetriever\n"
				      "SERVER = pop.example.org\n"
				      "port: 1995\n",
				      "x")
			   .accounts.at(0);
	CHECK(a.host == "pop.example.org");
	CHECK(a.port == 1995);
	CHECK(a.tls == Tls::Implicit);
	CHECK(a.keep == true);
}
