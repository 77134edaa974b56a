#include "InterimGrantStore.hxx"

#include "fetch/StatePaths.hxx"
#include "posix/File.hxx"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace popstream::cli {

namespace {

std::runtime_error Errno(const std::string &what)
{
	return std::runtime_error(what + ": " + std::strerror(errno));
}

class FileGrantStore final : public oauth::GrantStore {
	std::string dir_;

	std::string PathOf(const std::string &key) const
	{
		if (key.empty() || key.front() == '.' ||
		    key.find('/') != std::string::npos)
			throw std::runtime_error("\"" + key + "\" cannot be a file name");
		return dir_ + "/" + key + ".json";
	}

	void MakeDirectory() const
	{
		// mkdir -p, each level 0700 (only the last is ours alone for sure).
		for (std::size_t slash = 1; slash != std::string::npos;) {
			slash = dir_.find('/', slash + 1);
			const auto part = dir_.substr(0, slash);
			if (mkdir(part.c_str(), 0700) < 0 && errno != EEXIST)
				throw Errno("cannot create " + part);
		}
		struct stat st {};
		if (stat(dir_.c_str(), &st) < 0)
			throw Errno(dir_);
		if ((st.st_mode & 077) != 0 && chmod(dir_.c_str(), 0700) < 0)
			throw Errno("cannot make " + dir_ + " private");
	}

public:
	explicit FileGrantStore(std::string dir) : dir_(std::move(dir)) {}

	std::optional<std::string> Load(const std::string &key) override
	{
		const auto path = PathOf(key);
		const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			if (errno == ENOENT)
				return std::nullopt;
			throw Errno("cannot open " + path);
		}
		struct stat st {};
		if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
		    (st.st_mode & 077) != 0) {
			close(fd);
			throw std::runtime_error(path +
						 " is not a mode 0600 file of yours: "
						 "refused");
		}
		auto result = posix::ReadToEnd(fd, 64 * 1024);
		close(fd);
		if (result.error != 0 || result.too_large)
			throw std::runtime_error("cannot read " + path);
		return std::move(result.text);
	}

	void Save(const std::string &key, const std::string &blob) override
	{
		const auto path = PathOf(key);
		MakeDirectory();
		const auto temp = path + ".tmp";
		const int fd =
		    open(temp.c_str(),
			 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			throw Errno("cannot create " + temp);
		std::size_t done = 0;
		while (done < blob.size()) {
			const ssize_t n =
			    write(fd, blob.data() + done, blob.size() - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				const int error = errno;
				close(fd);
				unlink(temp.c_str());
				errno = error;
				throw Errno("cannot write " + temp);
			}
			done += static_cast<std::size_t>(n);
		}
		if (fchmod(fd, 0600) < 0 || fsync(fd) < 0) {
			const int error = errno;
			close(fd);
			unlink(temp.c_str());
			errno = error;
			throw Errno("cannot write " + temp);
		}
		close(fd);
		if (rename(temp.c_str(), path.c_str()) < 0) {
			const int error = errno;
			unlink(temp.c_str());
			errno = error;
			throw Errno("cannot rename " + temp);
		}
		const int dir = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0 || fsync(dir) < 0) {
			if (dir >= 0)
				close(dir);
			throw Errno("cannot sync " + dir_);
		}
		close(dir);
	}

	void Clear(const std::string &key) override
	{
		const auto path = PathOf(key);
		if (unlink(path.c_str()) < 0 && errno != ENOENT)
			throw Errno("cannot remove " + path);
	}

	std::string Where() const override { return "a mode 0600 file in " + dir_; }
};

} // namespace

std::unique_ptr<oauth::GrantStore> OpenInterimGrantStore()
{
	return std::make_unique<FileGrantStore>(fetch::StateDir("oauth"));
}

} // namespace popstream::cli
