#pragma once

#include <cstdint>
#include <string>

namespace popstream::posix {

/** @return the wall-clock time (CLOCK_REALTIME), in µs since the Unix epoch */
std::uint64_t NowUs() noexcept;

/**
 * @param a_us, b_us times in µs since the Unix epoch
 * @return whether both fall on the same calendar day in the local time zone ($TZ, else
 *         /etc/localtime); false if either cannot be converted
 */
bool SameLocalDay(std::uint64_t a_us, std::uint64_t b_us) noexcept;

/**
 * Formats a time for people, in the local time zone, to the minute.
 *
 * @param us time in µs since the Unix epoch
 * @param with_date whether to put the date first
 * @return "HH:MM", or "YYYY-MM-DD HH:MM" if @p with_date; "?" if the time cannot be
 *         converted
 */
std::string FormatLocalTime(std::uint64_t us, bool with_date);

} // namespace popstream::posix
