#include "File.hxx"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace popstream::posix {

ReadResult ReadToEnd(int fd, std::size_t max_bytes)
{
	ReadResult result;
	char buffer[65536];
	for (;;) {
		const ssize_t n = read(fd, buffer, sizeof(buffer));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			result.error = errno;
			break;
		}
		if (n == 0)
			break;
		result.text.append(buffer, static_cast<std::size_t>(n));
		if (result.text.size() > max_bytes) {
			result.too_large = true;
			break;
		}
	}
	// The netrc is read through here: leave no copy of its passwords on the stack.
	explicit_bzero(buffer, sizeof(buffer));
	return result;
}

void WriteAllBestEffort(int fd, std::string_view bytes) noexcept
{
	while (!bytes.empty()) {
		const ssize_t n = write(fd, bytes.data(), bytes.size());
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		bytes.remove_prefix(static_cast<std::size_t>(n));
	}
}

} // namespace popstream::posix
