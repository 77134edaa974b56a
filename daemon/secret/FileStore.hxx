#pragma once

#include "TokenStore.hxx"

namespace popstream::secret {

/**
 * @return $XDG_STATE_HOME/popstream/oauth ($XDG_STATE_HOME only if absolute, else
 *         $HOME/.local/state, else the passwd entry's home + /.local/state), the XDG
 *         Base Directory specification's place for state that outlives a restart
 */
std::string DefaultTokenDirectory();

/**
 * Tokens in files, for a machine without a Secret Service: DIRECTORY/KEY.json, the
 * directory mode 0700 and each file mode 0600 and owned by the user, written
 * atomically (a temporary file, fsync, rename over the old one, fsync of the
 * directory). Like the netrc, a file that its group or others may access is refused
 * rather than used: the secret in it may already have been read.
 */
class FileStore final : public TokenStore {
public:
	/**
	 * @param directory where the files go; created (with its parents) on Save()
	 * @param note appended to Where() after ": ", e.g. why this store was chosen
	 *        ("no Secret Service on the session bus (...)"); may be empty
	 */
	explicit FileStore(std::string directory, std::string note = {});

	/**
	 * @return the file of @p key
	 * @throws std::runtime_error if @p key is empty, starts with '.', or has a
	 *         character outside [A-Za-z0-9@._:-] (TokenKeyForSpec() makes such keys)
	 */
	std::string PathFor(std::string_view key) const;

	const std::string &Directory() const noexcept { return directory_; }

	std::optional<std::string> Load(std::string_view key) override;
	void Save(std::string_view key, std::string_view blob) override;
	void Clear(std::string_view key) override;
	std::string Where() const override;

private:
	std::string directory_;
	std::string note_;
};

} // namespace popstream::secret
