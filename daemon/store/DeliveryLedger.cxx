#include "DeliveryLedger.hxx"

#include "CrashPoint.hxx"
#include "JournalFile.hxx"
#include "core/util/Escape.hxx"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <system_error>
#include <unistd.h>

namespace popstream::store {

namespace {

/** At most this many messages wait for one fsync of new/ (group commit)... */
constexpr std::size_t group_commit_messages = 64;
/** ...or this many bytes, so that the DELEs are never held back for long. */
constexpr std::uint64_t group_commit_bytes = 16u << 20;

/** The journal's `file` for a message an MDA took: no file of ours holds it. */
const std::string mda_file = "(mda)";
/** ...and the start of it for one appended to an mbox (MboxJournalFile()). */
const std::string mbox_file = "(mbox)";

/** Errors after which no other message can be saved either. */
bool IsMaildirWide(int error) noexcept
{
	return error == ENOSPC || error == EDQUOT || error == EROFS || error == EIO ||
	       error == EACCES || error == EPERM;
}

SaveError ToSaveError(const MaildirError &e)
{
	return SaveError(e.what(), IsMaildirWide(e.Errno()));
}

/** @return how many bytes at the top of @p in are header fields named in @p names
 * (case-insensitively, RFC 5322 §2.2), with their folded lines: what popstream
 * added, not what the server sent. Reads at most 16 KiB; leaves @p in there. */
std::streamoff AddedLength(std::ifstream &in, const std::vector<std::string> &names)
{
	std::string head(16 * 1024, '\0');
	in.read(head.data(), static_cast<std::streamsize>(head.size()));
	head.resize(static_cast<std::size_t>(in.gcount()));
	in.clear();
	std::size_t at = 0;
	bool in_field = false;
	while (at < head.size()) {
		const auto end = head.find('\n', at);
		if (end == std::string::npos)
			break;
		const std::string_view line(head.data() + at, end - at);
		const bool folded = !line.empty() && (line[0] == ' ' || line[0] == '\t');
		bool ours = in_field && folded;
		if (!folded) {
			in_field = false;
			for (const auto &name : names)
				if (line.size() > name.size() &&
				    line[name.size()] == ':' &&
				    std::equal(
					name.begin(), name.end(), line.begin(),
					[](char x, char y) {
						return std::tolower(
							   static_cast<unsigned char>(
							       x)) ==
						       std::tolower(
							   static_cast<unsigned char>(y));
					}))
					ours = in_field = true;
		}
		if (!ours)
			break;
		at = end + 1;
	}
	in.seekg(static_cast<std::streamoff>(at));
	return static_cast<std::streamoff>(at);
}

/** @return whether the files at @p a and @p b hold the same bytes once the fields
 * of @p added at their tops are skipped (false if either cannot be read), compared
 * in chunks so that a large message costs no memory */
bool SameBytes(const std::string &a, const std::string &b,
	       const std::vector<std::string> &added)
{
	std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
	if (!fa || !fb)
		return false;
	AddedLength(fa, added);
	AddedLength(fb, added);
	std::vector<char> ba(64 * 1024), bb(64 * 1024);
	for (;;) {
		fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
		fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
		if (fa.gcount() != fb.gcount() ||
		    !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin()))
			return false;
		if (fa.gcount() == 0 || fa.eof() || fb.eof())
			return fa.eof() == fb.eof();
	}
}

} // namespace

DeliveryLedger::DeliveryLedger(LedgerOptions options, LogSink log)
    : options_(std::move(options)), log_(std::move(log)), lookup_(options_.maildir)
{
	if (options_.mbox) {
		options_.hand_off = [mbox = options_.mbox](const HandOffMessage &m) {
			return mbox->Append(m);
		};
		options_.hand_off_name = "the mbox " + options_.mbox->Path();
	}
	if (options_.state_dir.empty())
		return;
	lock_ = std::make_unique<FileLock>(options_.lock_path, options_.lock_holder);
	journal_ = std::make_unique<JournalFile>(options_.state_dir);
}

