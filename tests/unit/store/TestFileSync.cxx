#include "TempDir.hxx"
#include "store/FileSync.hxx"
#include "store/MaildirWriter.hxx"

#include <doctest/doctest.h>

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace popstream::store;
using namespace popstream::test;

namespace {

/** An fd that fsync(2) refuses (EINVAL): a pipe. Both ends are closed on return. */
struct Pipe {
	int fds[2] = {-1, -1};
	Pipe() { REQUIRE(pipe(fds) == 0); }
	~Pipe()
	{
		close(fds[0]);
		close(fds[1]);
	}
};

} // namespace

TEST_CASE("FileSync: many files synced side by side each report success")
{
	TempDir dir;
	std::vector<int> fds;
	std::vector<std::unique_ptr<FileSync>> syncs;
	for (int i = 0; i < 40; ++i) {
		const auto path = dir / ("f" + std::to_string(i));
		const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
		REQUIRE(fd >= 0);
		REQUIRE(write(fd, "x\n", 2) == 2);
		fds.push_back(fd);
		syncs.push_back(std::make_unique<FileSync>(fd));
	}
	for (auto &sync : syncs)
		CHECK(sync->Wait() == 0);
	for (int fd : fds)
		close(fd);
}

TEST_CASE("FileSync: fsync's error is Wait()'s result, every time it is asked")
{
	Pipe p;
	FileSync sync(p.fds[1]);
	CHECK(sync.Wait() == EINVAL);
	CHECK(sync.Wait() == EINVAL);
}

TEST_CASE("FileSync: a forked child syncs in its own thread, even a sync its parent "
	  "started")
{
	TempDir dir;
	const auto path = dir / "f";
	const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0);
	Pipe p;
	// The parent's workers are running (started above by an earlier test or here).
	auto parents = std::make_unique<FileSync>(p.fds[1]);
	const pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		// Only this thread exists here: a wait on the parent's workers would
		// never end. The parent's job still gives its file's result.
		const int inherited = parents->Wait();
		FileSync own(fd);
		FileSync refused(p.fds[1]);
		_exit(inherited == EINVAL && own.Wait() == 0 && refused.Wait() == EINVAL
			  ? 0
			  : 1);
	}
	int status = 0;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	REQUIRE(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 0);
	CHECK(parents->Wait() == EINVAL);
	close(fd);
}

TEST_CASE("a delivery in two halves: no write after StartSync(), published after "
	  "FinishSync(), removed if dropped between them")
{
	TempDir dir;
	Maildir maildir(dir / "m");
	{
		auto d = maildir.Begin();
		d.Write("Subject: a\n\nbody\n");
		const auto name = d.StartSync();
		CHECK_THROWS_AS(d.Write("more"), MaildirError);
		CHECK_THROWS_AS(d.Publish(), MaildirError); // not synced yet: refused
		CHECK(ListDir(dir / "m/new").empty());
	}
	// Dropped unpublished: nothing is left in tmp/ or new/.
	CHECK(ListDir(dir / "m/tmp").empty());

	auto d = maildir.Begin();
	d.Write("Subject: b\n\nbody\n");
	const auto name = d.StartSync();
	d.FinishSync();
	d.Publish();
	CHECK(ListDir(dir / "m/new") == std::vector<std::string>{name});

	{
		auto dropped = maildir.Begin();
		dropped.Write("Subject: c\n\n");
		dropped.StartSync();
		// Destroyed with its fsync perhaps still running: it waits, then removes
		// the file.
	}
	CHECK(ListDir(dir / "m/tmp").empty());
}
