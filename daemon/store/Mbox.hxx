#pragma once

#include "HandOffQueue.hxx"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace popstream::store {

/** How long Append() waits for another program's lock on the mbox (a mail reader
 * rewriting it, procmail delivering) before it gives up and keeps the message on the
 * server for the next fetch. */
inline constexpr std::chrono::seconds mbox_lock_wait{60};

/** A dot-lock older than this is taken for one a killed program left: procmail's
 * default `LOCKTIMEOUT` is 1024 s; mutt and Dovecot break theirs sooner. */
inline constexpr std::chrono::seconds mbox_stale_lock{1024};

/**
 * Turns message bytes into their mboxrd form (the "From " quoting of
 * https://www.loc.gov/preservation/digital/formats/fdd/fdd000385.shtml and
 * qmail's mbox(5)): every line that is any number of `>` followed by `From ` gets one
 * more `>`, which a reader strips again, so that any message round-trips. Fed in
 * pieces of any size; keeps a count, never a line, so an endless line costs no memory.
 */
class MboxrdQuoter {
public:
	/** @param sink receives the quoted bytes, in order */
	explicit MboxrdQuoter(std::function<void(std::string_view)> sink);

	/** Quotes the next @p bytes of the message. */
	void Feed(std::string_view bytes);
	/** The message is over: flushes what is pending and ends the last line with LF
	 * if it had none. */
	void Finish();

private:
	void Flush(bool quote);

	std::function<void(std::string_view)> sink_;
	/** At the start of a line, deciding: how many `>` so far, and how much of
	 * "From " follows them. */
	bool at_start_ = true;
	std::uint64_t quotes_ = 0;
	std::size_t matched_ = 0;
	bool last_was_lf_ = true;
};

/**
 * The envelope sender (RFC 5321 reverse-path) as the final MTA recorded it in the
 * message's Return-Path field (RFC 5322 section 3.6.7), for an mbox `From ` line and
 * an MDA's `%F`.
 *
 * @param header the top of the message, up to its empty line (more is ignored)
 * @return the address inside the first Return-Path's angle brackets (the field
 *         unfolded; a bare address without brackets too), or MAILER-DAEMON
 *         when there is none, it is the null sender `<>`, it holds a blank or control
 *         character, or it starts with '-' (an MDA would take it for an option)
 */
std::string EnvelopeSender(std::string_view header);

/** @return the envelope line that starts a message in an mbox:
 *          `From SENDER Sun Dec  6 23:00:00 2026` and LF (asctime(3) layout, local
 *          time), SENDER the EnvelopeSender() of @p header */
std::string MboxFromLine(std::string_view header, std::time_t when);

/**
 * Appends messages to one mbox (popstream.yaml(5) `mbox:`), locked as procmail and
 * mutt lock it, and made durable before any DELE; a HandOff on HandOffQueue's thread.
 *
 * Each append: takes the dot-lock (PATH.lock, created O_EXCL, holding our pid; skipped
 * with a notice when the directory is not writable, as for /var/mail) and an fcntl(2)
 * write lock on the file; records in the intent log (in the account's state
 * directory) the unique-id, offset, length and FNV-1a hash of what it is about to
 * append, and fdatasyncs it; appends the From line, the mboxrd-quoted message and an
 * empty line; fsyncs the mbox; unlocks. A write that fails (a full disk) is truncated
 * back at once. After a kill, Recover() reads the intent log: an append that is whole
 * in the file is delivered (the journal learns it, and nothing is appended twice); a
 * torn one is truncated back, never left half-written.
 *
 * Append() runs on one thread; Recover() and ClearIntents() on another, never while an
 * Append() runs.
 */
class MboxAppender {
public:
	/** @param path the mbox (created 0600 if missing, and its directory 0700)
	 *  @param intents the intent log's path
	 *  @param lock_wait how long to wait for another program's lock */
	MboxAppender(std::string path, std::string intents,
		     std::chrono::milliseconds lock_wait = mbox_lock_wait);

	/** The HandOff. Not delivered, and the message kept on the server: a lock held
	 * for mbox_lock_wait (deferred), an mbox that cannot be opened or written
	 * (every_save for a full disk or a read-only file system). */
	HandOffResult Append(const HandOffMessage &message);

	/** What Recover() found. */
	struct Recovered {
		/** An append that is whole in its mbox. */
		struct Whole {
			std::string uidl;
			/** Its size in the listing, in octets. */
			std::uint64_t listed = 0;
			/** The mbox it is in. */
			std::string path;
			bool operator==(const Whole &) const = default;
		};
		std::vector<Whole> delivered;
		/** One line each: what was truncated, or left alone. */
		std::vector<std::string> notices;
	};

	/**
	 * Settles the intent log a killed run left, on the mbox each intent names
	 * (the account may name another one now). @param known says whether the
	 * journal already records a unique-id as delivered (its intent is then done).
	 * A torn append is truncated only when its bytes are proven to be the start of
	 * what was being written (rebuilt from the staged copy, which must still be
	 * there): another program's delivery after it is never cut. The log stays
	 * until ClearIntents().
	 */
	Recovered Recover(const std::function<bool(const std::string &)> &known);

	/** Empties the intent log, once the journal records every delivery in it. */
	void ClearIntents() noexcept;

	const std::string &Path() const noexcept { return path_; }

private:
	std::string path_;
	std::string intents_;
	std::chrono::milliseconds lock_wait_;
	/** Set once a lock outlasted lock_wait_: why; the rest of the run defers at
	 * once rather than wait a minute per message. */
	std::string still_locked_;
};

/** @return the journal's `file` for a message appended to the mbox @p path: it
 *          vouches only while the account appends to that same mbox */
std::string MboxJournalFile(std::string_view path);

} // namespace popstream::store
