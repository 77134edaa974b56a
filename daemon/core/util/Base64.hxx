#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace popstream {

/**
 * @param octets any bytes
 * @return their base64 form (RFC 4648 §4), padded with '=', no line breaks
 */
std::string Base64Encode(std::string_view octets);

/**
 * Decodes base64 strictly (RFC 4648 §4, §3.3): the standard alphabet only, a length
 * that is a multiple of 4, '=' only as the last one or two characters, and padding bits
 * that are zero, so that one text has one meaning. SASL challenges (RFC 5034 §4) must
 * be decoded this way: anything looser lets a server smuggle bytes past what a log
 * shows.
 * @param text the encoded form, without line end; empty decodes to empty
 * @return the octets, or nothing if @p text is not canonical base64
 */
std::optional<std::string> Base64Decode(std::string_view text);

} // namespace popstream
