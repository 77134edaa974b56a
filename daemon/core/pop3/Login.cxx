#include "Login.hxx"

#include "Pipeline.hxx"
#include "core/util/Escape.hxx"

#include <cassert>

namespace popstream::pop3 {

namespace {

bool IsTemporaryAuthFailure(const Reply &reply) noexcept
{
	// RFC 2449 §8.1.1-2 and RFC 3206 §4: these say "not now", not "wrong password".
	return reply.HasCode("IN-USE") || reply.HasCode("LOGIN-DELAY") ||
	       reply.HasCode("SYS/TEMP");
}

} // namespace

Login::Login(LoginConfig config) : config_(std::move(config))
{
}

std::string Login::Quote(std::string_view server_text) const
{
	return "\"" +
	       Escape(HideSecret(std::string(server_text), config_.password), 200) + "\"";
}

std::string Login::Redact(std::string_view line)
{
	if (line.size() >= 5) {
		std::string head(line.substr(0, 5));
		for (char &c : head)
			if (c >= 'a' && c <= 'z')
				c = static_cast<char>(c - 'a' + 'A');
		if (head == "PASS ")
			return "PASS ********";
	}
	while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
		line.remove_suffix(1);
	return Escape(line);
}

Login::Step Login::Fail(LoginFailureKind kind, std::string message, const Reply &reply)
{
	state_ = State::Failed;
	failure_ = {kind, std::move(message), reply};
	return Step::Failed;
}

Login::Step Login::OnReply(const Reply &reply, Pipeline &pipeline)
{
	switch (state_) {
	case State::Greeting:
		if (!reply.ok)
			return Fail(LoginFailureKind::Greeting,
				    "server not ready: " + Quote(reply.line), reply);
		if (config_.skip_capa)
			return AfterCapabilities(pipeline);
		state_ = State::Capa;
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
		if (!reply.ok)
			return Fail(IsTemporaryAuthFailure(reply)
					? LoginFailureKind::AuthTemporary
					: LoginFailureKind::Auth,
				    "login failed: " + Quote(reply.line), reply);
		if (state_ == State::User) {
			state_ = State::Pass;
			if (!pass_sent_)
				pipeline.Submit(Command::Pass,
						"PASS " + config_.password);
			return Step::Continue;
		}
		// Capabilities may change after login (RFC 2449 §5): the session's own
		// commands queue behind this CAPA, and its answer sizes their window.
		if (!capa_failed_ && !config_.skip_capa) {
			state_ = State::CapaAfter;
			pipeline.Submit(Command::Capa, "CAPA");
		} else {
			state_ = State::Done;
		}
		return Step::LoggedIn;

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

Login::Step Login::SendCredentials(Pipeline &pipeline)
{
	state_ = State::User;
	pipeline.Submit(Command::User, "USER " + config_.user);
	// On a cleartext link PASS waits for USER's +OK: a server that refuses USER there
	// ("use TLS") must not receive the password. Over TLS nobody else sees it, so a
	// pipelining server gets both at once, saving a round trip.
	if ((config_.secure || tls_started_) && pipeline.Window() > 1) {
		pipeline.Submit(Command::Pass, "PASS " + config_.password);
		pass_sent_ = true;
	}
	return Step::Continue;
}

} // namespace popstream::pop3
