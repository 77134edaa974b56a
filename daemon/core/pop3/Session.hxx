#pragma once

#include "Auth.hxx"
#include "Capabilities.hxx"
#include "Inventory.hxx"
#include "LinkEstimate.hxx"
#include "Login.hxx"
#include "MultilineDecoder.hxx"
#include "Pipeline.hxx"
#include "Reply.hxx"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace popstream::pop3 {

/**
 * Bounds on what a server can make us hold in memory (see daemon/core/README.md). Each
 * lives with the class that enforces it: the window's in Pipeline.hxx, the listing's in
 * Inventory.hxx; these are the session's own, on its input.
 */
namespace limits {
/** Longest status or listing line, in bytes including CRLF. RFC 1939 §3 allows 512;
 * we tolerate far more (some servers send long IMPLEMENTATION or error texts) while
 * keeping a hostile endless line from growing memory. */
inline constexpr std::size_t max_line_bytes = 8192;
/** Longest UIDL line dropped as it streams, costing only its message the unique-id
 * (servers have sent unique-ids of 1 MiB); a longer one is an endless line, and ends
 * the session like any other (case 10). */
inline constexpr std::uint64_t max_skipped_line_bytes = 4u << 20;
/** A message may exceed 16 times its listed size plus this before the session is
 * abandoned as runaway: generous, since some servers misstate sizes, yet an endless
 * RETR response ends instead of filling the disk. */
inline constexpr std::uint64_t message_overrun_bytes = 16u << 20;
} // namespace limits

/**
 * What one session should do: the account's policy and the run's limits for this
 * session (InventoryRules, which document them), the login, and how this session runs.
 */
struct SessionConfig : InventoryRules {
	/** USER argument (RFC 1939 §7). */
	std::string user;
	/** PASS argument. Only ever written to the output queue; never in an event (Login
	 * owns it). */
	std::string password;
	/** Keep the command lines for TakeShown() (a verbose log); off, nothing is kept.
	 */
	bool show_commands = false;
	/** Log in and list, then QUIT: download and delete nothing. */
	bool dry_run = false;
	/** Force one command at a time (the redo after a desynchronised session). */
	bool lock_step = false;
	/** Do not send CAPA (a reconnect to a server that hung up on CAPA). */
	bool skip_capa = false;
	/** Send CAPA at once, before the greeting arrives, so that both take one
	 * round trip (Login::Start()); ignored with skip_capa, lock_step or
	 * Pipelining::Off. The caller chooses where: fetch asks for it over implicit
	 * TLS when it offers a saved TLS session, whose abbreviated handshake (RFC
	 * 5246 §7.3) lets CAPA go with the client's Finished while the server sends
	 * its greeting only after reading that. */
	bool capa_before_greeting = false;
	/** Secure the cleartext connection with STLS (RFC 2595 §4) before logging in;
	 * never log in if the server refuses it. */
	bool starttls = false;
	/** The link is encrypted (implicit TLS or after STLS): USER and PASS may then be
	 * pipelined. */
	bool secure = false;
	/** The peer is a loopback address (127.0.0.0/8, ::1): nothing sent can be read
	 * on the way, so a method that reveals the secret may run without TLS, as ssh
	 * port forwards need. */
	bool loopback = false;
	/** An OAuth 2.0 access token for AuthMethod::Xoauth2 / Oauthbearer. Like the
	 * password, only ever written to the output queue. */
	std::string token;
	/** A TLS client certificate is presented: SASL EXTERNAL can log in. */
	bool client_certificate = false;
	/** The server's name and port as the user wrote them, for OAUTHBEARER (RFC 7628
	 * §3.1). */
	std::string host;
	unsigned port = 0;
	/** The SASL mechanisms and the APOP digest (daemon/auth/); nullptr = USER/PASS
	 * only. */
	std::shared_ptr<const AuthProvider> auth_provider;
	/** A monotonic clock in microseconds, read when input is fed and output taken,
	 * so that the window of RETR octets follows the link (LinkEstimate); empty, it
	 * stays limits::initial_window_bytes (and the session is deterministic). */
	std::function<std::uint64_t()> clock_us;

