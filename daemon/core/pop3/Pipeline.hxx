#pragma once

#include "Capabilities.hxx"
#include "LinkEstimate.hxx"
#include "Policy.hxx"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::pop3 {

namespace limits {
/** Commands in flight with a server that lists PIPELINING (RFC 2449 §6.6): enough for a
 * RETR of every message of a 20,000-message mailbox to go out in one round trip, so
 * that the window in octets (LinkEstimate), not this, follows the link. It bounds
 * memory: each costs an InFlight entry (16 bytes) and its line until written (~12). */
inline constexpr std::size_t full_window_commands = 65536;
/** Commands in flight when CAPA works but omits PIPELINING (Gmail): a few, so that a
 * server that reads only one command per read costs little if it loses any. */
inline constexpr std::size_t guarded_window_commands = 4;
} // namespace limits

/** A command whose reply is awaited, or, for Greeting, the server's first line. */
enum class Command {
	Greeting,
	Capa,
	Stls,
	User,
	Pass,
	/** APOP name digest (RFC 1939 §7). */
	Apop,
	/** AUTH, and each response line of the SASL exchange (RFC 5034 §4): each is
	 * answered by a "+ " continuation or a status line. */
	Auth,
	Stat,
	List,
	Uidl,
	/** Sent only to prove the last body whole when nothing else is due. */
	Noop,
	Retr,
	Dele,
	Quit,
};

/** One command sent and not yet answered in full. */
struct InFlight {
	Command command;
	/** For RETR and DELE: which of the messages the session acts on. */
	std::uint32_t index = 0;
	/** For RETR: the message's listed size in octets, counted against
	 * Pipeline::WindowBytes() until its body has arrived. */
	std::uint64_t retr_bytes = 0;
};

/**
 * The commands in flight and the one predicate that decides what may go out next
 * (daemon/core/README.md, "Who owns what"). POP3 replies carry no tag, so they answer
 * the commands strictly in the order sent (RFC 1939 §3): the head of the queue is what
 * the next status line answers. Owns the window in commands (lock-step, guarded or
 * full, from --pipelining and CAPA: RFC 2449 §6.6) and in listed RETR octets, and the
 * command bytes not yet taken by the caller, each of which has its entry in the queue.
 * It decides nothing about which command is due; the session asks CanSubmit() first.
 */
class Pipeline {
public:
	/**
	 * @param mode --pipelining
	 * @param lock_step force one command at a time (the redo after a session that
	 *        went out of step), whatever @p mode and CAPA say
	 */
	Pipeline(Pipelining mode, bool lock_step) noexcept;

	/**
	 * Sizes the window from what the server announced: call it whenever the
	 * capabilities are complete or forgotten (RFC 2595 §4 after STLS). Before the
	 * first call the server counts as one that does not answer CAPA.
	 */
	void Negotiate(const Capabilities &caps) noexcept;

	/** @return how many commands may be in flight at once; 1 is lock-step */
	std::size_t Window() const noexcept;

	/** @return whether the server pipelines in full (PIPELINING listed, or
	 *          --pipelining on): only then may the listing follow the credentials
	 *          (Login::TakeListingCue()) */
	bool FullWindow() const noexcept
	{
		return Window() > limits::guarded_window_commands;
	}

	/** Sets the window of listed RETR octets in flight (LinkEstimate::WindowBytes());
	 * limits::initial_window_bytes until then. RETRs already in flight stay. */
	void SetWindowBytes(std::uint64_t bytes) noexcept { window_bytes_ = bytes; }

	/** @return the window of listed RETR octets in flight */
	std::uint64_t WindowBytes() const noexcept { return window_bytes_; }

	/**
	 * The predicate: whether @p command may be sent now. True while fewer than
	 * Window() commands are in flight, and additionally for RETR, while the listed
	 * octets in flight stay within WindowBytes() (one RETR always may, so that
	 * a message larger than the window is fetched alone), and for QUIT, only if
	 * every command in flight is a DELE (a DELE is for a durable message, so the
	 * UPDATE it commits loses nothing: RFC 1939 §6).
	 * @param retr_bytes for RETR, the message's listed size in octets
	 */
	bool CanSubmit(Command command, std::uint64_t retr_bytes = 0) const noexcept;

