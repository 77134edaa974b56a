#include "oauth/Form.hxx"

#include <doctest/doctest.h>

using namespace popstream::oauth;

TEST_CASE("form encoding: unreserved kept, space as +, the rest %XX upper-case")
{
	CHECK(FormEscape("aZ09-._~") == "aZ09-._~");
	CHECK(FormEscape("a b") == "a+b");
	CHECK(FormEscape(
		  "https://outlook.office.com/POP.AccessAsUser.All offline_access") ==
	      "https%3A%2F%2Foutlook.office.com%2FPOP.AccessAsUser.All+offline_access");
	CHECK(FormEscape("+&=%\xff") == "%2B%26%3D%25%FF");
	CHECK(EncodeForm({{"grant_type", "refresh_token"}, {"refresh_token", "a+b/c"}}) ==
	      "grant_type=refresh_token&refresh_token=a%2Bb%2Fc");
	CHECK(EncodeForm({}) == "");
}

TEST_CASE("form decoding: the inverse of encoding, in order")
{
	const Form form{{"code", "M.R3_BAY/x+y"}, {"state", "s t"}, {"empty", ""}};
	const auto back = DecodeForm(EncodeForm(form));
	REQUIRE(back.has_value());
	CHECK(*back == form);

	const auto odd = DecodeForm("&a=1&&b&c=%41%2b+");
	REQUIRE(odd.has_value());
	CHECK(*odd == Form{{"a", "1"}, {"b", ""}, {"c", "A+ "}});
	CHECK(FindField(*odd, "c") == "A+ ");
	CHECK(!FindField(*odd, "d").has_value());
}

TEST_CASE("form decoding: a bad %-escape is refused")
{
	CHECK(!DecodeForm("a=%").has_value());
	CHECK(!DecodeForm("a=%4").has_value());
	CHECK(!DecodeForm("a=%zz").has_value());
	CHECK(!DecodeForm("%g1=b").has_value());
}

TEST_CASE("the query of a URL, a request target or a bare query")
{
	CHECK(QueryOf("http://127.0.0.1:4711/?code=abc&state=xyz") ==
	      "code=abc&state=xyz");
	CHECK(QueryOf("/?code=abc#fragment") == "code=abc");
	CHECK(QueryOf("code=abc&state=xyz") == "code=abc&state=xyz");
	CHECK(QueryOf("http://127.0.0.1:4711/") == "");
	CHECK(QueryOf("/favicon.ico") == "");
}
