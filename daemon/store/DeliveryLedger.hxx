#pragma once

#include "Destination.hxx"
#include "HandOffQueue.hxx"
#include "MaildirWriter.hxx"
#include "Mbox.hxx"
#include "core/journal/Journal.hxx"
#include "core/pop3/Policy.hxx"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace popstream::store {

class FileLock;
class JournalFile;

/** Where a DeliveryLedger keeps its messages and its record of them. */
struct LedgerOptions {
	/** The Maildir; created by Open(), never before. With #hand_off: where the
	 * messages are staged for the MDA (a Maildir of popstream's own, in the state
	 * directory), never a user's. */
	std::string maildir;
	/** Set: each message is handed to an MDA instead of published in #maildir
	 * (popstream.yaml(5) `mda:`). See DeliveryLedger for what that changes. */
	HandOff hand_off;
	/** For messages: what #hand_off runs ("the MDA procmail"). */
	std::string hand_off_name;
	/** Set (instead of #hand_off): each message is appended to this mbox, as a
	 * hand-off (popstream.yaml(5) `mbox:`); Recover() settles the appends a killed
	 * run left, so that none is lost, repeated or left half-written. */
	std::shared_ptr<MboxAppender> mbox;
	/** With #hand_off: called from another thread each time a hand-off is over
	 * (it must be thread-safe, e.g. uv_async_send()); the loop thread should then
	 * call Commit() to collect it. */
	std::function<void()> wake;
	/** Set: returns the lines (each ending in LF) put at the top of each message,
	 * before the server's bytes (popstream.yaml(5) `received_header`,
	 * `account_header`); called once per message. */
	std::function<std::string()> added_headers;
	/** The names of the fields #added_headers adds or an earlier run may have
	 * added: a copy's leading fields of these names are not the server's, and the
	 * byte comparison of step (0) skips them. */
	std::vector<std::string> added_header_names;
	/** The account's state directory, holding the journal; empty = the journal is
	 * kept in memory for this run only. */
	std::string state_dir;
	/** With state_dir: the account's lock file (shared by the daemon and `dl`), and
	 * what it protects, for the message if another process holds it. */
	std::string lock_path;
	std::string lock_holder;
	/** The fetch's settings. With keep, a saved copy of another size stays trusted,
	 * since nothing is deleted on its word, and a copy saved delete_after ago is
	 * reported expired (DELE it anyway). */
	pop3::FetchPolicy policy;
};

/**
 * The Maildir Destination: owns the Maildir writer, the account's journal
 * (core/journal/Journal.hxx, written by JournalFile) and the account's lock, and is
 * the one place that carries out invariant 1 of daemon/core/README.md:
 *
 *   **Nothing is deleted before it is proven whole and durable.** A message number
 *   is returned in CommitOutcome::durable (after which the caller may call
 *   pop3::Session::Saved(), which lets the session send DELE) only once its file was
 *   written into tmp/ and fsync'd, renamed into new/ without replacing anything, and
 *   new/ itself was fsync'd (the Maildir spec, cr.yp.to/proto/maildir.html, leaves
 *   the two fsyncs implicit; a rename is durable only once its directory is).
 *   Only bodies proven whole (pop3::MessageEndEvent) reach End(); anything else is
 *   dropped from tmp/ and never reaches new/ or the journal.
 *
 * Commit() keeps this order, one group of up to 64 messages or 16 MiB sharing each sync:
 * (-1) each file's fsync, started by End() on a worker thread (FileSync.hxx) so that the
 * group's fsyncs overlap with each other and with the download, has returned without
 * error (a file that failed goes no further); (0) a message listed again under a
 * unique-id whose deletion the server confirmed, byte for byte the copy saved then, is
 * not stored twice; (1) a journal line `P uidl size new-name tmp-name time [replaces]`
 * for each, then one fdatasync of the journal; (2) each file renamed tmp/ -> new/; (3)
 * one fsync of new/; (4) the file each replaces removed, and a `D` and a `C` line for
 * each (synced with the next group or at the end: until then `P` plus the file in new/
 * say the same, see Recover()). A kill at any instant between these steps
 * (store/CrashPoint.hxx names them) loses nothing and duplicates nothing: Recover() at
 * the next start finishes or undoes the group.
 *
 * With an MDA (LedgerOptions::hand_off), End() closes the message staged in a spool
 * Maildir of popstream's own and queues it for the MDA on a thread of its own
 * (HandOffQueue), in order, while the download goes on; nothing is published.
 * Commit() never waits for an MDA: it collects the hand-offs that are over, and for
 * each one delivered (exit 0, every byte read) journals `D` and `C` and syncs them
 * before returning it as durable, so that the DELE comes after the record. A crash
 * between the MDA's exit and that sync, the one window left, makes the next run hand
 * the message over again: an MDA can deliver twice, never lose. A copy an MDA took
 * cannot be looked for afterwards: the journal's `C` alone vouches for it (file
 * `(mda)`, also in Maildir mode), and a copy whose proof is withdrawn or whose size
 * changed is handed over again.
 *
 * Without a state directory the journal lives in memory: the run still de-duplicates
 * across its own sessions, but a crash may leave a duplicate (never a loss).
 * Single-threaded; call from the loop thread.
 */
