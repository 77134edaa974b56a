#pragma once

#include "Auth.hxx"
#include "Capabilities.hxx"
#include "Reply.hxx"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace popstream::pop3 {

class Pipeline;

namespace limits {
/** Longest APOP timestamp accepted in a greeting, angle brackets included. RFC 1939 §7
 * shows `<process-ID.clock@hostname>`: a few dozen octets. Anything far longer is not
 * a timestamp a server made for us, and APOP is refused rather than hashed over it. */
inline constexpr std::size_t max_apop_timestamp_bytes = 256;
/** Longest SASL challenge accepted, in octets after base64 decoding. The longest a
 * mechanism we run receives is an OAuth error (RFC 7628 §3.2.2, a few hundred octets)
 * or SCRAM's server-first message (RFC 5802 §7, ~100): more is a server that is
 * trying to make us hold or hash what it likes. */
inline constexpr std::size_t max_sasl_challenge_bytes = 4096;
/** Longest AUTH line that may carry an initial response, CRLF included: RFC 2449 §4
 * limits a command to 255 octets, and Office 365 answers a longer XOAUTH2 line with
 * "-ERR Protocol error". Longer initial responses wait for the empty challenge
 * (RFC 5034 §4). */
inline constexpr std::size_t max_auth_line_bytes = 255;
} // namespace limits

/**
 * The APOP timestamp of a greeting (RFC 1939 §7), validated strictly, since its
 * digest is computed over whatever the server put there.
 * @param greeting the greeting line without CRLF
 * @return the timestamp with its angle brackets, or nothing with @p problem set (one
 *         line) if the greeting has none, more than one, or one that is not of the form
 *         `<...@...>`, printable ASCII without spaces, at most
 *         limits::max_apop_timestamp_bytes long
 */
std::optional<std::string> ApopTimestamp(std::string_view greeting, std::string &problem);

