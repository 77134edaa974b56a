#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace popstream::test {

namespace detail {
/** mbedTLS server configuration, defined in FakePop3Server.cxx. */
struct TlsConfig;
} // namespace detail

/**
 * How the server cuts its output into write() calls (case 08). Every schedule except
 * Whole and Coalesced pauses FakePop3Server::SetWriteGap() (2 ms by default) between
 * two writes, and TCP_NODELAY is always on, so each piece normally reaches the client
 * in its own segment (and, under TLS, in its own record).
 */
enum class WriteSchedule {
	/** One write per reply. */
	Whole,
	/** One byte per write, for the whole session. */
	OneByte,
	/** Every "\r\n" is cut between the CR and the LF. */
	SplitCrLf,
	/** Every multi-line terminator "\r\n.\r\n" is cut as "\r\n." | "\r\n". */
	SplitTerminatorAfterDot,
	/** Every multi-line terminator "\r\n.\r\n" is cut as "\r\n" | ".\r\n". */
	SplitTerminatorBeforeDot,
	/** Every multi-line terminator "\r\n.\r\n" is cut as "\r\n.\r" | "\n". */
	SplitTerminatorBeforeLf,
	/** Every stuffed line start "\n.." is cut between the two dots. */
	SplitStuffedDots,
	/**
	 * Replies are held back while more commands keep arriving (within 10 ms) and
	 * then sent together in a single write, so the replies to everything the
	 * client pipelined share one segment.
	 */
	Coalesced,
};

/** What the server does with the connection once a reply has been sent. */
enum class AfterReply {
	/** Keep serving commands. */
	Continue,
	/** shutdown(SHUT_WR), then read (and record) until the client hangs up, at most
	 * 1 s, then close(): the client sees a FIN, never an RST. */
	Close,
	/**
	 * Close with SO_LINGER {1, 0}: the client sees an RST. The server first waits
	 * until the client's kernel has acknowledged everything sent (plus 100 ms), so
	 * that the data before the reset reliably reaches the client.
	 */
	Reset,
	/** Keep the connection open, send nothing more and ignore input until the client
	 * hangs up. */
	Stall,
};

/** The session state (RFC 1939 §3) a rule is restricted to. */
enum class Phase {
	/** Any state. */
	Any,
	/** Before a successful PASS (also covers the greeting). */
	Authorization,
	/** After a successful PASS. */
	Transaction,
};

/** Bytes the server sends instead of its built-in reply. */
struct ScriptedReply {
	/** Sent exactly as given: no CRLF is added and nothing is dot-stuffed. May be
	 * empty. */
	std::string bytes;
	/** What happens after the bytes (and the stream, if any) are sent. */
	AfterReply after = AfterReply::Continue;
	/**
	 * If not empty, sent over and over after @ref bytes (in chunks of about 64 KiB,
	 * 16 KiB under TLS, whatever the write schedule) until @ref stream_limit octets
	 * of it have been sent or the client stops accepting data (hang-up or reset).
	 * Nothing is allocated per repetition, so a stream of gigabytes costs nothing.
	 */
	std::string stream_unit;
	/** Upper bound for the stream, in octets. */
	std::uint64_t stream_limit = 0;
	/** Octets per write of the stream; 0 = the default chunk (see stream_unit). */
	std::size_t stream_chunk = 0;
	/** Pause between two writes of the stream, to drip it slowly; 0 = none. */
	std::chrono::milliseconds stream_pause{0};
	/** Bytes starting with "+OK" log the client in (AUTHORIZATION -> TRANSACTION,
	 * RFC 1939 §3): the end of a scripted SASL (RFC 5034) or APOP login, which the
	 * server does not implement itself. */
	bool logs_in = false;

	ScriptedReply() = default;

	/**
	 * @p bytes, then @p after. Implicit, so that a rule reads
	 * {"CMD", 0, Phase::Any, {"+OK\r\n"}}.
	 */
	ScriptedReply(std::string _bytes, AfterReply _after = AfterReply::Continue)
	    : bytes(std::move(_bytes)), after(_after)
	{
	}

	/**
	 * @return a copy that streams @p unit after the bytes, up to @p limit octets, in
	 *         writes of @p chunk octets (0 = default) with @p pause between them
	 */
	ScriptedReply Streaming(std::string unit, std::uint64_t limit,
				std::size_t chunk = 0,
				std::chrono::milliseconds pause = {}) const
	{
		ScriptedReply r = *this;
		r.stream_unit = std::move(unit);
		r.stream_limit = limit;
		r.stream_chunk = chunk;
		r.stream_pause = pause;
		return r;
	}
};

/**
 * One scripted override. Among the rules that match a command, the most specific wins
 * (a rule for a connection beats one for any connection, then a rule with arguments beats
 * a verb-only one); among equally specific rules the one added last wins.
 */
