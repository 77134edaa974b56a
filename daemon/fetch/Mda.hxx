#pragma once

#include "store/HandOffQueue.hxx"

#include <chrono>
#include <string>
#include <vector>

namespace popstream::fetch {

/** How long an MDA may take over one message: a spam filter on a large message takes
 * seconds; one that hangs must not hold the account for ever. Then it is killed, and
 * the message stays on the server. */
inline constexpr std::chrono::milliseconds mda_timeout{std::chrono::minutes(5)};

/** Most bytes of an MDA's output kept for the message that says why it failed. */
inline constexpr std::size_t mda_output_max = 2048;

/**
 * The first of the two steps that expand an MDA's arguments: the account's, once.
 *
 * @return @p argv with `%a` replaced by @p account and `%u` by @p user in every
 *         argument (fetchmail's and getmail's MDA placeholders), and a leading `~/`
 *         by $HOME, as a shell would; `%F` and `%%` are left for RunMda(), which
 *         knows the message. No shell ever sees the result, so nothing needs quoting
 */
std::vector<std::string> ExpandMdaArgs(const std::vector<std::string> &argv,
				       const std::string &account,
				       const std::string &user);

/**
 * Runs an MDA (popstream.yaml(5) `mda:`) on one message and waits for it, on the
 * calling thread (HandOffQueue's, never the loop's): without a shell, the staged file
 * itself as its standard input (so that an MDA that outlives a killed popstream still
 * reads the whole message, never a part it would take for all), its standard output
 * and error read together, in a process group of its own (a Ctrl-C does not cut it
 * off), the whole group killed (SIGKILL) after @p timeout.
 *
 * It is judged by its exit status (waitpid), not by its output closing: a child it
 * left in the background does not hold the message up. Exit 0 is delivered only if
 * it read the whole message (its read position in the file, which it shares with
 * @p fd, is at the end): one that exits 0 without reading its input, or only part
 * of it, has delivered nothing whole. 75 (EX_TEMPFAIL, sysexits.h) is the MDA
 * asking to be tried again later; any other status, a signal or the timeout is a
 * failure; in all of them the message stays on the server, and HandOffResult::why
 * says which, with the first line of the MDA's output. A command that cannot be run
 * at all sets every_save.
 *
 * Before it runs, `%F` in @p argv becomes the message's EnvelopeSender() (its
 * Return-Path, as mpop's and fetchmail's `%F`) with every character but letters,
 * digits and `@ . _ + = : , / -` made '_' (as fetchmail does: an MDA run through a
 * shell must not run what a sender wrote), and `%%` a percent sign.
 *
 * @param argv the command, as ExpandMdaArgs() left it; not empty
 * @param fd the message, a regular file open for reading; its offset is moved
 * @param size its length in bytes
 */
store::HandOffResult RunMda(const std::vector<std::string> &argv, int fd,
			    std::uint64_t size,
			    std::chrono::milliseconds timeout = mda_timeout);

} // namespace popstream::fetch
