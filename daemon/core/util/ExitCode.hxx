#pragma once

namespace popstream {

/**
 * Process exit statuses. The values are those of BSD sysexits.h (restated here so that
 * the core needs no system header); mpop and sendmail-compatible tools use the same set,
 * so scripts that already handle them keep working.
 */
enum class ExitCode : int {
	/** Every message was saved (or was already saved) and nothing failed. */
	Ok = 0,
	/** EX_USAGE: the command line is wrong. */
	Usage = 64,
	/** EX_DATAERR: an input file is malformed (`import`: a syntax error). */
	DataError = 65,
	/** EX_NOINPUT: an input file does not exist or cannot be read. */
	NoInput = 66,
	/** EX_NOHOST: the server's host name does not resolve. */
	NoHost = 68,
	/** EX_UNAVAILABLE: the server refused the connection or the TLS check failed. */
	Unavailable = 69,
	/** EX_SOFTWARE: an internal error (a bug). */
	Software = 70,
	/** EX_CANTCREAT: the Maildir cannot be created or written. */
	CantCreate = 73,
	/** EX_IOERR: a message could not be written to the Maildir. */
	IoError = 74,
	/** EX_TEMPFAIL: something failed that a later run may fix (a message the server
	 * would not send, a lost connection, deletions the server did not confirm). */
	TempFail = 75,
	/** EX_PROTOCOL: the server broke the POP3 protocol. */
	Protocol = 76,
	/** EX_NOPERM: the server rejected the login. */
	NoPerm = 77,
	/** EX_CONFIG: the configuration or credentials (netrc) are missing or wrong. */
	Config = 78,
};

/** @return the integer to pass to exit() */
constexpr int ToInt(ExitCode code) noexcept
{
	return static_cast<int>(code);
}

} // namespace popstream
