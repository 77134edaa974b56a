#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace popstream::cli {

/** How PromptPassword() ended. */
struct PromptResult {
	/** The line typed, without its line end; nothing if none was given. */
	std::optional<std::string> password;
	/** There is no terminal to ask on (no controlling terminal, or /dev/tty is not
	 * one): the caller reports why it needed to ask. */
	bool no_terminal = false;
	/** SIGINT, SIGTERM, SIGHUP or SIGQUIT came while waiting; a signal whose
	 * handler was the default has been delivered again after the terminal was
	 * restored (so the process ends as it would have), others are dropped. */
	bool interrupted = false;
	/** Without a password and not #no_terminal: one line saying why (an empty line,
	 * end of input, a read error); never holds what was typed. */
	std::string error;
};

/**
 * Asks for a password on the controlling terminal, as mpop and ftp(1) do: writes
 * @p prompt to /dev/tty, turns echo off (termios), reads one line, restores the
 * terminal and ends the line the user could not see. The terminal is restored on
 * every path: on return, before a terminating signal is delivered again, and around
 * a stop (SIGTSTP, after which the prompt is shown again).
 *
 * It blocks the calling thread until a line is typed; a caller on an event loop must
 * expect the loop's clock to lag afterwards. The password is held in no buffer
 * beyond the returned string (the read buffer is wiped).
 *
 * @param prompt e.g. "Password for alice@mail.example.com: "
 * @return the password (not empty, no CR, LF or NUL), or why there is none
 */
PromptResult PromptPassword(std::string_view prompt);

} // namespace popstream::cli
