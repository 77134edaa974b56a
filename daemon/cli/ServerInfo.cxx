#include "ServerInfo.hxx"

#include "core/pop3/ServerProbe.hxx"
#include "core/spec/ConnectionSpec.hxx"
#include "core/util/Escape.hxx"
#include "core/util/ExitCode.hxx"
#include "fetch/Credentials.hxx"
#include "fetch/FetchResult.hxx"
#include "net/Connection.hxx"

#include <CLI/CLI.hpp>
#include <uv.h>

#include <cmath>
#include <cstdio>
#include <optional>

namespace popstream::cli {

namespace {

void PrintError(const std::string &program, const std::string &text)
{
	std::fprintf(stderr, "%s: %s\n", program.c_str(), text.c_str());
	std::fflush(stderr);
}

/** The glue between one Connection and one ServerProbe: it only moves bytes. */
class ProbeRun final : public net::ConnectionHandler {
public:
	ProbeRun(uv_loop_t &loop, bool starttls)
	    : probe(starttls), connection(loop, *this)
	{
	}

	pop3::ServerProbe probe;
	net::Connection connection;
	/** What TLS negotiated (implicit TLS or after STLS). */
	std::optional<net::TlsInfo> tls;
	/** CAPA's lines before STLS, which the probe forgets once TLS is up. */
	std::vector<std::string> capa_before_tls;
	/** How the connection failed, if it did before the probe was done. */
	std::optional<net::NetError> net_error;
	bool done = false;

	void OnConnected() noexcept override { tls = connection.Tls(); }

	void OnData(std::string_view bytes) noexcept override
	{
		Handle(probe.Feed(bytes));
	}

	void OnTlsStarted() noexcept override
	{
		tls = connection.Tls();
		capa_before_tls = probe.CapaLines();
		Handle(probe.TlsStarted());
	}

