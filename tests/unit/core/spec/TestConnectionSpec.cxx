#include "core/spec/ConnectionSpec.hxx"

#include <doctest/doctest.h>

#include <string>

using namespace popstream;

namespace {

/** @return the message of the SpecError that parsing @p spec throws */
std::string ErrorOf(const std::string &spec)
{
	try {
		ParseConnectionSpec(spec);
	} catch (const SpecError &e) {
		return e.what();
	}
	FAIL("no SpecError for \"" << spec << "\"");
	return {};
}

} // namespace

TEST_CASE("a bare host is implicit TLS on port 995 with no user")
{
	const auto spec = ParseConnectionSpec("mail.example.com");
	CHECK(spec.tls);
	CHECK_FALSE(spec.explicit_scheme);
	CHECK(spec.user.empty());
	CHECK(spec.host == "mail.example.com");
	CHECK(spec.sni.empty());
	CHECK_FALSE(spec.port.has_value());
	CHECK(spec.Port() == 995);
}

TEST_CASE("ssl: is implicit TLS on 995, tcp: cleartext on 110")
{
	auto spec = ParseConnectionSpec("ssl:mail.example.com");
	CHECK(spec.tls);
	CHECK(spec.explicit_scheme);
	CHECK(spec.Port() == 995);

	spec = ParseConnectionSpec("tcp:mail.example.com");
	CHECK_FALSE(spec.tls);
	CHECK(spec.explicit_scheme);
	CHECK(spec.Port() == 110);

	spec = ParseConnectionSpec("TCP:mail.example.com");
	CHECK_FALSE(spec.tls);
}

TEST_CASE("user, host, SNI name and port")
{
	const auto spec = ParseConnectionSpec("alice@localhost!mail.example.com:1995");
	CHECK(spec.tls);
	CHECK(spec.user == "alice");
	CHECK(spec.host == "localhost");
	CHECK(spec.sni == "mail.example.com");
	REQUIRE(spec.port.has_value());
	CHECK(*spec.port == 1995);
}

TEST_CASE("cleartext forward: tcp:user@localhost:1110")
{
	const auto spec = ParseConnectionSpec("tcp:alice@localhost:1110");
	CHECK_FALSE(spec.tls);
	CHECK(spec.user == "alice");
	CHECK(spec.host == "localhost");
	CHECK(spec.Port() == 1110);
}

TEST_CASE("the user is split off at the last '@'")
{
	const auto spec = ParseConnectionSpec("alice@example.com@mail.example.com:995");
	CHECK(spec.user == "alice@example.com");
	CHECK(spec.host == "mail.example.com");
	CHECK(spec.Port() == 995);

	// '!' and ':' before the last '@' belong to the user.
	const auto odd = ParseConnectionSpec("ssl:we!rd:name@host");
	CHECK(odd.user == "we!rd:name");
	CHECK(odd.host == "host");
}

TEST_CASE("IPv6 literals in brackets")
{
	auto spec = ParseConnectionSpec("[::1]:1110");
	CHECK(spec.host == "::1");
	CHECK(spec.Port() == 1110);

	spec = ParseConnectionSpec("alice@[::1]");
	CHECK(spec.user == "alice");
	CHECK(spec.host == "::1");
	CHECK(spec.Port() == 995);

	spec = ParseConnectionSpec("tcp:bob@[2001:db8::7]!mail.example.com:110");
	CHECK(spec.host == "2001:db8::7");
	CHECK(spec.sni == "mail.example.com");
	CHECK(spec.Port() == 110);

	spec = ParseConnectionSpec("[fe80::1%eth0]");
	CHECK(spec.host == "fe80::1%eth0");

	spec = ParseConnectionSpec("[::ffff:192.0.2.1]:995");
	CHECK(spec.host == "::ffff:192.0.2.1");
}

TEST_CASE("IPv4 addresses and leading zeros in ports")
{
	const auto spec = ParseConnectionSpec("192.0.2.1:0110");
	CHECK(spec.host == "192.0.2.1");
	CHECK(spec.Port() == 110);
	CHECK(ParseConnectionSpec("h:65535").Port() == 65535);
	CHECK(ParseConnectionSpec("h:1").Port() == 1);
}

