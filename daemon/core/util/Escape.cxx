#include "Escape.hxx"

namespace popstream {

std::string Escape(std::string_view text, std::size_t max_bytes)
{
	static constexpr char hex[] = "0123456789abcdef";
	std::string out;
	out.reserve(text.size() < max_bytes ? text.size() : max_bytes);
	// Where to cut if the rest does not fit: the last escape boundary that leaves
	// room for "...", so that a cut never splits an escape sequence.
	std::size_t cut = 0;
	for (const char ch : text) {
		const auto c = static_cast<unsigned char>(ch);
		char buf[4];
		std::size_t n = 0;
		if (c == '\\') {
			buf[n++] = '\\';
			buf[n++] = '\\';
		} else if (c >= 0x20 && c < 0x7f) {
			buf[n++] = ch;
		} else if (c == '\r' || c == '\n' || c == '\t') {
			buf[n++] = '\\';
			buf[n++] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
		} else {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 0xf];
		}
		if (out.size() + n > max_bytes) {
			out.resize(cut);
			out.append("...");
			return out;
		}
		out.append(buf, n);
		if (out.size() + 3 <= max_bytes)
			cut = out.size();
	}
	return out;
}

std::string HideSecret(std::string text, std::string_view secret)
{
	if (secret.empty())
		return text;
	for (auto pos = text.find(secret); pos != std::string::npos;
	     pos = text.find(secret, pos + 8))
		text.replace(pos, secret.size(), "********");
	return text;
}

std::string ShellWord(std::string_view word)
{
	const bool plain =
	    !word.empty() &&
	    word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789@%+=:,./_-") == std::string_view::npos;
	if (plain)
		return std::string(word);
	std::string quoted = "'";
	for (const char c : word)
		quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
	return quoted + "'";
}

} // namespace popstream