	/** @return the account's settings, to be set in one assignment */
	SessionPolicy &Policy() noexcept { return *this; }
	const SessionPolicy &Policy() const noexcept { return *this; }
};

/** Why a session ended early. */
enum class ErrorKind {
	/** The greeting was -ERR: the server is not taking logins now. */
	Greeting,
	/** STLS was refused or the server misbehaved around it: the connection cannot be
	 * secured, so no password is sent. */
	StartTls,
	/** USER or PASS was rejected (RFC 1939 §7), without a code that says "later". */
	Auth,
	/** No login method can be used: the one asked for is not offered, would reveal
	 * the secret on a cleartext link, or lacks its credentials; nothing secret was
	 * sent. The configuration has to change. */
	AuthMethod,
	/** USER or PASS was rejected with [IN-USE], [LOGIN-DELAY] or [SYS/TEMP]
	 * (RFC 2449 §8.1, RFC 3206): try again later. */
	AuthTemporary,
	/** The server broke the protocol: an unparsable listing, a line too long, a
	 * runaway message, a reply where none was expected. */
	Protocol,
	/** A line arrived where a status line was expected that is neither +OK nor -ERR:
	 * replies and commands may be out of step. */
	Desync,
	/** The connection ended while replies were still expected. Not by itself a
	 * sign of replies out of step: copies proven before it stay proven. */
	ConnectionLost,
	/** The server stayed silent past the idle timeout. */
	Timeout,
	/** QUIT was answered with -ERR or not at all: deletions are not committed. */
	QuitFailed,
};

/** What to do after a failed session. */
enum class Retry {
	/** Nothing more in this run. */
	None,
	/** Redo the session once, one command at a time, on a fresh connection: the
	 * failure may be an artefact of pipelining (RFC 2449 §6.6). */
	LockStep,
	/** The connection dropped after login: go on in a new session as before
	 * (pipelined), where the copies proven so far are DELE'd without RETR. The
	 * caller falls back to LockStep if such a session saves nothing and drops
	 * again, so that a server that cannot take pipelined input cannot loop. */
	Resume,
	/** The connection dropped before login finished: reconnect once, without CAPA. */
	Reconnect,
};

/** A session-ending failure. */
struct Error {
	ErrorKind kind = ErrorKind::Protocol;
	/** One line for the user; server text in it is escaped. Never holds the password.
	 */
	std::string message;
	/** The server's reply, if one caused the error. */
	std::optional<Reply> reply;
	Retry retry = Retry::None;
	/** The connection failed while CAPA was outstanding: some old servers hang up on
	 * CAPA, so a reconnect should skip it. */
	bool capa_suspect = false;
	/** The connection went silent, closed or was reset where a RETR's (or the
	 * NOOP's) status line was due, not in the middle of a body: exactly how a
	 * reply the server never sent ends a session, and such a reply shifts every
	 * body after it onto the wrong message (sizes may all match), so the copies
	 * this session proved may not be what they seem. */
	bool ended_where_reply_due = false;
};

/** Counters for the summary, updated as the session runs: the listing's (from
 * Inventory), then the session's own. */
