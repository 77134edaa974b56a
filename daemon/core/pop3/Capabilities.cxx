#include "Capabilities.hxx"

#include <charconv>

namespace popstream::pop3 {

namespace {

std::vector<std::string> SplitUpper(std::string_view line)
{
	std::vector<std::string> words;
	std::size_t i = 0;
	while (i < line.size()) {
		while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
			++i;
		std::size_t j = i;
		while (j < line.size() && line[j] != ' ' && line[j] != '\t')
			++j;
		if (j > i) {
			std::string w(line.substr(i, j - i));
			for (char &c : w)
				if (c >= 'a' && c <= 'z')
					c = static_cast<char>(c - 'a' + 'A');
			words.push_back(std::move(w));
		}
		i = j;
	}
	return words;
}

} // namespace

void Capabilities::AddLine(std::string_view line)
{
	const auto words = SplitUpper(line);
	if (words.empty())
		return;
	const std::string &tag = words.front();
	if (tag == "PIPELINING")
		pipelining = true;
	else if (tag == "UIDL")
		uidl = true;
	else if (tag == "USER")
		user = true;
	else if (tag == "STLS")
		stls = true;
	else if (tag == "RESP-CODES")
		resp_codes = true;
	else if (tag == "SASL")
		sasl.assign(words.begin() + 1, words.end());
	else if (tag == "TOP")
		top = true;
	else if (tag == "EXPIRE" && words.size() >= 2) {
		std::string text = words[1];
		for (std::size_t i = 2; i < words.size() && i < 4; ++i)
			text += " " + words[i];
		expire = std::move(text);
	} else if (tag == "IMPLEMENTATION") {
		// Free text (RFC 2449 §6.9): kept as sent, not upper-cased; the tag is
		// the first word, so the text starts after its first blank.
		auto rest = line;
		while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
			rest.remove_prefix(1);
		const auto blank = rest.find_first_of(" \t");
		rest = blank == std::string_view::npos ? std::string_view()
						       : rest.substr(blank + 1);
		while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
			rest.remove_prefix(1);
		implementation = std::string(rest.substr(0, 200));
	} else if (tag == "LOGIN-DELAY" && words.size() >= 2) {
		// RFC 2449 §6.8 allows "USER" after the number in the pre-login form.
		std::uint64_t v = 0;
		const auto &arg = words[1];
		const auto [p, ec] =
		    std::from_chars(arg.data(), arg.data() + arg.size(), v);
		if (ec == std::errc() && p == arg.data() + arg.size())
			login_delay_s = v;
	}
}

} // namespace popstream::pop3
