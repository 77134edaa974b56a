#pragma once

#include "Auth.hxx"
#include "Capabilities.hxx"
#include "Reply.hxx"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace popstream::pop3 {

class Pipeline;

/** What a login needs to know: SessionConfig's fields of the same names, which document
 * them. The password is only ever submitted to the pipeline, and hidden from every
 * message built with Login::Quote(). */
struct LoginConfig {
	std::string user;
	std::string password;
	std::string token;
	AuthMethod method = AuthMethod::Auto;
	bool allow_plaintext = false;
	bool starttls = false;
	bool secure = false;
	bool loopback = false;
	bool client_certificate = false;
	bool skip_capa = false;
	std::string host;
	unsigned port = 0;
	std::shared_ptr<const AuthProvider> provider;
};

/** Why a login failed. */
enum class LoginFailureKind {
	/** The greeting was -ERR (RFC 1939 §4). */
	Greeting,
	/** STLS was refused (RFC 2595 §4): no credentials are sent. */
	StartTls,
	/** The credentials were refused (RFC 1939 §7). */
	Auth,
	/** No usable login method (ErrorKind::AuthMethod); nothing secret was sent. */
	Method,
	/** The server broke the SASL exchange (RFC 5034 §4): a challenge that is not
	 * base64 or too long. */
	Protocol,
	/** Refused with [IN-USE], [LOGIN-DELAY] or [SYS/TEMP] (RFC 2449 §8.1,
	 * RFC 3206 §4): "not now", not "wrong password". */
	AuthTemporary,
};

/** A failed login. */
struct LoginFailure {
	LoginFailureKind kind = LoginFailureKind::Auth;
	/** One line for the user; server text in it is escaped and the password
	 * hidden. */
	std::string message;
	/** The reply that failed it. */
	std::optional<Reply> reply;
};

/**
 * The login of one POP3 session as a small state machine (daemon/core/README.md,
 * "Who owns what"): greeting (RFC 1939 §4) -> CAPA (RFC 2449 §5) -> optional STLS and
 * the TLS handshake (RFC 2595 §4) -> CAPA again -> USER/PASS (RFC 1939 §7) -> CAPA
 * after login, since capabilities may change (RFC 2449 §5). It owns the
 * capabilities, the credentials and invariant 4: on a cleartext link PASS waits for
 * USER's +OK, and nothing is sent behind PASS.
 *
 * It submits its commands to the Pipeline it is given and takes the replies to them,
 * in order, from the session, which pops each from the pipeline first (a CAPA +OK
 * stays at its head until its lines end). Each call returns a Step that tells the
 * session what to do. Only OnReply(), OnCapabilitiesEnd() and TlsStarted() send; a
 * mechanism other than USER/PASS (APOP, SASL) changes only how the credentials are
 * sent and answered between CAPA and LoggedIn.
 */
class Login {
public:
	/** What the session does after a call. */
	enum class Step {
		/** Nothing: wait for the next reply (commands may have been submitted).
		 */
		Continue,
		/** CAPA was answered +OK: pass each line of its body to
		 * OnCapabilityLine(), then call OnCapabilitiesEnd() at ".". */
		ReadCapabilities,
		/** STLS was accepted: make sure no byte follows its +OK in cleartext,
		 * run the TLS handshake, then call TlsStarted(). */
		StartTls,
		/** The credentials were accepted: the session may start its own
		 * commands, behind the CAPA just submitted unless Done(). */
		LoggedIn,
		/** The CAPA after login is answered: the login is over. */
		Done,
		/** The login failed: see Failure(). Nothing more may be sent. */
		Failed,
	};

	explicit Login(LoginConfig config);

	/** Sets the password, for a caller that looks it up only once connected; before
	 * the greeting is answered. */
	void SetPassword(std::string password) noexcept
	{
		config_.password = std::move(password);
	}

	/** Sets the access token, as SetPassword() does the password. */
	void SetToken(std::string token) noexcept { config_.token = std::move(token); }

	/**
	 * The status line that answers the head of the login's commands (the greeting
	 * first), already popped from @p pipeline unless a CAPA +OK.
	 * @param pipeline where the next commands go
	 * @return what the session does next
	 */
	Step OnReply(const Reply &reply, Pipeline &pipeline);

	/** One line of a CAPA body, dot-unstuffed, without its line end. */
	void OnCapabilityLine(std::string_view line) { caps_.AddLine(line); }

	/**
	 * The CAPA body ended (its command popped): the capabilities are complete and
	 * size @p pipeline's window.
	 * @return Continue before login, Done after it
	 */
	Step OnCapabilitiesEnd(Pipeline &pipeline);

	/**
	 * The TLS handshake asked for by Step::StartTls succeeded: the capabilities
	 * learnt before it are forgotten, since they could have been forged (RFC 2595
	 * §4), and the login goes on. Ignored unless the handshake was asked for.
	 * @return Continue
	 */
	Step TlsStarted(Pipeline &pipeline);

	/** @return whether the credentials were accepted */
	bool LoggedIn() const noexcept { return state_ == State::CapaAfter || Done(); }

	/** @return whether the login is over, CAPA after it included: every later
	 *         reply is the session's */
	bool Done() const noexcept { return state_ == State::Done; }

	/** @return the capabilities from the last CAPA body (known = false if none) */
	const Capabilities &Caps() const noexcept { return caps_; }

	/** @return why the login failed, after Step::Failed */
	const LoginFailure &Failure() const noexcept { return failure_; }

	/**
	 * @return @p server_text escaped and quoted for a message (at most 200 bytes
	 *         of it), with the password replaced: a server may echo it back
	 *         ("wrong password 'x'"), and it must not reach a log through us
	 */
	std::string Quote(std::string_view server_text) const;

	/**
	 * @return a printable form of the command line @p line (CRLF optional), with
	 *         the PASS argument replaced, for transcripts and logs
	 */
	static std::string Redact(std::string_view line);

private:
	enum class State {
		/** Waiting for the greeting. */
		Greeting,
		/** CAPA sent before login (before or after the TLS handshake). */
		Capa,
		/** STLS sent. */
		Stls,
		/** STLS accepted; waiting for TlsStarted(). */
		Handshake,
		/** USER sent (PASS too over TLS with a window). */
		User,
		/** PASS sent. */
		Pass,
		/** Logged in; CAPA sent again. */
		CapaAfter,
		Done,
		Failed,
	};

	Step AfterCapabilities(Pipeline &pipeline);
	Step SendCredentials(Pipeline &pipeline);
	Step Fail(LoginFailureKind kind, std::string message, const Reply &reply);

	LoginConfig config_;
	State state_ = State::Greeting;
	Capabilities caps_;
	LoginFailure failure_;
	/** CAPA was answered -ERR before login: do not send it again. */
	bool capa_failed_ = false;
	bool tls_started_ = false;
	/** PASS went out together with USER. */
	bool pass_sent_ = false;
};

} // namespace popstream::pop3
