#include "UniqueName.hxx"

namespace popstream::maildir {

std::string UniqueName(const UniqueParts &parts)
{
	std::string name =
	    std::to_string(parts.seconds) + ".M" + std::to_string(parts.microseconds) +
	    "P" + std::to_string(parts.pid) + "Q" + std::to_string(parts.sequence) + ".";
	if (parts.host.empty())
		name += "localhost";
	for (const char ch : parts.host) {
		const auto c = static_cast<unsigned char>(ch);
		if (c > 0x20 && c < 0x7f && c != '/' && c != ':' && c != '\\' &&
		    c != ',') {
			name.push_back(ch);
		} else {
			name.push_back('\\');
			name.push_back(static_cast<char>('0' + (c >> 6)));
			name.push_back(static_cast<char>('0' + ((c >> 3) & 7)));
			name.push_back(static_cast<char>('0' + (c & 7)));
		}
	}
	return name;
}

std::string WithSize(std::string_view unique, std::uint64_t size_bytes)
{
	return std::string(unique) + ",S=" + std::to_string(size_bytes);
}

} // namespace popstream::maildir