/** What a login needs to know: SessionConfig's fields of the same names (and `method`
 * is SessionPolicy::auth), which document them. The password and the token are only
 * ever submitted to the pipeline, and hidden from every message built with
 * Login::Quote(). */
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
	bool capa_before_greeting = false;
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
 * the TLS handshake (RFC 2595 §4) -> CAPA again -> the credentials -> CAPA after login,
 * since capabilities may change (RFC 2449 §5). It owns the capabilities, the
 * credentials and invariant 4: on a link where the secret could be read, PASS waits
 * for USER's +OK, nothing is sent behind PASS, and a method that reveals the secret
 * (RevealsSecret()) is refused before anything of it is sent.
 *
 * The credentials go as USER/PASS, APOP (RFC 1939 §7) or a SASL exchange (RFC 5034:
 * AUTH, "+ " continuations answered in base64, "*" to cancel). The method is the
 * configured one or, for AuthMethod::Auto, the first of these that the server offers
 * (CAPA's SASL list, a valid timestamp in the greeting for APOP) and the credentials
 * allow: with a token OAUTHBEARER, XOAUTH2; with a client certificate and no password
 * EXTERNAL; with a password SCRAM-SHA-256, SCRAM-SHA-1, then where the secret cannot
 * be read on the way (TLS, loopback, allow_plaintext) PLAIN and USER if listed, then
 * CRAM-MD5, APOP, and where the secret cannot be read LOGIN and USER unlisted. The
 * mechanisms themselves come from the LoginConfig's AuthProvider.
 *
 * It submits its commands to the Pipeline it is given and takes the replies to them,
 * in order, from the session, which pops each from the pipeline first (a CAPA +OK
 * stays at its head until its lines end). Each call returns a Step that tells the
 * session what to do. Only OnReply(), OnContinuation(), OnCapabilitiesEnd() and
 * TlsStarted() send.
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

	/**
	 * Submits CAPA ahead of the greeting if LoginConfig::capa_before_greeting asks
	 * for it (and neither skip_capa nor starttls is set), so that the greeting and
	 * the capabilities arrive in one round trip (RFC 2449 §5: CAPA is valid from
	 * the greeting on). Call right after the greeting is awaited; later calls do
	 * nothing.
	 */
	void Start(Pipeline &pipeline);

	/** Sets the password, for a caller that looks it up only once connected; before
	 * the greeting is answered. */
	void SetPassword(std::string password) noexcept
	{
		config_.password = std::move(password);
	}

	/** Sets LoginConfig::loopback, before the greeting is answered. */
	void SetLoopback(bool loopback) noexcept { config_.loopback = loopback; }

	/** Sets the access token, as SetPassword() does the password. */
	void SetToken(std::string token) noexcept { config_.token = std::move(token); }

	/**
	 * The status line that answers the head of the login's commands (the greeting
	 * first), already popped from @p pipeline unless a CAPA +OK.
	 * @param pipeline where the next commands go
	 * @return what the session does next
	 */
	Step OnReply(const Reply &reply, Pipeline &pipeline);

	/**
	 * A SASL continuation (RFC 5034 §4) answering the head of the login's
	 * commands, already popped: a line "+" or "+ TEXT" while an AUTH exchange runs.
	 * @param text what follows "+ " (base64, may be empty)
	 * @return Continue, or Failed for a continuation outside an exchange
	 */
	Step OnContinuation(std::string_view text, Pipeline &pipeline);

	/** @return whether a continuation may answer the head command now: an AUTH
	 *          exchange is running */
	bool InExchange() const noexcept
	{
		return state_ == State::Auth || state_ == State::AuthCancel;
	}

	/** @return the method that was used, once credentials were sent (Auto until
	 *          then) */
	AuthMethod Method() const noexcept { return used_; }

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

	/**
	 * @return once, right after the credentials went out: whether the session's
	 *         listing (STAT, UIDL, LIST) may be submitted now, behind them and the
	 *         CAPA after login, without waiting for the login's +OK. True only for
	 *         USER+PASS sent together (where nobody can read them), APOP, or AUTH
	 *         PLAIN with its initial response, to a server that pipelines in full
	 *         (Pipeline::FullWindow())
	 */
	bool TakeListingCue() noexcept { return std::exchange(listing_cue_, false); }

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
		/** USER sent (PASS too where it cannot be read). */
		User,
		/** PASS sent. */
		Pass,
		/** APOP sent. */
		Apop,
		/** AUTH or a SASL response sent. */
		Auth,
		/** "*" sent: waiting for the -ERR that ends the exchange. */
		AuthCancel,
		/** Logged in; CAPA sent again. */
		CapaAfter,
		Done,
		Failed,
	};

	Step AfterCapabilities(Pipeline &pipeline);
	Step SendCredentials(Pipeline &pipeline);
	/** @return the method Auto picks, or nothing with @p why set */
	std::optional<AuthMethod> Pick(std::string &why) const;
	/** @return whether @p method is offered and runnable; else @p why says why */
	bool Usable(AuthMethod method, std::string &why) const;
	/** @return whether nobody on the path can read what is sent */
	bool Private() const noexcept
	{
		return config_.secure || tls_started_ || config_.loopback ||
		       config_.allow_plaintext;
	}
	Step SendUserPass(Pipeline &pipeline);
	/** Submits the CAPA after login behind the credentials, and cues the listing
	 * (TakeListingCue()), where the server pipelines in full. */
	void QueueListingBehind(Pipeline &pipeline);
	Step SendApop(Pipeline &pipeline);
	Step SendAuth(AuthMethod method, Pipeline &pipeline);
	/** Sends "*" and fails with @p kind and @p message once the server answers. */
	Step Cancel(LoginFailureKind kind, std::string message, Pipeline &pipeline);
	Step LoggedInNow(Pipeline &pipeline);
	Step Fail(LoginFailureKind kind, std::string message, const Reply &reply);
	Step Fail(LoginFailureKind kind, std::string message);

	LoginConfig config_;
	State state_ = State::Greeting;
	Capabilities caps_;
	LoginFailure failure_;
	/** The greeting's APOP timestamp, if valid; else why not. */
	std::optional<std::string> apop_timestamp_;
	std::string apop_problem_;
	/** The running SASL exchange. */
	std::unique_ptr<SaslClient> sasl_;
	/** An initial response too long for the AUTH line (limits::max_auth_line_bytes),
	 * sent as the answer to the server's first, empty, challenge. */
	std::optional<std::string> pending_initial_;
	/** Set by Cancel(): how the login fails once "*" is answered. */
	LoginFailure cancel_;
	AuthMethod used_ = AuthMethod::Auto;
	/** CAPA was answered -ERR before login: do not send it again. */
	bool capa_failed_ = false;
	bool tls_started_ = false;
	/** PASS went out together with USER. */
	bool pass_sent_ = false;
	/** The CAPA after login went out behind the credentials. */
	bool capa_after_sent_ = false;
	/** For TakeListingCue(). */
	bool listing_cue_ = false;
	/** Read-only commands follow AUTH PLAIN's initial response: a challenge now
	 * cannot be answered. */
	bool listing_behind_auth_ = false;
	/** Start() sent CAPA before the greeting arrived. */
	bool capa_early_ = false;
};

} // namespace popstream::pop3
