#pragma once

#include <string_view>

namespace popstream::store {

/**
 * A named point in the delivery protocol where the fault tests kill the process, to
 * prove that no instant of death loses or duplicates a message. When the environment
 * variable POPSTREAM_CRASH_AT is "NAME:N" (":N" may be left out for 1), the N-th time
 * CrashPoint(NAME) is reached the process sends itself SIGKILL, as `kill -9` or a
 * power cut would end it (no destructors, no buffered writes). Without the variable
 * it costs one comparison.
 *
 * It lives in store/ because most points are in DeliveryLedger; fetch/ reaches the
 * others. Points of the ledger: "journal-pending" (the journal holds "pending", the
 * file is still in tmp/), "published" (the file is in new/, new/ not yet fsync'd),
 * "dir-synced" (durable, the journal does not say "delivered" yet), "handed-off" (an
 * MDA took the message, the journal does not know yet), "unproven-held"
 * (a session ended with a body received but not proven whole: the copy is still in
 * tmp/, about to be dropped). Points of FetchJob: "dele-sent" (DELEs handed to the
 * socket), "quit-sent", "quit-confirmed" (+OK to QUIT seen, journal not yet told),
 * "redo-start" (about to connect for the lock-step redo that downloads such a
 * message again).
 */
void CrashPoint(std::string_view name) noexcept;

/**
 * Replaces the plan read from POPSTREAM_CRASH_AT with @p spec, in the same "NAME:N"
 * form ("" disarms). For unit tests, which arm a point in a forked child after the
 * parent's plan was already read.
 */
void ArmCrashPoint(std::string_view spec) noexcept;

} // namespace popstream::store