struct SessionStats : InventoryCounts {
	/** Messages whose size differed from the listing. */
	std::uint32_t size_mismatches = 0;
	/** Messages whose body arrived complete (MessageEnd). */
	std::uint32_t retrieved = 0;
	/** Decoded body bytes received (LF line ends). */
	std::uint64_t retrieved_bytes = 0;
	/** Messages reported durable through Saved(). */
	std::uint32_t saved = 0;
	/** RETRs answered -ERR, and messages the caller could not save. */
	std::uint32_t not_retrieved = 0;
	std::uint32_t not_saved = 0;
	/** DELEs answered +OK: marked for deletion, not yet deleted (RFC 1939 §6). */
	std::uint32_t marked = 0;
	/** DELEs answered -ERR. */
	std::uint32_t dele_failed = 0;
	/** Marked messages the server really deleted: set to `marked` when QUIT is +OK.
	 */
	std::uint32_t deleted = 0;
	/** Most commands that were ever in flight at once (1 = lock-step). */
	std::size_t max_in_flight = 0;
	/** The link as measured (LinkEstimate), 0 where unknown: the smallest round
	 * trip in microseconds, the throughput in bytes per second and the window of
	 * listed RETR octets in flight it gave. */
	std::uint64_t rtt_us = 0;
	std::uint64_t bytes_per_second = 0;
	std::uint64_t window_bytes = 0;
	/** DELE commands in the bytes TakeOutput() returned, so that the caller needs
	 * not read its own output: commands dropped when the session failed before
	 * they were taken are not counted. */
	std::uint32_t dele_output = 0;
	/** QUIT was in the bytes TakeOutput() returned (unlike QuitSent(), which is
	 * true once QUIT is queued). */
	bool quit_output = false;
};

/** Session established; the listing has arrived. */
struct ListedEvent {
	std::uint32_t count;
	std::uint64_t bytes;
	/** False if the server has no UIDL (RFC 1939 §7 makes it optional). */
	bool have_uidl;
};
/** A RETR answered +OK: the body follows. */
struct MessageBeginEvent {
	std::uint32_t number;
	/** Listed size in octets (CRLF form). */
	std::uint64_t size;
	/** Unique-id, or empty if the server has no UIDL. */
	std::string_view uidl;
};
/** Part of a message body: dot-unstuffed, LF line ends. Valid until the next call to
 * Next() or Feed(). Never empty. */
struct MessageDataEvent {
	std::uint32_t number;
	std::string_view bytes;
};
/** The body of the message is complete and proven whole (daemon/core/README.md,
 * invariant 1): it ended with its terminator (RFC 1939 §3), is of the listed size
 * (in lock-step a loose size is accepted with a warning), and was followed by a
 * well-formed reply or a clean end of the connection. Only such a copy may be
 * published and vouch for a DELE; a copy that fails any of these is never reported
 * here, and the caller discards what it received when MessageDiscardedEvent or
 * FailedEvent says so. The caller must answer with Saved() or
 * NotSaved() for this number before the session can QUIT. */
struct MessageEndEvent {
	std::uint32_t number;
	/** The body's size as the server counts it (CRLF line ends, unstuffed). */
	std::uint64_t octets;
	/** octets equals the size in the listing (or exceeds it by the CRLF that framing
	 * adds to a message lacking a final line end); false only for a loose size
	 * accepted one command at a time. */
	bool size_matches;
};
/** A RETR answered -ERR (RFC 1939 §7): this message is skipped, the session goes on. */
struct MessageFailedEvent {
	std::uint32_t number;
	std::string_view uidl;
	Reply reply;
};
/** A body that began with MessageBeginEvent was received but cannot be proven whole
 * (one command at a time, a size the listing contradicts that is not the known loose
 * count: daemon/core/README.md, invariant 1). The caller discards what it received
 * for this number; the message is never reported saved, so never deleted, and stays
 * on the server. The session goes on with the next message. */
struct MessageDiscardedEvent {
	std::uint32_t number;
	/** Unique-id, or empty if the server has no UIDL. */
	std::string_view uidl;
	/** One line for the user: the message, its unique-id and the sizes. */
	std::string text;
};
/** Something worth a warning that does not end the session. */
struct WarningEvent {
	std::string text;
};
/** The session is over. */
struct FinishedEvent {
	/** QUIT was answered +OK: the server entered UPDATE and its deletions are real
	 * (RFC 1939 §6). */
	bool committed;
};
/** The session failed. No further commands should be sent; close the connection. */
struct FailedEvent {
	Error error;
};
/** STLS was accepted: start the TLS handshake on the connection, then call
 * Session::TlsStarted(). */
