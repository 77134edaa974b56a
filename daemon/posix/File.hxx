#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace popstream::posix {

/** What ReadToEnd() got. At most one of error and too_large is set. */
struct ReadResult {
	/** The bytes read, complete only if neither error nor too_large is set. */
	std::string text;
	/** The errno of a read(2) that failed, or 0. */
	int error = 0;
	/** The file holds more than the caller's limit; reading stopped there. */
	bool too_large = false;
};

/**
 * Reads @p fd from its offset to its end, retrying reads interrupted by a signal. The
 * limit keeps a wrong path (a huge file, a device, a pipe fed from something endless)
 * from filling memory.
 *
 * @param fd an open file descriptor; the caller keeps it and closes it
 * @param max_bytes the most bytes accepted; one more sets too_large
 * @return the bytes, or how reading failed
 */
ReadResult ReadToEnd(int fd, std::size_t max_bytes);

/**
 * Writes all of @p bytes to @p fd, finishing short writes and retrying writes
 * interrupted by a signal. For callers with nowhere to report an error (a logger, a
 * terminal prompt): on an error it gives up silently.
 *
 * @param fd an open file descriptor, blocking
 * @param bytes what to write; one write(2) unless the kernel takes less
 */
void WriteAllBestEffort(int fd, std::string_view bytes) noexcept;

} // namespace popstream::posix