struct ReplyRule {
	/**
	 * "VERB" matches the verb with any arguments, "VERB ARGS" only those arguments.
	 * The verb is compared case-insensitively, the arguments exactly (after trimming
	 * blanks). The empty string designates the greeting.
	 */
	std::string command;
	/** 1-based connection number, or 0 for every connection. */
	unsigned connection = 0;
	/** The session state in which the rule applies. */
	Phase phase = Phase::Any;
	/** What to send. */
	ScriptedReply reply;
	/** With an empty #command: match an empty command line (a SASL response of
	 * zero octets, RFC 5034 §4) instead of the greeting. */
	bool empty_line = false;
};

/** A message in the fake maildrop. */
struct StoredMessage {
	/** The message as the server stores it: CRLF line ends, not dot-stuffed. */
	std::string data;
	/** Its unique-id (RFC 1939 §7 UIDL). */
	std::string uid;
};

/**
 * A scripted POP3 server for tests, on 127.0.0.1 with a kernel-chosen port. One thread
 * accepts and serves connections strictly one after another (a second connection waits
 * in the listen backlog until the first one ends), with blocking sockets.
 *
 * Without rules it behaves as a correct RFC 1939 server for user "alice", password
 * "s3cret": greeting "+OK POP3 ready", CAPA (USER UIDL PIPELINING RESP-CODES),
 * USER/PASS, STAT, LIST, UIDL, RETR (dot-stuffed, "+OK <size> octets"), TOP, DELE, NOOP,
 * RSET, QUIT, "-ERR unknown command" otherwise. The maildrop is snapshotted at login;
 * DELE only marks a message, and marks are committed to the shared maildrop when the
 * built-in QUIT handler (or a rule whose reply to QUIT starts with "+OK") runs in the
 * TRANSACTION state (RFC 1939 §6). So connection N+1 sees what connection N committed.
 *
 * Rules (AddRule()) replace the bytes of a reply. The built-in side effects of a command
 * (USER, PASS logging in, DELE marking, RSET, QUIT committing) still happen when, and
 * only when, the scripted reply starts with "+OK": a server that answered "+OK" did the
 * work, one that answered anything else did not.
 *
 * Every command line received is recorded per connection, in order, including lines the
 * server discarded in one-command-per-read mode. Commands are answered in the order
 * received, however many arrive in one read.
 *
 * All methods are thread-safe. Configuration changes apply from the next command (write
 * schedule, TLS and read mode from the next connection).
 */
class FakePop3Server {
public:
	/**
	 * Binds 127.0.0.1:0, listens and starts the serving thread.
	 * @throws std::system_error if the socket cannot be set up
	 */
	FakePop3Server();
	/** Stops the thread, dropping any connection in progress. */
	~FakePop3Server();
	FakePop3Server(const FakePop3Server &) = delete;
	FakePop3Server &operator=(const FakePop3Server &) = delete;

	/** @return the TCP port the server listens on, in host byte order */
	std::uint16_t Port() const noexcept { return port_; }

	/** Sets the only credentials PASS accepts (default "alice" / "s3cret"). */
	void SetCredentials(std::string user, std::string password);

	/** Replaces the capability lines of the built-in CAPA reply (without CRLF). */
	void SetCapabilities(std::vector<std::string> capabilities);

	/** Appends a message to the maildrop; it becomes the highest-numbered one for the
	 * next login. @p data must be in CRLF form and not dot-stuffed. */
	void AddMessage(std::string data, std::string uid);

	/** Removes every message with unique-id @p uid from the maildrop (a concurrent
	 * session expunged it). */
	void RemoveMessage(std::string_view uid);

	/** @return the maildrop as it is now, in order */
	std::vector<StoredMessage> Mailbox() const;

	/** @return the unique-ids of the maildrop as it is now, in order */
	std::vector<std::string> RemainingUids() const;

	/** Adds a scripted override (see ReplyRule for precedence). */
	void AddRule(ReplyRule rule);

	/**
	 * Shorthand for AddRule(): answer @p command with @p bytes, then do @p after.
	 * @param connection 1-based connection number, 0 for all
	 */
	void Reply(std::string command, std::string bytes,
		   AfterReply after = AfterReply::Continue, unsigned connection = 0);

	/** Shorthand for a rule on the greeting. */
	void Greeting(std::string bytes, AfterReply after = AfterReply::Continue,
		      unsigned connection = 0);

	/** Drops every rule, so the server is well-behaved again. */
	void ClearRules();

	/** When on, QUIT answers +OK but deletes nothing: a server that loses the
	 * deletions it confirmed (a restored mailbox, a broken backend). */
	void SetForgetDeletions(bool on);

	/** Selects how replies are cut into writes (from the next connection). */
	void SetWriteSchedule(WriteSchedule schedule);

	/** Pause between two writes of a split schedule (default 2 ms). */
	void SetWriteGap(std::chrono::microseconds gap);

	/**
	 * When on, the server handles only the first command line of each recv() and
	 * throws away the rest of that read, like a server that does not support
	 * pipelining and loses pipelined commands (case 24 C).
	 */
	void SetOneCommandPerRead(bool on);