DeliveryLedger::~DeliveryLedger() = default;

void DeliveryLedger::Log(LogLevel level, const std::string &text) const
{
	if (log_)
		log_(level, text);
}

const journal::State &DeliveryLedger::Journal() const noexcept
{
	return journal_ ? journal_->State() : memory_journal_;
}

void DeliveryLedger::Append(const journal::Record &record)
{
	if (journal_)
		journal_->Append(record);
	else
		memory_journal_.Apply(record);
}

bool DeliveryLedger::Sync()
{
	if (!journal_)
		return true;
	try {
		journal_->Sync();
		return true;
	} catch (const std::system_error &e) {
		// Every later attempt (each batch, the end of the session) would say
		// the same: once is clear, thirty times is noise.
		if (!journal_failed_)
			Log(LogLevel::Error,
			    std::string("cannot write the journal: ") + e.what());
		journal_failed_ = true;
		return false;
	}
}

void DeliveryLedger::RecoverMbox()
{
	const auto found = options_.mbox->Recover([this](const std::string &uidl) {
		const auto *e = Journal().Find(uidl);
		return e != nullptr && e->file.starts_with(mbox_file) &&
		       e->state != journal::Entry::State::Pending;
	});
	for (const auto &notice : found.notices)
		Log(LogLevel::Warning, notice);
	const auto now = static_cast<std::int64_t>(std::time(nullptr));
	for (const auto &[uidl, listed, path] : found.delivered) {
		// Whole in the mbox, though the run was killed before the journal knew:
		// the next DELE may go, and nothing is appended twice.
		Log(LogLevel::Notice,
		    "UIDL " + Escape(uidl, 80) + ": found whole in the mbox " +
			Escape(path, 200) +
			" after an interrupted run: not appended again");
		Append({journal::Record::Type::Delivered,
			uidl,
			listed,
			MboxJournalFile(path),
			{},
			now,
			{}});
		Append(journal::Record::Mark(journal::Record::Type::Confirmed, uidl));
	}
	if (Sync())
		options_.mbox->ClearIntents();
}

void DeliveryLedger::Recover()
{
	if (options_.mbox)
		RecoverMbox();
	if (!journal_)
		return;
	if (journal_->Damaged() > 0)
		Log(LogLevel::Warning, std::to_string(journal_->Damaged()) +
					   " damaged line(s) of the journal in " +
					   options_.state_dir +
					   " were skipped (an interrupted write)");
	// A crash between "pending" and "delivered" leaves the journal unsure whether
	// the rename happened; the Maildir says. The file may also have been moved to
	// cur/ (and renamed with flags) by a mail reader since.
	std::size_t completed = 0, dropped = 0;
	std::vector<std::pair<std::string, journal::Entry>> pending;
	for (const auto &[uidl, entry] : Journal().Entries())
		if (entry.state == journal::Entry::State::Pending)
			pending.emplace_back(uidl, entry);
	for (const auto &[uidl, e] : pending) {
		journal::Record r;
		r.uidl = uidl;
		r.size = e.size;
		r.saved_at = e.saved_at;
		const std::string old = lookup_.Find(e.replaces);
		if (!lookup_.Find(e.file).empty()) {
			// Only a copy proven whole is ever journaled as pending (see
			// Commit()): in new/, it vouches, and the copy it replaces goes.
			if (!old.empty())
				unlink(old.c_str());
			r.type = journal::Record::Type::Delivered;
			r.file = e.file;
			Append(r);
			Append(journal::Record::Mark(journal::Record::Type::Confirmed,
						     uidl));
			++completed;
			continue;
		}
		if (!e.tmp.empty() && e.tmp.find('/') == std::string::npos &&
		    !options_.maildir.empty())
			unlink((options_.maildir + "/tmp/" + e.tmp).c_str());
		if (!old.empty()) {
			// The replacement never arrived: the earlier copy stays, still
			// unable to vouch, so that the next download replaces it again
			// rather than adding a second file.
			r.type = journal::Record::Type::Delivered;
			r.file = e.replaces;
		} else {
			r.type = journal::Record::Type::Gone;
		}
		Append(r);
		++dropped;
	}
	if (completed + dropped > 0) {
		Sync();
		Log(LogLevel::Notice,
		    "recovered from an interruption: " + std::to_string(completed) +
			" message(s) found saved, " + std::to_string(dropped) +
			" unfinished one(s) discarded (they are still on the server)");
	}
}

