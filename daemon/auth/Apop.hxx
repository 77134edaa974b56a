#pragma once

#include <string>
#include <string_view>

namespace popstream::auth {

/**
 * The APOP digest (RFC 1939 §7): MD5 (RFC 1321) of the greeting's timestamp followed
 * by the shared secret, computed with mbedTLS. The caller (pop3::Login) has already
 * checked that the timestamp is well formed.
 *
 * @param timestamp the greeting's timestamp, angle brackets included
 *        ("<1896.697170952@dbc.mtview.ca.us>")
 * @param password the shared secret
 * @return the digest as 32 lower-case hex digits
 */
std::string ApopDigest(std::string_view timestamp, std::string_view password);

} // namespace popstream::auth
