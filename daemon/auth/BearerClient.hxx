#pragma once

#include "core/pop3/Auth.hxx"

#include <memory>
#include <string>
#include <string_view>

namespace popstream::auth {

/** The two bearer-token formats, which GNU SASL 2.2 lacks (XOAUTH2) or which we write
 * ourselves so that both behave the same (OAUTHBEARER). */
enum class BearerFormat {
	/** Google's and Microsoft's XOAUTH2:
	 * "user=USER\x01auth=Bearer TOKEN\x01\x01". */
	Xoauth2,
	/** RFC 7628 §3.1: "n,a=USER,\x01[host=HOST\x01][port=PORT\x01]auth=Bearer
	 * TOKEN\x01\x01", the authzid escaped as RFC 5801 §4 says. */
	Oauthbearer,
};

/**
 * Builds the initial client response (RFC 7628 §3.1 for OAUTHBEARER).
 * @param format XOAUTH2 or OAUTHBEARER
 * @param params user and access token (secret); host and port go into OAUTHBEARER
 *        only when non-empty / non-zero
 * @return the raw response octets (not base64); it holds the token
 */
std::string BearerInitialResponse(BearerFormat format, const pop3::SaslParams &params);

/**
 * Summarises the server's error challenge (RFC 7628 §3.2.2: a JSON object with
 * "status", "scope" and "schemes") on one printable line, e.g. `status "401",
 * scope "https://outlook.office.com/POP.AccessAsUser.All", schemes "Bearer"`. A
 * challenge that is not such an object is shown escaped, cut at about 200 octets.
 * @param challenge the decoded challenge, untrusted
 * @return one line of printable ASCII, never empty
 */
std::string SummariseBearerError(std::string_view challenge);

/**
 * Starts a bearer-token client. Complete() is true from the initial response on: the
 * server proves nothing back, and +OK is its only answer. A challenge after it is
 * the server's JSON error; Diagnostic() then holds its summary, and the answer is
 * empty (XOAUTH2) or the single octet 0x01 (OAUTHBEARER, RFC 7628 §3.2.3) so that
 * the server ends the exchange with -ERR.
 * @param format XOAUTH2 or OAUTHBEARER
 * @param params user and token: the token non-empty printable ASCII without spaces
 *        (a superset of RFC 6750 §2.1's b64token), the user (non-empty for XOAUTH2)
 *        and host free of control characters, which would break the 0x01 framing
 * @param error set to one line, naming the mechanism and no secret, on failure
 * @return the client, or nullptr if @p params cannot be framed
 */
std::unique_ptr<pop3::SaslClient>
MakeBearerClient(BearerFormat format, const pop3::SaslParams &params, std::string &error);

} // namespace popstream::auth
