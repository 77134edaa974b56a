#pragma once

#include "TlsArgs.hxx"

#include <string>

namespace CLI {
class App;
}

namespace popstream::cli {

/** Arguments of `serverinfo`. */
struct ServerInfoArgs {
	/** A connection spec or netrc account, as for `dl`. */
	std::string spec;
	TlsArgs tls;
	/** Connect and idle timeout, in seconds. */
	double timeout_s = 30;
};

/** Adds the `serverinfo` subcommand to @p app, storing into @p args. */
CLI::App *AddServerInfo(CLI::App &app, ServerInfoArgs &args);

/**
 * Connects to the server of @p args (STLS first for `starttls:`), prints the greeting,
 * the capabilities, the TLS version and cipher suite and each certificate of the
 * chain with its two SHA-256 fingerprints in the form `tls_fingerprint:` takes, then
 * QUITs. No user name or password is sent. A certificate that fails verification is
 * shown too, with "certificate NOT trusted: REASONS", so that it can be pinned.
 *
 * @return the exit status (sysexits.h): 0 when the server answered QUIT (trusted or
 *         not), 64 bad flags, 78 unusable CA file or client certificate, 68 unknown
 *         host, 69 refused (connection, TLS handshake, -ERR greeting or STLS), 75
 *         timeout or hang-up, 76 a reply that is not POP3 or data after STLS's +OK
 */
int RunServerInfo(const ServerInfoArgs &args, const std::string &program);

} // namespace popstream::cli
