// libFuzzer target: MultilineDecoder (daemon/core/pop3), the dot-unstuffing and CRLF.CRLF
// detection of RETR bodies. Two modes, chosen by the first byte:
// - decode: the rest of the input is server bytes, split into chunks at offsets taken
//   from the input; the result must not depend on the split, the terminator is seen at
//   most once, and the output never holds more bytes than the input;
// - round trip: the rest is a message body, which is encoded as a server would (stuffed
//   dots, CRLF, terminator) and must decode back to itself.
#include "FuzzCheck.hxx"

#include "core/pop3/MultilineDecoder.hxx"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

using namespace popstream::pop3;
using popstream::fuzz::Bytes;

namespace {

struct Decoded {
	std::string out;
	std::size_t consumed = 0;
	bool done = false;
	std::uint64_t crlf = 0;
};

/** Feeds @p input to a fresh decoder in pieces that end at @p cuts (ascending). */
Decoded DecodeInPieces(std::string_view input, const std::vector<std::size_t> &cuts)
{
	MultilineDecoder decoder;
	Decoded d;
	std::size_t start = 0;
	for (std::size_t i = 0; i <= cuts.size() && !d.done; ++i) {
		const std::size_t end = i < cuts.size() ? cuts[i] : input.size();
		const auto piece = input.substr(start, end - start);
		const std::size_t before = d.out.size();
		const auto result = decoder.Decode(piece, d.out);
		// Documented bound per call; and only the terminator stops early.
		FUZZ_CHECK(d.out.size() - before <= piece.size() + 2);
		FUZZ_CHECK(result.consumed <= piece.size());
		FUZZ_CHECK(result.done || result.consumed == piece.size());
		d.consumed += result.consumed;
		d.done = result.done;
		// Everything emitted so far came from bytes consumed so far.
		FUZZ_CHECK(d.out.size() <= d.consumed);
		FUZZ_CHECK(d.out.size() + decoder.CrlfCount() <= d.consumed);
		start = end;
	}
	d.crlf = decoder.CrlfCount();
	return d;
}

void Decode(Bytes &bytes)
{
	// Up to 15 cut points, then the server bytes.
	const unsigned count = bytes.Byte() % 16;
	std::vector<std::size_t> raw_cuts;
	for (unsigned i = 0; i < count; ++i)
		raw_cuts.push_back(bytes.Word());
	const std::string_view input(reinterpret_cast<const char *>(bytes.Data()),
				     bytes.Size());
	std::vector<std::size_t> cuts;
	for (const auto c : raw_cuts)
		cuts.push_back(input.empty() ? 0 : c % (input.size() + 1));
	std::sort(cuts.begin(), cuts.end());

	const Decoded whole = DecodeInPieces(input, {});
	const Decoded split = DecodeInPieces(input, cuts);
	// Resumable at any byte boundary: the split changes nothing.
	FUZZ_CHECK(split.out == whole.out);
	FUZZ_CHECK(split.consumed == whole.consumed);
	FUZZ_CHECK(split.done == whole.done);
	FUZZ_CHECK(split.crlf == whole.crlf);

	if (whole.done) {
		// The body ended at a line that is exactly ".", after a line end (or at
		// the very start), and never earlier: the first such line is the end.
		const auto body = input.substr(0, whole.consumed);
		FUZZ_CHECK(body.ends_with(".\n") || body.ends_with(".\r\n"));
		const auto dot = body.size() - (body.ends_with(".\r\n") ? 3 : 2);
		FUZZ_CHECK(dot == 0 || body[dot - 1] == '\n');
		FUZZ_CHECK(whole.out.empty() || whole.out.back() == '\n');
		// Decoding just the bytes used gives the same; the rest is untouched.
		const Decoded again = DecodeInPieces(body, {});
		FUZZ_CHECK(again.done && again.consumed == body.size() &&
			   again.out == whole.out);
	} else {
		FUZZ_CHECK(whole.consumed == input.size());
	}
}

void RoundTrip(Bytes &bytes)
{
	const unsigned count = bytes.Byte() % 16;
	std::vector<std::size_t> raw_cuts;
	for (unsigned i = 0; i < count; ++i)
		raw_cuts.push_back(bytes.Word());
	const std::string_view body(reinterpret_cast<const char *>(bytes.Data()),
				    bytes.Size());

	// As RFC 1939 §3 tells servers: CRLF line ends, a '.' doubled at the start of a
	// line, a CRLF added to a last line without one, then ".CRLF".
	std::string wire;
	bool line_start = true;
	for (const char c : body) {
		if (line_start && c == '.')
			wire += '.';
		if (c == '\n')
			wire += "\r\n";
		else
			wire += c;
		line_start = c == '\n';
	}
	std::string expected(body);
	if (!body.empty() && body.back() != '\n') {
		wire += "\r\n";
		expected += '\n';
	}
	wire += ".\r\nNEXT";

	std::vector<std::size_t> cuts;
	for (const auto c : raw_cuts)
		cuts.push_back(c % (wire.size() + 1));
	std::sort(cuts.begin(), cuts.end());
	const Decoded d = DecodeInPieces(wire, cuts);
	FUZZ_CHECK(d.done);
	FUZZ_CHECK(d.out == expected);
	FUZZ_CHECK(d.consumed == wire.size() - 4);
	// The octet count the session compares with LIST: the body with CRLF line ends.
	FUZZ_CHECK(d.out.size() + d.crlf ==
		   expected.size() + static_cast<std::size_t>(std::count(
					 expected.begin(), expected.end(), '\n')));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	Bytes bytes(data, size);
	if (bytes.Byte() & 1)
		RoundTrip(bytes);
	else
		Decode(bytes);
	return 0;
}