void DeliveryLedger::Open()
{
	if (maildir_)
		return;
	try {
		maildir_ = std::make_unique<Maildir>(options_.maildir);
	} catch (const MaildirError &e) {
		throw ToSaveError(e);
	}
	if (const auto n = maildir_->RemoveAbandonedTmp(); n > 0)
		Log(LogLevel::Notice,
		    "removed " + std::to_string(n) +
			" file(s) that interrupted deliveries left in tmp/");
}

void DeliveryLedger::BeginSession() noexcept
{
	listed_known_.clear();
}

std::optional<pop3::SavedCopy> DeliveryLedger::AlreadySaved(std::string_view uidl,
							    std::uint64_t size)
{
	const journal::Entry *e = Journal().Find(uidl);
	if (e == nullptr)
		return std::nullopt;
	listed_known_.emplace(uidl);
	pop3::SavedCopy copy;
	copy.download = true;
	// Handed to an MDA or appended to an mbox: no file of ours to look for.
	const bool handed = e->file == mda_file || e->file.starts_with(mbox_file);
	if (e->state == journal::Entry::State::Deleted) {
		// RFC 1939 §7 keeps a unique-id unique only while its message exists:
		// once the server confirmed the deletion, it may hand the unique-id out
		// again (Dovecot does, after rebuilding its index within one second).
		Log(LogLevel::Warning,
		    "UIDL " + Escape(uidl, 80) +
			": the server confirmed deleting a message with this unique-id "
			"earlier, so this one is new mail: downloading it");
		// Unless it is the very same message, which a server that answers +OK to
		// DELE and QUIT but keeps its mail would list again: its bytes tell.
		if (!Mda() && !handed && lookup_.Holds(e->file))
			deleted_copies_[std::string(uidl)] = e->file;
		return copy;
	}
	// The journal is the account's, not the Maildir's: a run with -n into a
	// scratch Maildir that was then removed, or another maildir: in the config,
	// must not get the server copy deleted when this Maildir has none.
	// A copy vouches only where this account delivers now: a copy in another
	// Maildir, another mbox, or given to an MDA when the account now saves to a
	// Maildir, is not this account's mail, and the user may have removed it.
	bool here = false;
	if (e->file == mda_file)
		here = Mda() && !options_.mbox;
	else if (handed)
		here = options_.mbox &&
		       e->file == MboxJournalFile(options_.mbox->Path()) &&
		       access(options_.mbox->Path().c_str(), F_OK) == 0;
	else
		here = !Mda() && lookup_.Holds(e->file);
	if (e->state == journal::Entry::State::Pending || !here) {
		if (e->state != journal::Entry::State::Pending && !handed && !Mda())
			Log(LogLevel::Notice,
			    "UIDL " + Escape(uidl, 80) +
				": the journal says it was saved as " +
				Escape(e->file, 200) +
				", which is in neither new/ nor cur/ of " +
				options_.maildir +
				": downloading it again instead of deleting it");
		else if (e->state != journal::Entry::State::Pending)
			Log(LogLevel::Notice,
			    "UIDL " + Escape(uidl, 80) +
				": the journal says it was delivered " +
				(e->file == mda_file ? std::string("to an MDA")
				 : handed            ? "to an mbox"
						     : "to a Maildir") +
				", not where this account delivers now: downloading it "
				"again "
				"instead of deleting it");
		return copy;
	}
	const auto &policy = options_.policy;
	copy.expired = policy.keep && policy.delete_after.count() > 0 &&
		       static_cast<std::int64_t>(std::time(nullptr)) - e->saved_at >=
			   policy.delete_after.count();
	// While the message is on the server its unique-id identifies it (RFC 1939 §7),
	// so a size that changed (GNU mailutils stamps an X-UIDL: header in) is not new
	// mail: kept, it is simply left. But a DELE needs a copy proven to be of this
	// very message, and another client may have deleted it and the server reused
	// the unique-id: one of another size is downloaded again as a message of its
	// own, the earlier file left alone.
	const bool proven = e->state == journal::Entry::State::Confirmed;
	if (proven && (e->size == size || (policy.keep && !copy.expired))) {
		copy.download = false;
		return copy;
	}
	if (proven) {
		Log(LogLevel::Notice,
		    "UIDL " + Escape(uidl, 80) + ": the copy saved as " +
			Escape(e->file, 200) + " has " + std::to_string(e->size) +
			" octets where the server now lists " + std::to_string(size) +
			": downloading it, and keeping that copy too");
		return copy;
	}
	if (Mda() || handed) {
		Log(LogLevel::Notice,
		    "UIDL " + Escape(uidl, 80) +
			": the copy an MDA took earlier was never proven whole: " +
			(Mda() ? "handing it to " + options_.hand_off_name + " again"
			       : std::string("downloading it again")));
		return copy;
	}
	// Never proven (or its proof withdrawn): the new copy replaces it, so that
	// the user ends up with one good copy.
	replaces_[std::string(uidl)] = e->file;
	Log(LogLevel::Notice,
	    "UIDL " + Escape(uidl, 80) + ": the copy saved as " + Escape(e->file, 200) +
		" was never proven whole: downloading it again to replace it");
	return copy;
}

