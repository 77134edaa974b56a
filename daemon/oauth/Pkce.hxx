#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace popstream::oauth {

/**
 * @param octets any bytes
 * @return their base64url form without padding (RFC 4648 §5; RFC 7636 Appendix A)
 */
std::string Base64Url(std::string_view octets);

/**
 * @param octets how many random bytes (getrandom(2), the kernel's CSPRNG)
 * @return them, base64url-encoded without padding: 43 characters for 32 bytes
 * @throws std::system_error if the kernel has no randomness to give
 */
std::string RandomToken(std::size_t octets);

/**
 * A PKCE code verifier (RFC 7636 §4.1): 32 random bytes base64url-encoded, 43
 * characters of the unreserved set, the length and entropy §7.1 recommends.
 */
std::string MakeCodeVerifier();

/**
 * The S256 code challenge (RFC 7636 §4.2): BASE64URL(SHA-256(ASCII(verifier))).
 *
 * @param verifier a code verifier
 * @return 43 characters
 */
std::string S256Challenge(std::string_view verifier);

} // namespace popstream::oauth
