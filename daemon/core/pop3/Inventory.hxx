#pragma once

#include "Policy.hxx"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace popstream::pop3 {

namespace limits {
/** Most messages accepted in one listing. A server that claims more is hostile or
 * broken; 10^6 entries already cost tens of MiB of bookkeeping. */
inline constexpr std::uint32_t max_messages = 1'000'000;
} // namespace limits

/** What the caller knows of a unique-id, as SessionConfig::already_saved says it. */
struct SavedCopy {
	/** The caller knows the unique-id but holds no copy that may vouch for this
	 * message (one not proven whole, one whose deletion the server confirmed, one
	 * of another size): the message is downloaded like a new one. The unique-id
	 * still goes into the duplicate index. */
	bool download = false;
	/** Kept past delete_after: DELE it even though the session keeps messages. */
	bool expired = false;
};

/**
 * Which of the listed messages a session acts on: the account's policy (keep and the
 * size cap; the inventory ignores pipelining), and what the run leaves to this session.
 * SessionConfig is one, so the session hands it on without copying field by field.
 */
struct InventoryRules : SessionPolicy {
	/** Download at most this many messages; the rest stay for a later session. */
	std::uint32_t limit = UINT32_MAX;
	/** New messages numbered below this are not downloaded: with keep, a session
	 * that continues a checkpoint starts at the previous one's ResumeNumber(), so
	 * that messages it cannot recognise (no usable unique-id) are not fetched again
	 * and again. 1 = all. */
	std::uint32_t first_number = 1;
	/** The most messages the listing should hold: after a checkpoint that deleted
	 * messages, a server that lists more did not apply those deletions (or new
	 * mail arrived), and messages without a usable unique-id would be downloaded
	 * again; nothing new is then downloaded, with a warning. */
	std::uint32_t expect_at_most = UINT32_MAX;
	/** Download at most about this many listed octets (at least one message); 0 = no
	 * limit. */
	std::uint64_t limit_bytes = 0;
	/**
	 * Messages already saved, and proven whole, are DELE'd (or kept) without being
	 * downloaded again. May be empty. Called once per distinct unique-id as the
	 * LIST listing streams in (after UIDL), so the caller also learns which
	 * unique-ids the server still lists.
	 * @param size the listed size in octets
	 * @return nullopt if unknown; a copy with `download` if known but unable to
	 *         vouch; else a saved copy that vouches for the message (RFC 1939 §7:
	 *         while a message is on the server its unique-id identifies it)
	 */
	std::function<std::optional<SavedCopy>(std::string_view uidl, std::uint64_t size)>
	    already_saved;
};

/** What the session does with a message it acts on. */
enum class Plan : std::uint8_t {
	/** New: RETR, then DELE once saved (unless keep). */
	Fetch,
	/** Saved earlier and trusted: DELE without RETR. */
	Dele,
	/** Saved earlier and trusted, and kept: nothing to send. */
	Keep,
	/** Over max_message_size with Oversize::Delete: DELE unread. */
	OversizeDele,
};

/** A message the session acts on. Messages left for later or left as oversize are
 * only counted. */
struct TrackedMessage {
	/** Its number in this session (RFC 1939 §5), from 1. */
	std::uint32_t number = 0;
	Plan plan = Plan::Fetch;
	/** Plan::Dele/Keep: kept past delete_after. */
	bool expired = false;
	/** The unique-id, owned by the inventory's index (stable); null if none: no
	 * UIDL, a bad UIDL line, or a unique-id the server gives to several messages. */
	const std::string *uidl = nullptr;
	/** Listed size in octets (CRLF form). */
	std::uint64_t size = 0;

	/** @return the unique-id, empty if none; valid while the inventory lives */
	std::string_view Uidl() const noexcept
	{
		return uidl ? std::string_view(*uidl) : std::string_view();
	}
};

/** The counters the inventory owns: its share of SessionStats, which derives from this so
 * that Session::Stats() takes them in one assignment. */
