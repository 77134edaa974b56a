// Dot-unstuffing, terminator detection and CRLF->LF at every split of the input, as
// every decoder that resumes across reads is tested: each vector is decoded whole, byte
// by byte, and cut in two and in three at every pair of positions.
#include "core/pop3/MultilineDecoder.hxx"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using popstream::pop3::MultilineDecoder;

namespace {

struct Decoded {
	std::string body;
	/** Input bytes consumed up to and including the terminator, or npos if none. */
	std::size_t end = std::string::npos;
	bool operator==(const Decoded &) const = default;
};

Decoded DecodeChunks(const std::string &input, const std::vector<std::size_t> &cuts)
{
	MultilineDecoder decoder;
	Decoded d;
	std::size_t start = 0;
	auto points = cuts;
	points.push_back(input.size());
	for (const auto cut : points) {
		const auto r = decoder.Decode(
		    std::string_view(input).substr(start, cut - start), d.body);
		if (r.done) {
			d.end = start + r.consumed;
			return d;
		}
		REQUIRE(r.consumed == cut - start);
		start = cut;
	}
	return d;
}

/** Decodes @p input under every split schedule; all must agree with @p expected. */
void CheckAllSplits(const std::string &input, const Decoded &expected)
{
	CAPTURE(input);
	CHECK(DecodeChunks(input, {}) == expected);
	std::vector<std::size_t> each;
	for (std::size_t i = 1; i < input.size(); ++i)
		each.push_back(i);
	CHECK(DecodeChunks(input, each) == expected);
	for (std::size_t i = 1; i < input.size(); ++i)
		for (std::size_t j = i; j < input.size(); ++j) {
			const auto got = DecodeChunks(input, {i, j});
			if (got != expected) {
				CAPTURE(i);
				CAPTURE(j);
				CHECK(got == expected);
				return;
			}
		}
}

} // namespace

TEST_CASE("plain body: CRLF becomes LF and the terminator is consumed")
{
	const std::string in = "Subject: a\r\n\r\nbody\r\n.\r\n";
	CheckAllSplits(in, {"Subject: a\n\nbody\n", in.size()});
}

TEST_CASE("bytes after the terminator are left for the next response")
{
	const std::string in = "x\r\n.\r\n+OK next\r\n";
	CheckAllSplits(in, {"x\n", 6});
}

TEST_CASE("dot-unstuffing removes exactly one leading dot (case 05)")
{
	const std::string in =
	    "..\r\n...\r\n..hidden\r\n....three\r\n .space-dot\r\nend.\r\n..\r\n.\r\n";
	CheckAllSplits(in,
		       {".\n..\n.hidden\n...three\n .space-dot\nend.\n.\n", in.size()});
}

TEST_CASE("an empty body is just the terminator")
{
	CheckAllSplits(".\r\n", {"", 3});
}

TEST_CASE("a dot-line without stuffing loses its dot, as RFC 1939 section 3 says")
{
	CheckAllSplits(".hidden\r\n.\r\n", {"hidden\n", 12});
}

TEST_CASE("lone CR is data; CR CR LF keeps one CR")
{
	CheckAllSplits("a\rb\r\r\n.\r\n", {"a\rb\r\n", 9});
	CheckAllSplits(".\rx\r\n.\r\n", {"\rx\n", 8});
	CheckAllSplits(".\r\r\n.\r\n", {"\r\n", 7});
}

TEST_CASE("bare LF lines and a bare-LF terminator")
{
	CheckAllSplits("a\n..b\n\n.\n", {"a\n.b\n\n", 9});
}

TEST_CASE("a lone dot ended by a bare LF inside a CRLF stream is data, not the end")
{
	// RFC 1939 §3: the terminator is CRLF "." CRLF. Ending at ".\n" would cut the
	// message short; kept as data, its size still matches the server's count.
	const std::string in = "before\r\n.\nafter\r\n.\r\n";
	CheckAllSplits(in, {"before\n.\nafter\n", in.size()});
	// A server that uses LF alone still ends its bodies with ".\n".
	CheckAllSplits("before\n.\nafter\n", {"before\n", 9});
}

TEST_CASE("a line that merely starts like the terminator is data")
{
	CheckAllSplits("x\r\n.\r \r\n.\r\n", {"x\n\r \n", 11});
	CheckAllSplits("x\r\n. \r\n.\r\n", {"x\n \n", 10});
}

TEST_CASE("NUL and 8-bit bytes pass through (case 25)")
{
	const std::string in = std::string("a\0b\xff\xc3\x28\r\n.\r\n", 11);
	CheckAllSplits(in, {std::string("a\0b\xff\xc3\x28\n", 7), in.size()});
}

TEST_CASE("a body without terminator is streamed, holding back only state")
{
	MultilineDecoder decoder;
	std::string out;
	auto r = decoder.Decode("abc\r", out);
	CHECK_FALSE(r.done);
	CHECK(r.consumed == 4);
	CHECK(out == "abc"); // the CR waits: it may start a CRLF
	r = decoder.Decode("\n.", out);
	CHECK(out == "abc\n"); // the dot waits: it may start the terminator
	r = decoder.Decode("\r\n", out);
	CHECK(r.done);
	CHECK(out == "abc\n");
}

TEST_CASE("an endless line is passed on, not accumulated (case 09/10)")
{
	MultilineDecoder decoder;
	const std::string chunk(65536, 'z');
	std::size_t total = 0;
	for (int i = 0; i < 64; ++i) {
		std::string out;
		const auto r = decoder.Decode(chunk, out);
		REQUIRE_FALSE(r.done);
		CHECK(out.size() == chunk.size());
		total += out.size();
	}
	CHECK(total == 64u * 65536u);
}
