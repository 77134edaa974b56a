#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::journal {

/**
 * One line of an account's journal (see daemon/core/README.md, "The journal"). The
 * journal is append-only; each record changes the state of one unique-id.
 */
struct Record {
	enum class Type : char {
		/** About to move a message from tmp/ into new/: written (and synced)
		 * before the rename, so that a crash between the two is recognised. */
		Pending = 'P',
		/** The file is in new/ and new/ was fsync'd: the message may be DELE'd.
		 */
		Delivered = 'D',
		/** The session that saved it ended in step: the unique-id certainly
		 * belongs to the file's content, so no TOP check is needed before a DELE.
		 */
		Confirmed = 'C',
		/** Its DELE was committed (QUIT +OK). The entry stays until a later
		 * listing no longer shows it: a server that loses the deletion, or
		 * restores the mailbox, must not get the message fetched twice. */
		Deleted = 'X',
		/** The server no longer lists it (or the delivery was abandoned): the
		 * entry is forgotten. */
		Gone = 'G',
		/** A proven copy lost its proof: its session stalled with commands in
		 * flight, and a reply the server never sent would look just like that,
		 * having shifted every body after it onto the wrong message. Back to
		 * Delivered, it no longer vouches; the message is downloaded again and
		 * the new copy replaces the file. */
		Unproven = 'U',
	};
	Type type = Type::Pending;
	/** The unique-id (RFC 1939 §7 UIDL): no blanks, no control octets. */
	std::string uidl;
	/** The size in the listing, in octets: with the unique-id it identifies the
	 * message, so that a reused unique-id on another message is not taken for it. */
	std::uint64_t size = 0;
	/** The file name in new/ (without directory); Pending and Delivered. */
	std::string file;
	/** The file name in tmp/; Pending only. */
	std::string tmp;
	/** When the message was first saved, in seconds since the epoch; Pending and
	 * Delivered (for delete_after). */
	std::int64_t saved_at = 0;
	/** Pending only, may be empty: the file of an earlier copy under this unique-id
	 * that could not vouch for the listed message (never proven whole, or of
	 * another size), removed once this copy is in new/. Recovery finishes or
	 * undoes the replacement. */
	std::string replaces;

	bool operator==(const Record &) const = default;

	/** @return a record that only moves @p uidl to another state: Confirmed,
	 * Deleted, Gone or Unproven (the other fields stay empty) */
	static Record Mark(Type type, std::string uidl)
	{
		return {type, std::move(uidl), 0, {}, {}, 0, {}};
	}
};

/**
 * @return @p record as one journal line, "CRC32 FIELDS\n", where CRC32 is eight
 *         lower-case hex digits of the CRC-32 (IEEE 802.3) of FIELDS, so that a torn
 *         or damaged line is recognised and skipped
 */
std::string EncodeRecord(const Record &record);

/**
 * Parses one line (without its LF). @return the record, or std::nullopt for a line
 * that is damaged (bad checksum, a torn write) or not a record
 */
std::optional<Record> DecodeLine(std::string_view line);

/** @return the CRC-32/ISO-HDLC (IEEE 802.3; zlib's crc32(), as in gzip and PNG) of
 * @p bytes */
std::uint32_t Crc32(std::string_view bytes) noexcept;

/** What the journal knows about one unique-id. */
struct Entry {
	enum class State { Pending, Delivered, Confirmed, Deleted };
	State state = State::Pending;
	std::uint64_t size = 0;
	std::string file;
	std::string tmp;
	/** Pending: the earlier copy's file this one replaces (Record::replaces). */
	std::string replaces;
	std::int64_t saved_at = 0;
};

/**
 * The state that replaying a journal gives: unique-id -> Entry. Records that make no
 * sense in order (a Delivered without Pending) are applied as far as they can be, so
 * that replay never fails on a journal that a crash cut short.
 */
class State {
	std::map<std::string, Entry, std::less<>> entries_;
	std::size_t records_ = 0;

public:
	/** Applies one record. */
	void Apply(const Record &record);

	/** Replays a whole journal file's text; damaged lines are skipped and counted.
	 * @return the number of damaged lines */
	std::size_t Replay(std::string_view text);

	/** @return the entry of @p uidl, or nullptr */
	const Entry *Find(std::string_view uidl) const;

	/** @return every entry, by unique-id */
	const std::map<std::string, Entry, std::less<>> &Entries() const noexcept
	{
		return entries_;
	}

	/** @return records applied since construction (to decide when to compact) */
	std::size_t RecordCount() const noexcept { return records_; }

	/** Calls @p emit with each record that rebuilds the current state, in order:
	 * compaction writes them as they come, without a copy of the whole state. */
	void ForEachRecord(const std::function<void(const Record &)> &emit) const;

	/** @return the records ForEachRecord() gives, as one vector */
	std::vector<Record> Snapshot() const;
};

} // namespace popstream::journal
