#include "Import.hxx"

#include "core/import/Imported.hxx"
#include "core/import/Write.hxx"
#include "core/util/Escape.hxx"
#include "core/util/ExitCode.hxx"
#include "posix/Passwd.hxx"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

namespace popstream::cli {

namespace {

/** No rc file is this large; a larger file is something else given by mistake. */
constexpr std::streamsize max_file_size = 1 << 20;

/** Writes @p e as one line: WHERE[:LINE]: PROBLEM. */
void PrintImportError(std::ostream &err, const std::string &where,
		      const importer::ImportError &e)
{
	err << where;
	if (e.Line() > 0)
		err << ":" << e.Line();
	err << ": " << Escape(e.what()) << "\n";
}

} // namespace

int RunImport(const std::string &tool_name, const std::string &path,
	      const std::string &program, std::ostream &out, std::ostream &err)
{
	const auto tool = importer::ParseToolName(tool_name);
	if (!tool) {
		err << program << ": import: unknown tool \"" << Escape(tool_name)
		    << "\" (fetchmail, getmail or mpop)\n";
		return ToInt(ExitCode::Usage);
	}
	const std::string where = program + ": " + Escape(path);
	std::error_code ec;
	if (std::filesystem::is_directory(path, ec)) {
		err << where << ": cannot read: " << std::strerror(EISDIR) << "\n";
		return ToInt(ExitCode::NoInput);
	}
	std::ifstream file(path, std::ios::binary);
	if (!file) {
		err << where << ": cannot read: " << std::strerror(errno) << "\n";
		return ToInt(ExitCode::NoInput);
	}
	std::ostringstream text;
	text << file.rdbuf();
	if (file.bad()) {
		err << where << ": cannot read: " << std::strerror(errno ? errno : EIO)
		    << "\n";
		return ToInt(ExitCode::NoInput);
	}
	if (static_cast<std::streamsize>(text.str().size()) > max_file_size) {
		err << where << ": larger than 1 MiB: not a " << tool_name
		    << " configuration\n";
		return ToInt(ExitCode::DataError);
	}
	try {
		// fetchmail delivers to the user running it when an entry names no
		// local user: this one, who will run popstream.
		const auto me = posix::EffectiveUser();
		const auto imported =
		    importer::Import(*tool, text.str(), path, me ? me->name : "");
		out << importer::WriteConfig(imported, path) << std::flush;
		// A full disk or a closed pipe must not pass for a complete config.
		if (!out) {
			err << program << ": import: cannot write the output\n";
			return ToInt(ExitCode::IoError);
		}
		return 0;
	} catch (const importer::NothingToImport &e) {
		// The file reads well; there is only no POP3 account to make a config of,
		// which is EX_CONFIG's case rather than bad data.
		PrintImportError(err, where, e);
		return ToInt(ExitCode::Config);
	} catch (const importer::ImportError &e) {
		PrintImportError(err, where, e);
		return ToInt(ExitCode::DataError);
	}
}

} // namespace popstream::cli
