#include "Passwd.hxx"

#include <cerrno>
#include <pwd.h>
#include <unistd.h>
#include <vector>

namespace popstream::posix {

std::optional<UserEntry> EffectiveUser()
{
	// _SC_GETPW_R_SIZE_MAX is only a hint (and may be -1); an entry from a directory
	// service can be larger, so ERANGE doubles the buffer, up to a bound that no real
	// entry reaches.
	const long size = sysconf(_SC_GETPW_R_SIZE_MAX);
	std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
	for (;;) {
		passwd pw{}, *found = nullptr;
		const int error =
		    getpwuid_r(geteuid(), &pw, buffer.data(), buffer.size(), &found);
		if (error == ERANGE && buffer.size() < 1024 * 1024) {
			buffer.resize(buffer.size() * 2);
			continue;
		}
		if (error != 0 || found == nullptr)
			return std::nullopt;
		return UserEntry{pw.pw_name != nullptr ? pw.pw_name : "",
				 pw.pw_dir != nullptr ? pw.pw_dir : ""};
	}
}

} // namespace popstream::posix
