// The token file store (daemon/secret/FileStore): modes, atomic replacement, and the
// files it refuses. No bus: OpenTokenStore() and the Secret Service are tested
// against real services in tests/secret/.
#include "ScopedEnv.hxx"
#include "TempDir.hxx"

#include "secret/FileStore.hxx"
#include "secret/TokenStore.hxx"

#include <doctest/doctest.h>

#include <csignal>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace popstream;
using namespace popstream::test;

namespace {

struct stat StatOf(const std::string &path)
{
	struct stat st {};
	REQUIRE(lstat(path.c_str(), &st) == 0);
	return st;
}

unsigned ModeOf(const std::string &path)
{
	return StatOf(path).st_mode & 07777;
}

/** Expects @p f to throw std::runtime_error whose what() is @p message. */
template <typename F>
void ExpectError(F &&f, const std::string &message)
{
	try {
		f();
	} catch (const std::runtime_error &e) {
		CHECK(std::string(e.what()) == message);
		return;
	}
	FAIL("no exception; expected: " << message);
}

/** Sets the umask for one scope. */
class ScopedUmask {
	mode_t old_;

public:
	explicit ScopedUmask(mode_t mask) : old_(umask(mask)) {}
	~ScopedUmask() { umask(old_); }
};

} // namespace

TEST_CASE("Save creates the directory 0700 and the file 0600, whatever the umask")
{
	TempDir tmp;
	const ScopedUmask open_umask(0);
	const std::string dir = tmp / "state/popstream/oauth";
	secret::FileStore store(dir);
	CHECK(store.Load("work") == std::nullopt);
	store.Save("work", "the blob");
	CHECK(ReadFile(dir + "/work.json") == "the blob");
	CHECK(ModeOf(dir + "/work.json") == 0600);
	CHECK(ModeOf(dir) == 0700);
	// Parents it had to create are private too (XDG Base Directory: 0700).
	CHECK(ModeOf(tmp / "state/popstream") == 0700);
	CHECK(ModeOf(tmp / "state") == 0700);
	CHECK(store.Load("work") == "the blob");
	// No temporary file is left behind.
	CHECK(ListDir(dir) == std::vector<std::string>{"work.json"});
}

TEST_CASE("Save replaces the file by rename: a reader of the old file keeps the old blob")
{
	TempDir tmp;
	secret::FileStore store(tmp / "oauth");
	store.Save("work", "old blob");
	const auto old_inode = StatOf(tmp / "oauth/work.json").st_ino;
	// A second name for the old file, as an open reader would hold it: a write in
	// place would change what it sees.
	REQUIRE(link((tmp / "oauth/work.json").c_str(), (tmp / "held").c_str()) == 0);
	store.Save("work", "new blob, longer than the old one");
	CHECK(ReadFile(tmp / "held") == "old blob");
	CHECK(ReadFile(tmp / "oauth/work.json") == "new blob, longer than the old one");
	CHECK(StatOf(tmp / "oauth/work.json").st_ino != old_inode);
	CHECK(ListDir(tmp / "oauth") == std::vector<std::string>{"work.json"});
}

