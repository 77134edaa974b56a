#pragma once

#include <string>
#include <vector>

namespace popstream::test {

/**
 * A fresh directory under $TMPDIR (or /tmp), removed recursively with everything in it
 * when the object is destroyed.
 */
class TempDir {
	std::string path_;

public:
	/**
	 * @param mode permissions of the directory; 0755 lets daemons running as other
	 *        users (Dovecot's login and mail processes) traverse it.
	 * @throws std::system_error if the directory cannot be created
	 */
	explicit TempDir(unsigned mode = 0700);
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	/** @return the absolute path, without a trailing slash */
	const std::string &Path() const noexcept { return path_; }

	/** @return Path() + "/" + name */
	std::string operator/(const std::string &name) const
	{
		return path_ + "/" + name;
	}
};

/** Writes @p data to @p path (created or truncated) with @p mode. @throws
 * std::system_error */
void WriteFile(const std::string &path, const std::string &data, unsigned mode = 0644);

/** @return the whole content of @p path. @throws std::system_error */
std::string ReadFile(const std::string &path);

/** @return the names (not paths) of the entries of @p dir, sorted; empty if it is missing
 */
std::vector<std::string> ListDir(const std::string &dir);

/** @return the contents of every file in @p dir, ordered by file name */
std::vector<std::string> ReadAllFiles(const std::string &dir);

/** @return the value of environment variable @p name; throws std::runtime_error if unset
 */
std::string RequireEnv(const char *name);

} // namespace popstream::test
