#include "FileStore.hxx"
#include "posix/UniqueFd.hxx"

#include "SessionBus.hxx"
#include "core/util/Escape.hxx"
#include "posix/File.hxx"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <pwd.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace popstream::secret {

namespace {

/** A stored grant is a small JSON object; anything larger is not ours. */
constexpr std::size_t max_blob_size = 1024 * 1024;

std::string ModeText(mode_t mode)
{
	char text[8];
	std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
	return text;
}

/** Creates @p directory and its missing parents, each mode 0700 (the XDG Base
 * Directory specification's mode for a base directory it creates). */
void MakeDirectories(const std::string &directory)
{
	for (std::size_t slash = directory.find('/', 1);;
	     slash = directory.find('/', slash + 1)) {
		const std::string prefix = directory.substr(0, slash);
		if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
			throw std::runtime_error("cannot create " + prefix + ": " +
						 ErrnoText(errno));
		if (slash == std::string::npos)
			break;
	}
}

/** Fails unless @p directory is a directory of ours that only we can enter. */
void CheckDirectory(const std::string &directory)
{
	struct stat st {};
	if (lstat(directory.c_str(), &st) != 0)
		throw std::runtime_error("cannot use " + directory + ": " +
					 ErrnoText(errno));
	if (!S_ISDIR(st.st_mode))
		throw std::runtime_error(directory + ": not a directory");
	if (st.st_uid != geteuid())
		throw std::runtime_error(directory + ": must be owned by you (uid " +
					 std::to_string(geteuid()) +
					 "), but is owned by uid " +
					 std::to_string(st.st_uid));
	if ((st.st_mode & 077) != 0)
		throw std::runtime_error(
		    directory + ": must not be accessible by group or others (mode " +
		    ModeText(st.st_mode) + "); run chmod 700 " + directory);
}

/** fsync(2)s a directory, so that a rename or unlink in it survives a crash. */
void SyncDirectory(const std::string &directory)
{
	const posix::UniqueFd dir(
	    open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (dir.Get() < 0 || fsync(dir.Get()) != 0)
		throw std::runtime_error("cannot sync " + directory + ": " +
					 ErrnoText(errno));
}

bool KeyCharacter(char c) noexcept
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '@' || c == '.' || c == '_' || c == ':' ||
	       c == '-';
}

} // namespace

std::string DefaultTokenDirectory()
{
	if (const char *state = std::getenv("XDG_STATE_HOME");
	    state != nullptr && state[0] == '/')
		return std::string(state) + "/popstream/oauth";
	std::string home;
	if (const char *h = std::getenv("HOME"); h != nullptr && h[0] == '/')
		home = h;
	else if (const passwd *pw = getpwuid(geteuid());
		 pw != nullptr && pw->pw_dir != nullptr)
		home = pw->pw_dir;
	if (home.empty())
		throw std::runtime_error(
		    "no place for OAuth 2.0 tokens: neither "
		    "XDG_STATE_HOME nor HOME is set, and the user has "
		    "no home directory");
	return home + "/.local/state/popstream/oauth";
}

FileStore::FileStore(std::string directory, std::string note)
    : directory_(std::move(directory)), note_(std::move(note))
{
	while (directory_.size() > 1 && directory_.back() == '/')
		directory_.pop_back();
}

std::string FileStore::PathFor(std::string_view key) const
{
	// The key becomes a file name: no '/', no "..", no hidden file (the temporary
	// files are hidden), nothing a shell would mangle in a message.
	if (key.empty() || key.front() == '.')
		throw std::runtime_error("invalid token key \"" + Escape(key, 100) +
					 "\": empty or starts with '.'");
	for (const char c : key)
		if (!KeyCharacter(c))
			throw std::runtime_error("invalid token key \"" +
						 Escape(key, 100) +
						 "\": only letters, digits and @._:- may "
						 "appear in it");
	return directory_ + "/" + std::string(key) + ".json";
}

std::optional<std::string> FileStore::Load(std::string_view key)
{
	const auto path = PathFor(key);
	// O_NOFOLLOW: a symbolic link planted in our place would have us read (and
	// trust) a file somebody else chose.
	posix::UniqueFd file(
	    open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
	if (file.Get() < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return std::nullopt;
		if (errno == ELOOP)
			throw std::runtime_error(path +
						 ": a symbolic link, not a file of "
						 "popstream's");
		throw std::runtime_error("cannot read " + path + ": " + ErrnoText(errno));
	}
	// fstat() on the open file: the file checked is the file read.
	struct stat st {};
	if (fstat(file.Get(), &st) != 0)
		throw std::runtime_error("cannot read " + path + ": " + ErrnoText(errno));
	if (!S_ISREG(st.st_mode))
		throw std::runtime_error(path + ": not a regular file");
	if (st.st_uid != geteuid())
		throw std::runtime_error(
		    path + ": must be owned by you (uid " + std::to_string(geteuid()) +
		    "), but is owned by uid " + std::to_string(st.st_uid));
	if ((st.st_mode & 077) != 0)
		throw std::runtime_error(
		    path + ": must not be accessible by group or others (mode " +
		    ModeText(st.st_mode) + "); run chmod 600 " + path);
	auto read = posix::ReadToEnd(file.Get(), max_blob_size);
	if (read.error != 0)
		throw std::runtime_error("cannot read " + path + ": " +
					 ErrnoText(read.error));
	if (read.too_large)
		throw std::runtime_error(path +
					 ": larger than 1 MiB, which no token file is");
	return std::move(read.text);
}

void FileStore::Save(std::string_view key, std::string_view blob)
{
	const auto path = PathFor(key);
	MakeDirectories(directory_);
	CheckDirectory(directory_);

	std::string temp = directory_ + "/." + std::string(key) + ".json.XXXXXX";
	// mkostemp creates the file mode 0600 (less any umask bits): never readable by
	// others, not even for the moment before a chmod.
	posix::UniqueFd file(mkostemp(temp.data(), O_CLOEXEC));
	if (file.Get() < 0)
		throw std::runtime_error("cannot create a file in " + directory_ + ": " +
					 ErrnoText(errno));
	const auto fail = [&](const std::string &what, int error) {
		unlink(temp.c_str());
		throw std::runtime_error("cannot save " + path + ": " + what + ": " +
					 ErrnoText(error));
	};
	if (fchmod(file.Get(), 0600) != 0)
		fail("chmod", errno);
	std::string_view rest = blob;
	while (!rest.empty()) {
		const ssize_t n = write(file.Get(), rest.data(), rest.size());
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("write", errno);
		rest.remove_prefix(static_cast<std::size_t>(n));
	}
	if (fsync(file.Get()) != 0)
		fail("fsync", errno);
	if (const int error = file.Close(); error != 0)
		fail("close", error);
	if (rename(temp.c_str(), path.c_str()) != 0)
		fail("rename", errno);
	SyncDirectory(directory_);
}

void FileStore::Clear(std::string_view key)
{
	const auto path = PathFor(key);
	if (unlink(path.c_str()) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return;
		throw std::runtime_error("cannot remove " + path + ": " +
					 ErrnoText(errno));
	}
	SyncDirectory(directory_);
}

std::string FileStore::Where() const
{
	std::string where = "a mode 0600 file in " + directory_;
	if (!note_.empty())
		where += ": " + note_;
	return where;
}

} // namespace popstream::secret