bool DeliveryLedger::ForgetDuplicates(const std::vector<std::string_view> &uidls)
{
	if (!journal_)
		return true;
	bool forgot = false;
	for (const auto uidl : uidls) {
		const journal::Entry *e = Journal().Find(uidl);
		if (e == nullptr || e->state == journal::Entry::State::Pending)
			continue;
		// The saved copy may be of either message: kept, its entry would let a
		// later session delete the other one unread once this one is gone.
		Log(LogLevel::Notice,
		    "UIDL " + Escape(uidl, 80) +
			" is given to several messages: forgetting that one was saved "
			"(as " +
			Escape(e->file, 200) + "), they are downloaded instead");
		Append(journal::Record::Mark(journal::Record::Type::Gone,
					     std::string(uidl)));
		forgot = true;
	}
	// Durable before any DELE of this session can be committed.
	return !forgot || Sync();
}

void DeliveryLedger::Begin(std::uint32_t number, std::string_view uidl,
			   std::uint64_t listed)
{
	assert(maildir_);
	staged_.reset();
	staged_number_ = number;
	staged_uidl_ = uidl;
	staged_listed_ = listed;
	try {
		staged_ = std::make_unique<Delivery>(maildir_->Begin());
		if (options_.added_headers)
			staged_->Write(options_.added_headers());
	} catch (const MaildirError &e) {
		staged_.reset();
		throw ToSaveError(e);
	}
}

void DeliveryLedger::Write(std::string_view bytes)
{
	assert(staged_);
	try {
		staged_->Write(bytes);
	} catch (const MaildirError &e) {
		staged_.reset();
		throw ToSaveError(e);
	}
}

Destination::Staged DeliveryLedger::End()
{
	assert(staged_);
	if (Mda())
		return QueueHandOff();
	Staged staged;
	try {
		staged.bytes = staged_->Size();
		// Commit() waits for the fsync: until then the next messages download.
		auto name = staged_->StartSync();
		staged.place = "new/" + name;
		group_.push_back({staged_number_,
				  staged_uidl_,
				  staged.bytes,
				  staged_listed_,
				  std::move(name),
				  {},
				  std::move(staged_),
				  {}});
		group_bytes_ += staged.bytes;
	} catch (const MaildirError &e) {
		staged_.reset();
		throw ToSaveError(e);
	}
	staged_.reset();
	return staged;
}

