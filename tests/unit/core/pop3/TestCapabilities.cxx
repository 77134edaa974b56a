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

TEST_CASE("TOP, EXPIRE and IMPLEMENTATION for serverinfo (RFC 2449 6.5, 6.7, 6.9)")
{
	Capabilities caps;
	CHECK_FALSE(caps.top);
	CHECK_FALSE(caps.expire);
	CHECK_FALSE(caps.implementation);
	for (const char *line :
	     {"top", "EXPIRE 30 user", "IMPLEMENTATION  Dovecot (Ubuntu) ready."})
		caps.AddLine(line);
	CHECK(caps.top);
	CHECK(caps.expire == "30 USER");
	// Free text keeps its case and inner blanks.
	CHECK(caps.implementation == "Dovecot (Ubuntu) ready.");

	Capabilities never;
	never.AddLine("EXPIRE NEVER");
	never.AddLine("EXPIRE");
	never.AddLine("IMPLEMENTATION");
	CHECK(never.expire == "NEVER");
	CHECK(never.implementation == "");
	never.AddLine("IMPLEMENTATION " + std::string(1000, 'x'));
	CHECK(never.implementation->size() == 200);
}
