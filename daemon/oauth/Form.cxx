#include "Form.hxx"
#include "core/util/Ascii.hxx"

namespace popstream::oauth {

namespace {

bool Unreserved(unsigned char c) noexcept
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

std::optional<std::string> Unescape(std::string_view text)
{
	std::string out;
	out.reserve(text.size());
	for (std::size_t i = 0; i < text.size(); ++i) {
		const char c = text[i];
		if (c == '+') {
			out += ' ';
		} else if (c == '%') {
			if (i + 2 >= text.size())
				return std::nullopt;
			const int hi = HexValue(text[i + 1]);
			const int lo = HexValue(text[i + 2]);
			if (hi < 0 || lo < 0)
				return std::nullopt;
			out += static_cast<char>(hi * 16 + lo);
			i += 2;
		} else {
			out += c;
		}
	}
	return out;
}

} // namespace

std::string FormEscape(std::string_view text)
{
	static constexpr char hex[] = "0123456789ABCDEF";
	std::string out;
	out.reserve(text.size());
	for (const char ch : text) {
		const auto c = static_cast<unsigned char>(ch);
		if (Unreserved(c)) {
			out += ch;
		} else if (c == ' ') {
			out += '+';
		} else {
			out += '%';
			out += hex[c >> 4];
			out += hex[c & 0xf];
		}
	}
	return out;
}

std::string EncodeForm(const Form &form)
{
	std::string out;
	for (const auto &[name, value] : form) {
		if (!out.empty())
			out += '&';
		out += FormEscape(name);
		out += '=';
		out += FormEscape(value);
	}
	return out;
}

std::optional<Form> DecodeForm(std::string_view query)
{
	Form form;
	while (!query.empty()) {
		const auto amp = query.find('&');
		const auto part = query.substr(0, amp);
		query = amp == std::string_view::npos ? std::string_view{}
						      : query.substr(amp + 1);
		if (part.empty())
			continue;
		const auto eq = part.find('=');
		auto name = Unescape(part.substr(0, eq));
		auto value = Unescape(eq == std::string_view::npos ? std::string_view{}
								   : part.substr(eq + 1));
		if (!name || !value)
			return std::nullopt;
		form.emplace_back(std::move(*name), std::move(*value));
	}
	return form;
}

std::optional<std::string> FindField(const Form &form, std::string_view name)
{
	for (const auto &[n, v] : form)
		if (n == name)
			return v;
	return std::nullopt;
}

std::string_view QueryOf(std::string_view url) noexcept
{
	const auto hash = url.find('#');
	url = url.substr(0, hash);
	const auto question = url.find('?');
	if (question != std::string_view::npos)
		return url.substr(question + 1);
	// A URL or a path without a query has none; a bare "a=b&c=d" is one.
	if (url.find("://") != std::string_view::npos || url.starts_with('/'))
		return {};
	return url;
}

} // namespace popstream::oauth