void DeliveryLedger::Discard() noexcept
{
	// Never published: the Delivery's destructor removes it from tmp/.
	staged_.reset();
}

Destination::Staged DeliveryLedger::QueueHandOff()
{
	Staged staged;
	try {
		staged.bytes = staged_->Size();
		staged_->CloseUnsynced();
	} catch (const MaildirError &e) {
		staged_.reset();
		throw ToSaveError(e);
	}
	if (!hand_offs_)
		hand_offs_ =
		    std::make_unique<HandOffQueue>(options_.hand_off, options_.wake);
	const std::string path = options_.maildir + "/tmp/" + staged_->TmpName();
	const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		const int error = errno;
		staged_.reset();
		throw SaveError("cannot open " + path + ": " + std::strerror(error),
				IsMaildirWide(error));
	}
	Pending p{staged_number_,
		  staged_uidl_,
		  staged.bytes,
		  staged_listed_,
		  {},
		  {},
		  std::move(staged_),
		  {}};
	try {
		p.hand_off = hand_offs_->Push({fd, staged.bytes, p.listed, p.uidl, path});
	} catch (const std::system_error &e) {
		throw SaveError(std::string("cannot start the MDA's thread: ") + e.what(),
				true);
	}
	// Not saved yet: only queued, in order, for the MDA or the mbox.
	staged.place = "queued for " + options_.hand_off_name;
	group_bytes_ += staged.bytes;
	group_.push_back(std::move(p));
	return staged;
}

bool DeliveryLedger::Settled() const noexcept
{
	return std::all_of(group_.begin(), group_.end(), [](const Pending &p) {
		return !p.hand_off || p.hand_off->Done();
	});
}

bool DeliveryLedger::GroupFull() const noexcept
{
	if (Mda())
		return !group_.empty() && group_.front().hand_off &&
		       group_.front().hand_off->Done();
	return group_.size() >= group_commit_messages ||
	       group_bytes_ >= group_commit_bytes;
}

void DeliveryLedger::FailGroup(CommitOutcome &out, const std::string &why,
			       bool every_save, bool unsynced)
{
	for (auto &p : group_) {
		if (!p.delivery)
			continue;
		out.failed.push_back({p.number, p.uidl, why, every_save, unsynced});
		p.delivery.reset(); // removes what is still in tmp/
	}
	group_.clear();
	group_bytes_ = 0;
}

