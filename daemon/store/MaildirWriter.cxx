#include "MaildirWriter.hxx"

#include "core/maildir/UniqueName.hxx"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace popstream::store {

namespace {

constexpr std::size_t write_buffer_bytes = 64 * 1024;

[[noreturn]] void Throw(const std::string &what, const std::string &path, int error)
{
	throw MaildirError(what + " " + path + ": " + std::strerror(error), error);
}

void FsyncPath(const std::string &dir)
{
	const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		Throw("cannot open", dir, errno);
	const int rc = fsync(fd);
	const int error = errno;
	close(fd);
	if (rc != 0)
		Throw("cannot fsync", dir, error);
}

std::string Parent(const std::string &path)
{
	const auto slash = path.find_last_of('/');
	if (slash == std::string::npos)
		return ".";
	if (slash == 0)
		return "/";
	return path.substr(0, slash);
}

/** mkdir -p with mode 0700; fsyncs the parent of every directory it creates. */
void MakeDirs(const std::string &path)
{
	struct stat st;
	if (stat(path.c_str(), &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			Throw("cannot use", path, ENOTDIR);
		return;
	}
	if (errno != ENOENT)
		Throw("cannot use", path, errno);
	const auto parent = Parent(path);
	if (parent != path)
		MakeDirs(parent);
	if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
		Throw("cannot create", path, errno);
	FsyncPath(parent);
}

int OpenDir(const std::string &path)
{
	const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		Throw("cannot open", path, errno);
	return fd;
}

std::string HostName()
{
	char buf[256] = {};
	if (gethostname(buf, sizeof(buf) - 1) != 0)
		return "localhost";
	return buf;
}

/** @return MAILDIR/new/FILE or MAILDIR/cur/FILE if it exists, else "" */
std::string FindUnflagged(const std::string &maildir, const std::string &file)
{
	struct stat st {};
	for (const char *sub : {"/new/", "/cur/"}) {
		std::string path = maildir + sub + file;
		if (stat(path.c_str(), &st) == 0)
			return path;
	}
	return {};
}

bool IsBareName(const std::string &file) noexcept
{
	return !file.empty() && file.find('/') == std::string::npos;
}

} // namespace

Maildir::Maildir(std::string path) : path_(std::move(path)), host_(HostName())
{
	while (path_.size() > 1 && path_.back() == '/')
		path_.pop_back();
	MakeDirs(path_);
	for (const char *sub : {"tmp", "new", "cur"})
		MakeDirs(path_ + "/" + sub);
	tmp_fd_ = OpenDir(path_ + "/tmp");
	new_fd_ = OpenDir(path_ + "/new");
	// root passes permission checks, so new/ is tested the way a read-only mount or
	// a foreign owner would show up; tmp/ is tested by really creating a file below.
	if (faccessat(new_fd_, ".", W_OK, AT_EACCESS) != 0)
		Throw("cannot write to", path_ + "/new", errno);
	Begin().Abort();
}

Maildir::~Maildir()
{
	if (tmp_fd_ >= 0)
		close(tmp_fd_);
	if (new_fd_ >= 0)
		close(new_fd_);
}

Delivery Maildir::Begin()
{
	for (int attempt = 0;; ++attempt) {
		timeval tv{};
		gettimeofday(&tv, nullptr);
		const auto unique = maildir::UniqueName(
		    {tv.tv_sec, static_cast<std::uint32_t>(tv.tv_usec),
		     static_cast<std::uint32_t>(getpid()), sequence_++, host_});
		const int fd =
		    openat(tmp_fd_, unique.c_str(),
			   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			return Delivery(*this, fd, unique, unique);
		// A name clash means another process chose the same name this
		// microsecond: the next sequence number settles it.
		if (errno != EEXIST || attempt >= 100)
			Throw("cannot create", path_ + "/tmp/" + unique, errno);
	}
}

std::size_t Maildir::RemoveAbandonedTmp() noexcept
{
	std::size_t removed = 0;
	DIR *dir = fdopendir(dup(tmp_fd_));
	if (dir == nullptr)
		return 0;
	const std::string host_suffix = "." + host_;
	const time_t now = time(nullptr);
	while (const dirent *entry = readdir(dir)) {
		const std::string name = entry->d_name;
		if (name == "." || name == "..")
			continue;
		struct stat st {};
		if (fstatat(tmp_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		bool abandoned = now - st.st_mtime > 36 * 3600;
		// Ours: "SEC.MusecPpidQseq.HOST"; the pid says whether it still runs.
		const auto p = name.find('P');
		const auto q = name.find('Q', p == std::string::npos ? 0 : p);
		if (!abandoned && p != std::string::npos && q != std::string::npos &&
		    name.find(".M") != std::string::npos &&
		    name.size() > host_suffix.size() &&
		    name.compare(name.size() - host_suffix.size(), host_suffix.size(),
				 host_suffix) == 0) {
			const long pid = std::atol(name.c_str() + p + 1);
			abandoned = pid > 0 && pid != getpid() &&
				    kill(static_cast<pid_t>(pid), 0) != 0 &&
				    errno == ESRCH;
		}
		if (abandoned && unlinkat(tmp_fd_, name.c_str(), 0) == 0)
			++removed;
	}
	closedir(dir);
	return removed;
}

std::string MaildirLookup::Find(const std::string &file) const
{
	if (!IsBareName(file))
		return {};
	if (auto path = FindUnflagged(path_, file); !path.empty())
		return path;
	DIR *dir = opendir((path_ + "/cur").c_str());
	if (dir == nullptr)
		return {};
	std::string found;
	const std::string prefix = file + ":";
	while (const dirent *entry = readdir(dir))
		if (std::string_view(entry->d_name).starts_with(prefix)) {
			found = path_ + "/cur/" + entry->d_name;
			break;
		}
	closedir(dir);
	return found;
}

bool MaildirLookup::Holds(const std::string &file)
{
	if (!IsBareName(file))
		return false;
	if (!FindUnflagged(path_, file).empty())
		return true;
	if (!cur_names_) {
		cur_names_.emplace();
		if (DIR *dir = opendir((path_ + "/cur").c_str())) {
			while (const dirent *entry = readdir(dir)) {
				const std::string_view name(entry->d_name);
				cur_names_->emplace(name.substr(0, name.find(':')));
			}
			closedir(dir);
		}
	}
	return cur_names_->contains(file);
}

void Maildir::SyncNew()
{
	if (fsync(new_fd_) != 0)
		Throw("cannot fsync", path_ + "/new", errno);
}

Delivery::Delivery(Maildir &maildir, int fd, std::string tmp_name, std::string unique)
    : maildir_(&maildir), fd_(fd), tmp_name_(std::move(tmp_name)),
      unique_(std::move(unique))
{
	buffer_.reserve(write_buffer_bytes);
}

Delivery::Delivery(Delivery &&other) noexcept
    : maildir_(other.maildir_), fd_(other.fd_), tmp_name_(std::move(other.tmp_name_)),
      unique_(std::move(other.unique_)), buffer_(std::move(other.buffer_)),
      size_(other.size_), final_name_(std::move(other.final_name_)),
      sync_(std::move(other.sync_))
{
	other.fd_ = -1;
	other.tmp_name_.clear();
}

Delivery::~Delivery()
{
	Abort();
}

void Delivery::Flush()
{
	std::size_t done = 0;
	while (done < buffer_.size()) {
		const ssize_t n =
		    write(fd_, buffer_.data() + done, buffer_.size() - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			const int error = errno;
			Abort();
			Throw("cannot write", maildir_->path_ + "/tmp/" + unique_, error);
		}
		done += static_cast<std::size_t>(n);
	}
	buffer_.clear();
}

void Delivery::Write(std::string_view bytes)
{
	if (fd_ < 0 || sync_)
		throw MaildirError("write to a finished delivery", EBADF);
	size_ += bytes.size();
	if (buffer_.size() + bytes.size() > write_buffer_bytes) {
		Flush();
		if (bytes.size() >= write_buffer_bytes) {
			buffer_ = bytes;
			Flush();
			return;
		}
	}
	buffer_.append(bytes);
}

std::string Delivery::Sync()
{
	auto name = StartSync();
	FinishSync();
	return name;
}

std::string Delivery::StartSync()
{
	if (fd_ < 0 || sync_)
		throw MaildirError("sync of a finished delivery", EBADF);
	Flush();
	// A synced delivery may wait for a group commit with a hundred others: it
	// must not keep its 64 KiB write buffer meanwhile.
	std::string().swap(buffer_);
	sync_ = std::make_unique<FileSync>(fd_);
	final_name_ = maildir::WithSize(unique_, size_);
	return final_name_;
}

void Delivery::FinishSync()
{
	if (fd_ < 0 || !sync_)
		throw MaildirError("sync of a delivery that was not started", EBADF);
	const std::string tmp_path = maildir_->path_ + "/tmp/" + unique_;
	if (const int error = sync_->Wait(); error != 0) {
		Abort();
		Throw("cannot fsync", tmp_path, error);
	}
	sync_.reset();
	// close() can report a deferred write error (NFS); it must not be ignored.
	const int rc = close(fd_);
	fd_ = -1;
	if (rc != 0) {
		const int error = errno;
		Abort();
		Throw("cannot close", tmp_path, error);
	}
}

void Delivery::CloseUnsynced()
{
	if (fd_ < 0 || sync_)
		throw MaildirError("close of a finished delivery", EBADF);
	Flush();
	std::string().swap(buffer_);
	const int rc = close(fd_);
	fd_ = -1;
	if (rc != 0) {
		const int error = errno;
		Abort();
		Throw("cannot close", maildir_->path_ + "/tmp/" + unique_, error);
	}
}

void Delivery::Publish()
{
	if (fd_ >= 0 || final_name_.empty() || tmp_name_.empty())
		throw MaildirError("publish of a delivery that is not synced", EBADF);
	if (renameat2(maildir_->tmp_fd_, tmp_name_.c_str(), maildir_->new_fd_,
		      final_name_.c_str(), RENAME_NOREPLACE) != 0) {
		int error = errno;
		// Some file systems lack RENAME_NOREPLACE; link() gives the same
		// never-overwrite guarantee.
		if (error == EINVAL || error == ENOSYS) {
			if (linkat(maildir_->tmp_fd_, tmp_name_.c_str(),
				   maildir_->new_fd_, final_name_.c_str(), 0) == 0) {
				unlinkat(maildir_->tmp_fd_, tmp_name_.c_str(), 0);
				tmp_name_.clear();
				return;
			}
			error = errno;
		}
		Abort();
		Throw("cannot move into", maildir_->path_ + "/new/" + final_name_, error);
	}
	tmp_name_.clear();
}

std::string Delivery::Commit()
{
	auto name = Sync();
	Publish();
	return name;
}

void Delivery::Abort() noexcept
{
	// Not closed under a running fsync: the number could be reused meanwhile.
	sync_.reset();
	if (fd_ >= 0) {
		close(fd_);
		fd_ = -1;
	}
	if (!tmp_name_.empty()) {
		unlinkat(maildir_->tmp_fd_, tmp_name_.c_str(), 0);
		tmp_name_.clear();
	}
}

} // namespace popstream::store
