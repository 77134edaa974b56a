// A main() for the fuzz targets in builds without libFuzzer (gcc): runs the target once
// on every file of the directories (or files) given as arguments, so that the committed
// corpus, and every crash input added to it, is a regression test in every build.
// An invariant failure aborts, which fails the test; the file being run is printed first.
#include "FuzzCheck.hxx"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
	namespace fs = std::filesystem;
	std::vector<fs::path> files;
	for (int i = 1; i < argc; ++i) {
		const fs::path arg(argv[i]);
		if (fs::is_directory(arg)) {
			for (const auto &entry : fs::directory_iterator(arg))
				if (entry.is_regular_file())
					files.push_back(entry.path());
		} else if (fs::is_regular_file(arg)) {
			files.push_back(arg);
		} else {
			std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
			return 2;
		}
	}
	// Sorted, so that a failure names the same file on every run.
	std::sort(files.begin(), files.end());
	if (files.empty()) {
		std::fprintf(stderr, "no inputs given\n");
		return 2;
	}
	for (const auto &path : files) {
		std::ifstream in(path, std::ios::binary);
		const std::string bytes((std::istreambuf_iterator<char>(in)),
					std::istreambuf_iterator<char>());
		if (!in.good() && !in.eof()) {
			std::fprintf(stderr, "%s: cannot read\n", path.c_str());
			return 2;
		}
		std::fprintf(stderr, "running %s (%zu bytes)\n", path.c_str(),
			     bytes.size());
		LLVMFuzzerTestOneInput(
		    reinterpret_cast<const std::uint8_t *>(bytes.data()), bytes.size());
	}
	std::printf("%zu inputs ran without a failed invariant\n", files.size());
	return 0;
}
