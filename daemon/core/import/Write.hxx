#pragma once

#include "Imported.hxx"

#include <string>
#include <string_view>
#include <vector>

/**
 * The popstream config.yaml of an imported file, written as text rather than through a
 * YAML library, because the comments (what was not carried over, and why) are half of
 * the output.
 */
namespace popstream::importer {

/**
 * @param text any string
 * @return @p text as a YAML scalar that loads back as exactly @p text: plain when it
 *         is unambiguous (letters, digits and `_ . / ~ @ + % -`, not a YAML boolean,
 *         null or number), else double-quoted with `\"`, `\\` and `\xNN` escapes
 */
std::string YamlScalar(std::string_view text);

/** @return @p words as a YAML flow sequence of YamlScalar()s: `[pass, show, x]` */
std::string YamlList(const std::vector<std::string> &words);

/**
 * @param text a comment's text
 * @return @p text with every control character replaced by '?', so that a value from
 *         the file cannot end the comment and start YAML of its own
 */
std::string CommentText(std::string_view text);

/**
 * The lines that say where an account delivers: a comment naming the other tool's
 * option, then `maildir:`, `mbox:` or `mda:`; for a delivery that cannot be carried
 * over (SMTP, an MDA with a placeholder popstream has not), the reason and a
 * `maildir:` placeholder to confirm. The only place that writes deliveries.
 *
 * @param account the account (its delivery and name)
 * @param tool the tool the file came from, named in the comments
 * @param indent the blanks in front of each line
 * @return the lines, each ending in '\n'
 */
std::string DeliveryLines(const Account &account, Tool tool, std::string_view indent);

/**
 * @param imported the parsed file
 * @param source the file's name, for the header comment
 * @return a config.yaml: a header comment, the file's dropped options as comments,
 *         then `accounts:` with each account's keys, notes and dropped options
 */
std::string WriteConfig(const Imported &imported, std::string_view source);

} // namespace popstream::importer
