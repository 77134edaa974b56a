#pragma once

#include "FileSync.hxx"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>

namespace popstream::store {

/**
 * A Maildir operation failed. what() is one line naming the path and the system error,
 * e.g. "cannot create /home/a/Mail/tmp/1.M2P3Q4.host: Permission denied".
 */
class MaildirError : public std::runtime_error {
	int errno_;

public:
	MaildirError(const std::string &what, int error_number)
	    : std::runtime_error(what), errno_(error_number)
	{
	}
	/** @return the errno value behind the failure */
	int Errno() const noexcept { return errno_; }
};

class Maildir;

/**
 * One message being written into tmp/. Bytes are buffered (64 KiB) and written as they
 * come, so a message of any size never sits in memory whole. Destroying an uncommitted
 * delivery removes its tmp/ file, so a failed or abandoned download leaves nothing.
 */
class Delivery {
	friend class Maildir;
	Maildir *maildir_;
	int fd_;
	std::string tmp_name_;
	std::string unique_;
	std::string buffer_;
	std::uint64_t size_ = 0;
	std::string final_name_;
	/** The fsync StartSync() started; fd_ stays open until it is over. */
	std::unique_ptr<FileSync> sync_;

	Delivery(Maildir &maildir, int fd, std::string tmp_name, std::string unique);
	void Flush();

public:
	Delivery(Delivery &&other) noexcept;
	Delivery &operator=(Delivery &&) = delete;
	Delivery(const Delivery &) = delete;
	~Delivery();

	/** Appends @p bytes to the message. @throws MaildirError (e.g. disk full) */
	void Write(std::string_view bytes);

	/** @return bytes written so far */
	std::uint64_t Size() const noexcept { return size_; }

	/**
	 * Makes the file durable and moves it into new/: writes what is buffered, fsyncs
	 * the file, and renames it from tmp/ to new/ under a unique name (never replacing
	 * an existing file). The directory entry is durable only after
	 * Maildir::SyncNew().
	 *
	 * @return the file name in new/ (without directory)
	 * @throws MaildirError; the tmp/ file is then removed
	 */
	std::string Commit();

	/**
	 * The first half of Commit(): writes what is buffered, fsyncs and closes the
	 * file in tmp/. The journal can then record the move before it happens.
	 * @return the name the file will have in new/
	 * @throws MaildirError; the tmp/ file is then removed
	 */
	std::string Sync();

	/**
	 * Sync() in two halves, so that the fsyncs of a group commit overlap: writes
	 * what is buffered and starts the fsync on a worker thread (FileSync).
	 * @return the name the file will have in new/
	 * @throws MaildirError (a write failed); the tmp/ file is then removed
	 */
	std::string StartSync();

	/**
	 * Waits for StartSync()'s fsync and closes the file: it is then durable in
	 * tmp/, ready for Publish().
	 * @throws MaildirError naming the file and fsync's or close's error; the tmp/
	 *         file is then removed
	 */
	void FinishSync();

	/**
	 * For a copy that is only read back, never published (an MDA's spool): writes
	 * what is buffered and closes the file, without fsync. Nothing is deleted on
	 * the word of this copy, so it need not survive a crash.
	 * @throws MaildirError (a write or close failed); the tmp/ file is then removed
	 */
	void CloseUnsynced();

	/** @return the file's name in tmp/ (empty once published or aborted) */
	const std::string &TmpName() const noexcept { return tmp_name_; }

	/**
	 * The second half of Commit(): renames the synced file from tmp/ into new/
	 * without replacing anything. Durable only after Maildir::SyncNew().
	 * @throws MaildirError; the tmp/ file is then removed
	 */
	void Publish();

	/** Removes the tmp/ file. Safe to call more than once. */
	void Abort() noexcept;
};

/**
 * A Maildir (the Maildir spec, cr.yp.to/proto/maildir.html): tmp/, new/ and cur/ under
 * one directory. Delivery follows the spec's protocol and adds the fsyncs it leaves
 * implicit: write into tmp/ under a unique name (O_EXCL, mode 0600), fsync, rename into
 * new/, then fsync new/ itself, since a rename is only durable once its directory is.
 * Only after SyncNew() may a message be deleted on the server.
 */
class Maildir {
	friend class Delivery;
	std::string path_;
	int tmp_fd_ = -1;
	int new_fd_ = -1;
	std::string host_;
	std::uint64_t sequence_ = 0;

public:
	/**
	 * Opens the Maildir at @p path, creating it and any missing parents, tmp/, new/
	 * and cur/ with mode 0700 (and fsyncing each parent so the new directories
	 * survive a crash). Checks that tmp/ and new/ accept files, so that an unusable
	 * Maildir is reported before anything is downloaded.
	 *
	 * @throws MaildirError naming the directory that cannot be created or written
	 */
	explicit Maildir(std::string path);
	~Maildir();
	Maildir(const Maildir &) = delete;
	Maildir &operator=(const Maildir &) = delete;

	/** @return the path given to the constructor */
	const std::string &Path() const noexcept { return path_; }

	/** Starts a new message in tmp/. @throws MaildirError */
	Delivery Begin();

	/**
	 * Removes files that crashed deliveries left in tmp/: any older than 36 hours
	 * (the Maildir spec's rule), and ours ("SEC.MusecPpidQseq.HOST") whose process is
	 * gone. Best effort.
	 * @return how many were removed
	 */
	std::size_t RemoveAbandonedTmp() noexcept;

	/**
	 * fsyncs new/: every Commit() before this call is now durable.
	 * @throws MaildirError
	 */
	void SyncNew();
};

/**
 * Finds delivered messages by the name they were given in new/ (the name the journal
 * keeps), wherever a mail reader has moved them since: new/FILE, cur/FILE, or
 * cur/FILE:2,FLAGS (the Maildir spec's "info" suffix). It works on the path alone and
 * creates nothing, so that recovery and the already-saved lookups, which run before
 * login, leave no trace of a Maildir that a failed login never opened.
 */
class MaildirLookup {
	std::string path_;
	/** Base names (without ":2,...") of the files in cur/, read once. */
	std::optional<std::unordered_set<std::string>> cur_names_;

public:
	/** @param path the Maildir (it need not exist) */
	explicit MaildirLookup(std::string path) : path_(std::move(path)) {}

	/** @return the path given to the constructor */
	const std::string &Path() const noexcept { return path_; }

	/**
	 * @return the path of new/FILE, cur/FILE or cur/FILE:2,FLAGS, or "" if there is
	 *         none, or @p file is empty or holds '/' (a journal's name is bare).
	 *         Reads cur/ afresh, so it sees a file moved a moment ago.
	 */
	std::string Find(const std::string &file) const;

	/**
	 * @return whether the Maildir holds @p file, as Find() would say, except that
	 *         cur/ is listed only on the first call that needs it: a listing of
	 *         100,000 unique-ids then costs one read of cur/, not one per message
	 *         (a file moved into cur/ with flags after that is not seen)
	 */
	bool Holds(const std::string &file);
};

} // namespace popstream::store