CommitOutcome DeliveryLedger::Commit()
{
	CommitOutcome out;
	if (group_.empty())
		return out;
	const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
	if (Mda()) {
		CollectHandOffs(out, now);
		return out;
	}

	// The files' fsyncs, started by End() and run side by side, are over: a file
	// that did not reach the disk goes no further (it never enters the journal).
	std::erase_if(group_, [&](Pending &p) {
		try {
			p.delivery->FinishSync();
			return false;
		} catch (const MaildirError &e) {
			out.failed.push_back({p.number, p.uidl, e.what(),
					      IsMaildirWide(e.Errno()), false});
			group_bytes_ -= p.bytes;
			return true;
		}
	});
	if (group_.empty())
		return out;

	// 0. A message listed again under a unique-id whose deletion the server
	//    confirmed, with the very bytes saved then: the server kept it. The copy
	//    saved then stands, and this one is not published twice.
	for (auto &p : group_) {
		const auto old = deleted_copies_.find(p.uidl);
		if (p.uidl.empty() || old == deleted_copies_.end())
			continue;
		const auto path = lookup_.Find(old->second);
		if (!path.empty() &&
		    SameBytes(options_.maildir + "/tmp/" + p.delivery->TmpName(), path,
			      options_.added_header_names)) {
			Log(LogLevel::Warning,
			    MessageName(p.number, p.uidl) +
				": the server confirmed deleting it earlier but still "
				"has "
				"it, byte for byte the copy saved as " +
				Escape(old->second, 200) + ": not saved twice");
			p.same_as = old->second;
		}
		deleted_copies_.erase(old);
	}

	// 1. The journal learns what is about to move, before it moves: a crash from
	//    here on is recognised at the next start (Recover()).
	for (const auto &p : group_)
		if (!p.uidl.empty() && p.same_as.empty()) {
			const auto old = replaces_.find(p.uidl);
			Append({journal::Record::Type::Pending, p.uidl, p.listed, p.file,
				p.delivery->TmpName(), now,
				old == replaces_.end() ? std::string() : old->second});
			// Listed by this session's server, as the pruning needs to know.
			listed_known_.emplace(p.uidl);
		}
	if (!Sync()) {
		// The records stay buffered for a later write, which must not leave a
		// "pending" for a message given up on: the next start would take it
		// for an interrupted delivery.
		for (const auto &p : group_)
			if (!p.uidl.empty())
				Append(journal::Record::Mark(journal::Record::Type::Gone,
							     p.uidl));
		FailGroup(out, "the journal cannot be written", true, false);
		return out;
	}
	CrashPoint("journal-pending");

	// 2. Into new/, never replacing anything.
	for (auto &p : group_) {
		if (!p.same_as.empty())
			continue;
		try {
			p.delivery->Publish();
		} catch (const MaildirError &e) {
			out.failed.push_back({p.number, p.uidl, e.what(),
					      IsMaildirWide(e.Errno()), false});
			p.delivery.reset();
			if (!p.uidl.empty())
				Append(journal::Record::Mark(journal::Record::Type::Gone,
							     p.uidl));
		}
	}
	CrashPoint("published");

	// 3. One fsync of new/ makes every rename above durable.
	try {
		maildir_->SyncNew();
	} catch (const MaildirError &e) {
		// The files are in new/ but not known to be durable: keep the messages
		// on the server (a duplicate is better than a loss).
		FailGroup(out, e.what(), false, true);
		return out;
	}
	CrashPoint("dir-synced");

	// 4. Durable, and proven whole before it was published (pop3::MessageEndEvent):
	//    the copy it replaces goes, the journal says it vouches (synced with the
	//    next group or at the end: until then "pending" plus the file in new/ say
	//    the same), and the session may DELE.
	for (auto &p : group_) {
		if (!p.delivery)
			continue;
		if (!p.same_as.empty()) {
			// Its durable copy is the earlier one, proven then.
			Append({journal::Record::Type::Delivered,
				p.uidl,
				p.listed,
				p.same_as,
				{},
				now,
				{}});
			Append(journal::Record::Mark(journal::Record::Type::Confirmed,
						     p.uidl));
			p.delivery.reset(); // removes the second copy from tmp/
			out.durable.push_back({p.number, p.bytes, p.listed, false});
			continue;
		}
		if (!p.uidl.empty()) {
			if (const auto old = replaces_.find(p.uidl);
			    old != replaces_.end()) {
				if (const auto path = lookup_.Find(old->second);
				    !path.empty() && old->second != p.file)
					unlink(path.c_str());
				replaces_.erase(old);
			}
			Append({journal::Record::Type::Delivered,
				p.uidl,
				p.listed,
				p.file,
				{},
				now,
				{}});
			Append(journal::Record::Mark(journal::Record::Type::Confirmed,
						     p.uidl));
			session_saves_.emplace_back(p.number, p.uidl);
		}
		out.durable.push_back({p.number, p.bytes, p.listed, true});
	}
	group_.clear();
	group_bytes_ = 0;
	out.completed = true;
	return out;
}

