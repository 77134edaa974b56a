#include "TlsArgs.hxx"

#include "core/util/Escape.hxx"
#include "core/util/ExitCode.hxx"
#include "net/Connection.hxx"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace popstream::cli {

namespace {

void PrintError(const std::string &program, const std::string &text)
{
	std::fprintf(stderr, "%s: %s\n", program.c_str(), text.c_str());
	std::fflush(stderr);
}

} // namespace

void AddTlsFlags(CLI::App &command, TlsArgs &args)
{
	command
	    .add_option("--ca-file", args.ca_file,
			"Trust the CAs in this PEM file instead of the system store")
	    ->type_name("PEM");
	command
	    .add_option(
		"--tls-fingerprint", args.fingerprints,
		"Trust only a server certificate with this SHA-256 (AB:CD:..., as "
		"'popstream serverinfo' prints it) or public key "
		"(sha256//BASE64), instead of the CA, name and date checks; may be "
		"repeated")
	    ->type_name("FINGERPRINT")
	    ->allow_extra_args(false);
	command
	    .add_option("--tls-min-version", args.min_version,
			"The oldest TLS version to accept: 1.0, 1.1 or 1.2")
	    ->type_name("VERSION")
	    ->default_str("1.2");
	command
	    .add_option("--tls-cert", args.cert,
			"Present this PEM client certificate (with --tls-key)")
	    ->type_name("PEM");
	command
	    .add_option("--tls-key", args.key,
			"The unencrypted PEM key of --tls-cert; must not be readable by "
			"group or others")
	    ->type_name("PEM");
}

std::optional<TlsOptions> ParseTlsArgs(const TlsArgs &args, const std::string &program,
				       const std::string &command, int &code)
{
	TlsOptions tls;
	// Found now rather than after connecting: a missing CA file is a configuration
	// mistake, not a network failure.
	tls.ca_file = ExpandHome(args.ca_file);
	if (!tls.ca_file.empty() && access(tls.ca_file.c_str(), R_OK) != 0) {
		PrintError(program, command + ": --ca-file " + Escape(args.ca_file) +
					": " + std::strerror(errno));
		code = ToInt(ExitCode::Config);
		return std::nullopt;
	}
	try {
		for (const auto &text : args.fingerprints)
			tls.fingerprints.push_back(ParseTlsFingerprint(text));
	} catch (const FingerprintError &e) {
		PrintError(program, command + ": --tls-fingerprint: " + e.what());
		code = ToInt(ExitCode::Usage);
		return std::nullopt;
	}
	try {
		tls.min_version = ParseTlsVersion(args.min_version);
	} catch (const TlsVersionError &e) {
		PrintError(program, command + ": --tls-min-version: " + e.what());
		code = ToInt(ExitCode::Usage);
		return std::nullopt;
	}
	tls.cert_file = ExpandHome(args.cert);
	tls.key_file = ExpandHome(args.key);
	try {
		net::CheckCaFile(tls.ca_file);
		net::CheckClientCertificate(tls);
	} catch (const net::NetError &e) {
		PrintError(program, command + ": " + e.what());
		code = ToInt(ExitCode::Config);
		return std::nullopt;
	}
	return tls;
}

std::string ExpandHome(const std::string &path)
{
	if (path == "~" || path.rfind("~/", 0) == 0) {
		const char *home = std::getenv("HOME");
		if (home != nullptr && *home != '\0')
			return std::string(home) + path.substr(1);
	}
	return path;
}

} // namespace popstream::cli
