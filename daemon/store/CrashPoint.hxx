#pragma once

#include <string_view>

namespace popstream::fetch {

/**
 * A named point in the delivery protocol where the fault tests kill the process, to
 * prove that no instant of death loses or duplicates a message. When the environment
 * variable POPSTREAM_CRASH_AT is "NAME:N", the N-th time CrashPoint(NAME) is reached
 * the process sends itself SIGKILL, as `kill -9` or a power cut would end it (no
 * destructors, no buffered writes). Without the variable it costs one comparison.
 *
 * Points: "journal-pending" (the journal holds "pending", the file is still in tmp/),
 * "published" (the file is in new/, new/ not yet fsync'd), "dir-synced" (durable, the
 * journal does not say "delivered" yet), "dele-sent" (DELEs handed to the socket),
 * "quit-sent", "quit-confirmed" (+OK to QUIT seen, journal not yet told),
 * "unproven-held" (a session ended with a body received but not proven whole: the
 * copy is still in tmp/, about to be dropped), "redo-start" (about to connect for the
 * lock-step redo that downloads such a message again).
 */
void CrashPoint(std::string_view name) noexcept;

} // namespace popstream::fetch