struct StartTlsEvent {};
/** Nothing more until more input is fed (or the caller calls Saved/NotSaved). */
struct NeedDataEvent {};

/** One step of progress reported by Session::Next(). */
using Event =
    std::variant<NeedDataEvent, ListedEvent, MessageBeginEvent, MessageDataEvent,
		 MessageEndEvent, MessageFailedEvent, MessageDiscardedEvent, WarningEvent,
		 FinishedEvent, FailedEvent, StartTlsEvent>;

/**
 * The client side of one POP3 session (RFC 1939, with CAPA and PIPELINING from
 * RFC 2449 and response codes from RFC 2449 §8 / RFC 3206), as an I/O-free push
 * machine: feed it the server's bytes, drain Next() until NeedDataEvent, send what
 * TakeOutput() returns. It never touches sockets, files or clocks.
 *
 * Order of work: greeting, CAPA (or CAPA sent before the greeting arrives:
 * SessionConfig::capa_before_greeting), USER, PASS, CAPA again (capabilities may
 * change after login, RFC 2449 §5), STAT + UIDL + LIST, sent together where nobody can
 * read the password and the server pipelines (only these read-only commands ever follow
 * unanswered credentials), then one RETR per wanted message within a window bounded in
 * commands and in octets (the latter following the link: LinkEstimate), a
 * DELE for each message only once the caller reports it durable via Saved(), and QUIT
 * when every reply is in. Replies are matched to commands strictly in order; the first
 * reply that cannot be a status line ends the session (Desync) so that no DELE can be
 * attributed to the wrong message.
 *
 * It composes three parts, each the one owner of its invariants (daemon/core/README.md,
 * "Who owns what"): Login runs everything up to the CAPA after login, Pipeline holds
 * the commands in flight and decides what may go out next, Inventory keeps the
 * streamed listing and decides which messages to fetch, delete or leave. The session
 * itself frames the input, streams bodies and proves them whole, tracks saves (no DELE
 * before Saved()) and decides when to QUIT.
 *
 * Contract: call Next() until it returns NeedDataEvent before the next Feed(); then
 * input buffering is bounded by the largest fed chunk plus limits::max_line_bytes.
 */
class Session {
public:
	explicit Session(SessionConfig config);

	/**
	 * Sets SessionConfig::password, for a caller that looks it up only once
	 * connected. Call it before feeding the greeting (the password is first needed
	 * to answer it).
	 */
	void SetPassword(std::string password) noexcept
	{
		login_.SetPassword(std::move(password));
	}

	/** Sets SessionConfig::loopback, for a caller that learns the peer's address
	 * only once connected; before feeding the greeting. */
	void SetLoopback(bool loopback) noexcept { login_.SetLoopback(loopback); }

	/** Sets SessionConfig::token, as SetPassword() does the password. */
	void SetToken(std::string token) noexcept { login_.SetToken(std::move(token)); }

	/** Appends bytes received from the server. */
	void Feed(std::string_view bytes);

	/** @return the next event; NeedDataEvent when the input is used up */
	Event Next();

	/** @return the command bytes to send now (possibly empty), and clears them */
	std::string TakeOutput();

	/**
	 * @return the command lines submitted since the last call, as a log may show
	 *         them (Pipeline::TakeShown(): PASS, APOP and SASL secrets replaced)
	 */
	std::vector<std::string> TakeShown();

	/**
	 * The caller made message @p number durable (fsync'd file in new/, fsync'd
	 * directory): it may now be DELE'd. Ignored after the session failed.
	 */
	void Saved(std::uint32_t number);

	/** The caller could not save message @p number: it stays on the server. */
	void NotSaved(std::uint32_t number);

	/**
	 * The TLS handshake asked for by StartTlsEvent succeeded: capabilities learnt
	 * before it are forgotten (RFC 2595 §4) and the login proceeds.
	 */
	void TlsStarted();

	/**
	 * Sends no further RETR: the messages in flight are finished, saved ones are
	 * DELE'd, and the session QUITs so that their deletion is committed. For a
	 * graceful shutdown, or when the Maildir cannot take more.
	 */
	void StopRetrieving();

