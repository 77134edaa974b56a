#include "Reply.hxx"

namespace popstream::pop3 {

namespace {

bool StartsWithToken(std::string_view line, std::string_view token) noexcept
{
	return line.substr(0, token.size()) == token &&
	       (line.size() == token.size() || line[token.size()] == ' ');
}

std::string UpperAscii(std::string_view s)
{
	std::string out(s);
	for (char &c : out)
		if (c >= 'a' && c <= 'z')
			c = static_cast<char>(c - 'a' + 'A');
	return out;
}

} // namespace

bool Reply::HasCode(std::string_view name) const noexcept
{
	const std::string_view c = code;
	return c == name || (c.size() > name.size() && c.substr(0, name.size()) == name &&
			     c[name.size()] == '/');
}

std::optional<Reply> ParseReply(std::string_view line)
{
	Reply reply;
	std::string_view rest;
	if (StartsWithToken(line, "+OK")) {
		reply.ok = true;
		rest = line.substr(3);
	} else if (StartsWithToken(line, "-ERR")) {
		rest = line.substr(4);
	} else {
		return std::nullopt;
	}
	reply.line = std::string(line);

	while (!rest.empty() && rest.front() == ' ')
		rest.remove_prefix(1);
	// RFC 2449 §8: resp-code is "[" atom *("/" atom) "]" right after the status.
	if (!rest.empty() && rest.front() == '[') {
		const auto end = rest.find(']');
		if (end != std::string_view::npos && end > 1 && end <= 64) {
			const auto inner = rest.substr(1, end - 1);
			if (inner.find_first_of(" \t") == std::string_view::npos)
				reply.code = UpperAscii(inner);
		}
	}
	return reply;
}

} // namespace popstream::pop3
