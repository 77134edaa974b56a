// CanonicalPath() (fetch/StatePaths.hxx): one mbox, however it is spelled, is one place
// in the journal, so that a kept message is not appended again for a new spelling.
#include "TempDir.hxx"
#include "fetch/StatePaths.hxx"

#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

using popstream::test::TempDir;
using popstream::test::WriteFile;

TEST_CASE("CanonicalPath: relative, dotted and linked spellings of one file agree")
{
	TempDir dir;
	const auto box = dir / "box";
	// Not there yet: the first run's spelling must match the later ones'.
	CHECK(popstream::fetch::CanonicalPath(dir / "sub/../box") == box);
	WriteFile(box, "", 0600);
	std::filesystem::create_symlink(box, dir / "link");
	CHECK(popstream::fetch::CanonicalPath(dir / "link") == box);
	CHECK(popstream::fetch::CanonicalPath(dir / "./box") == box);
	const auto cwd = std::filesystem::current_path();
	std::filesystem::current_path(dir.Path());
	CHECK(popstream::fetch::CanonicalPath("box") == box);
	CHECK(popstream::fetch::CanonicalPath("new-one") == dir / "new-one");
	std::filesystem::current_path(cwd);
}
