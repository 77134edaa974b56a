#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace popstream::pop3 {

/**
 * How a session logs in (`dl --auth`, `auth:` in popstream.yaml(5)). USER/PASS is
 * RFC 1939 §7, APOP RFC 1939 §7 (the greeting's timestamp), the rest are SASL
 * mechanisms sent with AUTH (RFC 5034).
 */
enum class AuthMethod {
	/** The strongest method the server offers that the credentials allow (see
	 * Login). */
	Auto,
	/** USER and PASS: the password in the clear (RFC 1939 §7). */
	User,
	/** APOP: an MD5 digest of the greeting's timestamp and the password. */
	Apop,
	/** SASL PLAIN (RFC 4616): the password in the clear. */
	Plain,
	/** SASL LOGIN (draft-murchison-sasl-login): the password in the clear. */
	Login,
	/** SASL CRAM-MD5 (RFC 2195). */
	CramMd5,
	/** SASL SCRAM-SHA-1 (RFC 5802): neither side learns the other's secret. */
	ScramSha1,
	/** SASL SCRAM-SHA-256 (RFC 7677). */
	ScramSha256,
	/** SASL EXTERNAL (RFC 4422 Appendix A): the TLS client certificate. */
	External,
	/** SASL XOAUTH2 (Google's and Microsoft's bearer-token format). */
	Xoauth2,
	/** SASL OAUTHBEARER (RFC 7628). */
	Oauthbearer,
};

/**
 * @return the method's name on the command line and in the config file: "auto",
 *         "user", "apop", "plain", "login", "cram-md5", "scram-sha-1",
 *         "scram-sha-256", "external", "xoauth2" or "oauthbearer"
 */
std::string_view AuthMethodName(AuthMethod method) noexcept;

/**
 * @param name one of the names AuthMethodName() returns, ASCII case-insensitive
 * @return the method, or nothing if @p name is none of them
 */
std::optional<AuthMethod> ParseAuthMethod(std::string_view name) noexcept;

/** @return every name ParseAuthMethod() accepts, "|"-separated, for messages */
std::string_view AuthMethodNames() noexcept;

/**
 * @return the SASL mechanism name of @p method as CAPA lists it and AUTH takes it
 *         ("SCRAM-SHA-256"), or empty for Auto, User and Apop
 */
std::string_view SaslMechanismName(AuthMethod method) noexcept;

/** @return whether @p method sends the secret itself where anyone on the path can read
 *          it unless the link is encrypted: User, Plain, Login, Xoauth2 and
 *          Oauthbearer (a bearer token is as good as a password) */
bool RevealsSecret(AuthMethod method) noexcept;

/** @return whether @p method logs in with an OAuth 2.0 access token (Xoauth2,
 *          Oauthbearer) rather than a password */
bool UsesToken(AuthMethod method) noexcept;

/** What a SASL client mechanism needs to know; the adapter's factory gets it. */
struct SaslParams {
	/** The authentication identity: the POP3 user. */
	std::string user;
	/** The password (password mechanisms) or the access token (Xoauth2,
	 * Oauthbearer); empty for External. */
	std::string secret;
	/** The server's host name and port, for OAUTHBEARER's optional "host" and
	 * "port" keys (RFC 7628 §3.1); may be empty / 0. */
	std::string host;
	unsigned port = 0;
};

/** What a SASL client mechanism answered. */
struct SaslStep {
	/** false: the mechanism cannot go on (a challenge it cannot parse, a server
	 * that failed to prove itself in SCRAM); the login sends "*" (RFC 5034 §4)
	 * and fails with #error. */
	bool ok = true;
	/** The response to send, as raw octets (the login base64-encodes it). */
	std::string response;
	/** With ok = false: why, in one line that holds no secret. */
	std::string error;
};

/**
 * The client side of one SASL mechanism for one login (RFC 4422 §3), supplied by the
 * adapter (daemon/auth/), so that the core holds no crypto. It sees and returns raw
 * octets; the login frames them as RFC 5034 §4 requires (base64, "+ " continuations,
 * the 255-octet rule for an initial response).
 */
class SaslClient {
public:
	virtual ~SaslClient() = default;

	/**
	 * @return the initial response (RFC 4422 §3.3; may be empty), or nothing for a
	 *         mechanism that waits for the server's first challenge (LOGIN,
	 *         CRAM-MD5); with ok = false the login ends before AUTH is sent
	 */
	virtual std::optional<SaslStep> Start() = 0;

	/**
	 * @param challenge one server challenge, base64-decoded (may be empty)
	 * @return the response, or ok = false to cancel
	 */
	virtual SaslStep Step(std::string_view challenge) = 0;

	/**
	 * @return whether the exchange may end in success now: false while a
	 *         mechanism with mutual authentication (SCRAM) has not checked the
	 *         server's proof, so that +OK from a server that did not prove itself
	 *         fails the login
	 */
	virtual bool Complete() const = 0;

	/**
	 * @return what the mechanism learnt about a failure from the last challenge
	 *         (XOAUTH2's and OAUTHBEARER's JSON error, RFC 7628 §3.2.2), as one
	 *         printable line, or empty
	 */
	virtual std::string Diagnostic() const { return {}; }
};

/**
 * The crypto and mechanism code that the login needs and the core does not hold,
 * supplied by the adapter (daemon/auth/: GNU SASL, mbedTLS). Shared by every session
 * of a fetch; const and thread-compatible.
 */
class AuthProvider {
public:
	virtual ~AuthProvider() = default;

	/** @return whether Sasl() can run @p method's SASL mechanism */
	virtual bool HasSasl(AuthMethod method) const noexcept = 0;

	/**
	 * Starts a SASL client.
	 * @param method a method with a SaslMechanismName()
	 * @return the client, or nullptr with @p error set (one line, no secret) if it
	 *         cannot be started
	 */
	virtual std::unique_ptr<SaslClient>
	Sasl(AuthMethod method, const SaslParams &params, std::string &error) const = 0;

	/**
	 * The APOP digest (RFC 1939 §7).
	 * @param timestamp the greeting's timestamp, angle brackets included
	 * @param password the shared secret
	 * @return MD5(timestamp + password) as 32 lower-case hex digits
	 */
	virtual std::string ApopDigest(std::string_view timestamp,
				       std::string_view password) const = 0;
};

} // namespace popstream::pop3