TEST_CASE("malformed specs give one exact line")
{
	CHECK(ErrorOf("x:99999") ==
	      "bad connection spec \"x:99999\": port 99999 is not in "
	      "1-65535");
	CHECK(ErrorOf("x:0") == "bad connection spec \"x:0\": port 0 is not in 1-65535");
	CHECK(ErrorOf("x:65536") ==
	      "bad connection spec \"x:65536\": port 65536 is not in 1-65535");
	CHECK(ErrorOf("x:123456789012345678901234567890") ==
	      "bad connection spec \"x:123456789012345678901234567890\": port "
	      "123456789012345678901234567890 is not in 1-65535");
	CHECK(ErrorOf("mail.example.com:pop3") ==
	      "bad connection spec \"mail.example.com:pop3\": port \"pop3\" is not a "
	      "number");
	CHECK(ErrorOf("host:") == "bad connection spec \"host:\": empty port after ':'");
	CHECK(ErrorOf("") == "bad connection spec \"\": the spec is empty");
	CHECK(ErrorOf("alice@") == "bad connection spec \"alice@\": empty host");
	CHECK(ErrorOf("alice@:995") == "bad connection spec \"alice@:995\": empty host");
	CHECK(ErrorOf("tcp:") == "bad connection spec \"tcp:\": empty host");
	CHECK(ErrorOf("!sni") == "bad connection spec \"!sni\": empty host");
	CHECK(ErrorOf("[]:995") == "bad connection spec \"[]:995\": empty host");
	CHECK(ErrorOf("@host") == "bad connection spec \"@host\": empty user before '@'");
	CHECK(ErrorOf("tcp:@host") ==
	      "bad connection spec \"tcp:@host\": empty user before '@'");
	CHECK(ErrorOf("alice@localhost!") ==
	      "bad connection spec \"alice@localhost!\": empty SNI name after '!'");
	CHECK(ErrorOf("alice@localhost!:1995") ==
	      "bad connection spec \"alice@localhost!:1995\": empty SNI name after '!'");
	CHECK(ErrorOf("imap:mail.example.com") ==
	      "bad connection spec \"imap:mail.example.com\": unknown prefix \"imap:\" "
	      "(expected \"ssl:\", \"tcp:\" or \"starttls:\")");
	CHECK(ErrorOf("pop3s:alice@mail.example.com:995") ==
	      "bad connection spec \"pop3s:alice@mail.example.com:995\": unknown prefix "
	      "\"pop3s:\" (expected \"ssl:\", \"tcp:\" or \"starttls:\")");
	CHECK(ErrorOf("ssl:tcp:host") ==
	      "bad connection spec \"ssl:tcp:host\": more than one "
	      "\"ssl:\"/\"tcp:\"/\"starttls:\" prefix");
	CHECK(ErrorOf("starttls:ssl:host") ==
	      "bad connection spec \"starttls:ssl:host\": more than one "
	      "\"ssl:\"/\"tcp:\"/\"starttls:\" prefix");
	CHECK(ErrorOf("starttls:") == "bad connection spec \"starttls:\": empty host");
	CHECK(ErrorOf("starttls:starttls:host") ==
	      "bad connection spec \"starttls:starttls:host\": more than one "
	      "\"ssl:\"/\"tcp:\"/\"starttls:\" prefix");
	CHECK(ErrorOf("[::1:995") ==
	      "bad connection spec \"[::1:995\": unterminated '[' (expected "
	      "\"[IPv6-address]\")");
	CHECK(ErrorOf("[::1]x") ==
	      "bad connection spec \"[::1]x\": unexpected \"x\" after "
	      "']'");
	CHECK(
	    ErrorOf("[localhost]") ==
	    "bad connection spec \"[localhost]\": \"localhost\" is not an IPv6 address");
	CHECK(ErrorOf("::1") == "bad connection spec \"::1\": an IPv6 address must be "
				"written in brackets, e.g. \"[::1]:995\"");
	CHECK(ErrorOf("fe80::abcd") ==
	      "bad connection spec \"fe80::abcd\": an IPv6 "
	      "address must be written in brackets, e.g. \"[::1]:995\"");
	CHECK(ErrorOf("alice@fe80::1") ==
	      "bad connection spec \"alice@fe80::1\": an IPv6 address must be written in "
	      "brackets, e.g. \"[::1]:995\"");
	CHECK(ErrorOf("host:1:2") == "bad connection spec \"host:1:2\": an IPv6 address "
				     "must be written in brackets, e.g. \"[::1]:995\"");
	CHECK(ErrorOf("mail/example") ==
	      "bad connection spec \"mail/example\": unexpected character \"/\" in host "
	      "\"mail/example\"");
	CHECK(
	    ErrorOf("host!sni!x") ==
	    "bad connection spec \"host!sni!x\": unexpected character \"!\" in SNI name "
	    "\"sni!x\"");
	CHECK(ErrorOf("alice@host:995x") ==
	      "bad connection spec \"alice@host:995x\": port \"995x\" is not a number");
	CHECK(ErrorOf("alice smith@host") ==
	      "bad connection spec \"alice smith@host\": space in the spec");
	// A CR/LF in the user would inject a POP3 command; the spec is escaped in the
	// message so the error stays on one line.
	CHECK(ErrorOf("alice\r\nDELE 1@host") ==
	      "bad connection spec \"alice\\r\\nDELE 1@host\": control character in the "
	      "spec");
}

