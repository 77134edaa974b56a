#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/**
 * `popstream import`: fetchmail, getmail and mpop configurations read into one model
 * (this header) and written out as a popstream config.yaml (Write.hxx). Pure: the
 * parsers take the file's text and never touch a file, the environment or a clock, so
 * that every rule is tested on strings.
 */
namespace popstream::importer {

/** The tools whose configuration can be imported. */
enum class Tool { Fetchmail, Getmail, Mpop };

/** @return "fetchmail", "getmail" or "mpop" */
std::string_view ToolName(Tool tool) noexcept;

/** @return the tool called @p name, or nothing */
std::optional<Tool> ParseToolName(std::string_view name) noexcept;

/**
 * A file that cannot be imported: a syntax error, or nothing a POP3 account can be made
 * of (NothingToImport when there is no POP3 account at all). what() is one line without
 * the position.
 */
class ImportError : public std::runtime_error {
public:
	/**
	 * @param line 1-based line of the problem; 0 when it is the whole file's
	 * @param what the problem; control characters and NULs (which may come from
	 *        the file and would end what() early) become '?'
	 */
	ImportError(unsigned line, const std::string &what)
	    : std::runtime_error(Printable(what)), line_(line)
	{
	}
	/** @return the 1-based line, or 0 */
	unsigned Line() const noexcept { return line_; }

private:
	static std::string Printable(std::string text)
	{
		for (char &c : text)
			if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
				c = '?';
		return text;
	}

	unsigned line_;
};

/**
 * A file that reads well but holds nothing popstream can fetch: no POP3 account at all
 * (only IMAP, or no account). Not the file's fault, so the CLI does not call it bad data
 * (65) but a configuration popstream cannot use (78).
 */
class NothingToImport : public ImportError {
public:
	using ImportError::ImportError;
};

/**
 * An option that is not carried over; written as `# OPTION VALUE: not carried over:
 * WHY`. #value is empty for a flag, and for a secret, which is never repeated.
 */
struct Dropped {
	std::string option;
	std::string value;
	std::string why;
};

/** How the connection is secured, as popstream's `tls:` key says it. */
enum class Tls { Implicit, StartTls, None };

/** Where the other tool delivered the account's mail. */
struct Delivery {
	enum class Kind {
		/** Nothing in the file: the tool's own default. */
		Unset,
		Maildir,
		Mbox,
		/** A command that takes the message on standard input. */
		Mda,
		/** Anything else (SMTP, an Exchange pickup directory...). */
		Other,
	};
	Kind kind = Kind::Unset;
	/** The Maildir or mbox path, or the MDA command line, as written. */
	std::string target;
	/** For an MDA: popstream's `mda:` argv, translated by the parser (placeholders
	 * included); empty when it cannot be carried over, and #why says why. */
	std::vector<std::string> argv;
	std::string why;
	/** The option as the file wrote it (`mda "procmail -d %T"`), for the comment. */
	std::string origin;
	/** What the translation changed (`%T became alice`), for the comment. */
	std::string note;
};

/** One account, in popstream's terms; empty strings and 0 mean "not set". */
struct Account {
	std::string name;
	/** The line the account starts on in the imported file. */
	unsigned line = 0;
	bool enabled = true;
	std::string host;
	std::uint16_t port = 0;
	Tls tls = Tls::Implicit;
	std::string sni;
	std::string user;
	/** `auth:` (a popstream method name), or empty for auto. */
	std::string auth;
	/** argv of `password_command`, and of `oauth_token_command` for the OAuth
	 * methods. */
	std::vector<std::string> password_command, token_command;
	std::string ca_file, tls_cert, tls_key;
	std::vector<std::string> tls_fingerprints;
	std::optional<bool> keep;
	/** Values written as popstream reads them (`14d`, `1MiB`, `500`). */
	std::string delete_after, max_message_size, oversize, checkpoint_every;
	std::uint32_t max_messages_per_session = 0;
	std::string max_bytes_per_session, timeout, interval, pipelining;
	Delivery delivery;
	/** `received_header: true`: the file asked for a Received: field. */
	bool received_header = false;
	/** The option that held a password in the file (never its value), or empty;
	 * Finish() turns it into a Dropped that says where to put the password. */
	std::string plain_password;
	/** Lines of explanation written before the account's keys. */
	std::vector<std::string> notes;
	std::vector<Dropped> dropped;
};

/** A whole imported file. */
struct Imported {
	Tool tool = Tool::Fetchmail;
	/** Options of the file as a whole that are not carried over. */
	std::vector<Dropped> dropped;
	/** At least one account (the parsers throw ImportError otherwise). */
	std::vector<Account> accounts;
};

/**
 * Reads a fetchmail run control file (fetchmail(1), "THE RUN CONTROL FILE"): `set`
 * globals, `defaults`, `poll` and `skip` entries with their server and user options,
 * noise words, quoted strings and comments. Each user of a POP3 entry becomes an
 * account; an entry of another protocol is dropped with a note.
 *
 * @param local_user the login name fetchmail would deliver to when an entry names no
 *        local user (`is NAME here`): what an MDA's `%T` becomes; empty = unknown
 * @throws ImportError for a syntax error; NothingToImport if there is no POP3 entry
 */
Imported ParseFetchmailrc(std::string_view text, std::string_view local_user = {});

/**
 * Reads a getmail6 getmailrc (INI: `[retriever]`, `[destination]`, `[options]`), which
 * describes one account.
 *
 * @param name the account's name (from the file name)
 * @throws ImportError for a syntax error, a missing section or server, or a retriever
 *         that is not POP3; NothingToImport (an ImportError) for an IMAP retriever
 */
Imported ParseGetmailrc(std::string_view text, std::string_view name);

/**
 * Reads an mpop configuration file (mpop(1), "USAGE"): `defaults`, `account NAME`,
 * `account NAME : BASE[,BASE...]` and the account commands.
 *
 * @throws ImportError for a syntax error (unknown command, unclosed quote, unknown
 *         base account, account without host); NothingToImport if there is no account
 */
Imported ParseMpoprc(std::string_view text);

/**
 * @param path the getmailrc's path
 * @return the account name for it: `getmailrc-work` and `work.getmailrc` give `work`,
 *         `getmailrc` gives `getmail`; anything else is the file name (made a valid
 *         name later, by the parser)
 */
std::string GetmailAccountName(std::string_view path);

/**
 * Reads the file of @p tool with its parser (above).
 *
 * @param text the file's contents
 * @param path the file's path (getmail's account name)
 * @param local_user as for ParseFetchmailrc()
 * @throws ImportError (or NothingToImport) as the parser does
 */
Imported Import(Tool tool, std::string_view text, std::string_view path,
		std::string_view local_user = {});

} // namespace popstream::importer
