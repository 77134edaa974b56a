#pragma once

#include <string>
#include <string_view>

namespace popstream::oauth {

/**
 * Draws @p text as a QR code (libqrencode, error correction level L, 8-bit mode) for a
 * terminal: two module rows per text line with the half blocks U+2580 "▀", U+2584
 * "▄", U+2588 "█" and spaces, plus a quiet zone of 2 modules. Light modules are the
 * drawn ones, so that the code reads on the usual light-on-dark terminal, as
 * `qrencode -t UTF8` does.
 *
 * @param text what to encode (a URL); at most a few hundred bytes
 * @return UTF-8 lines, each ending in "\n"; empty if @p text cannot be encoded
 *         (too long)
 */
std::string RenderQr(std::string_view text);

} // namespace popstream::oauth