TEST_CASE("starttls: is cleartext on 110, upgraded by STLS")
{
	auto spec = ParseConnectionSpec("starttls:alice@mail.example.com");
	CHECK_FALSE(spec.tls);
	CHECK(spec.starttls);
	CHECK(spec.explicit_scheme);
	CHECK(spec.user == "alice");
	CHECK(spec.host == "mail.example.com");
	CHECK_FALSE(spec.port);
	CHECK(spec.Port() == 110);

	spec = ParseConnectionSpec("STARTTLS:[::1]!mx.example:1110");
	CHECK(spec.starttls);
	CHECK(spec.host == "::1");
	CHECK(spec.sni == "mx.example");
	CHECK(spec.Port() == 1110);

	// Neither of the others sets it.
	CHECK_FALSE(ParseConnectionSpec("tcp:host").starttls);
	CHECK_FALSE(ParseConnectionSpec("ssl:host").starttls);
	CHECK_FALSE(ParseConnectionSpec("host").starttls);
	// As with ssl:tcp:995, the canonical form may name a host "starttls".
	spec = ParseConnectionSpec("ssl:starttls:995");
	CHECK(spec.tls);
	CHECK_FALSE(spec.starttls);
	CHECK(spec.host == "starttls");
}

TEST_CASE("SplitScheme strips only ssl:, tcp: and starttls:")
{
	const auto starttls = SplitScheme("starttls:work account");
	CHECK_FALSE(starttls.tls);
	CHECK(starttls.starttls);
	CHECK(starttls.explicit_scheme);
	CHECK(starttls.rest == "work account");
	CHECK_FALSE(SplitScheme("tcp:x").starttls);

	auto split = SplitScheme("tcp:alice@mail.example.com");
	CHECK_FALSE(split.tls);
	CHECK(split.explicit_scheme);
	CHECK(split.rest == "alice@mail.example.com");

	split = SplitScheme("work account");
	CHECK(split.tls);
	CHECK_FALSE(split.explicit_scheme);
	CHECK(split.rest == "work account");

	split = SplitScheme("imap:x");
	CHECK_FALSE(split.explicit_scheme);
	CHECK(split.rest == "imap:x");
}

TEST_CASE("canonical form for logs")
{
	CHECK(FormatConnectionSpec(ParseConnectionSpec("mail.example.com")) ==
	      "ssl:mail.example.com:995");
	CHECK(FormatConnectionSpec(ParseConnectionSpec("tcp:alice@localhost")) ==
	      "tcp:alice@localhost:110");
	CHECK(FormatConnectionSpec(
		  ParseConnectionSpec("alice@localhost!mail.example.com:1995")) ==
	      "ssl:alice@localhost!mail.example.com:1995");
	CHECK(FormatConnectionSpec(ParseConnectionSpec(
		  "tcp:bob@[::1]!mx.example:1110")) == "tcp:bob@[::1]!mx.example:1110");
	CHECK(FormatConnectionSpec(ParseConnectionSpec("[::1]")) == "ssl:[::1]:995");
	CHECK(FormatConnectionSpec(ParseConnectionSpec("StartTLS:alice@localhost")) ==
	      "starttls:alice@localhost:110");
	CHECK(FormatHostPort("::1", 110) == "[::1]:110");
	CHECK(FormatHostPort("localhost", 1110) == "localhost:1110");
}

TEST_CASE("the canonical form parses back to the same spec")
{
	for (const char *text : {
		 "mail.example.com",
		 "tcp:alice@localhost:1110",
		 "alice@example.com@mail.example.com",
		 "alice@localhost!mail.example.com:1995",
		 "tcp:bob@[2001:db8::7]!mx.example",
		 "ssl:a:b@host",
		 "starttls:alice@mail.example.com!mx.example:1110",
		 "ssl:starttls:995",
	     }) {
		CAPTURE(text);
		const auto spec = ParseConnectionSpec(text);
		const auto again = ParseConnectionSpec(FormatConnectionSpec(spec));
		CHECK(again.tls == spec.tls);
		CHECK(again.starttls == spec.starttls);
		CHECK(again.user == spec.user);
		CHECK(again.host == spec.host);
		CHECK(again.sni == spec.sni);
		CHECK(again.Port() == spec.Port());
	}
}
