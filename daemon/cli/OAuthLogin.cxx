#include "OAuthLogin.hxx"
#include "TlsArgs.hxx"

#include "core/config/Validate.hxx"
#include "core/util/Escape.hxx"
#include "core/util/ExitCode.hxx"
#include "fetch/Credentials.hxx"
#include "fetch/PasswordCommand.hxx"
#include "oauth/Error.hxx"
#include "oauth/GrantStore.hxx"
#include "oauth/Http.hxx"
#include "oauth/Login.hxx"
#include "oauth/StoredGrant.hxx"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace popstream::cli {

namespace {

const char *const login_footer =
    "ACCOUNT is a popstreamd account with oauth: in its config; SPEC is a dl spec "
    "([{ssl,tcp,starttls}:][user@]host[:port]), whose OAuth 2.0 client is given with "
    "--provider, --client-id and, where needed, the other flags. The device grant "
    "(RFC 8628) shows a URL and a code to enter there, on any device; Google, or a "
    "custom provider without a device endpoint, gets the authorization code grant "
    "with PKCE: open the URL shown, and the browser returns to popstream on "
    "127.0.0.1 (or, with --no-browser, paste the address it ends on). The refresh "
    "token is stored in the Secret Service, or without one in a mode 0600 file under "
    "$XDG_STATE_HOME/popstream/oauth/, and popstream says where.\n"
    "Exit status (sysexits.h): 0 signed in, 64 usage, 69 endpoint unreachable, 73 "
    "store unusable, 75 code expired, 76 protocol error, 77 declined or refused, 78 "
    "settings or client refused.";

/** The grant's target, resolved. */
struct Target {
	std::string key;
	/** How the user names it, for `oauth login` hints. */
	std::string name;
	oauth::Settings settings;
	std::string ca_file;
	/** A dl SPEC (the provider flags apply), not a daemon account. */
	bool spec = false;
};

/** A failure of the command itself (flags, settings, the store), with its status. */
struct Failure {
	ExitCode code;
	std::string message;
};

ExitCode CodeOf(oauth::ErrorKind kind) noexcept
{
	switch (kind) {
	case oauth::ErrorKind::NeedsLogin:
	case oauth::ErrorKind::Denied:
		return ExitCode::NoPerm;
	case oauth::ErrorKind::Expired:
		return ExitCode::TempFail;
	case oauth::ErrorKind::Rejected:
		return ExitCode::Config;
	case oauth::ErrorKind::Protocol:
		return ExitCode::Protocol;
	case oauth::ErrorKind::Network:
		return ExitCode::Unavailable;
	case oauth::ErrorKind::Store:
		return ExitCode::CantCreate;
	}
	return ExitCode::Software;
}

bool AnyProviderFlag(const OAuthArgs &a)
{
	return !a.provider.empty() || !a.client_id.empty() ||
	       !a.client_secret_command.empty() || !a.tenant.empty() ||
	       !a.scope.empty() || !a.token_endpoint.empty() ||
	       !a.device_endpoint.empty() || !a.authorization_endpoint.empty();
}

/** Resolves ACCOUNT or SPEC. @throws Failure */
Target Resolve(const OAuthArgs &args, const OAuthContext &context, bool login)
{
	std::optional<OAuthAccount> account;
	if (context.find_account) {
		try {
			account = context.find_account(args.target);
		} catch (const std::exception &e) {
			throw Failure{ExitCode::Config, e.what()};
		}
	}
	Target target;
	if (account) {
		if (login && AnyProviderFlag(args))
			throw Failure{ExitCode::Usage,
				      Escape(args.target) +
					  " is a popstreamd account: its OAuth 2.0 "
					  "client comes from oauth: in the config, not "
					  "from flags"};
		target.key = oauth::GrantKeyForAccount(account->name);
		target.name = account->name;
		target.settings = account->settings;
		target.ca_file = account->ca_file;
	} else {
		try {
			// As dl resolves it, so that dl finds the same key.
			const auto resolved = ResolveDeferred(args.target);
			target.key = oauth::GrantKeyForSpec(resolved.account.Label());
		} catch (const CredentialError &e) {
			throw Failure{e.Code(), e.what()};
		}
		target.name = args.target;
		target.spec = true;
	}
	if (!args.ca_file.empty())
		target.ca_file = ExpandHome(args.ca_file);
	// Checked now, as dl does: curl would only say it cannot "set" the file.
	if (login && !target.ca_file.empty() && access(target.ca_file.c_str(), R_OK) != 0)
		throw Failure{ExitCode::Config, "--ca-file " + Escape(target.ca_file) +
						    ": " + std::strerror(errno)};
	return target;
}

/** The settings of a SPEC, from the flags. @throws Failure */
oauth::Settings SpecSettings(const OAuthArgs &args, const std::string &key)
{
	oauth::Settings s;
	if (args.provider.empty())
		throw Failure{
		    ExitCode::Usage,
		    "--provider microsoft, google or custom is needed to sign in "
		    "for a SPEC (or name a popstreamd account with oauth:)"};
	const auto provider = oauth::ParseProvider(args.provider);
	if (!provider || *provider == oauth::Provider::Goa)
		throw Failure{ExitCode::Usage,
			      "--provider: \"" + Escape(args.provider) +
				  "\" is not microsoft, google or custom"};
	if (args.client_id.empty())
		throw Failure{ExitCode::Usage,
			      "--client-id is needed (register one with the provider; "
			      "popstream ships none)"};
	s.provider = *provider;
	s.client_id = args.client_id;
	s.tenant = args.tenant;
	s.scope = args.scope;
	s.token_endpoint = args.token_endpoint;
	s.device_endpoint = args.device_endpoint;
	s.authorization_endpoint = args.authorization_endpoint;
	if (!args.client_secret_command.empty()) {
		std::vector<std::string> argv;
		try {
			argv = config::SplitCommand(args.client_secret_command);
		} catch (const config::ValueError &e) {
			throw Failure{ExitCode::Usage,
				      std::string("--client-secret-command: ") +
					  e.what()};
		}
		try {
			s.client_secret = RunSecretCommand(argv, key, "client secret");
		} catch (const CredentialError &e) {
			throw Failure{ExitCode::Config, e.what()};
		}
	}
	return s;
}

std::unique_ptr<oauth::GrantStore> OpenStore(const OAuthContext &context)
{
	try {
		return context.open_store();
	} catch (const std::exception &e) {
		throw Failure{ExitCode::CantCreate,
			      std::string("cannot open the token store: ") + e.what()};
	}
}

int Login(const OAuthArgs &args, const OAuthContext &context, std::ostream &out,
	  std::istream &in)
{
	auto target = Resolve(args, context, true);
	if (target.spec)
		target.settings = SpecSettings(args, target.key);
	const auto settings = oauth::WithPreset(target.settings);
	if (settings.provider == oauth::Provider::Goa)
		throw Failure{ExitCode::Usage,
			      Escape(target.name) +
				  " takes its tokens from GNOME Online Accounts: sign in "
				  "there (Settings, Online Accounts), not here"};
	if (const auto problem = oauth::CheckSettings(settings); !problem.empty())
		throw Failure{target.spec ? ExitCode::Usage : ExitCode::Config,
			      Escape(target.name) + ": " + problem};

	// Opened first: a store that does not work should fail before the user has
	// signed in, not after.
	const auto store = OpenStore(context);
	// Read once before the sign-in: a key the store cannot hold (a file name too
	// long) or a store that refuses to be read fails now, not after the user has
	// gone through the browser and the refresh token would be lost.
	try {
		store->Load(target.key);
	} catch (const std::exception &e) {
		throw Failure{ExitCode::CantCreate, "cannot use " + store->Where() +
							" for " + Escape(target.key) +
							": " + e.what()};
	}
	oauth::CurlTransport http(oauth::HttpOptions{target.ca_file});

	oauth::LoginIo io{out, in,
			  [](std::chrono::seconds s) { std::this_thread::sleep_for(s); }};
	io.qr = args.qr == "always" || (args.qr == "auto" && isatty(STDOUT_FILENO));
	const auto token = oauth::PreferredGrant(settings) == oauth::Grant::Device
			       ? oauth::DeviceLogin(http, settings, io)
			       : oauth::BrowserLogin(http, settings, io, args.no_browser);
	if (token.refresh_token.empty())
		throw Failure{
		    ExitCode::Config,
		    "the provider issued no refresh token, so popstream could not "
		    "renew access on its own" +
			std::string(settings.provider == oauth::Provider::Microsoft
					? " (the scope needs offline_access)"
					: "")};

	oauth::StoredGrant grant;
	grant.settings.provider = settings.provider;
	grant.settings.client_id = settings.client_id;
	grant.settings.client_secret = settings.client_secret;
	grant.settings.tenant = settings.tenant;
	grant.settings.token_endpoint = settings.token_endpoint;
	grant.settings.scope = settings.scope;
	grant.refresh_token = token.refresh_token;
	// Absolute: dl refreshes with it later, from any directory.
	grant.ca_file = target.ca_file.empty()
			    ? std::string()
			    : std::filesystem::absolute(target.ca_file).string();
	try {
		store->Save(target.key, oauth::SerializeGrant(grant));
	} catch (const std::exception &e) {
		throw Failure{ExitCode::CantCreate,
			      "signed in, but the refresh token could not be stored in " +
				  store->Where() + ": " + e.what()};
	}
	out << "The refresh token for " << target.key << " is stored in "
	    << store->Where() << "." << std::endl;
	return 0;
}

int Logout(const OAuthArgs &args, const OAuthContext &context, std::ostream &out)
{
	const auto target = Resolve(args, context, false);
	const auto store = OpenStore(context);
	try {
		if (!store->Load(target.key)) {
			out << "No refresh token is stored for " << target.key << " in "
			    << store->Where() << "." << std::endl;
			return 0;
		}
		store->Clear(target.key);
	} catch (const std::exception &e) {
		throw Failure{ExitCode::CantCreate, e.what()};
	}
	out << "Removed the refresh token for " << target.key << " from "
	    << store->Where() << "." << std::endl;
	return 0;
}

} // namespace

