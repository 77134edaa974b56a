#include "TempDir.hxx"
#include "posix/File.hxx"

#include <doctest/doctest.h>

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace popstream::posix;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

/** An open file descriptor for one scope. */
class Fd {
	int fd_;

public:
	explicit Fd(int fd) noexcept : fd_(fd) {}
	~Fd()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	int Get() const noexcept { return fd_; }
};

ReadResult ReadFile(const std::string &path, std::size_t max_bytes)
{
	const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
	REQUIRE(fd.Get() >= 0);
	return ReadToEnd(fd.Get(), max_bytes);
}

} // namespace

TEST_CASE("ReadToEnd reads a whole file up to its limit")
{
	const TempDir dir;
	// Larger than one read(2) of ReadToEnd's buffer, with every byte value.
	std::string data;
	for (std::size_t i = 0; i < 200'000; ++i)
		data += static_cast<char>(i * 7 % 256);
	WriteFile(dir / "f", data);

	SUBCASE("at the limit: all of it")
	{
		const auto r = ReadFile(dir / "f", data.size());
		CHECK(r.error == 0);
		CHECK_FALSE(r.too_large);
		CHECK(r.text == data);
	}
	SUBCASE("one byte over the limit: too large")
	{
		const auto r = ReadFile(dir / "f", data.size() - 1);
		CHECK(r.error == 0);
		CHECK(r.too_large);
	}
	SUBCASE("an empty file")
	{
		WriteFile(dir / "empty", "");
		const auto r = ReadFile(dir / "empty", 0);
		CHECK(r.error == 0);
		CHECK_FALSE(r.too_large);
		CHECK(r.text.empty());
	}
}

TEST_CASE("ReadToEnd reports the errno of a failed read")
{
	const TempDir dir;
	// read(2) on a directory fails with EISDIR.
	const Fd fd(open(dir.Path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	REQUIRE(fd.Get() >= 0);
	const auto r = ReadToEnd(fd.Get(), 100);
	CHECK(r.error == EISDIR);
	CHECK_FALSE(r.too_large);
}

TEST_CASE("WriteAllBestEffort writes everything, and gives up quietly on an error")
{
	int pipe_fds[2];
	REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
	const Fd read_end(pipe_fds[0]);
	{
		const Fd write_end(pipe_fds[1]);
		WriteAllBestEffort(write_end.Get(), "one line\n");
		WriteAllBestEffort(write_end.Get(), "");
	}
	const auto r = ReadToEnd(read_end.Get(), 100);
	CHECK(r.text == "one line\n");

	// A closed descriptor: EBADF, and no exception or hang.
	WriteAllBestEffort(pipe_fds[1], "lost");
}