void DeliveryLedger::CollectHandOffs(CommitOutcome &out, std::int64_t now)
{
	bool journaled = false;
	while (!group_.empty() && group_.front().hand_off &&
	       group_.front().hand_off->Done()) {
		Pending p = std::move(group_.front());
		group_.erase(group_.begin());
		group_bytes_ -= p.bytes;
		const auto &result = p.hand_off->Result();
		p.delivery.reset(); // the staged copy is not needed any more either way
		if (!result.delivered) {
			out.failed.push_back({p.number, p.uidl, result.why,
					      result.every_save, false, result.deferred});
			continue;
		}
		CrashPoint("handed-off");
		if (!p.uidl.empty()) {
			// Listed by this session's server: the pruning at its end must
			// not take it for gone (with keep it stays listed, and vouches).
			listed_known_.emplace(p.uidl);
			Append({journal::Record::Type::Delivered,
				p.uidl,
				p.listed,
				options_.mbox ? MboxJournalFile(options_.mbox->Path())
					      : mda_file,
				{},
				now,
				{}});
			Append(journal::Record::Mark(journal::Record::Type::Confirmed,
						     p.uidl));
			session_saves_.emplace_back(p.number, p.uidl);
			journaled = true;
		}
		out.durable.push_back({p.number, p.bytes, p.listed, true});
	}
	// Synced before any DELE may go: from here on a crash can no longer make
	// the next run hand these over a second time. Delivered whatever the journal
	// says: a journal that cannot be written costs a duplicate on the next run,
	// never the message.
	if (journaled)
		Sync();
	out.completed = !out.durable.empty() || !out.failed.empty();
	// On record: the next MDA may run.
	if (out.completed && hand_offs_)
		hand_offs_->Collected();
}

void DeliveryLedger::EndSession(const std::function<bool(std::uint32_t)> &suspect)
{
	if (staged_)
		CrashPoint("unproven-held");
	staged_.reset();
	if (suspect)
		for (const auto &[number, uidl] : session_saves_)
			if (suspect(number))
				Append(journal::Record::Mark(
				    journal::Record::Type::Unproven, uidl));
	session_saves_ = {}; // gives back the capacity of a whole session
}

void DeliveryLedger::SessionCommitted(const std::vector<std::string_view> &marked,
				      bool listing_whole)
{
	// The server has deleted what it marked; and what it no longer lists it no
	// longer has (if every message has a unique-id, the listing is whole).
	for (const auto uidl : marked)
		Append(journal::Record::Mark(journal::Record::Type::Deleted,
					     std::string(uidl)));
	// The session looked up every listed unique-id in the journal as the listing
	// streamed in; no copy of the listing is needed.
	if (listing_whole) {
		std::vector<std::string> gone;
		for (const auto &[uidl, entry] : Journal().Entries())
			if (!listed_known_.contains(uidl) &&
			    entry.state != journal::Entry::State::Pending)
				gone.push_back(uidl);
		for (const auto &uidl : gone)
			Append(journal::Record::Mark(journal::Record::Type::Gone, uidl));
	}
	Sync();
}

CommitOutcome DeliveryLedger::Close()
{
	CommitOutcome ended;
	if (hand_offs_) {
		// A message the MDA is reading is neither cut off nor given twice: its
		// hand-off ends first. What the MDA took is journaled although no DELE
		// follows this run, so that the next run does not hand it over again.
		hand_offs_->Stop();
		CollectHandOffs(ended, static_cast<std::int64_t>(std::time(nullptr)));
		group_.clear();
		group_bytes_ = 0;
		// The journal records every append now: the intents are done.
		if (options_.mbox && Sync())
			options_.mbox->ClearIntents();
	}
	if (journal_) {
		Sync();
		// Compaction keeps the journal about as large as what it describes.
		const auto &st = journal_->State();
		if (st.RecordCount() > 2 * st.Entries().size() + 256) {
			try {
				journal_->Compact();
			} catch (const std::system_error &e) {
				Log(LogLevel::Warning,
				    std::string("cannot compact the journal: ") +
					e.what());
			}
		}
		journal_.reset(); // releases the lock
	}
	lock_.reset();
	return ended;
}

} // namespace popstream::store
