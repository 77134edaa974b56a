#include "SecretSources.hxx"
#include "core/util/Escape.hxx"
#include "secret/Goa.hxx"
#include "secret/SecretService.hxx"

namespace popstream {

namespace {

std::string AccountPrefix(const config::Account &account)
{
	return "account \"" + Escape(account.name, 100) + "\": ";
}

/** `a=b c=d`, as secret-tool takes them; attributes are no secret (they are stored in
 * the clear to be searched). */
std::string DescribeAttributes(const secret::Attributes &attributes)
{
	std::string text;
	for (const auto &[name, value] : attributes)
		text += (text.empty() ? "" : " ") + Escape(name, 100) + "=" +
			Escape(value, 100);
	return text;
}

/** `a b c d`: the attributes as secret-tool's arguments, which take each name and
 * value as a word of its own (`a=b` would be one attribute named "a=b"). */
std::string SecretToolArguments(const secret::Attributes &attributes)
{
	std::string text;
	for (const auto &[name, value] : attributes)
		text += (text.empty() ? "" : " ") + ShellWord(Escape(name, 100)) + " " +
			ShellWord(Escape(value, 100));
	return text;
}

} // namespace

PasswordLookup SecretServicePassword(const config::Account &account)
{
	secret::Attributes attributes(account.password_secret.begin(),
				      account.password_secret.end());
	return [attributes = std::move(attributes), prefix = AccountPrefix(account)] {
		std::optional<std::string> password;
		try {
			password = secret::LookupSecret(attributes);
		} catch (const secret::SecretError &e) {
			throw CredentialError(ExitCode::Config, prefix + e.what());
		}
		if (!password)
			throw CredentialError(
			    ExitCode::Config,
			    prefix + "no password in the Secret Service with " +
				DescribeAttributes(attributes) +
				" (store one with: secret-tool store --label=mail " +
				SecretToolArguments(attributes) + ")",
			    true);
		// It goes into `PASS password\r\n` or a SASL response.
		if (password->empty() || password->find_first_of(std::string_view(
					     "\r\n\0", 3)) != std::string::npos)
			throw CredentialError(
			    ExitCode::Config,
			    prefix + "the Secret Service password with " +
				DescribeAttributes(attributes) +
				" is empty or holds a line break or NUL");
		return std::move(*password);
	};
}

PasswordLookup GoaToken(const config::Account &account)
{
	return [id = account.oauth->goa_account, prefix = AccountPrefix(account)] {
		try {
			auto token = secret::GoaAccessToken(id);
			if (token.access_token.empty() ||
			    token.access_token.find_first_of(
				std::string_view("\r\n\0", 3)) != std::string::npos)
				throw CredentialError(ExitCode::Protocol,
						      prefix +
							  "GNOME Online Accounts gave an "
							  "empty or malformed token");
			return std::move(token.access_token);
		} catch (const secret::GoaError &e) {
			using Kind = secret::GoaError::Kind;
			const auto code = e.kind == Kind::NeedsAttention
					      ? ExitCode::NoPerm
					  : e.kind == Kind::NoService ? ExitCode::TempFail
								      : ExitCode::Config;
			throw CredentialError(code, prefix + e.what());
		}
	};
}

} // namespace popstream
