#pragma once

#include <iosfwd>
#include <string>

namespace popstream::cli {

/**
 * `popstream import fetchmail|getmail|mpop FILE`: prints on @p out a config.yaml
 * (popstream.yaml(5)) equivalent to the other tool's configuration, with every option
 * that is not carried over as a comment saying why. Writes no file; never prints a
 * password from @p path, not even in a comment.
 *
 * @param tool "fetchmail", "getmail" or "mpop"
 * @param path the file to read
 * @param program the name to prefix error lines with
 * @param out receives the YAML (only when the import succeeds)
 * @param err receives one line on failure: `PROGRAM: FILE:LINE: PROBLEM`, or
 *        `PROGRAM: FILE: PROBLEM` when the problem has no line
 * @return 0; 64 (EX_USAGE) for an unknown tool; 65 (EX_DATAERR) for a syntax error or
 *         a file with no POP3 account; 66 (EX_NOINPUT) for a file that cannot be
 *         read; 74 (EX_IOERR) if @p out fails
 */
int RunImport(const std::string &tool, const std::string &path,
	      const std::string &program, std::ostream &out, std::ostream &err);

} // namespace popstream::cli