TEST_CASE("a Save that fails halfway leaves the old blob and no temporary file")
{
	TempDir tmp;
	secret::FileStore store(tmp / "oauth");
	store.Save("work", "old");
	// A file size limit makes the second write(2) fail with EFBIG (root ignores
	// permissions, not this), after part of the blob was written.
	const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
	rlimit old_limit{};
	REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
	rlimit limit = old_limit;
	limit.rlim_cur = 4;
	REQUIRE(setrlimit(RLIMIT_FSIZE, &limit) == 0);
	ExpectError([&] { store.Save("work", "a blob longer than four bytes"); },
		    "cannot save " + tmp / "oauth/work.json" + ": write: File too large");
	REQUIRE(setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
	std::signal(SIGXFSZ, old_handler);
	CHECK(store.Load("work") == "old");
	CHECK(ListDir(tmp / "oauth") == std::vector<std::string>{"work.json"});
}

TEST_CASE("Load refuses a file its group or others may read, as the netrc is refused")
{
	TempDir tmp;
	secret::FileStore store(tmp / "oauth");
	store.Save("work", "blob");
	const std::string path = tmp / "oauth/work.json";
	REQUIRE(chmod(path.c_str(), 0640) == 0);
	ExpectError([&] { store.Load("work"); },
		    path +
			": must not be accessible by group or others (mode 0640); run "
			"chmod 600 " +
			path);
	REQUIRE(chmod(path.c_str(), 0604) == 0);
	ExpectError([&] { store.Load("work"); },
		    path +
			": must not be accessible by group or others (mode 0604); run "
			"chmod 600 " +
			path);
	REQUIRE(chmod(path.c_str(), 0600) == 0);
	CHECK(store.Load("work") == "blob");
}

TEST_CASE("Load refuses a symbolic link and a directory in place of the file")
{
	TempDir tmp;
	secret::FileStore store(tmp / "oauth");
	store.Save("other", "blob");
	const std::string path = tmp / "oauth/work.json";
	REQUIRE(symlink((tmp / "oauth/other.json").c_str(), path.c_str()) == 0);
	ExpectError([&] { store.Load("work"); },
		    path + ": a symbolic link, not a file of popstream's");
	REQUIRE(unlink(path.c_str()) == 0);
	REQUIRE(mkdir(path.c_str(), 0700) == 0);
	ExpectError([&] { store.Load("work"); }, path + ": not a regular file");
}

TEST_CASE("Save refuses a directory its group or others may enter")
{
	TempDir tmp;
	REQUIRE(mkdir((tmp / "oauth").c_str(), 0755) == 0);
	REQUIRE(chmod((tmp / "oauth").c_str(), 0755) == 0);
	secret::FileStore store(tmp / "oauth");
	ExpectError(
	    [&] { store.Save("work", "blob"); },
	    tmp / "oauth" +
		": must not be accessible by group or others (mode 0755); run chmod "
		"700 " +
		tmp / "oauth");
	CHECK(ListDir(tmp / "oauth").empty());
}

TEST_CASE("keys that are not one safe file name are refused")
{
	TempDir tmp;
	secret::FileStore store(tmp / "oauth");
	ExpectError([&] { store.Save("", "blob"); },
		    "invalid token key \"\": empty or starts with '.'");
	ExpectError([&] { store.Load(".work"); },
		    "invalid token key \".work\": empty or starts with '.'");
	ExpectError([&] { store.Load("../work"); },
		    "invalid token key \"../work\": empty or starts with '.'");
	// Shown escaped: a key is no secret, but it may hold a line break.
	const std::vector<std::pair<std::string, std::string>> bad = {
	    {"a/../work", "a/../work"}, {"a b", "a b"}, {"a\nb", "a\\nb"}};
	for (const auto &[key, shown] : bad)
		ExpectError([&] { store.Save(key, "blob"); },
			    "invalid token key \"" + shown +
				"\": only letters, digits and @._:- may appear in it");
	CHECK(ListDir(tmp.Path()).empty());
	CHECK(store.PathFor("dl-ada@example.com@pop.example.com:995") ==
	      tmp / "oauth/dl-ada@example.com@pop.example.com:995.json");
}

TEST_CASE("Clear removes the file, and clearing nothing is no error")
{
	TempDir tmp;
	secret::FileStore store(tmp / "oauth");
	store.Clear("work");
	store.Save("work", "blob");
	store.Save("home", "other");
	store.Clear("work");
	CHECK(store.Load("work") == std::nullopt);
	CHECK(store.Load("home") == "other");
	store.Clear("work");
}

TEST_CASE("Where() names the directory, and the note when there is one")
{
	secret::FileStore plain("/home/u/.local/state/popstream/oauth/");
	CHECK(plain.Where() ==
	      "a mode 0600 file in /home/u/.local/state/popstream/oauth");
	secret::FileStore noted("/s/popstream/oauth",
				"no Secret Service on the session bus");
	CHECK(noted.Where() == "a mode 0600 file in /s/popstream/oauth: no Secret "
			       "Service on the session bus");
}

TEST_CASE("DefaultTokenDirectory follows XDG_STATE_HOME, else HOME")
{
	{
		ScopedEnv state("XDG_STATE_HOME", "/var/state");
		CHECK(secret::DefaultTokenDirectory() == "/var/state/popstream/oauth");
	}
	ScopedEnv home("HOME", "/home/ada");
	{
		// The specification ignores a relative path.
		ScopedEnv state("XDG_STATE_HOME", "relative");
		CHECK(secret::DefaultTokenDirectory() ==
		      "/home/ada/.local/state/popstream/oauth");
	}
	ScopedEnv state("XDG_STATE_HOME", nullptr);
	CHECK(secret::DefaultTokenDirectory() ==
	      "/home/ada/.local/state/popstream/oauth");
}

TEST_CASE("TokenKeyForSpec: dl- and the label, with unsafe characters as '_'")
{
	CHECK(secret::TokenKeyForSpec("ada@example.com@pop.example.com:995") ==
	      "dl-ada@example.com@pop.example.com:995");
	CHECK(secret::TokenKeyForSpec("a b/c%d@[::1]:110") == "dl-a_b_c_d@_::1_:110");
	CHECK(secret::TokenKeyForSpec("\xc3\xa9@h:1") == "dl-__@h:1");
}
