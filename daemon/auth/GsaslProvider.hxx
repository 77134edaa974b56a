#pragma once

#include "core/pop3/Auth.hxx"

#include <memory>
#include <string>

struct Gsasl;

namespace popstream::auth {

/**
 * The AuthProvider of popstream: PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195), SCRAM-SHA-1 (RFC 5802),
 * SCRAM-SHA-256 (RFC 7677) and EXTERNAL (RFC 4422 Appendix A) from GNU SASL's client
 * side; XOAUTH2 and OAUTHBEARER (RFC 7628) from BearerClient; the APOP digest
 * (RFC 1939 §7) from mbedTLS.
 *
 * The GNU SASL context is made once, in the constructor, and only read afterwards,
 * so one provider serves every session of a fetch. Each client sets the user and
 * password as session properties before the first step (no callback), wipes the
 * password and SCRAM's salted password from GNU SASL's memory as soon as the
 * mechanism has used them, and wipes every output buffer before freeing it.
 */
class GsaslProvider final : public pop3::AuthProvider {
	Gsasl *ctx = nullptr;
	/** Why gsasl_init() failed (one line), or empty. */
	std::string init_error;

public:
	/** Initialises GNU SASL; if that fails, only XOAUTH2, OAUTHBEARER and APOP are
	 * available, and Sasl() says why for the others. Never throws for that. */
	GsaslProvider() noexcept;
	~GsaslProvider() override;

	GsaslProvider(const GsaslProvider &) = delete;
	GsaslProvider &operator=(const GsaslProvider &) = delete;

	/** @return true for XOAUTH2 and OAUTHBEARER, and for each GNU SASL mechanism
	 *          that gsasl_client_support_p() reports at run time */
	bool HasSasl(pop3::AuthMethod method) const noexcept override;

	/**
	 * Starts the client of @p method's mechanism.
	 * @param method a method with a SASL mechanism name
	 * @param params the credentials; user and secret must hold no NUL (GNU SASL
	 *        takes C strings)
	 * @param error one line naming the mechanism and no secret, on failure
	 * @return the client; Start() returns nothing for LOGIN and CRAM-MD5, which wait
	 *         for the server's first challenge. SCRAM clients are Complete() only
	 *         after the server's final message carried the right signature
	 *         (RFC 5802 §3, "v=")
	 */
	std::unique_ptr<pop3::SaslClient> Sasl(pop3::AuthMethod method,
					       const pop3::SaslParams &params,
					       std::string &error) const override;

	/** @return MD5(timestamp + password) as 32 lower-case hex digits (RFC 1939 §7) */
	std::string ApopDigest(std::string_view timestamp,
			       std::string_view password) const override;
};

/**
 * Makes the provider the cli and service layers hand to pop3::SessionConfig
 * (auth_provider): a GsaslProvider. One per process is enough.
 * @return the provider, never null
 */
std::shared_ptr<const pop3::AuthProvider> MakeAuthProvider();

} // namespace popstream::auth
