#pragma once

#include "core/journal/Journal.hxx"

#include <stdexcept>
#include <string>

namespace popstream::store {

/** Another process holds the account's lock. what() names the account's state dir. */
class JournalBusy : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

/**
 * An exclusive flock(2) on a file, held for the object's lifetime. popstream takes one
 * per server account (user@host:port) so that the daemon and `dl`, which keep
 * separate journals, never fetch one mailbox at once (RFC 1939 §4 would lock one of
 * them out anyway, but only after it logged in).
 */
class FileLock {
	int fd_ = -1;

public:
	/**
	 * Creates @p path (mode 0600, and its directory, 0700) if needed and locks it
	 * without waiting.
	 * @param holder what the lock protects, for the message ("alice@host:995")
	 * @throws JournalBusy if another process holds it
	 * @throws std::system_error naming the path otherwise
	 */
	FileLock(const std::string &path, const std::string &holder);
	~FileLock();
	FileLock(const FileLock &) = delete;
	FileLock &operator=(const FileLock &) = delete;
};

/**
 * An account's journal on disk: DIR/journal (append-only lines, see
 * core/journal/Journal.hxx) and DIR/lock, held with flock(2) for as long as this
 * object lives, so that two processes (the daemon and `dl`, or two `dl`s) never fetch
 * one account at once. Files are mode 0600, DIR 0700.
 *
 * Appends are buffered until Sync(), which writes them and fdatasync()s the file: a
 * record is durable only after Sync() returns. Compact() rewrites the journal from
 * the current state with write-temp, fsync, rename and a directory fsync, so that a
 * crash at any point leaves either the old or the new file whole.
 */
class JournalFile {
	std::string dir_;
	FileLock lock_;
	int dir_fd_ = -1;
	int fd_ = -1;
	journal::State state_;
	std::string buffer_;
	std::size_t damaged_ = 0;

	void OpenForAppend();

public:
	/**
	 * Creates DIR if needed, takes the lock, and replays the journal. A journal
	 * whose last line was cut short by a crash is compacted at once, so that new
	 * records are never glued to the torn line.
	 * @throws JournalBusy if another process holds the lock
	 * @throws std::system_error naming the path for any other failure
	 */
	explicit JournalFile(std::string dir);
	/** Writes what is buffered (without fsync) and releases the lock. */
	~JournalFile();
	JournalFile(const JournalFile &) = delete;
	JournalFile &operator=(const JournalFile &) = delete;

	/** @return the state replayed from the file plus every Append() since */
	const journal::State &State() const noexcept { return state_; }

	/** @return lines of the file that were damaged when it was opened */
	std::size_t Damaged() const noexcept { return damaged_; }

	/** @return the directory */
	const std::string &Dir() const noexcept { return dir_; }

	/** Applies @p record to State() and buffers its line. */
	void Append(const journal::Record &record);

	/**
	 * Writes the buffered lines and fdatasync()s. A write that fails (a full disk)
	 * leaves the file as it was and the lines buffered, so no torn line is left
	 * behind and a later Sync() writes them whole.
	 * @throws std::system_error naming the file
	 */
	void Sync();

	/** Rewrites the file from State(). @throws std::system_error */
	void Compact();
};

} // namespace popstream::store
