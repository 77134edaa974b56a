// The YAML writer of popstream import: scalars that load back as written, comments
// that a value cannot end.
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

TEST_CASE("DeliveryLines: a Maildir is a key, an MDA or mbox a comment and a placeholder")
{
	Account account;
	account.delivery = {
	    Delivery::Kind::Maildir, "~/Mail/x", {}, "delivery maildir ~/Mail/x"};
	CHECK(DeliveryLines(account, Tool::Mpop, "  ") == "  maildir: ~/Mail/x\n");
	account.delivery = {
	    Delivery::Kind::Mda, "procmail -d %T", {}, "mda \"procmail -d %T\""};
	CHECK(DeliveryLines(account, Tool::Fetchmail, "") ==
	      "# mda: [procmail, \"-d\", \"%T\"]   (fetchmail: mda \"procmail -d %T\")\n"
	      "# placeholder: popstream delivers only to a Maildir until issue 14's "
	      "deliveries land; confirm or change this path\n"
	      "maildir: ~/Maildir\n");
	account.delivery = {Delivery::Kind::Mda, "procmail | tee x", {}, "mda x"};
	CHECK(DeliveryLines(account, Tool::Fetchmail, "")
		  .starts_with("# mda: [sh, \"-c\", \"procmail | tee x\"]"));
	account.delivery = {Delivery::Kind::Unset, "", {}, ""};
	CHECK(DeliveryLines(account, Tool::Mpop, "") ==
	      "# no delivery in the mpop file: confirm or change this Maildir\n"
	      "maildir: ~/Maildir\n");
}

TEST_CASE("account names are made valid and unique")
{
	const auto imported = ParseMpoprc("account joe@example.com\nhost a.example\n"
					  "account joe#example.com\nhost b.example\n");
	CHECK(imported.accounts.at(0).name == "joe-example-com");
	CHECK(imported.accounts.at(1).name == "joe-example-com-2");
	CHECK(imported.accounts.at(0).notes.at(0) == "mpop account \"joe@example.com\"");
}
