#include "MultilineDecoder.hxx"

#include <cstring>

namespace popstream::pop3 {

MultilineDecoder::Result MultilineDecoder::Decode(std::string_view input,
						  std::string &out)
{
	const char *p = input.data();
	const char *const end = p + input.size();

	while (p < end) {
		switch (state_) {
		case State::Middle: {
			// The hot path: copy the run of plain bytes up to the next CR or
			// LF.
			const char *q = p;
			while (q < end && *q != '\r' && *q != '\n')
				++q;
			out.append(p, static_cast<std::size_t>(q - p));
			p = q;
			if (p == end)
				break;
			if (*p == '\n') {
				out.push_back('\n');
				state_ = State::LineStart;
			} else {
				state_ = State::Cr;
			}
			++p;
			break;
		}
		case State::Cr:
			if (*p == '\n') {
				out.push_back('\n');
				++crlf_;
				state_ = State::LineStart;
				++p;
			} else {
				// A lone CR is data; the current byte is looked at again.
				out.push_back('\r');
				state_ = State::Middle;
			}
			break;
		case State::LineStart:
			if (*p == '.') {
				state_ = State::Dot;
				++p;
			} else {
				state_ = State::Middle;
			}
			break;
		case State::Dot:
			if (*p == '\r') {
				state_ = State::DotCr;
				++p;
			} else if (*p == '\n' && crlf_ > 0) {
				out += ".\n";
				state_ = State::LineStart;
				++p;
			} else if (*p == '\n') {
				state_ = State::LineStart;
				return {static_cast<std::size_t>(p + 1 - input.data()),
					true};
			} else {
				// The stuffed dot is dropped; this byte starts the line's
				// data.
				state_ = State::Middle;
			}
			break;
		case State::DotCr:
			if (*p == '\n') {
				state_ = State::LineStart;
				return {static_cast<std::size_t>(p + 1 - input.data()),
					true};
			}
			// ".\rX": the dot was stuffing, the CR is data.
			state_ = State::Cr;
			break;
		}
	}
	return {input.size(), false};
}

} // namespace popstream::pop3
