#pragma once

#include <string>
#include <vector>

namespace popstream::cli {

/**
 * Parses and runs one popstream command line (without the program name), e.g.
 * {"dl", "-n", "tcp:alice@localhost:1110", "~/Mail"}. Usage errors print one line on
 * stderr and give 64 (EX_USAGE).
 *
 * @param args the words after the program name
 * @param program the name to show in messages and help ("popstream" or "pop3")
 * @param in_shell true when run from `popstream shell` (then `shell` is refused)
 * @return the exit status (sysexits.h)
 */
int RunCommand(const std::vector<std::string> &args, const std::string &program,
	       bool in_shell = false);

/**
 * `popstream shell`: reads command lines at a prompt (libedit, with history kept in
 * $XDG_STATE_HOME/popstream/history) and runs each with RunCommand() until EOF or
 * `exit`/`quit`.
 *
 * @return 0, or the status of the last command when stdin is not a terminal
 */
int RunShell(const std::string &program);

/**
 * Splits a shell line into words: blanks separate words, '...' and "..." quote, and a
 * backslash escapes the next character. @throws std::invalid_argument on an unclosed
 * quote
 */
std::vector<std::string> SplitWords(const std::string &line);

} // namespace popstream::cli
