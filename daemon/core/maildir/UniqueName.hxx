#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace popstream::maildir {

/** What makes a delivery's file name unique (the Maildir spec, "Unique names"). */
struct UniqueParts {
	/** Seconds since the epoch. */
	std::int64_t seconds = 0;
	/** Microseconds within that second (0-999999). */
	std::uint32_t microseconds = 0;
	/** The delivering process. */
	std::uint32_t pid = 0;
	/** Deliveries made earlier by this process: makes names unique within a second.
	 */
	std::uint64_t sequence = 0;
	/** This machine's host name. */
	std::string_view host;
};

/**
 * Builds the unique part of a Maildir file name, "SECONDS.MusecPpidQseq.HOST", as the
 * Maildir spec (cr.yp.to/proto/maildir.html) recommends. In HOST, '/' becomes "\057"
 * and ':' becomes "\072" (the spec's rule: ':' starts the info part in cur/), and any
 * other byte outside printable ASCII becomes "\ooo" too, so the name is always a valid
 * single path component.
 *
 * @return a name without directory, with no '/' and no ':'
 */
std::string UniqueName(const UniqueParts &parts);

/**
 * @return @p unique with the ",S=SIZE" suffix used by Courier and Dovecot to record the
 *         file's size in bytes, so readers need no stat()
 */
std::string WithSize(std::string_view unique, std::uint64_t size_bytes);

} // namespace popstream::maildir
