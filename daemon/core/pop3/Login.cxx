#include "Login.hxx"

#include "Pipeline.hxx"
#include "core/util/Ascii.hxx"
#include "core/util/Base64.hxx"
#include "core/util/Escape.hxx"

#include <algorithm>
#include <cassert>

namespace popstream::pop3 {

namespace {

bool IsTemporaryAuthFailure(const Reply &reply) noexcept
{
	// RFC 2449 §8.1.1-2 and RFC 3206 §4: these say "not now", not "wrong password".
	return reply.HasCode("IN-USE") || reply.HasCode("LOGIN-DELAY") ||
	       reply.HasCode("SYS/TEMP");
}

/** @return whether @p text may go on a command line: no CR, LF or NUL, which would
 *          end the line early and let the rest run as a command of its own */
bool LineSafe(std::string_view text) noexcept
{
	return text.find_first_of(std::string_view("\r\n\0", 3)) ==
	       std::string_view::npos;
}

bool Offers(const Capabilities &caps, std::string_view mechanism)
{
	return std::find(caps.sasl.begin(), caps.sasl.end(), mechanism) !=
	       caps.sasl.end();
}

std::string Offered(const Capabilities &caps)
{
	if (!caps.known)
		return "the server did not answer CAPA";
	std::string list;
	if (caps.user)
		list = "USER";
	for (const auto &mechanism : caps.sasl)
		list += (list.empty() ? "" : ", ") + Escape(mechanism, 40);
	return list.empty() ? "the server lists no login method in CAPA"
			    : "it offers " + list;
}

} // namespace

std::optional<std::string> ApopTimestamp(std::string_view greeting, std::string &problem)
{
	const auto open = greeting.find('<');
	if (open == std::string_view::npos) {
		problem = "its greeting has no APOP timestamp";
		return std::nullopt;
	}
	const auto close = greeting.find('>', open);
	if (close == std::string_view::npos) {
		problem = "the APOP timestamp in its greeting is not closed with '>'";
		return std::nullopt;
	}
	if (greeting.find_first_of("<>", close + 1) != std::string_view::npos) {
		problem = "its greeting holds more than one APOP timestamp";
		return std::nullopt;
	}
	const std::string_view stamp = greeting.substr(open, close - open + 1);
	if (stamp.size() > limits::max_apop_timestamp_bytes) {
		problem = "the APOP timestamp in its greeting is " +
			  std::to_string(stamp.size()) + " octets long";
		return std::nullopt;
	}
	const std::string_view inner = stamp.substr(1, stamp.size() - 2);
	const auto at = inner.find('@');
	if (inner.empty() || at == std::string_view::npos || at == 0 ||
	    at + 1 == inner.size()) {
		problem =
		    "the APOP timestamp in its greeting is not of the form <...@...>";
		return std::nullopt;
	}
	for (const char c : inner)
		if (c < 0x21 || c > 0x7e || c == '<') {
			problem =
			    "the APOP timestamp in its greeting holds a space, control "
			    "or 8-bit character";
			return std::nullopt;
		}
	return std::string(stamp);
}

Login::Login(LoginConfig config) : config_(std::move(config))
{
}

std::string Login::Quote(std::string_view server_text) const
{
	std::string text(server_text);
	text = HideSecret(std::move(text), config_.password);
	text = HideSecret(std::move(text), config_.token);
	return "\"" + Escape(text, 200) + "\"";
}

std::string Login::Redact(std::string_view line)
{
	if (StartsWithNoCase(line, "PASS "))
		return "PASS ********";
	while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
		line.remove_suffix(1);
	return Escape(line);
}

Login::Step Login::Fail(LoginFailureKind kind, std::string message, const Reply &reply)
{
	state_ = State::Failed;
	sasl_.reset();
	failure_ = {kind, std::move(message), reply};
	return Step::Failed;
}

Login::Step Login::Fail(LoginFailureKind kind, std::string message)
{
	state_ = State::Failed;
	sasl_.reset();
	failure_ = {kind, std::move(message), std::nullopt};
	return Step::Failed;
}

void Login::Start(Pipeline &pipeline)
{
	// CAPA reveals nothing and changes nothing (RFC 2449 §5), so it may wait in
	// the server's input while the greeting is on its way: one round trip less.
	// A -ERR greeting then fails the login with CAPA unanswered, as it would
	// without it. Not where STLS comes first: what is said before the upgrade is
	// forgotten after it (RFC 2595 §4), so it is kept to the one CAPA that finds
	// STLS.
	if (!config_.capa_before_greeting || config_.skip_capa || config_.starttls ||
	    capa_early_ || state_ != State::Greeting)
		return;
	pipeline.Submit(Command::Capa, "CAPA");
	capa_early_ = true;
}

Login::Step Login::OnReply(const Reply &reply, Pipeline &pipeline)
{
	switch (state_) {
	case State::Greeting:
		if (!reply.ok)
			return Fail(LoginFailureKind::Greeting,
				    "server not ready: " + Quote(reply.line), reply);
		apop_timestamp_ = ApopTimestamp(reply.line, apop_problem_);
		if (config_.skip_capa)
			return AfterCapabilities(pipeline);
		state_ = State::Capa;
		if (!capa_early_)
			pipeline.Submit(Command::Capa, "CAPA");
		return Step::Continue;

	case State::Capa:
	case State::CapaAfter:
		if (reply.ok) {
			caps_ = Capabilities{};
			caps_.known = true;
			return Step::ReadCapabilities;
		}
		if (state_ == State::CapaAfter) {
			// What CAPA said before login still holds.
			state_ = State::Done;
			return Step::Done;
		}
		capa_failed_ = true;
		return AfterCapabilities(pipeline);

	case State::Stls:
		if (!reply.ok)
			return Fail(LoginFailureKind::StartTls,
				    "server refused STLS: " + Quote(reply.line) +
					"; not logging in without TLS",
				    reply);
		state_ = State::Handshake;
		return Step::StartTls;

	case State::User:
	case State::Pass:
	case State::Apop:
	case State::Auth:
		if (!reply.ok) {
			std::string message = "login failed";
			if (used_ != AuthMethod::User)
				message +=
				    " (" + std::string(AuthMethodName(used_)) + ")";
			message += ": " + Quote(reply.line);
			if (sasl_ && !sasl_->Diagnostic().empty())
				message += "; " + Escape(sasl_->Diagnostic(), 300);
			return Fail(IsTemporaryAuthFailure(reply)
					? LoginFailureKind::AuthTemporary
					: LoginFailureKind::Auth,
				    std::move(message), reply);
		}
		if (state_ == State::User) {
			state_ = State::Pass;
			if (!pass_sent_)
				pipeline.Submit(Command::Pass,
						"PASS " + config_.password);
			return Step::Continue;
		}
		if (state_ == State::Auth && pending_initial_)
			return Fail(LoginFailureKind::Protocol,
				    "protocol error: AUTH " +
					std::string(SaslMechanismName(used_)) +
					" answered " + Quote(reply.line) +
					" before the initial response was sent",
				    reply);
		if (state_ == State::Auth && !sasl_->Complete())
			// SCRAM proves the server knows the password too (RFC 5802
			// §3); +OK without that proof is a server we cannot trust.
			return Fail(LoginFailureKind::Auth,
				    "login failed: the server accepted " +
					std::string(SaslMechanismName(used_)) +
					" without proving that it knows the password",
				    reply);
		return LoggedInNow(pipeline);

	case State::AuthCancel: {
		// RFC 5034 §4: the server answers "*" with -ERR. Either way the login
		// ends as Cancel() decided.
		LoginFailure failure = std::move(cancel_);
		return Fail(failure.kind, std::move(failure.message), reply);
	}

	case State::Handshake:
	case State::Done:
	case State::Failed:
		// Nothing of the login's is in flight then: the session finds the reply
		// unexpected before it gets here.
		break;
	}
	assert(false);
	return Step::Continue;
}

Login::Step Login::OnContinuation(std::string_view text, Pipeline &pipeline)
{
	if (state_ == State::AuthCancel) {
		LoginFailure failure = std::move(cancel_);
		return Fail(LoginFailureKind::Protocol,
			    "protocol error: the server sent a SASL challenge after the "
			    "exchange was cancelled (" +
				failure.message + ")");
	}
	if (state_ != State::Auth)
		return Fail(LoginFailureKind::Protocol,
			    "protocol error: unexpected continuation from the server: " +
				Quote("+ " + std::string(text)));
	const std::string mechanism(SaslMechanismName(used_));
	if (listing_behind_auth_)
		// The server would read the listing behind AUTH as responses: end here,
		// with nothing more sent.
		return Fail(LoginFailureKind::Protocol,
			    "protocol error: the server answered AUTH " + mechanism +
				" with its initial response by a challenge (" +
				Quote("+ " + std::string(text)) +
				"), though RFC 5034 §4 lets none follow it");
	if (text.size() > limits::max_sasl_challenge_bytes / 3 * 4 + 4)
		return Cancel(LoginFailureKind::Protocol,
			      "protocol error: the server's " + mechanism +
				  " challenge is longer than " +
				  std::to_string(limits::max_sasl_challenge_bytes) +
				  " octets",
			      pipeline);
	auto challenge = Base64Decode(text);
	if (!challenge)
		return Cancel(LoginFailureKind::Protocol,
			      "protocol error: the server's " + mechanism +
				  " challenge is not base64: " + Quote(text),
			      pipeline);
	if (pending_initial_) {
		// RFC 5034 §4: the initial response that did not fit the AUTH line
		// answers the server's first, empty, challenge.
		std::string response = Base64Encode(*pending_initial_);
		pending_initial_.reset();
		pipeline.Submit(Command::Auth, response);
		return Step::Continue;
	}
	SaslStep step = sasl_->Step(*challenge);
	if (!step.ok)
		return Cancel(LoginFailureKind::Auth,
			      "login failed (" + std::string(AuthMethodName(used_)) +
				  "): " + step.error,
			      pipeline);
	pipeline.Submit(Command::Auth, Base64Encode(step.response));
	return Step::Continue;
}

Login::Step Login::Cancel(LoginFailureKind kind, std::string message, Pipeline &pipeline)
{
	state_ = State::AuthCancel;
	sasl_.reset();
	pending_initial_.reset();
	cancel_ = {kind, std::move(message), std::nullopt};
	pipeline.Submit(Command::Auth, "*");
	return Step::Continue;
}

Login::Step Login::LoggedInNow(Pipeline &pipeline)
{
	sasl_.reset();
	// Capabilities may change after login (RFC 2449 §5): the session's own commands
	// queue behind this CAPA, and its answer sizes their window.
	if (capa_after_sent_) {
		state_ = State::CapaAfter;
	} else if (!capa_failed_ && !config_.skip_capa) {
		state_ = State::CapaAfter;
		pipeline.Submit(Command::Capa, "CAPA");
	} else {
		state_ = State::Done;
	}
	return Step::LoggedIn;
}

Login::Step Login::OnCapabilitiesEnd(Pipeline &pipeline)
{
	pipeline.Negotiate(caps_);
	if (state_ == State::CapaAfter) {
		state_ = State::Done;
		return Step::Done;
	}
	return AfterCapabilities(pipeline);
}

Login::Step Login::TlsStarted(Pipeline &pipeline)
{
	if (state_ != State::Handshake)
		return Step::Continue;
	tls_started_ = true;
	// RFC 2595 §4: what the server said before TLS could have been forged.
	caps_ = Capabilities{};
	pipeline.Negotiate(caps_);
	if (capa_failed_ || config_.skip_capa)
		return SendCredentials(pipeline);
	state_ = State::Capa;
	pipeline.Submit(Command::Capa, "CAPA");
	return Step::Continue;
}

Login::Step Login::AfterCapabilities(Pipeline &pipeline)
{
	if (!config_.starttls || tls_started_)
		return SendCredentials(pipeline);
	state_ = State::Stls;
	pipeline.Submit(Command::Stls, "STLS");
	return Step::Continue;
}

bool Login::Usable(AuthMethod method, std::string &why) const
{
	switch (method) {
	case AuthMethod::Auto:
		break;
	case AuthMethod::User:
		// Servers that take USER do not all list it; the server says -ERR if not.
		return true;
	case AuthMethod::Apop:
		if (!apop_timestamp_) {
			why = "the server offers no APOP: " + apop_problem_;
			return false;
		}
		if (!config_.provider) {
			why = "this build of popstream cannot do APOP";
			return false;
		}
		return true;
	default: {
		const std::string_view name = SaslMechanismName(method);
		if (!config_.provider || !config_.provider->HasSasl(method)) {
			why = "this build of popstream cannot do " + std::string(name);
			return false;
		}
		// RFC 5034 §6: a server that does SASL lists its mechanisms in CAPA.
		if (caps_.known && !Offers(caps_, name)) {
			why = "the server does not offer " + std::string(name) + " (" +
			      Offered(caps_) + ")";
			return false;
		}
		return true;
	}
	}
	return false;
}

std::optional<AuthMethod> Login::Pick(std::string &why) const
{
	std::string ignored;
	const auto offered = [&](AuthMethod method) {
		return caps_.known && Offers(caps_, SaslMechanismName(method)) &&
		       Usable(method, ignored);
	};
	if (!config_.token.empty()) {
		for (const auto method : {AuthMethod::Oauthbearer, AuthMethod::Xoauth2})
			if (offered(method))
				return method;
		why = "no login method for an OAuth token: the server offers neither "
		      "OAUTHBEARER nor XOAUTH2 (" +
		      Offered(caps_) + ")";
		return std::nullopt;
	}
	if (config_.password.empty()) {
		if (config_.client_certificate && offered(AuthMethod::External))
			return AuthMethod::External;
		why =
		    "no password, and the server offers no EXTERNAL login for the client "
		    "certificate (" +
		    Offered(caps_) + ")";
		return std::nullopt;
	}
	for (const auto method : {AuthMethod::ScramSha256, AuthMethod::ScramSha1})
		if (offered(method))
			return method;
	if (Private()) {
		if (offered(AuthMethod::Plain))
			return AuthMethod::Plain;
		if (caps_.user)
			return AuthMethod::User;
	}
	if (offered(AuthMethod::CramMd5))
		return AuthMethod::CramMd5;
	if (apop_timestamp_ && Usable(AuthMethod::Apop, ignored))
		return AuthMethod::Apop;
	if (Private())
		return offered(AuthMethod::Login) ? AuthMethod::Login : AuthMethod::User;
	why = "no login method the server offers keeps the password secret on this "
	      "cleartext connection (" +
	      Offered(caps_) +
	      "); use starttls: or ssl:, or allow_plaintext (--allow-plaintext) if "
	      "nobody can read the path";
	return std::nullopt;
}

Login::Step Login::SendCredentials(Pipeline &pipeline)
{
	AuthMethod method = config_.method;
	std::string why;
	if (method == AuthMethod::Auto) {
		auto picked = Pick(why);
		if (!picked)
			return Fail(LoginFailureKind::Method, "cannot log in: " + why);
		method = *picked;
	} else if (!Usable(method, why)) {
		return Fail(LoginFailureKind::Method,
			    "cannot log in with " + std::string(AuthMethodName(method)) +
				": " + why);
	}
	const std::string name(AuthMethodName(method));
	if (RevealsSecret(method) && !Private())
		return Fail(LoginFailureKind::Method,
			    "refusing to send the " +
				std::string(UsesToken(method) ? "token" : "password") +
				" in cleartext (" + name +
				") over a connection that is neither TLS nor to "
				"loopback; use starttls: or ssl:, or allow_plaintext "
				"(--allow-plaintext) if nobody can read the path");
	const std::string &secret = UsesToken(method) ? config_.token : config_.password;
	if (method != AuthMethod::External && secret.empty())
		return Fail(LoginFailureKind::Method,
			    "cannot log in with " + name + ": no " +
				(UsesToken(method) ? "OAuth token" : "password"));
	if (!LineSafe(config_.user) || !LineSafe(secret))
		return Fail(LoginFailureKind::Method,
			    "cannot log in: the user name or the " +
				std::string(UsesToken(method) ? "token" : "password") +
				" contains CR, LF or NUL; nothing was sent");
	used_ = method;
	switch (method) {
	case AuthMethod::User:
		return SendUserPass(pipeline);
	case AuthMethod::Apop:
		return SendApop(pipeline);
	default:
		return SendAuth(method, pipeline);
	}
}

Login::Step Login::SendUserPass(Pipeline &pipeline)
{
	state_ = State::User;
	pipeline.Submit(Command::User, "USER " + config_.user);
	// Where the password could be read, PASS waits for USER's +OK: a server that
	// refuses USER there ("use TLS") must not receive it. Where it cannot (TLS,
	// loopback, allow_plaintext), a pipelining server gets both at once, saving a
	// round trip.
	if (Private() && pipeline.Window() > 1) {
		pipeline.Submit(Command::Pass, "PASS " + config_.password);
		pass_sent_ = true;
		QueueListingBehind(pipeline);
	}
	return Step::Continue;
}

void Login::QueueListingBehind(Pipeline &pipeline)
{
	// Only to a server that pipelines in full: what follows the credentials is
	// read-only (CAPA, then the session's STAT, UIDL, LIST), so a refused login
	// earns it -ERR and nothing else, and an accepted one saves the round trip
	// that waiting for +OK would cost (issue 13). Of SASL only PLAIN with its
	// initial response gets company (SendAuth()): a challenge would take the next
	// command for its response.
	if (!pipeline.FullWindow())
		return;
	if (!capa_failed_ && !config_.skip_capa) {
		pipeline.Submit(Command::Capa, "CAPA");
		capa_after_sent_ = true;
	}
	listing_cue_ = true;
}

Login::Step Login::SendApop(Pipeline &pipeline)
{
	state_ = State::Apop;
	pipeline.Submit(Command::Apop, "APOP " + config_.user + " " +
					   config_.provider->ApopDigest(
					       *apop_timestamp_, config_.password));
	QueueListingBehind(pipeline);
	return Step::Continue;
}

Login::Step Login::SendAuth(AuthMethod method, Pipeline &pipeline)
{
	const std::string mechanism(SaslMechanismName(method));
	SaslParams params{config_.user,
			  UsesToken(method) ? config_.token : config_.password,
			  config_.host, config_.port};
	std::string error;
	sasl_ = config_.provider->Sasl(method, params, error);
	if (!sasl_)
		return Fail(LoginFailureKind::Method,
			    "cannot log in with " + mechanism + ": " + error);
	auto initial = sasl_->Start();
	if (initial && !initial->ok)
		return Fail(LoginFailureKind::Method,
			    "cannot log in with " + mechanism + ": " + initial->error);
	state_ = State::Auth;
	std::string line = "AUTH " + mechanism;
	if (initial) {
		// RFC 5034 §4: "=" is an empty initial response.
		const std::string encoded =
		    initial->response.empty() ? "=" : Base64Encode(initial->response);
		if (line.size() + 1 + encoded.size() + 2 <= limits::max_auth_line_bytes)
			line += " " + encoded;
		else
			pending_initial_ = std::move(initial->response);
	}
	pipeline.Submit(Command::Auth, line);
	// PLAIN with its initial response on the AUTH line is a whole login in one
	// command (RFC 4616, RFC 5034 §4): the next line from the server is +OK or
	// -ERR, as after APOP, so the read-only listing may follow it. Every other
	// mechanism, and PLAIN in two steps, has challenges that would take the next
	// command for a response.
	if (method == AuthMethod::Plain && initial && !pending_initial_) {
		QueueListingBehind(pipeline);
		listing_behind_auth_ = capa_after_sent_ || listing_cue_;
	}
	return Step::Continue;
}

} // namespace popstream::pop3
