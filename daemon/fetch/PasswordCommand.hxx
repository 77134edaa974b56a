#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace popstream {

/** How long a password command may run: long enough for gpg-agent to ask for a
 * passphrase through a graphical pinentry, short enough that a hung command does not
 * hold an account for long. */
inline constexpr std::chrono::milliseconds PASSWORD_COMMAND_TIMEOUT =
    std::chrono::seconds(10);

/** Most bytes read from a password command's stdout. A password is a line; this
 * stops a wrong command (`cat /dev/zero`) from filling memory. */
inline constexpr std::size_t MAX_PASSWORD_COMMAND_OUTPUT = 64 * 1024;

/**
 * Runs a config account's `password_command` (popstream.yaml(5)) and returns the
 * password: the first line of its stdout, without the line end (LF or CRLF).
 *
 * The command runs without a shell (posix_spawnp(3): argv[0] is looked up in PATH),
 * with the daemon's environment, stdin from /dev/null, stderr inherited (so gpg or pass
 * can explain a failure in the journal), an empty signal mask and default signal
 * dispositions. It blocks the calling thread until the command exits, for at most
 * @p timeout; a daemon runs it off the event loop.
 *
 * Its output is never put into a message or log, and the buffer holding it is wiped.
 *
 * @param argv the command; not empty, argv[0] not empty
 * @param account the account name, for messages
 * @param timeout how long the command may run; then it is killed with SIGKILL
 * @return the password: not empty, no CR, LF or NUL
 * @throws CredentialError (ExitCode::Config) naming the account and argv[0] if the
 *         command cannot be started (with the errno text), does not exit within
 *         @p timeout, prints more than MAX_PASSWORD_COMMAND_OUTPUT bytes, exits with
 *         a non-zero status (given) or is killed by a signal (given), or if its first
 *         line is empty or contains a CR or NUL
 */
std::string
RunPasswordCommand(const std::vector<std::string> &argv, std::string_view account,
		   std::chrono::milliseconds timeout = PASSWORD_COMMAND_TIMEOUT);

/**
 * RunPasswordCommand() for any secret a command prints: `oauth_token_command` and dl
 * --token-command print an OAuth 2.0 access token (RFC 6750 §2.1) on their first line.
 *
 * @param secret what the command prints, for messages: "password" or "token"
 * @return the first line: not empty, no CR, LF or NUL
 * @throws CredentialError as RunPasswordCommand() does, naming "@p secret command"
 */
std::string
RunSecretCommand(const std::vector<std::string> &argv, std::string_view account,
		 std::string_view secret,
		 std::chrono::milliseconds timeout = PASSWORD_COMMAND_TIMEOUT);

} // namespace popstream
