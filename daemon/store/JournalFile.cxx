#include "JournalFile.hxx"

#include "core/util/Escape.hxx"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace popstream::store {

namespace {

[[noreturn]] void Throw(const std::string &what, int error)
{
	throw std::system_error(error, std::generic_category(), what);
}

void MakeDirs(const std::string &path)
{
	if (path.empty())
		return;
	struct stat st {};
	if (stat(path.c_str(), &st) == 0)
		return;
	const auto slash = path.find_last_of('/');
	if (slash != std::string::npos && slash > 0)
		MakeDirs(path.substr(0, slash));
	if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
		Throw("cannot create " + path, errno);
}

void WriteAll(int fd, const std::string &data, const std::string &path)
{
	std::size_t done = 0;
	while (done < data.size()) {
		const ssize_t n = write(fd, data.data() + done, data.size() - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			Throw("cannot write " + path, errno);
		}
		done += static_cast<std::size_t>(n);
	}
}

/**
 * Appends @p data to the O_APPEND file @p fd, all or nothing: after a failed write (a
 * full disk accepts part of it) the file is cut back to its old length, so that it
 * never ends in a torn line and the caller can retry the same bytes later.
 */
void AppendWhole(int fd, const std::string &data, const std::string &path)
{
	struct stat st {};
	const bool known = fstat(fd, &st) == 0;
	try {
		WriteAll(fd, data, path);
	} catch (...) {
		if (known && ftruncate(fd, st.st_size) != 0) {
			// Shrinking needs no space, so this is unlikely; the torn line
			// is then skipped as damaged at the next start, as after a crash.
		}
		throw;
	}
}

std::string ReadAll(int fd, const std::string &path)
{
	std::string text;
	char buf[65536];
	for (;;) {
		const ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			Throw("cannot read " + path, errno);
		}
		if (n == 0)
			return text;
		text.append(buf, static_cast<std::size_t>(n));
	}
}

/** @return the first 100 bytes of @p path, or "" if it cannot be read */
std::string ReadSmall(const std::string &path)
{
	const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return {};
	char buf[100];
	const ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

/**
 * @return who holds the lock at @p path, from the pid its holder wrote into it:
 *         "popstreamd (pid 1234)", or "another popstream process (the daemon, a run
 *         or a dl)" when that cannot be read (an older version, a process gone)
 */
std::string LockHolder(const std::string &path)
{
	const std::string unknown =
	    "another popstream process (the daemon, a run or a dl)";
	const auto text = ReadSmall(path);
	char *end = nullptr;
	const long pid = std::strtol(text.c_str(), &end, 10);
	if (pid <= 0 || end == text.c_str() || *end != '\n')
		return unknown;
	auto comm = ReadSmall("/proc/" + std::to_string(pid) + "/comm");
	while (!comm.empty() && (comm.back() == '\n' || comm.back() == ' '))
		comm.pop_back();
	if (comm.empty() || comm.size() > 64)
		return unknown;
	return Escape(comm, 64) + " (pid " + std::to_string(pid) + ")";
}

} // namespace

FileLock::FileLock(const std::string &path, const std::string &holder)
{
	const auto slash = path.find_last_of('/');
	if (slash != std::string::npos && slash > 0)
		MakeDirs(path.substr(0, slash));
	fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd_ < 0)
		Throw("cannot open " + path, errno);
	if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
		const int error = errno;
		close(fd_);
		fd_ = -1;
		if (error == EWOULDBLOCK)
			throw JournalBusy(LockHolder(path) + " is fetching " + holder +
					  " (it holds " + path + ")");
		Throw("cannot lock " + path, error);
	}
	// Who holds it, for the message of the next process that finds it taken.
	// Best effort: the lock is the flock, not these bytes. If they cannot be written,
	// that message says "another popstream process" instead of naming this one
	// (LockHolder()), which is no reason to give up a lock we hold; so a failure of
	// either call is ignored.
	const std::string pid = std::to_string(getpid()) + "\n";
	if (ftruncate(fd_, 0) == 0) {
		[[maybe_unused]] const ssize_t written =
		    pwrite(fd_, pid.data(), pid.size(), 0);
	}
}

FileLock::~FileLock()
{
	if (fd_ >= 0)
		close(fd_);
}

JournalFile::JournalFile(std::string dir)
    : dir_(std::move(dir)), lock_(dir_ + "/lock", "this account")
{
	dir_fd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd_ < 0)
		Throw("cannot open " + dir_, errno);

	const int fd = openat(dir_fd_, "journal", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		std::string text;
		try {
			text = ReadAll(fd, dir_ + "/journal");
		} catch (...) {
			close(fd);
			throw;
		}
		close(fd);
		damaged_ = state_.Replay(text);
	} else if (errno != ENOENT) {
		Throw("cannot open " + dir_ + "/journal", errno);
	}
	if (damaged_ > 0)
		Compact();
	else
		OpenForAppend();
}

JournalFile::~JournalFile()
{
	if (fd_ >= 0) {
		if (!buffer_.empty()) {
			try {
				AppendWhole(fd_, buffer_, dir_ + "/journal");
			} catch (...) {
				// Not synced anyway: the records were not relied upon
				// yet.
			}
		}
		close(fd_);
	}
	if (dir_fd_ >= 0)
		close(dir_fd_);
}

void JournalFile::OpenForAppend()
{
	if (fd_ >= 0)
		close(fd_);
	fd_ = openat(dir_fd_, "journal",
		     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd_ < 0)
		Throw("cannot open " + dir_ + "/journal", errno);
}

void JournalFile::Append(const journal::Record &record)
{
	state_.Apply(record);
	buffer_ += journal::EncodeRecord(record);
}

void JournalFile::Sync()
{
	if (!buffer_.empty()) {
		// On failure the records stay buffered: a later Sync() retries them.
		AppendWhole(fd_, buffer_, dir_ + "/journal");
		buffer_.clear();
	}
	if (fdatasync(fd_) != 0)
		Throw("cannot fsync " + dir_ + "/journal", errno);
}

void JournalFile::Compact()
{
	const int fd =
	    openat(dir_fd_, "journal.tmp",
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		Throw("cannot create " + dir_ + "/journal.tmp", errno);
	try {
		// Written in chunks as the records come: the journal of a large
		// mailbox kept on the server (keep) must not be copied whole in memory.
		static constexpr std::size_t chunk = 64 * 1024;
		std::string text;
		state_.ForEachRecord([&](const journal::Record &r) {
			text += journal::EncodeRecord(r);
			if (text.size() >= chunk) {
				WriteAll(fd, text, dir_ + "/journal.tmp");
				text.clear();
			}
		});
		WriteAll(fd, text, dir_ + "/journal.tmp");
		if (fsync(fd) != 0)
			Throw("cannot fsync " + dir_ + "/journal.tmp", errno);
	} catch (...) {
		close(fd);
		throw;
	}
	close(fd);
	if (renameat(dir_fd_, "journal.tmp", dir_fd_, "journal") != 0)
		Throw("cannot replace " + dir_ + "/journal", errno);
	if (fsync(dir_fd_) != 0)
		Throw("cannot fsync " + dir_, errno);
	buffer_.clear();
	OpenForAppend();
}

} // namespace popstream::store
