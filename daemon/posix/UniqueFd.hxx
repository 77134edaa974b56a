#pragma once

#include <cerrno>
#include <unistd.h>

namespace popstream::posix {

/**
 * Owns one file descriptor and closes it on every path out; not copyable, as two
 * owners would close it twice (and the second close may hit a descriptor reused by
 * another thread).
 */
class UniqueFd {
	int fd_;

public:
	/** @param fd an open descriptor, or negative for none (a failed open(2)) */
	explicit UniqueFd(int fd) noexcept : fd_(fd) {}
	~UniqueFd() { Close(); }
	UniqueFd(const UniqueFd &) = delete;
	UniqueFd &operator=(const UniqueFd &) = delete;

	/** @return the descriptor, negative if there is none or it was closed */
	int Get() const noexcept { return fd_; }

	/**
	 * Closes now: for a caller that must see close(2)'s error (the last chance to
	 * learn that a write did not reach the disk) or must close before it waits.
	 * @return 0, or errno of close(2); 0 if there was nothing to close
	 */
	int Close() noexcept
	{
		if (fd_ < 0)
			return 0;
		const int r = close(fd_);
		fd_ = -1;
		return r == 0 ? 0 : errno;
	}
};

} // namespace popstream::posix
