#include "FakeAuth.hxx"

#include <algorithm>

namespace popstream::test {

using pop3::AuthMethod;
using pop3::SaslStep;

namespace {

class FakeClient : public pop3::SaslClient {
public:
	FakeClient(AuthMethod method, pop3::SaslParams params)
	    : method_(method), params_(std::move(params))
	{
	}

	std::optional<SaslStep> Start() override
	{
		const std::string &u = params_.user, &s = params_.secret;
		switch (method_) {
		case AuthMethod::Plain:
			complete_ = true;
			return SaslStep{true, std::string(1, '\0') + u + '\0' + s, {}};
		case AuthMethod::External:
			complete_ = true;
			return SaslStep{true, "", {}};
		case AuthMethod::Xoauth2:
			complete_ = true;
			return SaslStep{
			    true, "user=" + u + "\1auth=Bearer " + s + "\1\1", {}};
		case AuthMethod::Oauthbearer:
			complete_ = true;
			return SaslStep{
			    true, "n,a=" + u + ",\1auth=Bearer " + s + "\1\1", {}};
		case AuthMethod::ScramSha1:
		case AuthMethod::ScramSha256:
			return SaslStep{true, "n,,n=" + u, {}};
		default:
			return std::nullopt;
		}
	}

	SaslStep Step(std::string_view challenge) override
	{
		switch (method_) {
		case AuthMethod::Login:
			complete_ = step_ == 1;
			return {true, step_++ == 0 ? params_.user : params_.secret, {}};
		case AuthMethod::CramMd5: {
			std::string reversed(challenge.rbegin(), challenge.rend());
			complete_ = true;
			return {true, params_.user + " " + reversed, {}};
		}
		case AuthMethod::ScramSha1:
		case AuthMethod::ScramSha256:
			if (challenge == "v=bad")
				return {
				    false, {}, "the server's signature does not match"};
			if (challenge.starts_with("v=")) {
				complete_ = true;
				return {true, "", {}};
			}
			return {true, "c=proof", {}};
		case AuthMethod::Xoauth2:
			diagnostic_ = std::string(challenge);
			return {true, "", {}};
		case AuthMethod::Oauthbearer:
			diagnostic_ = std::string(challenge);
			return {true, "\1", {}};
		default:
			return {false, {}, "unexpected challenge"};
		}
	}

	bool Complete() const override { return complete_; }
	std::string Diagnostic() const override { return diagnostic_; }

private:
	AuthMethod method_;
	pop3::SaslParams params_;
	int step_ = 0;
	bool complete_ = false;
	std::string diagnostic_;
};

} // namespace

bool FakeAuthProvider::HasSasl(AuthMethod method) const noexcept
{
	return !pop3::SaslMechanismName(method).empty();
}

std::unique_ptr<pop3::SaslClient> FakeAuthProvider::Sasl(AuthMethod method,
							 const pop3::SaslParams &params,
							 std::string &) const
{
	return std::make_unique<FakeClient>(method, params);
}

std::string FakeAuthProvider::ApopDigest(std::string_view timestamp,
					 std::string_view password) const
{
	return "md5(" + std::string(timestamp.substr(1, timestamp.size() - 2)) + "+" +
	       std::to_string(password.size()) + ")";
}

std::shared_ptr<const pop3::AuthProvider> MakeFakeAuth()
{
	return std::make_shared<FakeAuthProvider>();
}

} // namespace popstream::test
