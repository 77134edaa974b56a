// The YAML writer of popstream import: scalars that load back as written, comments
// that a value cannot end.
#include "core/import/Common.hxx"
#include "core/import/Imported.hxx"
#include "core/import/Write.hxx"

#include <doctest/doctest.h>

using namespace popstream::importer;

TEST_CASE("YamlScalar quotes what YAML would read as something else")
{
	CHECK(YamlScalar("alice") == "alice");
	CHECK(YamlScalar("~/Mail/work") == "~/Mail/work");
	CHECK(YamlScalar("alice@example.com") == "alice@example.com");
	CHECK(YamlScalar("") == "\"\"");
	CHECK(YamlScalar("~") == "\"~\"");
	CHECK(YamlScalar("yes") == "\"yes\"");
	CHECK(YamlScalar("off") == "\"off\"");
	CHECK(YamlScalar("null") == "\"null\"");
	CHECK(YamlScalar("995") == "\"995\"");
	CHECK(YamlScalar("-d") == "\"-d\"");
	CHECK(YamlScalar("@home") == "\"@home\"");
	CHECK(YamlScalar("a: b") == "\"a: b\"");
	CHECK(YamlScalar("x #y") == "\"x #y\"");
	CHECK(YamlScalar("say \"hi\" \\o/") == "\"say \\\"hi\\\" \\\\o/\"");
	CHECK(YamlScalar("a\nb") == "\"a\\x0ab\"");
}

TEST_CASE("CommentText keeps a value from ending the comment")
{
	CHECK(CommentText("a\nmaildir: /tmp") == "a?maildir: /tmp");
	CHECK(CommentText("tab\there") == "tab?here");
}

TEST_CASE("DeliveryLines: a key for a Maildir, mbox or MDA; a placeholder otherwise")
{
	Account account;
	account.delivery.kind = Delivery::Kind::Maildir;
	account.delivery.target = "~/Mail/x";
	account.delivery.origin = "delivery maildir ~/Mail/x";
	CHECK(DeliveryLines(account, Tool::Mpop, "  ") == "  maildir: ~/Mail/x\n");
	account.delivery.target = "Mail/x";
	CHECK(DeliveryLines(account, Tool::Mpop, "") ==
	      "# mpop: delivery maildir ~/Mail/x: a relative path, taken from your "
	      "home directory: confirm\nmaildir: ~/Mail/x\n");

	account.delivery.kind = Delivery::Kind::Mbox;
	account.delivery.target = "/var/mail/joe";
	account.delivery.origin = "delivery mbox /var/mail/joe";
	CHECK(DeliveryLines(account, Tool::Mpop, "") ==
	      "# mpop: delivery mbox /var/mail/joe\nmbox: /var/mail/joe\n");

	account.delivery.kind = Delivery::Kind::Mda;
	account.delivery.origin = "mda \"procmail -d %T\"";
	account.delivery.argv = {"procmail", "-d", "joe"};
	account.delivery.note = "%T became joe";
	CHECK(DeliveryLines(account, Tool::Fetchmail, "") ==
	      "# fetchmail: mda \"procmail -d %T\": %T became joe\n"
	      "mda: [procmail, \"-d\", joe]\n");
	account.delivery.argv.clear();
	account.delivery.why = "%T, the local recipient, is not known here";
	CHECK(DeliveryLines(account, Tool::Fetchmail, "") ==
	      "# fetchmail: mda \"procmail -d %T\": not carried over: %T, the local "
	      "recipient, is not known here\n"
	      "maildir: ~/Maildir   # placeholder: confirm or change\n");

	account.delivery = {};
	CHECK(DeliveryLines(account, Tool::Mpop, "") ==
	      "# no delivery in the mpop file: confirm or change this Maildir\n"
	      "maildir: ~/Maildir\n");
}

TEST_CASE("MdaFromShell: words when no shell is needed, else sh -c with the sender as "
	  "$1, never as shell text")
{
	std::string why;
	using Argv = std::vector<std::string>;
	CHECK(MdaFromShell("/usr/bin/procmail -f %F -d %T", "joe", why) ==
	      Argv{"/usr/bin/procmail", "-f", "%F", "-d", "joe"});
	CHECK(MdaFromShell("procmail -m '/x y/rc' 100% --opt=a", "", why) ==
	      Argv{"procmail", "-m", "/x y/rc", "100%%", "--opt=a"});
	CHECK(MdaFromShell("exec /usr/bin/procmail -f %F", "", why) ==
	      Argv{"/usr/bin/procmail", "-f", "%F"});
	CHECK(MdaFromShell("dovecot-lda -f '%F' -m ~/x", "", why) ==
	      Argv{"dovecot-lda", "-f", "%F", "-m", "~/x"});
	// mpop's own example: $USER needs the shell.
	CHECK(MdaFromShell("/usr/bin/procmail -f '%F' -d $USER", "", why) ==
	      Argv{"sh", "-c", "/usr/bin/procmail -f \"$1\" -d $USER", "sh", "%F"});
	CHECK(MdaFromShell("x \"from %F\" 'at %F' %F | tee -a log", "", why) ==
	      Argv{"sh", "-c", "x \"from $1\" 'at '\"$1\"'' \"$1\" | tee -a log", "sh",
		   "%F"});
	CHECK(MdaFromShell("FOO=1 procmail 50% > /dev/null", "", why) ==
	      Argv{"sh", "-c", "FOO=1 procmail 50%% > /dev/null"});

	CHECK_FALSE(MdaFromShell("procmail -d %T", "", why));
	CHECK(why == "%T, the local recipient, is not known here: write your login name "
		     "in its place");
	CHECK_FALSE(MdaFromShell("procmail -d %T", "a b", why));
	CHECK_FALSE(MdaFromShell("procmail 'x", "", why));
	CHECK(why == "unterminated ' in the command");
	CHECK_FALSE(MdaFromShell("p 'x' | 'y", "", why));
	CHECK(why == "unterminated ' in the command");
	CHECK_FALSE(MdaFromShell("  ", "", why));
}

TEST_CASE("account names are made valid and unique")
{
	const auto imported = ParseMpoprc("account joe@example.com\nhost a.example\n"
					  "account joe#example.com\nhost b.example\n");
	CHECK(imported.accounts.at(0).name == "joe-example-com");
	CHECK(imported.accounts.at(1).name == "joe-example-com-2");
	CHECK(imported.accounts.at(0).notes.at(0) == "mpop account \"joe@example.com\"");
}