CLI::App *AddOAuth(CLI::App &app, OAuthArgs &args)
{
	auto *oauth = app.add_subcommand(
	    "oauth", "Sign in with OAuth 2.0 (XOAUTH2, OAUTHBEARER) and keep the refresh "
		     "token, or remove it");
	oauth->require_subcommand(1, 1);

	auto *login = oauth->add_subcommand(
	    "login", "Sign in to an account's provider and store its refresh token");
	login->footer(login_footer);
	login->add_flag("--no-browser", args.no_browser,
			"For the authorization code grant: paste the address the browser "
			"ends on, instead of it coming back to 127.0.0.1 here");
	login
	    ->add_option("--qr", args.qr,
			 "Draw the sign-in URL as a QR code: auto (if stdout is a "
			 "terminal), always or never")
	    ->type_name("WHEN")
	    ->check(CLI::IsMember({"auto", "always", "never"}))
	    ->default_str("auto");
	login
	    ->add_option("--provider", args.provider,
			 "For a SPEC: microsoft, google or custom")
	    ->type_name("NAME");
	login
	    ->add_option("--client-id", args.client_id,
			 "For a SPEC: the client id you registered with the provider")
	    ->type_name("ID");
	login
	    ->add_option("--client-secret-command", args.client_secret_command,
			 "For a SPEC: run CMD (split like dl's --password-command) for "
			 "the client secret, where the provider needs one")
	    ->type_name("CMD");
	login
	    ->add_option("--tenant", args.tenant,
			 "For a SPEC with microsoft: common (default), consumers, "
			 "organizations or a tenant id")
	    ->type_name("TENANT");
	login
	    ->add_option(
		"--scope", args.scope,
		"For a SPEC: the scopes, space-separated (the preset's by default)")
	    ->type_name("SCOPE");
	login
	    ->add_option("--token-endpoint", args.token_endpoint,
			 "For a SPEC: the token endpoint URL (custom)")
	    ->type_name("URL");
	login
	    ->add_option("--device-endpoint", args.device_endpoint,
			 "For a SPEC: the device authorization endpoint URL (custom)")
	    ->type_name("URL");
	login
	    ->add_option("--authorization-endpoint", args.authorization_endpoint,
			 "For a SPEC: the authorization endpoint URL (custom)")
	    ->type_name("URL");
	login
	    ->add_option(
		"--ca-file", args.ca_file,
		"Trust the CAs in this PEM file for the endpoints instead of the "
		"system's")
	    ->type_name("PEM");
	login->add_option("TARGET", args.target, "ACCOUNT or SPEC")->required();

	auto *logout = oauth->add_subcommand(
	    "logout", "Remove the stored refresh token of an account or SPEC");
	logout->add_option("TARGET", args.target, "ACCOUNT or SPEC")->required();
	// The daemon may run with --config FILE: ACCOUNT is looked up in the same file.
	for (auto *sub : {login, logout})
		sub->add_option("--config", args.config_path,
				"The popstreamd configuration that names ACCOUNT "
				"(default $XDG_CONFIG_HOME/popstream/config.yaml)")
		    ->type_name("FILE");
	return oauth;
}

int RunOAuth(CLI::App &oauth, const OAuthArgs &args, const OAuthContext &context,
	     const std::string &program, std::ostream &out, std::istream &in)
{
	const bool login = oauth.got_subcommand("login");
	const std::string command = login ? "oauth login" : "oauth logout";
	try {
		return login ? Login(args, context, out, in) : Logout(args, context, out);
	} catch (const Failure &f) {
		out.flush();
		std::fprintf(stderr, "%s: %s: %s\n", program.c_str(), command.c_str(),
			     f.message.c_str());
		return ToInt(f.code);
	} catch (const oauth::OAuthError &e) {
		out.flush();
		std::fprintf(stderr, "%s: %s: %s\n", program.c_str(), command.c_str(),
			     e.what());
		return ToInt(CodeOf(e.Kind()));
	}
}

} // namespace popstream::cli
