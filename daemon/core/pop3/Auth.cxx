#include "Auth.hxx"

#include "core/util/Ascii.hxx"

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

} // namespace

std::string_view AuthMethodName(AuthMethod method) noexcept
{
	return Find(method).name;
}

std::optional<AuthMethod> ParseAuthMethod(std::string_view name) noexcept
{
	for (const auto &entry : METHODS)
		if (EqualsNoCase(entry.name, name))
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
