#include "TempDir.hxx"
#include "store/MaildirWriter.hxx"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

using namespace popstream::store;
using namespace popstream::test;

namespace {

unsigned Mode(const std::string &path)
{
	struct stat st {};
	REQUIRE(stat(path.c_str(), &st) == 0);
	return st.st_mode & 07777;
}

} // namespace

TEST_CASE("a Maildir and its missing parents are created with mode 0700")
{
	TempDir dir;
	const auto path = dir / "Mail/sub/inbox";
	Maildir maildir(path);
	for (const char *sub : {"", "/tmp", "/new", "/cur"})
		CHECK(Mode(path + sub) == 0700);
	CHECK(Mode(dir / "Mail") == 0700);
	CHECK(ListDir(path + "/tmp").empty()); // the writability probe leaves nothing
}

TEST_CASE("a committed message lands in new/ byte for byte, mode 0600, with its size")
{
	TempDir dir;
	Maildir maildir(dir / "m");
	auto d = maildir.Begin();
	CHECK(ListDir(dir / "m/tmp").size() == 1);
	std::string big(200000, 'x');
	big += std::string("\0\xff\r\n", 4);
	d.Write("Subject: hi\n\n");
	d.Write(big);
	d.Write("end\n");
	const auto name = d.Commit();
	maildir.SyncNew();
	CHECK(ListDir(dir / "m/tmp").empty());
	REQUIRE(ListDir(dir / "m/new") == std::vector<std::string>{name});
	const auto content = ReadFile(dir / "m/new/" + name);
	CHECK(content == "Subject: hi\n\n" + big + "end\n");
	CHECK(name.ends_with(",S=" + std::to_string(content.size())));
	CHECK(name.find(':') == std::string::npos);
	CHECK(Mode(dir / "m/new/" + name) == 0600);
}

TEST_CASE("names are unique across many deliveries in one second")
{
	TempDir dir;
	Maildir maildir(dir / "m");
	for (int i = 0; i < 200; ++i) {
		auto d = maildir.Begin();
		d.Write("x\n");
		d.Commit();
	}
	CHECK(ListDir(dir / "m/new").size() == 200);
}

TEST_CASE("an abandoned delivery leaves nothing behind")
{
	TempDir dir;
	Maildir maildir(dir / "m");
	{
		auto d = maildir.Begin();
		d.Write("partial");
	}
	auto d = maildir.Begin();
	d.Write("partial");
	d.Abort();
	d.Abort();
	CHECK(ListDir(dir / "m/tmp").empty());
	CHECK(ListDir(dir / "m/new").empty());
}

TEST_CASE("an unusable Maildir is reported before any download, naming the path")
{
	TempDir dir;
	WriteFile(dir / "file", "not a directory");
	CHECK_THROWS_WITH_AS(Maildir(dir / "file"),
			     doctest::Contains("file: Not a directory"), MaildirError);

	// tmp being a regular file stops root as much as anyone.
	WriteFile(dir / "broken", "");
	REQUIRE(unlink((dir / "broken").c_str()) == 0);
	REQUIRE(mkdir((dir / "broken").c_str(), 0700) == 0);
	WriteFile(dir / "broken/tmp", "");
	CHECK_THROWS_WITH_AS(Maildir(dir / "broken"),
			     doctest::Contains("broken/tmp: Not a directory"),
			     MaildirError);
}
