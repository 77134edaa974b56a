#include "core/pop3/Capabilities.hxx"

#include <doctest/doctest.h>

using popstream::pop3::Capabilities;

TEST_CASE("CAPA lines (RFC 2449 section 6)")
{
	Capabilities caps;
	for (const char *line : {"USER", "uidl", "PIPELINING", "RESP-CODES", "STLS",
				 "LOGIN-DELAY 300", "SASL PLAIN xoauth2", "EXPIRE 0",
				 "IMPLEMENTATION Some Server 1.0", "X-UNKNOWN stuff"})
		caps.AddLine(line);
	CHECK(caps.user);
	CHECK(caps.uidl);
	CHECK(caps.pipelining);
	CHECK(caps.resp_codes);
	CHECK(caps.stls);
	REQUIRE(caps.login_delay_s);
	CHECK(*caps.login_delay_s == 300);
	CHECK(caps.sasl == std::vector<std::string>{"PLAIN", "XOAUTH2"});
}

TEST_CASE("Gmail's CAPA has no PIPELINING; a bad LOGIN-DELAY is ignored")
{
	Capabilities caps;
	for (const char *line : {"USER", "RESP-CODES", "EXPIRE 0", "LOGIN-DELAY 3x",
				 "TOP", "UIDL", "X-GOOGLE-RICO", ""})
		caps.AddLine(line);
	CHECK_FALSE(caps.pipelining);
	CHECK(caps.uidl);
	CHECK_FALSE(caps.login_delay_s);
}
