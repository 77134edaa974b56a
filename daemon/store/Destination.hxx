#pragma once

#include "core/pop3/Session.hxx"
#include "core/util/LogLevel.hxx"

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::store {

/**
 * Receives a destination's log lines: one line, safe to print (server bytes escaped),
 * without the account label. The caller redacts the password.
 */
using LogSink = std::function<void(LogLevel level, const std::string &text)>;

/**
 * @return how log lines name a message: "message 3", or "message 3 (UIDL abc)" with
 *         the unique-id escaped and cut to 100 bytes (it is server text)
 */
std::string MessageName(std::uint32_t number, std::string_view uidl);

/** A message could not be staged. what() is one line naming the path and the reason. */
class SaveError : public std::runtime_error {
	bool every_save_;

public:
	SaveError(const std::string &what, bool every_save)
	    : std::runtime_error(what), every_save_(every_save)
	{
	}
	/** @return whether no other message can be saved either (a full disk, a
	 *          read-only file system, an unwritable journal) */
	bool EverySave() const noexcept { return every_save_; }
};

/** A message of a group that Destination::Commit() could not make durable. */
struct SaveFailure {
	/** The message number in the session (RFC 1939 §5). */
	std::uint32_t number = 0;
	/** Its unique-id, or empty without UIDL. */
	std::string uidl;
	/** One line: why. */
	std::string why;
	/** No other message can be saved either (see SaveError::EverySave()). */
	bool every_save = false;
	/** The copy reached its final place but could not be made durable there (the
	 * directory fsync failed): a reason of its own, so it is reported even after an
	 * every_save failure has been reported for the others. */
	bool unsynced = false;
	/** Not a failure: the MDA asked for the message again later (exit 75); it
	 * stays on the server for the next run. */
	bool deferred = false;
};

/** A message of a group that Destination::Commit() made durable. */
struct DurableCopy {
	std::uint32_t number = 0;
	/** The bytes stored (LF line ends). */
	std::uint64_t bytes = 0;
	/** Its size in the listing, in octets (CRLF line ends). */
	std::uint64_t listed = 0;
	/** False if nothing new was stored: a copy saved earlier, byte for byte this
	 * one, stands for it (a message the server said it deleted and lists again). */
	bool new_copy = true;
};

/** What Destination::Commit() did with the staged group, in the order it happened. */
struct CommitOutcome {
	/** To be reported to the session with NotSaved(): they stay on the server. */
	std::vector<SaveFailure> failed;
	/** To be reported to the session with Saved(): they may be DELE'd. */
	std::vector<DurableCopy> durable;
	/** The group went all the way through (false: the journal or the final sync
	 * failed and every copy still in the group is in #failed). */
	bool completed = false;
};

/**
 * Where a fetch's messages go, and what it remembers of them: the one interface
 * through which the fetch layer stages, commits, recovers and looks up deliveries.
 * DeliveryLedger is the Maildir implementation; an MDA or an mbox would be others.
 * Every implementation must keep invariant 1 of daemon/core/README.md as
 * DeliveryLedger.hxx states it: a message is reported durable (and so may be
 * deleted on the server) only once a crash can no longer lose it.
 *
 * Per session: BeginSession(), then AlreadySaved() for the listed unique-ids,
 * ForgetDuplicates() once the listing is in, then for each message Begin(), Write()...,
 * End() (or Discard()), with Commit() whenever the caller wants the group so far made
 * durable; EndSession() when the session is over, and SessionCommitted() if QUIT was
 * confirmed. Close() at the end of the run. Errors reading or writing the record of
 * deliveries are logged, never thrown, except where a function says otherwise.
 */
class Destination {
public:
	virtual ~Destination() = default;

	/**
	 * Finishes or undoes deliveries that an earlier process was killed in the
	 * middle of, and reports (through the log) what it found. Call once, before
	 * the first session.
	 */
	virtual void Recover() = 0;

	/**
	 * Prepares to receive messages (for a Maildir: creates it, removes what killed
	 * deliveries left in tmp/). Called when the listing has arrived, so that a
	 * failed login leaves no trace; calls after the first do nothing.
	 * @throws SaveError naming what cannot be created or written
	 */
	virtual void Open() = 0;

	/** A new session starts: what the last one looked up is forgotten. */
	virtual void BeginSession() noexcept = 0;

	/**
	 * The already_saved lookup of pop3::SessionConfig: what is known of a listed
	 * message. Also notes that the server still lists @p uidl (for the pruning in
	 * SessionCommitted()).
	 * @param uidl the unique-id (RFC 1939 §7)
	 * @param size its listed size in octets
	 * @return nullopt if nothing was saved under @p uidl; a copy with `download` if
	 *         what was saved cannot vouch for this message (see invariant 6 of
	 *         daemon/core/README.md); else a copy that vouches for it
	 */
	virtual std::optional<pop3::SavedCopy> AlreadySaved(std::string_view uidl,
							    std::uint64_t size) = 0;

	/**
	 * Forgets, durably, what was saved under unique-ids that the server gives to
	 * several messages (pop3::Session::DuplicateUidls()): such a copy could be of
	 * either, and must not let a later session delete the other unread.
	 * @return false if that could not be recorded durably: then nothing this
	 *         session marks for deletion may be committed
	 */
	virtual bool ForgetDuplicates(const std::vector<std::string_view> &uidls) = 0;

	/**
	 * Starts staging message @p number. Only one message is staged at a time;
	 * one still staged is discarded.
	 * @param uidl its unique-id, or empty
	 * @param listed its size in the listing, in octets
	 * @throws SaveError; nothing is staged then
	 */
	virtual void Begin(std::uint32_t number, std::string_view uidl,
			   std::uint64_t listed) = 0;

	/**
	 * Appends @p bytes (dot-unstuffed, LF line ends) to the staged message.
	 * @throws SaveError; the staged message is then discarded
	 */
	virtual void Write(std::string_view bytes) = 0;

	/** Where End() put a message, for the verbose log. */
	struct Staged {
		/** Bytes stored (LF line ends). */
		std::uint64_t bytes = 0;
		/** Where it will be once committed ("new/NAME"). */
		std::string place;
	};

	/**
	 * The staged message is complete and proven whole (pop3::MessageEndEvent): it
	 * is made durable where it waits and joins the group for the next Commit().
	 * @throws SaveError; the staged message is then discarded
	 */
	virtual Staged End() = 0;

	/** Drops the staged message, if any: it was not proven whole. */
	virtual void Discard() noexcept = 0;

	/** @return whether the group waiting for Commit() is large enough that the
	 *          caller should commit it now rather than wait for more */
	virtual bool GroupFull() const noexcept = 0;

	/**
	 * @return false while a message End() accepted is still with something slower
	 *         than the disk (an MDA): Commit() returns without it, and the caller
	 *         is woken to commit again once it is over (DeliveryLedger's
	 *         LedgerOptions::wake)
	 */
	virtual bool Settled() const noexcept { return true; }

	/**
	 * Makes the group of messages that End() accepted durable in its final place,
	 * and records that they were (see DeliveryLedger.hxx for the order of steps).
	 * The group is empty afterwards, but for messages still with an MDA (then
	 * Settled() is false). Nothing is thrown: failures are in the result.
	 */
	virtual CommitOutcome Commit() = 0;

	/**
	 * The session is over. A message still staged is dropped. If @p suspect is
	 * set (the session went out of step, or ended where a reply was due), the
	 * copies this session saved for which it returns true no longer vouch: they
	 * are downloaded again, replacing their files, before any DELE of theirs.
	 * @param suspect message number -> whether another message's body could have
	 *        passed for its copy (pop3::Session::ShiftSuspect()); may be empty
	 */
	virtual void EndSession(const std::function<bool(std::uint32_t)> &suspect) = 0;

	/**
	 * QUIT was answered +OK (RFC 1939 §6): the messages of @p marked are deleted on
	 * the server. If @p listing_whole (every listed message had a unique-id), what
	 * the session's server did not list is gone from it and is forgotten. Recorded
	 * durably (a failure is logged).
	 */
	virtual void SessionCommitted(const std::vector<std::string_view> &marked,
				      bool listing_whole) = 0;

	/** Writes what is recorded so far durably. @return false if it could not be
	 *  (logged once per run) */
	virtual bool Sync() = 0;

	/** The run is over: records are written, the record of deliveries is compacted
	 * if it has grown, and the account's lock is released.
	 * @return what hand-offs ended meanwhile (an MDA waited for): delivered, yet
	 *         never to be deleted by this run; counted by the caller */
	virtual CommitOutcome Close() = 0;
};

} // namespace popstream::store
