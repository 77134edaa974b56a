#pragma once

#include <memory>

namespace popstream::store {

/**
 * One fsync(2) of a file, run on a worker thread so that the fsyncs of a group commit
 * overlap with each other and with the download. On ext4 (and XFS, btrfs) the
 * journal folds fsyncs that wait at the same time into one commit, so a group of 64
 * small messages costs a few journal commits instead of 64 one after another, and
 * the loop thread goes on reading the socket meanwhile.
 *
 * The workers are shared by the whole process (every account of the daemon) and
 * started on first use; there are sync_threads of them, since they wait on the disk,
 * not the CPU. In a child forked after they started (the fault tests fork), the
 * fsync runs in the calling thread at Start() instead, as the workers are the
 * parent's.
 *
 * The file descriptor stays the caller's: it must stay open until Wait() returns,
 * and Wait() must be called before it is closed, even when the result no longer
 * matters (a descriptor closed and reused under a running fsync would sync
 * another file and hide this one's error).
 */
class FileSync {
public:
	/** Worker threads: enough to keep a disk's queue busy, few enough to cost
	 * nothing (each sleeps in fsync). */
	static constexpr unsigned sync_threads = 4;

	/** Starts fsync(@p fd) on a worker thread. Never throws for an I/O error:
	 * that is Wait()'s result. */
	explicit FileSync(int fd);
	~FileSync();
	FileSync(const FileSync &) = delete;
	FileSync &operator=(const FileSync &) = delete;

	/**
	 * Waits until the fsync has returned; may be called again.
	 * @return 0, or the errno of fsync(2) (EIO, ENOSPC, EDQUOT: the data did not
	 *         reach the disk)
	 */
	int Wait() noexcept;

	struct Job;

private:
	std::shared_ptr<Job> job_;
};

} // namespace popstream::store
