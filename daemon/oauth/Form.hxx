#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace popstream::oauth {

/** Name-value pairs in order: a request body or a URL's query. */
using Form = std::vector<std::pair<std::string, std::string>>;

/**
 * Percent-encodes for `application/x-www-form-urlencoded` (RFC 6749 Appendix B, the
 * HTML form rules): the unreserved characters ALPHA DIGIT "-" "." "_" "~" stay, a space
 * becomes "+", every other byte "%XX" (upper-case hex).
 *
 * @param text any bytes
 * @return the encoded text
 */
std::string FormEscape(std::string_view text);

/**
 * @param form the pairs
 * @return "name=value&name=value", each part FormEscape()d
 */
std::string EncodeForm(const Form &form);

/**
 * Decodes a URL query or form body: splits at "&", then at the first "=", turns "+"
 * into a space and "%XX" into its byte. Empty parts are skipped.
 *
 * @param query without the leading "?"
 * @return the pairs in order, or nothing if a "%" is not followed by two hex digits
 */
std::optional<Form> DecodeForm(std::string_view query);

/**
 * @return the value of the first pair named @p name, or nothing
 */
std::optional<std::string> FindField(const Form &form, std::string_view name);

/**
 * The query of a URL or of an HTTP request target: what follows the first "?" up to a
 * "#" or the end. A bare query (no "?", as "code=...&state=...") is taken whole.
 *
 * @param url "http://127.0.0.1:PORT/?code=..&state=..", "/?code=..", or "code=.."
 * @return the query without "?" (maybe empty)
 */
std::string_view QueryOf(std::string_view url) noexcept;

} // namespace popstream::oauth