	/**
	 * Serves later connections over implicit TLS (mbedTLS server, TLS 1.2), one TLS
	 * record per write of the schedule.
	 * @param cert_file PEM certificate chain, e.g. server.crt from make-test-ca
	 * @param key_file PEM private key
	 * @throws std::runtime_error if the files cannot be loaded
	 */
	void EnableTls(const std::string &cert_file, const std::string &key_file);

	/**
	 * Offers STLS (RFC 2595 §4) on later cleartext connections: STLS is answered
	 * "+OK Begin TLS negotiation" (unless a rule says otherwise) and the TLS
	 * handshake follows on the same socket. Before it, CAPA lists
	 * @p capabilities_before_tls (default: the capabilities plus STLS); after it,
	 * the capabilities.
	 * @throws std::runtime_error if the files cannot be loaded
	 */
	void EnableStartTls(const std::string &cert_file, const std::string &key_file,
			    std::vector<std::string> capabilities_before_tls = {});
	/**
	 * @param connection 1-based connection number
	 * @return every byte the client sent on it before TLS (all of them without TLS):
	 *         what anyone on the path could read
	 */
	std::string CleartextInput(unsigned connection) const;
	/** @return how many connections have been accepted so far */
	unsigned ConnectionCount() const;

	/**
	 * @param connection 1-based connection number
	 * @return every command line received on it, without the line end, in order;
	 *         empty if there is no such connection
	 */
	std::vector<std::string> Commands(unsigned connection) const;

	/** @return the commands of every connection, in order */
	std::vector<std::string> AllCommands() const;

	/** @return the command lines thrown away in one-command-per-read mode */
	std::vector<std::string> DiscardedCommands(unsigned connection) const;

	/** @return octets of ScriptedReply::stream_unit sent on @p connection */
	std::uint64_t StreamedBytes(unsigned connection) const;

	/**
	 * Waits until the server has no connection in progress and none pending. Call it
	 * after the client has exited, before looking at Commands() or the maildrop.
	 * @return false if it was still busy after @p timeout
	 */
	bool WaitIdle(std::chrono::milliseconds timeout = std::chrono::seconds(10));

	/** @return @p message dot-stuffed (RFC 1939 §3) and followed by ".\r\n"; a final
	 * line without CRLF gets one */
	static std::string DotStuff(std::string_view message);

private:
	struct Connection;

	struct Entry {
		StoredMessage message;
		/** Identifies the entry across snapshots, so commits hit the right one.
		 */
		std::uint64_t id;
	};

	struct Record {
		std::vector<std::string> commands, discarded;
		/** Bytes received before TLS. */
		std::string cleartext;
		std::uint64_t streamed = 0;
	};

	int listen_fd_ = -1;
	/** eventfd that wakes every blocking wait when the server shuts down. */
	int stop_fd_ = -1;
	std::uint16_t port_ = 0;

	mutable std::mutex mutex_;
	std::condition_variable idle_cond_;
	std::string user_ = "alice", password_ = "s3cret";
	std::vector<std::string> capabilities_{"USER", "UIDL", "PIPELINING",
					       "RESP-CODES"};
	std::vector<Entry> mailbox_;
	std::uint64_t next_id_ = 1;
	std::vector<ReplyRule> rules_;
	WriteSchedule schedule_ = WriteSchedule::Whole;
	std::chrono::microseconds gap_{2000};
	bool one_command_per_read_ = false;
	bool forget_deletions_ = false;
	std::shared_ptr<detail::TlsConfig> tls_;
	/** Set by EnableStartTls(). */
	std::shared_ptr<detail::TlsConfig> starttls_;
	std::vector<std::string> capabilities_before_tls_;
	std::vector<Record> records_;
	bool busy_ = false;
	/** Counts idle polls of the listening socket; see WaitIdle(). */
	std::uint64_t idle_ticks_ = 0;

	std::thread thread_;

	void Run() noexcept;
	void Serve(int fd);
	/** Runs the server side of the TLS handshake after +OK to STLS.
	 * @return false if it failed (the connection ends) */
	bool StartTls(Connection &c);
	bool HandleLine(Connection &c, const std::string &line);
	bool Send(Connection &c, const ScriptedReply &reply);
	bool Flush(Connection &c);
	bool WritePieces(Connection &c, std::string_view bytes);
	bool Stream(Connection &c, const ScriptedReply &reply);
	/** Reads and records input, answering nothing, until the client hangs up or
	 * @p timeout_ms pass (-1: no limit). */
	void Drain(Connection &c, int timeout_ms);
	/** Records (as received, or as discarded) every complete line in the input
	 * buffer. */
	void RecordPendingLines(Connection &c, bool discarded);
	void RecordCommand(const Connection &c, const std::string &line, bool discarded);
	bool FindRule(const Connection &c, bool greeting, std::string_view verb,
		      std::string_view args, ScriptedReply &out) const;
	ScriptedReply BuiltIn(Connection &c, const std::string &verb,
			      const std::string &args);
	void Login(Connection &c);
	void Commit(Connection &c);
};

} // namespace popstream::test
