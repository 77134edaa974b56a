#include "Auth.hxx"

#include <array>

namespace popstream::pop3 {

namespace {

struct MethodName {
	AuthMethod method;
	std::string_view name;
	std::string_view sasl;
};

constexpr std::array<MethodName, 11> METHODS{{
    {AuthMethod::Auto, "auto", ""},
    {AuthMethod::User, "user", ""},
    {AuthMethod::Apop, "apop", ""},
    {AuthMethod::Plain, "plain", "PLAIN"},
    {AuthMethod::Login, "login", "LOGIN"},
    {AuthMethod::CramMd5, "cram-md5", "CRAM-MD5"},
    {AuthMethod::ScramSha1, "scram-sha-1", "SCRAM-SHA-1"},
    {AuthMethod::ScramSha256, "scram-sha-256", "SCRAM-SHA-256"},
    {AuthMethod::External, "external", "EXTERNAL"},
    {AuthMethod::Xoauth2, "xoauth2", "XOAUTH2"},
    {AuthMethod::Oauthbearer, "oauthbearer", "OAUTHBEARER"},
}};

const MethodName &Find(AuthMethod method) noexcept
{
	for (const auto &entry : METHODS)
		if (entry.method == method)
			return entry;
	return METHODS[0];
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) noexcept
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = static_cast<char>(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = static_cast<char>(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

} // namespace

std::string_view AuthMethodName(AuthMethod method) noexcept
{
	return Find(method).name;
}

std::optional<AuthMethod> ParseAuthMethod(std::string_view name) noexcept
{
	for (const auto &entry : METHODS)
		if (EqualsIgnoreCase(entry.name, name))
			return entry.method;
	return std::nullopt;
}

std::string_view AuthMethodNames() noexcept
{
	return "auto|user|apop|plain|login|cram-md5|scram-sha-1|scram-sha-256|external|"
	       "xoauth2|oauthbearer";
}

std::string_view SaslMechanismName(AuthMethod method) noexcept
{
	return Find(method).sasl;
}

bool RevealsSecret(AuthMethod method) noexcept
{
	return method == AuthMethod::User || method == AuthMethod::Plain ||
	       method == AuthMethod::Login || UsesToken(method);
}

bool UsesToken(AuthMethod method) noexcept
{
	return method == AuthMethod::Xoauth2 || method == AuthMethod::Oauthbearer;
}

} // namespace popstream::pop3
