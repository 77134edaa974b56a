#pragma once

#include "Model.hxx"
#include "core/pop3/Inventory.hxx"
#include "core/spec/ConnectionSpec.hxx"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/**
 * Pure checks and conversions of config values (popstream.yaml(5)): no file access, no
 * environment access (the caller passes a lookup function), no YAML. Each function
 * throws ValueError with a one-line problem text that does not say where the value
 * is; the loader adds "FILE:LINE:COLUMN: KEY: " in front.
 */
namespace popstream::config {

/** A config value that is not valid for its key. what() is one line. */
class ValueError : public std::invalid_argument {
public:
	using std::invalid_argument::invalid_argument;
};

/** Shortest `interval`: servers lock out clients that poll too often (Gmail asks for
 * minutes, others count logins per 15 minutes). */
inline constexpr std::chrono::milliseconds MIN_INTERVAL = std::chrono::seconds(10);

/** Longest `interval`; an account polled less often than weekly is better disabled. */
inline constexpr std::chrono::milliseconds MAX_INTERVAL = std::chrono::hours(7 * 24);

/** Shortest `timeout` (idle time of the connection): below that a slow link or a
 * server's LIST on a large maildrop gives false failures. */
inline constexpr std::chrono::milliseconds MIN_TIMEOUT = std::chrono::seconds(5);

/** Longest `timeout`: a dead connection must not hold the account for hours. */
inline constexpr std::chrono::milliseconds MAX_TIMEOUT = std::chrono::hours(1);
/** The shortest `connect_timeout`: a TLS handshake over a slow link takes seconds. */
inline constexpr std::chrono::milliseconds MIN_CONNECT_TIMEOUT = std::chrono::seconds(1);

/** Shortest `delete_after` other than 0 (never): a copy kept for less than an hour
 * protects nothing, and the journal that remembers when each message was saved is
 * not meant for a second-by-second schedule. */
inline constexpr std::chrono::milliseconds MIN_DELETE_AFTER = std::chrono::hours(1);

/** Longest `delete_after`: ten years of 365 days (`3650d`). Longer is the same as
 * never, which `delete_after: 0` says plainly. */
inline constexpr std::chrono::milliseconds MAX_DELETE_AFTER =
    std::chrono::hours(3650 * 24);

/** Largest size ParseSize() reads, 2^40 octets (`1024GiB`): far beyond any message or
 * session, and small enough that no arithmetic on sizes overflows. */
inline constexpr std::uint64_t MAX_SIZE = std::uint64_t{1} << 40;

/** Smallest size limit other than 0 (`max_message_size`, `max_bytes_per_session`, the
 * size of `checkpoint_every`), 1 kB: below that every message is over the limit, and
 * the value is almost surely a number whose unit was forgotten (`25` for `25MB`). */
inline constexpr std::uint64_t MIN_SIZE_LIMIT = 1000;

/** Largest message count of `max_messages_per_session` and `checkpoint_every`: the
 * most messages a session accepts in a listing at all. */
inline constexpr std::uint32_t MAX_MESSAGE_COUNT_LIMIT = pop3::limits::max_messages;

/** Largest `max_concurrent`: each fetch is a connection and a few MiB of buffers. */
inline constexpr unsigned MAX_CONCURRENT_LIMIT = 64;

/** Longest account name: it becomes a D-Bus object path element and a file name. */
inline constexpr std::size_t MAX_ACCOUNT_NAME_LENGTH = 64;

/**
 * @param name a candidate account name
 * @return true if @p name is 1 to MAX_ACCOUNT_NAME_LENGTH bytes of [A-Za-z0-9_-]
 */
bool IsValidAccountName(std::string_view name) noexcept;

/**
 * Parses a duration: one or more `<integer><unit>` with the units `d` (days), `h`,
 * `m` (minutes) and `s`, each at most once and from the largest to the smallest
 * (`90s`, `5m`, `1h30m`, `1d`), or a bare integer, which counts seconds as in
 * fetchmail, getmail and mpop (`300`). No fractions, signs or blanks.
 *
 * @param text the value as written
 * @return the duration (whole seconds, at most 3650 days)
 * @throws ValueError naming @p text and the problem
 */
std::chrono::milliseconds ParseDuration(std::string_view text);

/**
 * @param duration a non-negative duration
 * @return the shortest text ParseDuration() reads back as @p duration (`1h30m`,
 *         `0s`); a remainder below one second is written as `NNNms`, which
 *         ParseDuration() does not accept
 */
std::string FormatDuration(std::chrono::milliseconds duration);

/**
 * Parses a size in octets: a number, then optionally blanks and a unit. The units are
 * `B` (octets), `kB` (also `k`, `K`, `KB`), `MB` (also `M`) and `GB` (also `G`),
 * which count powers of 1000, and `KiB`, `MiB` and `GiB`, which count powers of 1024;
 * they are case-sensitive. A number without a unit counts octets. A number with a unit
 * larger than `B` may have up to three digits after a decimal point (`1.5GiB`); the
 * result is rounded down to a whole octet. No signs, no exponents, no decimal comma.
 *
 * @param text the value as written, e.g. `25MB`, `1.5GiB`, `50 MiB` or `1048576`
 * @return the size in octets, at most MAX_SIZE
 * @throws ValueError naming @p text and the problem
 */
std::uint64_t ParseSize(std::string_view text);

/**
 * @param octets a size
 * @return the shortest text that ParseSize() reads back as exactly @p octets, always
 *         with a unit (`25MB`, `1.5GiB`, `1500B`, `0B`), so that it also reads as a
 *         size in `checkpoint_every`; between equally short texts the one without a
 *         fraction, then the decimal unit, is chosen
 */
std::string FormatSize(std::uint64_t octets);

/** A `checkpoint_every` value: QUIT and reconnect after this many messages or this many
 * octets, whichever comes first; 0 = not by that measure, both 0 = never. */
struct CheckpointEvery {
	/** Messages downloaded; 0 to MAX_MESSAGE_COUNT_LIMIT. */
	std::uint32_t messages = 0;
	/** Octets downloaded; 0, or MIN_SIZE_LIMIT to MAX_SIZE. */
	std::uint64_t bytes = 0;

