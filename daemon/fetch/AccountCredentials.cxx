#include "AccountCredentials.hxx"
#include "PasswordCommand.hxx"
#include "SecretSources.hxx"
#include "core/util/Escape.hxx"

namespace popstream {

namespace {

/** The parsed form of the explicit connection keys. */
ConnectionSpec ExplicitConnection(const config::Account &account)
{
	ConnectionSpec connection;
	// STLS starts in cleartext, so its default port and its netrc machine
	// (`user@host:110`) are those of a cleartext connection.
	connection.tls = account.tls == config::TlsMode::Implicit;
	connection.starttls = account.tls == config::TlsMode::StartTls;
	connection.explicit_scheme = true;
	connection.host = account.host;
	connection.sni = account.sni;
	connection.user = account.user;
	if (account.port != 0)
		connection.port = account.port;
	return connection;
}

/**
 * Resolves the connection and the user, and with @p need_password the netrc password.
 */
Credentials Resolve(const config::Account &account, const CredentialOptions &options,
		    bool need_password)
{
	CredentialOptions netrc_options = options;
	netrc_options.need_password = need_password;
	if (!account.server.empty())
		return ResolveCredentials(account.server, netrc_options);
	auto result = ResolveCredentials(ExplicitConnection(account), netrc_options);
	result.starttls = account.tls == config::TlsMode::StartTls;
	return result;
}

std::string AccountPrefix(const config::Account &account)
{
	return "account \"" + Escape(account.name, 100) + "\": ";
}

/** Sets PendingCredentials::token from `oauth_token_command`, if the account has
 * one; its messages name the account, as RunSecretCommand() words them. */
void AddTokenLookup(const config::Account &account, PendingCredentials &result)
{
	if (account.oauth && account.oauth->provider == oauth::Provider::Goa) {
		result.token = GoaToken(account);
		return;
	}
	if (account.oauth_token_command.empty())
		return;
	result.token = [argv = account.oauth_token_command, name = account.name] {
		return RunSecretCommand(argv, name, "token");
	};
}

} // namespace

Credentials ResolveAccountConnection(const config::Account &account,
				     const CredentialOptions &options)
{
	try {
		return Resolve(account, options, false);
	} catch (const CredentialError &e) {
		throw CredentialError(e.Code(), AccountPrefix(account) + e.what());
	}
}

PendingCredentials ResolveAccountDeferred(const config::Account &account,
					  const CredentialOptions &options)
{
	PendingCredentials result;
	try {
		if (!account.password_secret.empty()) {
			result.account = Resolve(account, options, false);
			result.password = SecretServicePassword(account);
			AddTokenLookup(account, result);
			return result;
		}
		if (!account.password_command.empty()) {
			result.account = Resolve(account, options, false);
			result.password = [argv = account.password_command,
					   name = account.name] {
				return RunPasswordCommand(argv, name);
			};
			AddTokenLookup(account, result);
			return result;
		}
		CredentialOptions netrc_options = options;
		netrc_options.need_password = false;
		if (!account.server.empty()) {
			result = ResolveDeferred(account.server, netrc_options);
		} else {
			result =
			    ResolveDeferred(ExplicitConnection(account), netrc_options);
			result.account.starttls =
			    account.tls == config::TlsMode::StartTls;
		}
	} catch (const CredentialError &e) {
		// A bad spec is a usage error on the command line, but here it is in
		// the config file.
		throw CredentialError(ExitCode::Config,
				      AccountPrefix(account) + e.what());
	}
	result.password = [lookup = std::move(result.password),
			   prefix = AccountPrefix(account)] {
		try {
			return lookup();
		} catch (const CredentialError &e) {
			throw CredentialError(ExitCode::Config, prefix + e.what(),
					      e.NoPassword());
		}
	};
	AddTokenLookup(account, result);
	return result;
}

Credentials ResolveAccountCredentials(const config::Account &account,
				      const CredentialOptions &options)
{
	auto pending = ResolveAccountDeferred(account, options);
	pending.account.password = pending.password();
	return std::move(pending.account);
}

} // namespace popstream
