#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace popstream::systemd {

/**
 * How bad a log line is: the syslog(3) priorities, which are also the numbers of the
 * sd-daemon.h prefixes (SD_ERR "<3>" ... SD_DEBUG "<7>") and of the journal's PRIORITY=
 * field. fetch::LogLevel uses the same numbers; ToPriority() converts.
 */
enum class Priority : int {
	Error = 3,
	Warning = 4,
	Notice = 5,
	Info = 6,
	Debug = 7,
};

/**
 * Converts an enumeration whose values are syslog priorities (fetch::LogLevel) without
 * this library depending on its layer.
 */
template <typename Level>
requires std::is_enum_v<Level>
constexpr Priority ToPriority(Level level) noexcept
{
	return static_cast<Priority>(static_cast<int>(level));
}

/**
 * Structured context of a log line (every member has a default, so designated
 * initialisers may name only some without -Wmissing-field-initializers). In the journal
 * each field that is set becomes a field of the entry (sd_journal_send(3)), so
 * `journalctl --user ACCOUNT=work` selects one account. On stderr only the account
 * appears, as the line's "ACCOUNT: " prefix.
 */
struct LogFields {
	/** ACCOUNT=: the account's name from the config; empty = not about an account. */
	std::string_view account{};
	/** SERVER=: host[:port] the account connects to; empty = unset. */
	std::string_view server{};
	/** MESSAGES=: messages saved. */
	std::optional<std::uint64_t> messages{};
	/** BYTES=: bytes saved. */
	std::optional<std::uint64_t> bytes{};
};

/** Where log lines go. */
enum class LogTarget {
	/** One line per entry on a file descriptor (stderr), with a "<N>" prefix that
	 * journald and `systemd-cat` also understand (sd-daemon(3)). */
	Stderr,
	/** Native journal entries through sd_journal_sendv(3), with structured fields. */
	Journal,
};

/**
 * The test systemd.exec(5) prescribes for $JOURNAL_STREAM: it holds "DEVICE:INODE" (in
 * decimal) of the stream the service manager connected to the journal, and stderr is
 * that stream only if its st_dev and st_ino match (a child whose stderr was redirected
 * inherits the variable too, so its mere presence proves nothing).
 * @param journal_stream the variable's value
 * @param device st_dev of the file descriptor
 * @param inode st_ino of the file descriptor
 * @return true if they match; false if not, or if @p journal_stream is malformed
 */
bool IsJournalStream(std::string_view journal_stream, std::uint64_t device,
		     std::uint64_t inode) noexcept;

/**
 * Decides where the daemon logs: Journal if $JOURNAL_STREAM names @p fd (fstat(2)),
 * Stderr otherwise (a terminal, a pipe, a file, or no service manager).
 * @param fd normally STDERR_FILENO
 */
LogTarget DetectLogTarget(int fd) noexcept;

/**
 * Makes sure @p text stays on one line: CR and LF become the two characters "\r" and
 * "\n", and every other control byte except TAB becomes "\xNN". Everything else
 * (including backslashes, which the callers' own escaping already doubled) is kept.
 */
std::string EscapeLineBreaks(std::string_view text);

/**
 * Formats one stderr line: "<N>" (the priority's number), then "ACCOUNT: " if an
 * account is given, then @p text through EscapeLineBreaks(), then "\n".
 */
std::string FormatStderrLine(Priority priority, std::string_view text,
			     std::string_view account = {});

/** What one fetch of one account did, for the one summary line the daemon logs per
 * fetch. */
struct FetchSummary {
	/** The account's name (ACCOUNT=). */
	std::string account{};
	/** host[:port] (SERVER=). */
	std::string server{};
	/** Messages saved into the Maildir (MESSAGES=). */
	std::uint64_t messages = 0;
	/** Their size in bytes (BYTES=). */
	std::uint64_t bytes = 0;
	/** Wall-clock duration of the fetch in seconds. */
	double seconds = 0;
	/** Messages that failed (not retrieved or not saved), plus 1 if the fetch as a
	 * whole failed. */
	std::uint64_t errors = 0;
	/** The error that ended the fetch (one line, already escaped), or empty. */
	std::string error{};
};

/**
 * @return the summary's text, e.g. "3 messages, 216 bytes in 0.12 s, no errors" or
 *         "0 messages, 0 bytes in 3.00 s, 1 error: connection refused"
 */
std::string FormatFetchSummary(const FetchSummary &summary);

/**
 * The daemon's logger: journal entries with structured fields when stderr is the
 * journal stream, "<N>"-prefixed lines on a file descriptor otherwise. Lines never
 * contain a raw CR or LF, and never a registered secret.
 *
 * Single-threaded: call it from the loop thread only.
 */
class Logger {
public:
	/**
	 * @param target where to log; DetectLogTarget(STDERR_FILENO) for the daemon
	 * @param fd where Stderr lines go, and Journal lines when the journal cannot be
	 *        reached
	 */
	explicit Logger(LogTarget target, int fd = 2) noexcept : target_(target), fd_(fd)
	{
	}

	/** @return where lines go */
	LogTarget Target() const noexcept { return target_; }

	/** Drops lines less severe than @p priority (default Info: no Debug lines). */
	void SetMaxPriority(Priority priority) noexcept { max_priority_ = priority; }

	/**
	 * Logs one line.
	 * @param priority how bad; lines above SetMaxPriority() are dropped
	 * @param text the message, already escaped by the caller (server bytes through
	 *        Escape()), without the account label; CR/LF are escaped here anyway
	 * @param fields structured context; the account also prefixes the message
	 */
	void Log(Priority priority, std::string_view text,
		 const LogFields &fields = {}) noexcept;

	/**
	 * Logs FormatFetchSummary(@p summary) with ACCOUNT=, SERVER=, MESSAGES= and
	 * BYTES=; Info if there were no errors, Warning otherwise.
	 */
	void LogFetch(const FetchSummary &summary) noexcept;

	/**
	 * Registers a password (or token) that must never reach a log: from now on every
	 * occurrence in a message or field, raw or in Escape()d form, is replaced by
	 * "[redacted]". A defence in depth: callers already keep passwords out. Secrets
	 * shorter than 4 bytes are ignored, since replacing them would mangle ordinary
	 * words and hide nothing worth hiding.
	 */
	void AddSecret(std::string_view secret);

	/** Forgets every registered secret (after a reload, for instance). */
	void ForgetSecrets() noexcept { secrets_.clear(); }

private:
	std::string Redact(std::string_view text) const;
	void WriteLine(const std::string &line) const noexcept;

	LogTarget target_;
	int fd_;
	Priority max_priority_ = Priority::Info;
	/** Each secret in raw and in escaped form, longest first so that a secret that
	 * contains another one is replaced whole. */
	std::vector<std::string> secrets_;
};

} // namespace popstream::systemd