	bool operator==(const CheckpointEvery &) const = default;
};

/**
 * Parses a `checkpoint_every` value: a number of messages, or a size, or both joined by
 * `or` (in either order, each at most once). A number of messages is a number
 * without a unit or with the unit `messages` (or `message`), with or without blanks
 * before it: `500`, `500 messages`. A size is read as by ParseSize(), but needs its
 * unit, since a number alone counts messages here: `50MiB`, `1000000B`. A part that
 * is 0 does not count, so `0` alone means never.
 *
 * @param text the value as written, e.g. `500 messages or 50MiB`
 * @return the counts; a part that was not given is 0
 * @throws ValueError naming @p text and the problem: bad syntax, a number or a size
 *         given twice, more than MAX_MESSAGE_COUNT_LIMIT messages, or a size other
 *         than 0 below MIN_SIZE_LIMIT or above MAX_SIZE
 */
CheckpointEvery ParseCheckpointEvery(std::string_view text);

/**
 * @param checkpoint a value read by ParseCheckpointEvery()
 * @return the text ParseCheckpointEvery() reads back as @p checkpoint: `0` (never),
 *         `500 messages` (`1 message`), a FormatSize() size, or both joined by ` or `,
 *         the number of messages first
 */
std::string FormatCheckpointEvery(const CheckpointEvery &checkpoint);

/**
 * The optimal-string-alignment distance (Levenshtein plus the swap of two neighbours,
 * each edit costing 1), ASCII case-insensitive.
 *
 * @return the number of edits that turn @p a into @p b
 */
std::size_t EditDistance(std::string_view a, std::string_view b);

/**
 * Finds the word the user probably meant (for "did you mean" hints).
 *
 * @param word what was written, e.g. "intervall"
 * @param candidates the valid words
 * @return the first candidate at the smallest EditDistance(), if that distance is at
 *         most a third of the length of @p word (at least 1, at most 3); else nothing
 */
std::optional<std::string_view> NearestWord(std::string_view word,
					    std::span<const std::string_view> candidates);

/** Looks up an environment variable: its value, or nothing when it is not set. */
using EnvLookup = std::function<std::optional<std::string>(const std::string &name)>;

/**
 * Expands a path as a shell would for these forms only: a leading `~` or `~/` (the
 * value of HOME), `$NAME` and `${NAME}` (NAME = [A-Za-z_][A-Za-z0-9_]*) anywhere, and
 * `$$` for a literal '$'. There is no other expansion (no globs, no `~user`, no
 * `${NAME:-default}`).
 *
 * @param text the path as written
 * @param lookup where variables (including HOME) are read from
 * @return the expanded path
 * @throws ValueError for `~user`, a '$' that starts none of the forms above, an
 *         unterminated `${`, or a variable (or HOME for `~`) that is not set
 */
std::string ExpandPath(std::string_view text, const EnvLookup &lookup);

/**
 * Splits a command written as one string into argv, without a shell: blanks (space,
 * tab) separate words; '...' keeps everything literally; in "..." a backslash quotes
 * `"`, `\\`, `$` and a backquote and stays before anything else, as in sh; outside
 * quotes a backslash makes the next character literal. Nothing is expanded.
 *
 * @param text e.g. `pass show "mail/work account"`
 * @return the words; never empty
 * @throws ValueError for an unterminated quote, a trailing backslash, a control
 *         character, or a command with no words
 */
std::vector<std::string> SplitCommand(std::string_view text);

/**
 * @return true if @p text contains a byte below 0x20 or 0x7f; such bytes could split a
 *         POP3 command or a log line
 */
bool HasControlCharacter(std::string_view text) noexcept;

/**
 * Checks a `host:` value with the host grammar of connection specs (ConnectionSpec.hxx):
 * a DNS name or IPv4 address, or an IPv6 address, with or without brackets.
 *
 * @return the host without brackets
 * @throws ValueError if it is empty or is not a host, with a hint when it carries a
 *         user, port or TLS name that belongs under its own key
 */
std::string CheckHost(std::string_view host);

/**
 * Checks an `sni:` value: a DNS name or address made of letters, digits, '-', '.' and
 * '_' (the SNI grammar of connection specs).
 *
 * @throws ValueError if it is empty or contains any other character
 */
void CheckTlsName(std::string_view name);

/**
 * Checks a `user:` value: it goes into the USER command (RFC 1939 §7).
 *
 * @throws ValueError if it is empty, longer than 255 bytes or has a control character
 */
void CheckUser(std::string_view user);

/**
 * @param name what follows an optional `ssl:`/`tcp:` prefix in a `server:` value
 * @return true if @p name can be a netrc `account` value that is not a connection spec:
 *         1 to 255 bytes, no blank or control character, none of `: ! [ ] "` (which
 *         only a mistyped spec contains), not starting or ending with '@'
 */
bool IsNetrcAccountShape(std::string_view name) noexcept;

/**
 * Checks a `server:` value: `[{ssl,tcp}:]{netrc_account|[user@]host[!sni_name][:port]}`.
 * Whether a netrc account of that name exists is only known when netrc is read, at
 * fetch time; a value that is a valid spec may still name a netrc account then.
 *
 * @param server the value as written
 * @return the parsed spec, or nothing when @p server is not a spec but has the shape
 *         of a netrc account (IsNetrcAccountShape())
 * @throws ValueError with the spec parser's message otherwise
 */
std::optional<ConnectionSpec> CheckServer(std::string_view server);

/**
 * @param text `implicit`, `starttls` or `none`
 * @throws ValueError for anything else, suggesting the nearest value
 */
TlsMode ParseTlsMode(std::string_view text);

/**
 * @param text `auto`, `on` or `off`
 * @throws ValueError for anything else, suggesting the nearest value
 */
pop3::Pipelining ParsePipelining(std::string_view text);

/**
 * @param text `skip` or `delete`
 * @throws ValueError for anything else, suggesting the nearest value
 */
Oversize ParseOversize(std::string_view text);

/**
 * @param text a login method as pop3::ParseAuthMethod() takes it (`auth:`, dl --auth)
 * @throws ValueError for anything else, listing every method and suggesting the
 *         nearest
 */
pop3::AuthMethod ParseAuth(std::string_view text);

/**
 * Checks the placeholders in the arguments of `mda` (dl --mda): `%a` (the account),
 * `%u` (the user), `%F` (the envelope sender) and `%%`. @throws ValueError naming any
 * other, such as fetchmail's `%T`, which would otherwise reach the MDA as typed
 */
void CheckMdaPlaceholders(const std::vector<std::string> &argv);

} // namespace popstream::config