class DeliveryLedger final : public Destination {
public:
	/**
	 * Takes the account's lock and replays its journal (nothing else is touched:
	 * the Maildir is created by Open()).
	 * @param log receives notices, warnings and errors; may be empty
	 * @throws JournalBusy if another process holds the lock
	 * @throws std::system_error naming the path if the state directory, the lock
	 *         or the journal cannot be used
	 */
	DeliveryLedger(LedgerOptions options, LogSink log);
	~DeliveryLedger() override;
	DeliveryLedger(const DeliveryLedger &) = delete;
	DeliveryLedger &operator=(const DeliveryLedger &) = delete;

	/**
	 * Reports journal lines a crash tore (skipped), then settles every `P` entry:
	 * its file in new/ or cur/ (under any flags) makes it delivered and proven
	 * (`D`, `C`; the copy it replaces is removed); otherwise its tmp/ file is
	 * removed and it is dropped (`G`), or goes back to the copy it was replacing if
	 * that is still there (`D`, unproven, so it is replaced again).
	 */
	void Recover() override;

	/** Creates the Maildir (0700) if missing, removes files that killed
	 * deliveries left in tmp/. @throws SaveError (as MaildirError says) */
	void Open() override;

	void BeginSession() noexcept override;

	/**
	 * A copy vouches (download = false) only if its entry is proven (`C`), its file
	 * is in new/ or cur/ of this Maildir, and it has the listed size, or, with
	 * keep, any size (a kept message is left alone; RFC 1939 §7: while the message
	 * exists its unique-id identifies it). A unique-id whose deletion was confirmed
	 * (`X`) is new mail (RFC 1939 §7 lets the server reuse it); an unproven copy is
	 * downloaded again and replaced. Logs why a known unique-id is downloaded.
	 */
	std::optional<pop3::SavedCopy> AlreadySaved(std::string_view uidl,
						    std::uint64_t size) override;

	/** Writes `G` for each (without a journal file: nothing to forget durably). */
	bool ForgetDuplicates(const std::vector<std::string_view> &uidls) override;

	/** Creates a file in tmp/ (O_EXCL, mode 0600). */
	void Begin(std::uint32_t number, std::string_view uidl,
		   std::uint64_t listed) override;
	/** Buffered 64 KiB at a time: a message of any size never sits in memory. */
	void Write(std::string_view bytes) override;
	/** Flushes the tmp/ file and starts its fsync, which Commit() waits for.
	 * @return its future name in new/ */
	Staged End() override;
	void Discard() noexcept override;
	/** @return true at 64 messages or 16 MiB waiting for one fsync of new/;
	 * with an MDA, as soon as its oldest hand-off is over */
	bool GroupFull() const noexcept override;
	/** @return false while an MDA still has a message of the group */
	bool Settled() const noexcept override;
	/** Steps (0) to (4) above. Crash points: "journal-pending", "published",
	 * "dir-synced". */
	CommitOutcome Commit() override;
	/** Journals `U` for the suspect copies. Crash point "unproven-held" when a body
	 * is still staged. */
	void EndSession(const std::function<bool(std::uint32_t)> &suspect) override;
	/** Journals `X` for @p marked, `G` for entries not listed (and not `P`), and
	 * syncs. */
	void SessionCommitted(const std::vector<std::string_view> &marked,
			      bool listing_whole) override;
	bool Sync() override;
	/** Waits for a running MDA (HandOffQueue::Stop()) and journals what it took,
	 * then compacts the journal when it holds more than twice its entries plus 256
	 * lines. The Maildir stays open until destruction. */
	CommitOutcome Close() override;

