#include "TempDir.hxx"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace popstream::test {

TempDir::TempDir(unsigned mode)
{
	const char *base = std::getenv("TMPDIR");
	std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
			   "/popstream-test.XXXXXX";
	if (mkdtemp(tmpl.data()) == nullptr)
		throw std::system_error(errno, std::generic_category(),
					"mkdtemp " + tmpl);
	path_ = tmpl;
	if (chmod(path_.c_str(), mode) != 0)
		throw std::system_error(errno, std::generic_category(), "chmod " + path_);
}

TempDir::~TempDir()
{
	std::error_code ec;
	// Tests may leave read-only directories behind (unwritable Maildir cases).
	for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
	     !ec && it != std::filesystem::recursive_directory_iterator();
	     it.increment(ec))
		if (it->is_directory(ec))
			chmod(it->path().c_str(), 0700);
	std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string &path, const std::string &data, unsigned mode)
{
	{
		std::ofstream out(path, std::ios::binary | std::ios::trunc);
		if (!out)
			throw std::system_error(errno, std::generic_category(),
						"open " + path);
		out.write(data.data(), static_cast<std::streamsize>(data.size()));
		if (!out)
			throw std::system_error(errno, std::generic_category(),
						"write " + path);
	}
	if (chmod(path.c_str(), mode) != 0)
		throw std::system_error(errno, std::generic_category(), "chmod " + path);
}

std::string ReadFile(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::system_error(errno, std::generic_category(), "open " + path);
	std::ostringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::vector<std::string> ListDir(const std::string &dir)
{
	std::vector<std::string> names;
	std::error_code ec;
	for (auto it = std::filesystem::directory_iterator(dir, ec);
	     !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
		names.push_back(it->path().filename().string());
	std::sort(names.begin(), names.end());
	return names;
}

std::vector<std::string> ReadAllFiles(const std::string &dir)
{
	std::vector<std::string> contents;
	for (const auto &name : ListDir(dir))
		contents.push_back(ReadFile(dir + "/" + name));
	return contents;
}

std::string RequireEnv(const char *name)
{
	const char *value = std::getenv(name);
	if (value == nullptr)
		throw std::runtime_error(
		    std::string("environment variable ") + name +
		    " is not set (run the tests through meson test)");
	return value;
}

} // namespace popstream::test