struct InventoryCounts {
	/** From LIST: messages and octets on the server. */
	std::uint32_t listed = 0;
	std::uint64_t listed_bytes = 0;
	/** Messages chosen for download (after --limit and already-saved ones). */
	std::uint32_t to_fetch = 0;
	std::uint64_t to_fetch_bytes = 0;
	/** Messages saved earlier and only deleted (or kept) now. */
	std::uint32_t already_saved = 0;
	/** Messages whose UIDL line was unusable (malformed, too long, repeated):
	 * fetched without de-duplication. */
	std::uint32_t bad_uidl_lines = 0;
	/** Messages left for a later session because of limit, limit_bytes or
	 * StopRetrieving(): once one is left, every later new one is too. */
	std::uint32_t deferred = 0;
	/** Messages over max_message_size: left on the server, or deleted unread. */
	std::uint32_t oversize_skipped = 0;
	std::uint32_t oversize_deleted = 0;
};

/**
 * The listing inventory of one session (daemon/core/README.md, "The listing streams"
 * and "Who owns what"): fed STAT's count, UIDL's lines (RFC 1939 §7) and LIST's
 * entries (RFC 1939 §5) as they stream in, it keeps sizes by message number (4 bytes
 * each) and unique-ids in one arena, and when Classify() is called decides, in number
 * order, what the session does with each message: saved earlier (DELE, or nothing with
 * keep), new and fetched now, oversize, or left for later. Then only the messages acted
 * on are kept (Messages(), sorted by number), with their unique-ids.
 *
 * It owns the bound on message numbers (limits::max_messages), the duplicate index (a
 * unique-id given to two listed messages vouches for neither: RFC 1939 §7 makes a
 * unique-id unique only per message), the handling of bad UIDL lines (each costs its
 * message the unique-id, never the session) and the rule that once a new message is
 * left for later every later one is too, so that nothing acted on can come after a
 * duplicate that was only counted.
 *
 * Warnings for the user collect until TakeWarnings(). Server text in them is quoted
 * with the function the caller passes, which hides the password.
 */
class Inventory {
public:
	/** Quotes server text for a message (Login::Quote). */
	using Quoter = std::function<std::string(std::string_view)>;

	explicit Inventory(InventoryRules rules);

	/**
	 * STAT's message count (RFC 1939 §5), an early bound on the listing.
	 * @return an error message if @p count exceeds limits::max_messages
	 */
	std::optional<std::string> Announced(std::uint64_t count);

	/**
	 * One LIST entry (RFC 1939 §5).
	 * @param size listed size in octets
	 * @return an error message if @p number is 0, over limits::max_messages or
	 *         named twice: the listing cannot be trusted
	 */
	std::optional<std::string> AddSize(std::uint32_t number, std::uint64_t size);

	/**
	 * One non-blank UIDL line, dot-unstuffed. A malformed one, one naming a message
	 * twice or past limits::max_messages, costs only that message its unique-id
	 * (BadUidl()).
	 */
	void AddUidlLine(std::string_view line, const Quoter &quote);

	/**
	 * Message @p number (0 if unknown) has no usable unique-id: it is fetched
	 * without de-duplication, and the listing is not whole (UidlsComplete()). The
	 * first ten get a warning each, the rest one count in Classify().
	 * @param why what was wrong, for the warning
	 */
	void BadUidl(std::uint32_t number, std::string_view why);

	/** UIDL's body ended: the server has UIDL. */
	void UidlEnded() noexcept { have_uidl_ = true; }

	/** LIST's body ended. A listing longer than InventoryRules::expect_at_most means
	 * deletions the server confirmed may not have been applied: every new message
	 * is left for later, with a warning. */
	void ListEnded();

	/** No further message is to be fetched (StopRetrieving()): new ones not yet
	 * classified are left for later. */
	void StopFetching() noexcept { stop_fetching_ = true; }

	/**
	 * The listing is in: classifies every listed message in number order (one
	 * already_saved call per distinct unique-id), drops the unique-ids shared by
	 * several messages, and frees the per-message listing. Call once.
	 */
	void Classify();

