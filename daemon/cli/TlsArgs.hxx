#pragma once

#include "core/spec/TlsOptions.hxx"

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace popstream::cli {

/**
 * @return @p path with a leading "~" or "~/" replaced by $HOME (as a shell would for a
 *         word on the command line; a flag's value after '=' is not expanded by it)
 */
std::string ExpandHome(const std::string &path);

/** The TLS flags `dl` and `serverinfo` share, as typed. */
struct TlsArgs {
	std::string ca_file;
	std::vector<std::string> fingerprints;
	std::string min_version = "1.2";
	std::string cert, key;
};

/**
 * Adds --ca-file, --tls-fingerprint (repeatable), --tls-min-version, --tls-cert and
 * --tls-key to @p command, storing into @p args (which must outlive it).
 */
void AddTlsFlags(CLI::App &command, TlsArgs &args);

/**
 * Checks the flags and turns them into options, with ~ expanded. Prints one line
 * `PROGRAM: COMMAND: PROBLEM` to stderr for the first problem.
 * @param[out] code on failure: 64 (EX_USAGE) for a bad fingerprint or version, 78
 *        (EX_CONFIG) for an unreadable CA file or an unusable client certificate or
 *        key (checked now, before connecting, by net::CheckClientCertificate())
 * @return the options, or nothing after an error
 */
std::optional<TlsOptions> ParseTlsArgs(const TlsArgs &args, const std::string &program,
				       const std::string &command, int &code);

} // namespace popstream::cli
