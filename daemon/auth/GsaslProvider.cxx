#include "GsaslProvider.hxx"

#include "Apop.hxx"
#include "BearerClient.hxx"
#include "core/util/Escape.hxx"

#include <gsasl.h>

#include <string.h>

namespace popstream::auth {

namespace {

using pop3::AuthMethod;
using pop3::SaslStep;

/** How much of a SCRAM server error ("e=...", RFC 5802 §7) the message shows. */
constexpr std::size_t MAX_SHOWN_SERVER_ERROR = 100;

/** What differs between the GNU SASL mechanisms we drive. */
struct MechanismTraits {
	/** Sends an initial response (RFC 4422 §3.3): PLAIN, SCRAM, EXTERNAL. LOGIN and
	 * CRAM-MD5 wait for the server's first challenge. */
	bool initial_response;
	/** How many calls of gsasl_step() read the password; after them it is wiped. */
	unsigned password_steps;
	/** SCRAM: which step reads the server's final message, for the message. */
	bool scram;
};

MechanismTraits Traits(AuthMethod method) noexcept
{
	switch (method) {
	case AuthMethod::Plain:
		return {true, 1, false};
	case AuthMethod::Login:
		// Step 1 answers "Username:", step 2 "Password:".
		return {false, 2, false};
	case AuthMethod::CramMd5:
		return {false, 1, false};
	case AuthMethod::ScramSha1:
	case AuthMethod::ScramSha256:
		// Step 1 is client-first; step 2 computes the proof (and the server
		// signature it keeps) from the password.
		return {true, 2, true};
	case AuthMethod::External:
		return {true, 0, false};
	default:
		return {false, 0, false};
	}
}

bool IsGsaslMethod(AuthMethod method) noexcept
{
	switch (method) {
	case AuthMethod::Plain:
	case AuthMethod::Login:
	case AuthMethod::CramMd5:
	case AuthMethod::ScramSha1:
	case AuthMethod::ScramSha256:
	case AuthMethod::External:
		return true;
	default:
		return false;
	}
}

/** Overwrites and drops a session property: gsasl_property_free() only frees. */
void WipeProperty(Gsasl_session *session, Gsasl_property property) noexcept
{
	// gsasl_property_fast() never calls a callback; the string is GNU SASL's own
	// malloc'd copy, so writing over it before it is freed is safe.
	if (const char *value = gsasl_property_fast(session, property))
		explicit_bzero(const_cast<char *>(value), strlen(value));
	gsasl_property_free(session, property);
}

/** One login's GNU SASL client session. */
class GsaslClient final : public pop3::SaslClient {
	Gsasl_session *session;
	const std::string name;
	const MechanismTraits traits;
	/** Calls of gsasl_step() that succeeded. */
	unsigned steps = 0;
	bool complete = false;
	bool failed = false;
	bool secrets_wiped = false;

public:
	GsaslClient(Gsasl_session *_session, std::string_view _name,
		    MechanismTraits _traits) noexcept
	    : session(_session), name(_name), traits(_traits)
	{
	}

	~GsaslClient() override
	{
		WipeSecrets();
		gsasl_finish(session);
	}

	GsaslClient(const GsaslClient &) = delete;
	GsaslClient &operator=(const GsaslClient &) = delete;

	std::optional<SaslStep> Start() override
	{
		if (!traits.initial_response)
			return std::nullopt;
		return Run({});
	}

	SaslStep Step(std::string_view challenge) override
	{
		if (failed)
			return Fail("the exchange has already failed");
		if (complete)
			return Fail("the server sent a challenge after the exchange was "
				    "complete");
		// GNU SASL reads some challenges as C strings; a NUL would cut them.
		if (challenge.find('\0') != std::string_view::npos)
			return Fail("the server's challenge holds a NUL octet");
		// RFC 5802 §7: server-error, in place of the server's signature.
		if (traits.scram && challenge.starts_with("e="))
			return Fail("the server refused the login: " +
				    Escape(challenge.substr(2), MAX_SHOWN_SERVER_ERROR));
		return Run(challenge);
	}

	bool Complete() const override { return complete && !failed; }

private:
	SaslStep Run(std::string_view input)
	{
		char *output = nullptr;
		std::size_t output_length = 0;
		const int rc = gsasl_step(session, input.data(), input.size(), &output,
					  &output_length);
		SaslStep step;
		if (output != nullptr) {
			if (rc == GSASL_OK || rc == GSASL_NEEDS_MORE)
				step.response.assign(output, output_length);
			// PLAIN's and LOGIN's outputs are the password itself.
			explicit_bzero(output, output_length);
			gsasl_free(output);
		}
		if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE)
			return Fail(Describe(rc));
		++steps;
		complete = rc == GSASL_OK;
		if (complete || steps >= traits.password_steps)
			WipeSecrets();
		return step;
	}

