#include "AccountCredentials.hxx"
#include "PasswordCommand.hxx"
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

Credentials ResolveAccountCredentials(const config::Account &account,
				      const CredentialOptions &options)
{
	Credentials result;
	try {
		result = Resolve(account, options, account.password_command.empty());
	} catch (const CredentialError &e) {
		// A bad spec is a usage error on the command line, but here it is in
		// the config file.
		throw CredentialError(ExitCode::Config,
				      AccountPrefix(account) + e.what());
	}

	if (!account.password_command.empty())
		result.password =
		    RunPasswordCommand(account.password_command, account.name);
	return result;
}

} // namespace popstream
