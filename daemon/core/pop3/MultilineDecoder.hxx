#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace popstream::pop3 {

/**
 * Decodes the body of a multi-line POP3 response (RFC 1939 §3) as it streams in:
 * removes the byte-stuffed leading '.' of each line, recognises the terminating
 * "CRLF.CRLF", and turns each CRLF into LF so that the result is a Unix mail file.
 *
 * It is resumable at any byte boundary: feeding the input whole, byte by byte, or split
 * anywhere gives the same output. Memory use is constant: it holds at most three bytes of
 * state between calls, so a line of any length (even an endless one) never accumulates.
 *
 * Tolerances, chosen so that no server can make it lose or invent data:
 * - a bare LF ends a line; ".\n" terminates only in a body that has not used CRLF
 *   yet (a server that sends LF alone). Inside a CRLF stream it is a line "." that
 *   the server forgot to stuff, and stays data: RFC 1939 §3 makes CRLF "." CRLF the
 *   terminator, and ending there would cut the message short;
 * - a lone CR (not followed by LF) is kept as data;
 * - a line starting with '.' that is not the terminator loses exactly that one '.',
 *   even if the server forgot to stuff it (what RFC 1939 §3 tells clients to do);
 * - NUL and 8-bit bytes are data like any other.
 */
class MultilineDecoder {
public:
	/** Outcome of one Decode() call. */
	struct Result {
		/** Input bytes used. Less than the input size only when done is true: the
		 * bytes after the terminator belong to the next response. */
		std::size_t consumed = 0;
		/** The terminating line was seen; the body is complete. */
		bool done = false;
	};

	/**
	 * Decodes as much of @p input as possible, appending body bytes to @p out (at
	 * most input.size() + 2 bytes are appended).
	 */
	Result Decode(std::string_view input, std::string &out);

	/** Forgets all state, ready for the next body. */
	void Reset() noexcept
	{
		state_ = State::LineStart;
		crlf_ = 0;
	}

	/**
	 * @return how many CRLF pairs were turned into LF since Reset(): the body's size
	 *         as the server counts it (RFC 1939 §5 LIST: the exact size in octets,
	 *         CRLF line ends, before stuffing) is the output size plus this
	 */
	std::uint64_t CrlfCount() const noexcept { return crlf_; }

private:
	/** Where the decoder is within the current line. */
	enum class State {
		/** At the start of a line: a '.' here is special. */
		LineStart,
		/** Saw '.' at the start of a line. */
		Dot,
		/** Saw ".\r" at the start of a line: the terminator if LF follows. */
		DotCr,
		/** Inside a line. */
		Middle,
		/** Saw a CR inside a line: a line end if LF follows, else data. */
		Cr,
	};
	State state_ = State::LineStart;
	std::uint64_t crlf_ = 0;
};

} // namespace popstream::pop3