	/** @return why @p rc ended the exchange, in one line without a secret */
	std::string Describe(int rc) const
	{
		switch (rc) {
		case GSASL_AUTHENTICATION_ERROR:
			if (traits.scram && steps == 1)
				return "the server's nonce does not begin with ours "
				       "(RFC 5802 §5.1)";
			if (traits.scram && steps >= 2)
				return "the server's signature does not match: it may "
				       "not "
				       "know the password";
			break;
		case GSASL_MECHANISM_PARSE_ERROR:
			if (traits.scram && steps == 1)
				return "the server's first message is malformed "
				       "(RFC 5802 §7)";
			if (traits.scram && steps >= 2)
				return "the server's final message is malformed "
				       "(RFC 5802 §7)";
			return "the server's challenge is malformed";
		case GSASL_SASLPREP_ERROR:
			return "the user name or password cannot be prepared with "
			       "SASLprep (RFC 4013)";
		case GSASL_MECHANISM_CALLED_TOO_MANY_TIMES:
			return "the server sent more challenges than the mechanism has "
			       "steps";
		case GSASL_NO_PASSWORD:
			return "no password";
		case GSASL_NO_AUTHID:
			return "no user name";
		default:
			break;
		}
		// GNU SASL's texts are fixed strings: they cannot hold the secret.
		return std::string(gsasl_strerror(rc)) + " (" + gsasl_strerror_name(rc) +
		       ")";
	}

	SaslStep Fail(const std::string &why)
	{
		failed = true;
		WipeSecrets();
		SaslStep step;
		step.ok = false;
		step.error = name + ": " + why;
		return step;
	}

	void WipeSecrets() noexcept
	{
		if (secrets_wiped)
			return;
		secrets_wiped = true;
		WipeProperty(session, GSASL_PASSWORD);
		// A password equivalent for this salt and iteration count.
		WipeProperty(session, GSASL_SCRAM_SALTED_PASSWORD);
	}
};

} // namespace

GsaslProvider::GsaslProvider() noexcept
{
	const int rc = gsasl_init(&ctx);
	if (rc != GSASL_OK) {
		ctx = nullptr;
		init_error =
		    std::string("GNU SASL could not start: ") + gsasl_strerror(rc);
	}
}

GsaslProvider::~GsaslProvider()
{
	if (ctx != nullptr)
		gsasl_done(ctx);
}

bool GsaslProvider::HasSasl(AuthMethod method) const noexcept
{
	if (method == AuthMethod::Xoauth2 || method == AuthMethod::Oauthbearer)
		return true;
	if (ctx == nullptr || !IsGsaslMethod(method))
		return false;
	const std::string mechanism(pop3::SaslMechanismName(method));
	return gsasl_client_support_p(ctx, mechanism.c_str()) != 0;
}

std::unique_ptr<pop3::SaslClient> GsaslProvider::Sasl(AuthMethod method,
						      const pop3::SaslParams &params,
						      std::string &error) const
{
	if (method == AuthMethod::Xoauth2)
		return MakeBearerClient(BearerFormat::Xoauth2, params, error);
	if (method == AuthMethod::Oauthbearer)
		return MakeBearerClient(BearerFormat::Oauthbearer, params, error);

	const std::string mechanism(pop3::SaslMechanismName(method));
	if (!IsGsaslMethod(method)) {
		error = "login method " + std::string(pop3::AuthMethodName(method)) +
			" is not a SASL mechanism";
		return nullptr;
	}
	if (ctx == nullptr) {
		error = mechanism + ": " + init_error;
		return nullptr;
	}
	if (!HasSasl(method)) {
		error = mechanism + ": this build of GNU SASL does not support it";
		return nullptr;
	}
	if (params.user.find('\0') != std::string::npos ||
	    params.secret.find('\0') != std::string::npos) {
		error = mechanism + ": the user name or password holds a NUL octet";
		return nullptr;
	}

	Gsasl_session *session = nullptr;
	const int rc = gsasl_client_start(ctx, mechanism.c_str(), &session);
	if (rc != GSASL_OK) {
		error = mechanism + ": " + gsasl_strerror(rc);
		return nullptr;
	}
	// Everything the mechanisms ask for is set here, so that no callback is
	// needed. GSASL_AUTHZID stays unset: SCRAM then sends the gs2 header "n,,"
	// (RFC 5802 §7), and PLAIN an empty authzid (RFC 4616 §2). The client nonce
	// comes from GNU SASL's own random source.
	// The client owns the session from here on, and wipes what was set even if
	// setting the rest fails.
	auto client = std::make_unique<GsaslClient>(session, mechanism, Traits(method));
	if (method != AuthMethod::External) {
		if (gsasl_property_set(session, GSASL_AUTHID, params.user.c_str()) !=
			GSASL_OK ||
		    gsasl_property_set(session, GSASL_PASSWORD, params.secret.c_str()) !=
			GSASL_OK) {
			error = mechanism + ": out of memory";
			return nullptr;
		}
	}
	return client;
}

std::string GsaslProvider::ApopDigest(std::string_view timestamp,
				      std::string_view password) const
{
	return auth::ApopDigest(timestamp, password);
}

std::shared_ptr<const pop3::AuthProvider> MakeAuthProvider()
{
	return std::make_shared<const GsaslProvider>();
}

} // namespace popstream::auth
