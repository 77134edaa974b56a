// libFuzzer target: popstream import's parsers and writer (daemon/core/import). The
// first byte picks fetchmail, getmail or mpop; the rest is the file. An error must name
// a line of the file (or none); an import must give YAML with no control character
// that could end a comment early, one `- name:` entry per account, and lines that are
// comments or keys at the indentation the loader expects.
#include "FuzzCheck.hxx"

#include "core/import/Imported.hxx"
#include "core/import/Write.hxx"

#include <algorithm>
#include <string>
#include <string_view>

using namespace popstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size == 0)
		return 0;
	const auto tool = static_cast<importer::Tool>(data[0] % 3);
	const std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
	const auto lines =
	    static_cast<unsigned>(std::count(text.begin(), text.end(), '\n')) + 1;
	importer::Imported imported;
	try {
		imported = importer::Import(tool, text, "fuzz.rc");
	} catch (const importer::ImportError &e) {
		FUZZ_CHECK(e.Line() <= lines);
		const std::string_view what = e.what();
		FUZZ_CHECK(!what.empty());
		for (const char c : what)
			FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
		return 0;
	}
	FUZZ_CHECK(!imported.accounts.empty());
	const std::string yaml = importer::WriteConfig(imported, "fuzz.rc");
	FUZZ_CHECK(yaml.ends_with('\n'));
	std::size_t names = 0;
	std::string_view rest = yaml;
	while (!rest.empty()) {
		const auto end = rest.find('\n');
		const std::string_view line = rest.substr(0, end);
		rest.remove_prefix(end + 1);
		for (const char c : line) {
			const auto b = static_cast<unsigned char>(c);
			FUZZ_CHECK(b >= 0x20 && b != 0x7f);
		}
		if (line.starts_with("  - name: "))
			++names;
		else
			FUZZ_CHECK(line.starts_with("#") || line == "accounts:" ||
				   line.starts_with("    # ") ||
				   (line.starts_with("    ") && line[4] != ' ' &&
				    line.find(": ") != std::string_view::npos));
	}
	FUZZ_CHECK(names == imported.accounts.size());
	return 0;
}
