#pragma once

#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::fetch {

struct FetchOptions;

/**
 * The header fields popstream.yaml(5) `received_header` and `account_header` put at
 * the top of each message, both off by default so that what is stored is byte for
 * byte what the server sent.
 *
 * @param from the POP3 server's host name
 * @param by this machine's host name
 * @param user the login name on the server
 * @param account the account's name, for @p account_field
 * @param received add a trace field (RFC 5321 §4.4, RFC 5322 §3.6.7):
 *        `Received: from FROM by BY with POP3 (popstream)`, folded, then
 *        `for <USER>; DATE` (local time, RFC 5322 §3.3), as mpop and fetchmail
 *        write one
 * @param account_field empty, or a field name (RFC 5322 §2.2: printable ASCII but
 *        `:`) whose value is @p account
 * @param when the time of the download, in seconds since the epoch
 * @return the lines, each ending in LF (messages are stored with LF line ends);
 *         empty when neither is wanted. A byte outside printable ASCII in a name
 *         becomes `?`, so that a value can never start another field.
 */
std::string FormatAddedHeaders(std::string_view from, std::string_view by,
			       std::string_view user, std::string_view account,
			       bool received, std::string_view account_field,
			       std::time_t when);

/** @return a function giving FormatAddedHeaders() for @p options at the time it is
 *          called, with gethostname(2) (looked up now) as the receiving host; an
 *          empty function when @p options want neither field */
std::function<std::string()> AddedHeadersFor(const FetchOptions &options);

/** @return the names of the fields AddedHeaders() may add for @p options, and
 *          `Received` always (an earlier run may have added one) */
std::vector<std::string> AddedHeaderNames(const FetchOptions &options);

} // namespace popstream::fetch
