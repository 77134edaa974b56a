#pragma once

#include "Capabilities.hxx"
#include "MultilineDecoder.hxx"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::pop3 {

/**
 * The POP3 side of `popstream serverinfo`: reads the greeting, asks CAPA (RFC 2449 §5),
 * optionally upgrades with STLS (RFC 2595 §4) and asks CAPA again, then QUITs. It sends
 * no credentials at all, so it may run over a connection whose certificate was not
 * trusted. Like Session it does no I/O: the caller feeds it what the server sent,
 * sends what TakeOutput() returns, and starts TLS when Next() says so.
 *
 * Security rules kept as for a login: bytes that arrive after the +OK to STLS and
 * before the handshake are an injection attempt (RFC 2595 §4, CVE-2011-0411 style)
 * and end the probe; the capabilities said before TLS are forgotten once it is up.
 */
class ServerProbe {
public:
	/** The longest status or CAPA line kept (RFC 2449 §4 allows 512 octets). */
	static constexpr std::size_t kMaxLine = 8192;
	/** CAPA lines kept for printing; the rest are only folded into Capabilities. */
	static constexpr std::size_t kMaxCapaLines = 100;

	/** What the caller should do after Feed(), TlsStarted() or Closed(). */
	enum class Step {
		/** Send TakeOutput() (if not empty) and wait for more input. */
		Wait,
		/** Send TakeOutput(), then start the TLS handshake; call TlsStarted()
		 * when it is done. Nothing else may be sent meanwhile. */
		StartTls,
		/** QUIT was answered +OK (or the server closed after it): done. */
		Done,
		/** The probe failed; Error() says why. What was learnt so far stays. */
		Failed,
	};

	/** @param starttls send STLS after the first CAPA (even if CAPA did not list
	 *        it: the server's answer is what the user wants to see) */
	explicit ServerProbe(bool starttls) noexcept : starttls_(starttls) {}

	/**
	 * Appends bytes from the server and advances as far as they allow.
	 * @return the next step; Failed for a reply that is not a status line, a line
	 *         over kMaxLine, an -ERR greeting or STLS, or bytes after STLS's +OK
	 */
	Step Feed(std::string_view bytes);

	/** The TLS handshake asked for by Step::StartTls succeeded: asks CAPA again,
	 * with what was said before forgotten. @return the next step */
	Step TlsStarted();

	/** The server closed the connection. @return Done after QUIT was sent, else
	 *         Failed ("the server closed the connection ...") */
	Step Closed();

	/** @return the commands to send, in order (CRLF-terminated); empties it */
	std::string TakeOutput() noexcept;

	/** @return the greeting line (untrusted: escape before printing); empty until
	 *          it has come */
	const std::string &Greeting() const noexcept { return greeting_; }

	/** @return what the last CAPA said (after TLS: only what it said over TLS) */
	const Capabilities &Caps() const noexcept { return caps_; }

	/** @return the lines of the last CAPA response, dot-unstuffed, at most
	 *          kMaxCapaLines (untrusted) */
	const std::vector<std::string> &CapaLines() const noexcept { return capa_lines_; }

	/** @return true once STLS's +OK came and TlsStarted() was called */
	bool TlsActive() const noexcept { return tls_; }

	/** @return the reason for Step::Failed, one line, server text escaped */
	const std::string &Error() const noexcept { return error_; }

	/** @return true if the failure was the server saying no (an -ERR greeting or
	 *          STLS, a close before the greeting) rather than a protocol violation */
	bool Refused() const noexcept { return refused_; }

private:
	enum class State {
		Greeting,
		CapaStatus,
		CapaBody,
		StlsStatus,
		AwaitTls,
		QuitStatus,
		Done,
		Failed,
	};

	/** Runs the machine over the buffered input. */
	Step Advance();
	/** Takes one line (without CRLF/LF) from the input, or returns false. */
	bool TakeLine(std::string &line);
	Step Fail(std::string message);
	/** Sends CAPA and expects its status. */
	void SendCapa();
	/** After a CAPA (or its -ERR): STLS, or QUIT. */
	void AfterCapa();
	Step StepFor() const noexcept;

	bool starttls_;
	bool tls_ = false;
	bool quit_sent_ = false;
	bool refused_ = false;
	State state_ = State::Greeting;
	std::string input_;
	std::string output_;
	std::string greeting_;
	Capabilities caps_;
	std::vector<std::string> capa_lines_;
	MultilineDecoder decoder_;
	std::string body_;
	std::string error_;
};

} // namespace popstream::pop3
