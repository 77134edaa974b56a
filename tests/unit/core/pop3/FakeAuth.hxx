#pragma once

// A deterministic AuthProvider for the core's tests, so that a transcript shows the
// exact bytes of a SASL exchange. Its mechanisms frame the real formats where they are
// plain text (PLAIN, LOGIN, XOAUTH2) and stand in for the crypto elsewhere: the real
// ones are daemon/auth/'s, tested in tests/unit/auth.

#include "core/pop3/Auth.hxx"

#include <memory>
#include <string>

namespace popstream::test {

/**
 * Mechanisms: PLAIN ("\0user\0secret"), LOGIN (user, then secret, one per challenge),
 * CRAM-MD5 ("user <challenge reversed>"), SCRAM-SHA-256 and SCRAM-SHA-1 (initial
 * "n,,n=user", then "c=proof" for any challenge except "v=..." which completes it,
 * or "v=bad" which fails it), EXTERNAL (empty initial response), XOAUTH2
 * ("user=U\1auth=Bearer T\1\1"; a later challenge is an error to keep, answered
 * empty) and OAUTHBEARER ("n,a=U,\1auth=Bearer T\1\1"; a later challenge answered
 * "\1"). APOP digest: "apop(" + timestamp + ")" hex-free but recognisable.
 */
class FakeAuthProvider : public pop3::AuthProvider {
public:
	bool HasSasl(pop3::AuthMethod method) const noexcept override;
	std::unique_ptr<pop3::SaslClient> Sasl(pop3::AuthMethod method,
					       const pop3::SaslParams &params,
					       std::string &error) const override;
	std::string ApopDigest(std::string_view timestamp,
			       std::string_view password) const override;
};

/** @return a FakeAuthProvider to share */
std::shared_ptr<const pop3::AuthProvider> MakeFakeAuth();

} // namespace popstream::test