	/**
	 * The connection reached EOF or failed. Once the input fed so far is used up,
	 * Next() reports how that ends the session.
	 * @param reason how it ended, for the error message
	 * @param clean the server closed it (FIN) after its last byte, rather than a
	 *        reset: a body complete just before a clean end is proven by it
	 */
	void ConnectionClosed(std::string reason = "connection closed by the server",
			      bool clean = true);

	/**
	 * The server was silent for the idle timeout.
	 * @param reason for the error message
	 */
	void TimedOut(std::string reason = "server stopped responding");

	/**
	 * @return true while a RETR is in flight, i.e. more message data will come
	 *         without the caller doing anything (used to batch directory fsyncs)
	 */
	bool RetrievingMore() const noexcept;

	/** @return true once QUIT has been sent (even if the session failed after):
	 *         the server may then have applied the DELEs it received */
	bool QuitSent() const noexcept { return quit_sent_; }

	/** @return listed octets of the RETRs sent and not yet answered in full */
	std::uint64_t InFlightRetrBytes() const noexcept { return pipeline_.RetrBytes(); }

	/** @return true after +OK to QUIT, until the server closes the connection; the
	 *         caller should then give it a few seconds before calling TimedOut() */
	bool AwaitingClose() const noexcept { return phase_ == Phase::Closing; }

	/** @return true once a FinishedEvent or FailedEvent has been queued (it may not
	 *         have been returned by Next() yet) */
	bool Over() const noexcept
	{
		return phase_ == Phase::Done || phase_ == Phase::Failed;
	}

	/** @return running counters */
	const SessionStats &Stats() const noexcept;

	/** @return the unique-ids of the messages whose DELE was answered +OK: deleted
	 *         once the session has Finished (RFC 1939 §6); views valid while the
	 *         session lives */
	std::vector<std::string_view> MarkedUidls() const;

	/** @return true once the listing is in if every listed message had a unique-id:
	 *         the unique-ids passed to already_saved are then all the server has, so
	 *         a saved copy whose unique-id was not among them is gone from it */
	bool UidlsComplete() const noexcept { return inventory_.UidlsComplete(); }

	/**
	 * @return whether the copy of message @p number could hold another message's
	 *         content without the size check noticing: another message downloaded
	 *         in this session is listed within 2 octets of its size, or its own
	 *         size was accepted loosely. After a session that went out of step, or
	 *         ended where a RETR's reply was due, only such copies are in doubt (a
	 *         missing or doubled reply shifts bodies onto other messages)
	 */
	bool ShiftSuspect(std::uint32_t number) const;

	/** @return the unique-ids the server gives to more than one listed message (as
	 *         far as the streamed listing can tell: always when one of them was
	 *         acted on or saved earlier); views valid while the session lives. A
	 *         saved copy under one of them can no longer be trusted to be either. */
	std::vector<std::string_view> DuplicateUidls() const;

	/**
	 * @return after a committed session that left messages for later: the number
	 *         the lowest-numbered of them has in the next session (its number now,
	 * less the messages deleted before it), for SessionConfig::first_number; 1 if
	 *         none was left
	 */
	std::uint32_t ResumeNumber() const noexcept;

	/** @return capabilities from the last CAPA response */
	const Capabilities &Caps() const noexcept { return login_.Caps(); }

	/**
	 * @return a printable form of the command line @p line (one line of
	 * TakeOutput()), with the PASS argument replaced, for transcripts
	 */
	static std::string Redact(std::string_view line) { return Login::Redact(line); }

	/**
	 * @return each command line of @p output (what TakeOutput() returned) as
	 *         Redact() shows it, for a log of the commands sent
	 */
	static std::vector<std::string> RedactLines(std::string_view output);

private:
	enum class Phase {
		/** Login drives: greeting, CAPA, STLS, USER, PASS. */
		Login,
		/** Logged in; waiting for CAPA, STAT, LIST, UIDL. */
		Listing,
		/** RETR/DELE exchange. */
		Transaction,
		/** QUIT sent. */
		Quitting,
		/** QUIT answered +OK; waiting for the server to close (RFC 1939 §6). Data
		 * instead means replies were out of step. */
		Closing,
		Done,
		Failed,
	};