	/** @return the journal's state (for tests and status displays) */
	const journal::State &Journal() const noexcept;

private:
	/** A synced message waiting in tmp/ for Commit(). */
	struct Pending {
		std::uint32_t number;
		std::string uidl;
		std::uint64_t bytes;
		std::uint64_t listed;
		/** Its name in new/. */
		std::string file;
		/** The file of a copy saved earlier under this unique-id, whose deletion
		 * the server confirmed, with exactly these bytes: the server kept the
		 * message. That copy stands; this one is not published. */
		std::string same_as;
		/** Removes its tmp/ file when dropped unpublished. */
		std::unique_ptr<Delivery> delivery;
		/** With an MDA: its hand-off, queued by End(). */
		std::shared_ptr<const HandOffQueue::Job> hand_off;
	};

	void Log(LogLevel level, const std::string &text) const;
	void Append(const journal::Record &record);
	/** Drops the group: each message goes into @p out as failed with @p why. */
	void FailGroup(CommitOutcome &out, const std::string &why, bool every_save,
		       bool unsynced);

	LedgerOptions options_;
	LogSink log_;
	MaildirLookup lookup_;
	std::unique_ptr<FileLock> lock_;
	std::unique_ptr<JournalFile> journal_;
	journal::State memory_journal_;
	/** A write of the journal failed (and was reported once). */
	bool journal_failed_ = false;
	/** Declared before every Delivery: they refer to it when they are dropped. */
	std::unique_ptr<Maildir> maildir_;
	/** The message being received, and its number, unique-id and listed size. */
	std::unique_ptr<Delivery> staged_;
	std::uint32_t staged_number_ = 0;
	std::string staged_uidl_;
	std::uint64_t staged_listed_ = 0;
	std::vector<Pending> group_;
	std::uint64_t group_bytes_ = 0;
	/** Unique-ids of the journal that the current session's server still lists:
	 * after a complete listing, the other entries are gone from the server. */
	std::unordered_set<std::string> listed_known_;
	/** Number and unique-id of the copies the current session saved: their proof
	 * is withdrawn if it ends where a reply was due (EndSession()). */
	std::vector<std::pair<std::uint32_t, std::string>> session_saves_;
	/** Unique-id -> the file of an earlier copy that cannot vouch for the listed
	 * message and that the new copy replaces (journal::Record::replaces). */
	std::unordered_map<std::string, std::string> replaces_;
	/** Unique-id -> the file of a copy whose deletion the server confirmed: a
	 * message listed again under it is new mail, unless its bytes are the same. */
	std::unordered_map<std::string, std::string> deleted_copies_;

	/** @return whether messages go to an MDA (LedgerOptions::hand_off) */
	bool Mda() const noexcept { return static_cast<bool>(options_.hand_off); }
	/** Journals what the mbox's intent log proves appended (Recover()). */
	void RecoverMbox();
	/** End() for an MDA: closes the staged file and queues its hand-off. */
	Staged QueueHandOff();
	/** Commit() for an MDA: collects the hand-offs that are over, in order. */
	void CollectHandOffs(CommitOutcome &out, std::int64_t now);
	/** The MDA's queue; created by the first QueueHandOff(). Declared last: its
	 * thread is joined before anything it reports to is destroyed. */
	std::unique_ptr<HandOffQueue> hand_offs_;
};

} // namespace popstream::store