	void OnEnd(const net::NetError &error) noexcept override
	{
		if (done)
			return;
		if (error.Kind() == net::NetErrorKind::Closed)
			probe.Closed();
		else
			net_error = error;
		done = true;
	}

private:
	void Handle(pop3::ServerProbe::Step step)
	{
		if (auto output = probe.TakeOutput(); !output.empty())
			connection.Write(std::move(output));
		switch (step) {
		case pop3::ServerProbe::Step::Wait:
			break;
		case pop3::ServerProbe::Step::StartTls:
			connection.StartTls();
			break;
		case pop3::ServerProbe::Step::Done:
		case pop3::ServerProbe::Step::Failed:
			done = true;
			connection.Close();
			break;
		}
	}
};

const char *YesNo(bool value)
{
	return value ? "yes" : "no";
}

void PrintCapabilities(const pop3::Capabilities &caps)
{
	if (!caps.known) {
		std::printf(
		    "capabilities: none (CAPA refused: an RFC 1939-only server)\n");
		return;
	}
	std::string sasl;
	for (const auto &mechanism : caps.sasl)
		sasl += (sasl.empty() ? "" : " ") + Escape(mechanism, 100);
	std::printf("capabilities:\n");
	std::printf("  PIPELINING:     %s\n", YesNo(caps.pipelining));
	std::printf("  UIDL:           %s\n", YesNo(caps.uidl));
	std::printf("  TOP:            %s\n", YesNo(caps.top));
	std::printf("  USER:           %s\n", YesNo(caps.user));
	std::printf("  SASL:           %s\n", sasl.empty() ? "(none)" : sasl.c_str());
	std::printf("  LOGIN-DELAY:    %s\n",
		    caps.login_delay_s
			? (std::to_string(*caps.login_delay_s) + " s").c_str()
			: "(none)");
	std::printf("  EXPIRE:         %s\n",
		    caps.expire ? Escape(*caps.expire, 100).c_str() : "(none)");
	std::printf("  RESP-CODES:     %s\n", YesNo(caps.resp_codes));
	std::printf("  STLS:           %s\n", YesNo(caps.stls));
	std::printf("  IMPLEMENTATION: %s\n",
		    caps.implementation ? Escape(*caps.implementation, 300).c_str()
					: "(none)");
}

void PrintTls(const net::TlsInfo &tls, bool pinned)
{
	std::printf("TLS: %s, %s\n", tls.version.c_str(), tls.cipher_suite.c_str());
	if (tls.untrusted.empty())
		std::printf("certificate trusted%s\n",
			    pinned ? " (it matches a pinned fingerprint)" : "");
	else
		std::printf("certificate NOT trusted: %s\n", tls.untrusted.c_str());
	for (std::size_t i = 0; i < tls.chain.size(); ++i) {
		const auto &cert = tls.chain[i];
		std::printf("certificate %zu%s:\n", i, i == 0 ? " (the server's)" : "");
		std::printf("  subject: %s\n", cert.subject.c_str());
		std::printf("  issuer:  %s\n", cert.issuer.c_str());
		std::printf("  valid:   %s to %s\n", cert.valid_from.c_str(),
			    cert.valid_to.c_str());
		// Exactly the config key and its value, so either line can be pasted.
		std::printf("  tls_fingerprint: %s\n", cert.sha256.c_str());
		std::printf("  tls_fingerprint: %s\n", cert.public_key_pin.c_str());
	}
}

} // namespace

CLI::App *AddServerInfo(CLI::App &app, ServerInfoArgs &args)
{
	auto *command = app.add_subcommand(
	    "serverinfo",
	    "Show what a POP3 server offers: greeting, capabilities, TLS version and "
	    "cipher, and its certificates with the fingerprints to pin (no login)");
	command->footer(
	    "Connects as dl would (starttls: sends STLS first), sends CAPA and QUIT and "
	    "nothing else: no user name or password. A certificate that fails "
	    "verification is shown as NOT trusted with the reasons; either "
	    "tls_fingerprint line can be pasted into the config, or given as "
	    "--tls-fingerprint to dl, to trust that server.\n"
	    "Exit status: 0 done, 64 usage, 68 unknown host, 69 refused or TLS failed, "
	    "75 timeout, 76 not a POP3 server, 78 unusable CA file or client "
	    "certificate.");
	AddTlsFlags(*command, args.tls);
	command
	    ->add_option("--timeout", args.timeout_s,
			 "Give up connecting, or waiting for a reply, after this long "
			 "(seconds)")
	    ->type_name("SECONDS")
	    ->check(CLI::Range(0.001, 86400.0))
	    ->default_str("30");
	command
	    ->add_option(
		"SPEC", args.spec,
		"The server: "
		"[{ssl,tcp,starttls}:]{netrc_account|[user@]host[!sni_name][:port]}")
	    ->required();
	return command;
}

int RunServerInfo(const ServerInfoArgs &args, const std::string &program)
{
	// CLI::Range lets NaN through, and a NaN timeout would be no timeout at all.
	if (!std::isfinite(args.timeout_s)) {
		PrintError(program, "serverinfo: --timeout: not a number of seconds");
		return ToInt(ExitCode::Usage);
	}
	int code = 0;
	auto tls = ParseTlsArgs(args.tls, program, "serverinfo", code);
	if (!tls)
		return code;
	Credentials account;
	try {
		CredentialOptions options;
		// Only where to connect: no password is looked up.
		options.need_password = false;
		account = ResolveCredentials(args.spec, options);
	} catch (const CredentialError &e) {
		PrintError(program, "serverinfo: " + std::string(e.what()));
		return ToInt(e.Code());
	}
	const std::string peer = FormatHostPort(account.host, account.port);

	net::Endpoint endpoint;
	endpoint.host = account.host;
	endpoint.port = account.port;
	endpoint.tls = account.tls;
	endpoint.tls_name = account.VerifyName();
	endpoint.tls_options = *tls;
	// Nothing secret is sent, and showing an untrusted certificate is the point.
	endpoint.report_untrusted = true;
	net::Timeouts timeouts;
	timeouts.connect_ms = timeouts.idle_ms =
	    static_cast<std::uint64_t>(std::llround(args.timeout_s * 1000.0));

	uv_loop_t loop;
	uv_loop_init(&loop);
	auto run = std::make_unique<ProbeRun>(loop, account.starttls);
	run->connection.Connect(endpoint, timeouts);
	while (!run->done && uv_run(&loop, UV_RUN_ONCE) != 0) {
	}

	std::printf("server: %s (%s)\n", peer.c_str(),
		    account.starttls ? "STLS"
		    : account.tls    ? "implicit TLS"
				     : "cleartext");
	if (!run->probe.Greeting().empty())
		std::printf("greeting: %s\n", Escape(run->probe.Greeting(), 600).c_str());
	if (!run->capa_before_tls.empty()) {
		std::string before;
		for (const auto &line : run->capa_before_tls)
			before += (before.empty() ? "" : ", ") + Escape(line, 200);
		std::printf("before STLS, CAPA said (forgotten): %s\n", before.c_str());
	}
	if (run->tls)
		PrintTls(*run->tls, !tls->fingerprints.empty());
	if (run->probe.Greeting().size() > 0 && !run->net_error &&
	    (run->tls || !account.tls))
		PrintCapabilities(run->probe.Caps());
	std::fflush(stdout);

	int status = ToInt(ExitCode::Ok);
	if (run->net_error) {
		PrintError(program, peer + ": " + run->net_error->what());
		status = ToInt(fetch::ExitCodeFor(run->net_error->Kind()));
	} else if (!run->probe.Error().empty()) {
		PrintError(program, peer + ": " + run->probe.Error());
		status = ToInt(run->probe.Refused() ? ExitCode::Unavailable
						    : ExitCode::Protocol);
	} else if (!run->done) {
		PrintError(program, peer + ": internal error: the loop ended early");
		status = ToInt(ExitCode::Software);
	}
	run.reset();
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return status;
}

} // namespace popstream::cli