	/** How the bytes at the head of the input are to be read. */
	enum class Reading {
		StatusLine,
		/** CAPA/LIST/UIDL body: bounded lines. */
		Listing,
		/** RETR body: streamed. */
		Body,
	};

	/** Where a message the session acts on stands, by its index in inventory_. */
	struct Progress {
		/** Its body is proven whole and Saved()/NotSaved() is still due. */
		bool awaiting_save = false;
		/** Its DELE was answered +OK. */
		bool marked = false;
		/** Its copy was accepted with a size other than the listed one. */
		bool loose = false;
	};

	void OnLogin(Login::Step step);
	void SendListing();
	void Pump();
	std::optional<std::string_view> TakeLine();
	void HandleStatus(std::string_view line);
	void HandleListingLine(std::string_view line);
	void HandleListingEnd();
	bool SkipLongLine();
	void HandleBody();
	void Prove();
	std::string Quote(std::string_view server_text) const;
	void TakeInventoryWarnings();
	void StartTransaction();
	void SendQuit();
	void Fail(ErrorKind kind, std::string message, std::optional<Reply> reply = {});
	void FailConnection(ErrorKind kind, std::string message);
	void Finish(bool committed);
	void AfterReply();
	Retry RetryFor(ErrorKind kind) const noexcept;
	std::string Describe(const InFlight &f) const;

	/** What the session was asked; user, password and already_saved were handed to
	 * login_ and inventory_, which own them. */
	SessionConfig config_;
	Phase phase_ = Phase::Login;
	Reading reading_ = Reading::StatusLine;
	/** The session's own counters; Stats() adds those of pipeline_ and inventory_.
	 */
	mutable SessionStats stats_;
	Pipeline pipeline_;
	Login login_;
	Inventory inventory_;

	std::string in_;
	std::size_t in_pos_ = 0;
	/** Where the search for LF resumes, so that byte-at-a-time input is not O(n^2).
	 */
	std::size_t scan_pos_ = 0;
	/** The rest of an over-long UIDL line is being discarded; how much of it so
	 * far. */
	bool skipping_line_ = false;
	std::uint64_t skipped_bytes_ = 0;
	std::string body_;
	MultilineDecoder decoder_;
	std::uint64_t body_bytes_ = 0;

	/** STAT, UIDL, LIST not yet sent (lock-step sends them one by one). */
	std::deque<Command> pending_listing_;
	/** Indices in inventory_ of the messages whose RETR, DELE is due. */
	std::deque<std::uint32_t> pending_retr_;
	std::deque<std::uint32_t> pending_dele_;
	std::vector<Progress> progress_;
	/** The last body, complete and of a size accepted, waiting for its proof: the
	 * next well-formed status line, or a clean end of the connection. Only one can
	 * wait, since the status line that proves it is the one after it. */
	std::optional<MessageEndEvent> unproven_;
	/** Bodies complete (proven or not) whose Saved()/NotSaved() is due: QUIT waits.
	 */
	std::uint32_t awaiting_save_ = 0;
	bool quit_sent_ = false;

	bool eof_ = false;
	/** The server closed with FIN, not a reset. */
	bool clean_eof_ = false;
	bool timed_out_ = false;
	std::string end_reason_;
	std::deque<Event> queued_;

	/** The listing went out behind the credentials (Login::TakeListingCue()). */
	bool listing_sent_ = false;
	LinkEstimate link_;
	/** config_.clock_us() at the last Feed(). */
	std::uint64_t now_us_ = 0;
	/** When a batch went out with nothing older in flight, 0 if none is timed. */
	std::uint64_t probe_us_ = 0;
};

} // namespace popstream::pop3