	/**
	 * Appends the command line @p line (without its CRLF) to the output and queues
	 * what its reply answers. Asking CanSubmit() first is the caller's job: the login
	 * sends its commands one at a time by construction. Only the read-only listing
	 * (CAPA, STAT, UIDL, LIST) may follow unanswered credentials
	 * (daemon/core/README.md, invariant 4; asserted).
	 */
	void Submit(Command command, std::string_view line, std::uint32_t index = 0,
		    std::uint64_t retr_bytes = 0);

	/** Queues a reply that comes unasked: the greeting (RFC 1939 §4). */
	void Await(Command command);

	/** @return whether nothing is in flight */
	bool Empty() const noexcept { return in_flight_.empty(); }

	/** @return how many commands are in flight */
	std::size_t Size() const noexcept { return in_flight_.size(); }

	/** @return whether credentials or a SASL step are in flight (USER, PASS, APOP,
	 *          AUTH), whose reply a server may delay on purpose */
	bool LoginInFlight() const noexcept { return login_in_flight_ > 0; }

	/** @return what the next status line answers. Not Empty(). */
	const InFlight &Front() const noexcept { return in_flight_.front(); }

	/** @return the command sent last. Not Empty(). */
	const InFlight &Back() const noexcept { return in_flight_.back(); }

	/** The head was answered in full (status line, and body if any). Not Empty(). */
	void Pop() noexcept;

	/** @return whether a @p command is in flight anywhere in the queue */
	bool Has(Command command) const noexcept;

	/** @return listed octets of the RETRs in flight */
	std::uint64_t RetrBytes() const noexcept { return retr_bytes_; }

	/** @return the most commands ever in flight at once, the greeting included */
	std::size_t MostInFlight() const noexcept { return most_in_flight_; }

	/** @return whether two commands were ever in flight at once: only then can
	 *         replies out of step be an artefact of pipelining */
	bool Pipelined() const noexcept { return most_in_flight_ > 1; }

	/** @return the command bytes submitted since the last call, and forgets them */
	std::string TakeOutput() noexcept;

	/**
	 * @return the lines submitted since the last call, without line ends, as a log
	 *         may show them: the argument of PASS, the digest of APOP, an AUTH
	 *         initial response and every SASL response replaced by "********"
	 *         (what is secret is known here from the command, not guessed from the
	 *         bytes)
	 */
	std::vector<std::string> TakeShown();

	/** Keeps the lines for TakeShown() from now on; off by default, so that a
	 *  session nobody logs holds no copy of its commands. */
	void KeepShown() noexcept { keep_shown_ = true; }

	/** Forgets the command bytes not yet taken: after a failure nothing more may
	 * reach the server, since a DELE or QUIT could be misattributed. Their entries
	 * stay queued, for the error message. */
	void DropOutput() noexcept;

	/** @return how many DELEs TakeOutput() has handed out, so that the caller
	 *          learns what it writes without parsing it */
	std::uint32_t DelesTaken() const noexcept { return deles_taken_; }

	/** @return whether TakeOutput() has handed out a QUIT */
	bool QuitTaken() const noexcept { return quit_taken_; }

private:
	Pipelining mode_;
	bool lock_step_;
	/** From the last Negotiate(): CAPA answered, and listed PIPELINING. */
	bool capa_known_ = false;
	bool capa_pipelining_ = false;
	std::deque<InFlight> in_flight_;
	std::uint64_t retr_bytes_ = 0;
	std::uint64_t window_bytes_ = limits::initial_window_bytes;
	/** Credentials (USER, PASS, APOP, AUTH) in flight: only the listing may follow.
	 */
	std::size_t login_in_flight_ = 0;
	std::size_t most_in_flight_ = 0;
	std::string out_;
	/** What TakeShown() hands out: out_'s lines with the secrets replaced. */
	std::vector<std::string> shown_;
	bool keep_shown_ = false;
	/** DELEs and QUIT in out_, moved to the totals below when it is taken. */
	std::uint32_t out_deles_ = 0;
	bool out_quit_ = false;
	std::uint32_t deles_taken_ = 0;
	bool quit_taken_ = false;
};

} // namespace popstream::pop3
