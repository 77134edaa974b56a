#pragma once

#include "Imported.hxx"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/**
 * Rules the three parsers share, so that a value means the same whichever tool's file
 * it came from. Each Set*() checks the value as popstream's loader will (so that the
 * output passes `popstream check-config`) and, if popstream would refuse it, records it
 * in Account::dropped with the reason instead of writing it.
 */
namespace popstream::importer {

/**
 * @param wanted the other tool's name for the account (a label, a host, an mpop
 *        account name)
 * @param taken the names given so far; the result is added
 * @return a valid popstream account name: every character outside [A-Za-z0-9_-]
 *         becomes '-', cut to 64 bytes, and made unique with "-2", "-3"...
 */
std::string MakeAccountName(std::string_view wanted, std::vector<std::string> &taken);

/**
 * Sets Account::host.
 * @param line where @p option is in the file
 * @throws ImportError if popstream refuses @p host: an account without a host is no
 *         account, and a config without it would fail check-config
 */
void SetHost(Account &account, std::string_view option, std::string_view host,
	     unsigned line);

/** Sets Account::port from a decimal 1 to 65535, or the service names pop3/pop3s;
 * else a Dropped. */
void SetPort(Account &account, std::string_view option, std::string_view port);

/** Sets Account::user if popstream accepts it (no control character, <= 255). */
void SetUser(Account &account, std::string_view option, std::string_view user);

/** Sets Account::sni if it is a TLS name popstream accepts. */
void SetSni(Account &account, std::string_view option, std::string_view name);

/**
 * Adds a pinned certificate: SHA-256 fingerprints only, since popstream pins nothing
 * weaker; an MD5 or SHA-1 fingerprint becomes a Dropped.
 */
void AddFingerprint(Account &account, std::string_view option, std::string_view text);

/**
 * @param octets a size limit in octets (0 = none)
 * @param oversize "skip" or "delete"
 * Sets max_message_size and oversize; a limit under 1 kB, which popstream refuses,
 * becomes a Dropped.
 */
void SetSizeLimit(Account &account, std::string_view option, std::string_view value,
		  std::uint64_t octets, std::string_view oversize);

/** Sets Account::timeout from seconds, within popstream's 5 s to 1 h. */
void SetTimeout(Account &account, std::string_view option, std::string_view seconds);

/** Sets Account::interval from seconds, within popstream's 10 s to 7 days. */
void SetInterval(Account &account, std::string_view option, std::string_view seconds);

/**
 * Settles what is only an error in combination, as popstream's loader checks it after
 * inheritance: an OAuth method without a token command, `external` without a client
 * certificate or with a password command, half a client certificate, a pin or
 * certificate without TLS, delete_after without keep. The part popstream would refuse
 * becomes a Dropped. Every parser calls it last, on each account.
 */
void Finish(Account &account);

/** Records that @p option held a password, never its value; Finish() says where to
 * put the password instead. */
void DropPassword(Account &account, std::string_view option);

/**
 * @return @p path for a popstream path key: '$' doubled, since popstream expands
 *         `$NAME` and the tool that wrote it did not; a leading `~` is kept (popstream
 *         expands it as the tools do)
 */
std::string LiteralPath(std::string_view path);

/**
 * Translates an MDA that fetchmail (`mda`) or mpop (`delivery mda`) ran through
 * /bin/sh into popstream's `mda:`, which runs without a shell: split into words when
 * the command uses nothing of the shell's, else `[sh, -c, COMMAND, sh, "%F"]` with
 * `%F` read from `$1`, so that a sender never becomes shell text. `%F` (the envelope
 * sender) stays popstream's `%F`; `%T` (fetchmail's local recipient) becomes
 * @p recipient; every other `%` is doubled, since popstream expands `%`.
 *
 * @param command the shell command, as the file gave it
 * @param recipient what `%T` stands for, or empty when it is unknown
 * @param why set to the reason when the command cannot be carried over
 * @return the argv (never empty), or nothing
 */
std::optional<std::vector<std::string>>
MdaFromShell(std::string_view command, std::string_view recipient, std::string &why);

/**
 * @param key an option's name
 * @return whether its value may be a secret (the name has "pass", "secret", "token"
 *         or "key" in it), so that a comment names the option without its value
 */
bool LooksSecret(std::string_view key) noexcept;

/** @return @p text is a decimal number that fits 64 bits */
bool IsNumber(std::string_view text) noexcept;

/** @return the number @p text (IsNumber() must hold) */
std::uint64_t ToNumber(std::string_view text) noexcept;

} // namespace popstream::importer