	/** @return the messages acted on, sorted by number (after Classify()) */
	const std::vector<TrackedMessage> &Messages() const noexcept { return messages_; }

	/** @return the index of message @p number in Messages(), if acted on */
	std::optional<std::uint32_t> IndexOf(std::uint32_t number) const noexcept;

	/**
	 * @return whether another message fetched in this session is listed within 2
	 *         octets of Messages()[@p index]: its body could then pass for this one's
	 *         with the size check none the wiser
	 */
	bool HasSizeTwin(std::uint32_t index) const noexcept;

	/** @return whether UIDL was answered +OK (RFC 1939 §7 makes it optional) */
	bool HaveUidl() const noexcept { return have_uidl_; }

	/** @return after Classify(), whether every listed message had a usable
	 *         unique-id: they are then all the server has */
	bool UidlsComplete() const noexcept { return uidls_complete_; }

	/** @return the unique-ids seen on more than one listed message (as far as the
	 *         streamed listing can tell: always when one was acted on or saved
	 *         earlier); views valid while the inventory lives */
	std::vector<std::string_view> DuplicateUidls() const;

	/** @return the lowest number of a message left for later; 0 if none */
	std::uint32_t FirstDeferred() const noexcept { return first_deferred_; }

	/** @return the counters */
	const InventoryCounts &Counts() const noexcept { return counts_; }

	/** @return the warnings since the last call, oldest first */
	std::vector<std::string> TakeWarnings() noexcept;

private:
	/** Hashes std::string and std::string_view alike, for lookups without a copy. */
	struct UidlHash {
		using is_transparent = void;
		std::size_t operator()(std::string_view s) const noexcept
		{
			return std::hash<std::string_view>{}(s);
		}
	};

	std::uint64_t ListedSize(std::uint32_t number) const;
	const std::string *IndexUidl(std::string_view uidl);
	void Track(std::uint32_t number, Plan plan, std::uint64_t size,
		   const std::string *uidl, bool expired = false);
	void ClassifyListed(std::uint32_t number, std::uint64_t size,
			    std::string_view uidl);
	void ClassifyNew(std::uint32_t number, std::uint64_t size, std::string_view uidl,
			 bool index_anyway);
	void Warn(std::string text) { warnings_.push_back(std::move(text)); }

	InventoryRules rules_;
	InventoryCounts counts_;
	std::vector<std::string> warnings_;

	/** LIST's sizes by message number - 1, while the listing streams in: the one
	 * per-message cost of a listing. no_message marks a number LIST did not give;
	 * big_size one whose size is in big_sizes_. */
	std::vector<std::uint32_t> sizes_;
	static constexpr std::uint32_t no_message = UINT32_MAX;
	static constexpr std::uint32_t big_size = UINT32_MAX - 1;
	std::map<std::uint32_t, std::uint64_t> big_sizes_;
	/** UIDL's unique-ids while the listing streams (UIDL comes before LIST: see
	 * Session::SendListing()): each followed by a space in uidl_arena_, found by
	 * message number - 1 in uidl_at_ as offset + 1 (0 = none, bad_uidl = unusable).
	 */
	std::string uidl_arena_;
	std::vector<std::uint32_t> uidl_at_;
	static constexpr std::uint32_t bad_uidl = UINT32_MAX;
	/** Bad UIDL lines that got no warning line of their own. */
	std::uint32_t unreported_bad_uidls_ = 0;

	/** Unique-ids of the tracked messages and of those the caller had saved ->
	 * how many listed messages carry it (more than one defeats de-duplication). */
	std::unordered_map<std::string, std::uint32_t, UidlHash, std::equal_to<>>
	    uidl_index_;
	std::vector<TrackedMessage> messages_;
	/** A new message was left for later: so is every later one. */
	bool deferring_ = false;
	bool stop_fetching_ = false;
	/** The lowest number of a message left for later; 0 if none. */
	std::uint32_t first_deferred_ = 0;
	bool have_uidl_ = false;
	bool uidls_complete_ = false;
};

} // namespace popstream::pop3
