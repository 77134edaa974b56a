#include "Inventory.hxx"

#include "Listing.hxx"
#include "core/util/Escape.hxx"

#include <algorithm>

namespace popstream::pop3 {

Inventory::Inventory(InventoryRules rules) : rules_(std::move(rules))
{
}

std::optional<std::string> Inventory::Announced(std::uint64_t count)
{
	if (count > limits::max_messages)
		return "protocol error: server claims " + std::to_string(count) +
		       " messages (more than " + std::to_string(limits::max_messages) +
		       ")";
	sizes_.reserve(count);
	return std::nullopt;
}

std::optional<std::string> Inventory::AddSize(std::uint32_t number, std::uint64_t size)
{
	// RFC 1939 §5: a session starts with messages 1..n, so n bounds the numbers.
	if (number == 0 || number > limits::max_messages)
		return "protocol error: LIST names message " + std::to_string(number) +
		       " (messages are numbered 1 to at most " +
		       std::to_string(limits::max_messages) + ")";
	if (sizes_.size() < number)
		sizes_.resize(number, no_message);
	std::uint32_t &slot = sizes_[number - 1];
	if (slot != no_message)
		return "protocol error: LIST names message " + std::to_string(number) +
		       " twice";
	if (size < big_size) {
		slot = static_cast<std::uint32_t>(size);
	} else {
		slot = big_size;
		big_sizes_[number] = size;
	}
	++counts_.listed;
	counts_.listed_bytes += size;
	return std::nullopt;
}

std::uint64_t Inventory::ListedSize(std::uint32_t number) const
{
	const std::uint32_t slot = sizes_[number - 1];
	return slot == big_size ? big_sizes_.at(number) : slot;
}

void Inventory::AddUidlLine(std::string_view line, const Quoter &quote)
{
	const auto number = LeadingMessageNumber(line);
	if (!number)
		return BadUidl(0, "its UIDL line " + quote(line) +
				      " does not start with a message number");
	if (*number > limits::max_messages)
		return BadUidl(0, "UIDL names message " + std::to_string(*number) +
				      " (messages are numbered 1 to at most " +
				      std::to_string(limits::max_messages) + ")");
	if (uidl_at_.size() < *number)
		uidl_at_.resize(*number, 0);
	std::uint32_t &at = uidl_at_[*number - 1];
	if (at != 0) {
		if (at != bad_uidl)
			BadUidl(*number, "UIDL names it twice");
		return;
	}
	const auto entry = ParseUidlLine(line);
	if (!entry)
		return BadUidl(*number, "its UIDL line " + quote(line) +
					    " holds no usable unique-id");
	if (uidl_arena_.size() >= bad_uidl - entry->uidl.size() - 2)
		return BadUidl(*number, "the UIDL listing is too large");
	at = static_cast<std::uint32_t>(uidl_arena_.size() + 1);
	uidl_arena_ += entry->uidl;
	uidl_arena_ += ' ';
}

void Inventory::BadUidl(std::uint32_t number, std::string_view why)
{
	++counts_.bad_uidl_lines;
	if (number > 0 && number <= uidl_at_.size())
		uidl_at_[number - 1] = bad_uidl;
	else if (number > 0) {
		uidl_at_.resize(number, 0);
		uidl_at_[number - 1] = bad_uidl;
	}
	// A server can send a million bad lines; a few say it, a count says the rest.
	static constexpr std::uint32_t max_reported = 10;
	if (counts_.bad_uidl_lines > max_reported) {
		++unreported_bad_uidls_;
		return;
	}
	Warn("warning: " +
	     (number > 0 ? "message " + std::to_string(number)
			 : std::string("a message")) +
	     ": " + std::string(why) + "; it is fetched without de-duplication");
}

void Inventory::ListEnded()
{
	if (counts_.listed <= rules_.expect_at_most)
		return;
	deferring_ = true;
	Warn("warning: the server lists " + std::to_string(counts_.listed) +
	     " messages, more than the " + std::to_string(rules_.expect_at_most) +
	     " left after the deletions it confirmed: it may not have applied them, so "
	     "nothing more is downloaded in this run");
}

const std::string *Inventory::IndexUidl(std::string_view uidl)
{
	if (uidl.empty())
		return nullptr;
	const auto [it, inserted] = uidl_index_.try_emplace(std::string(uidl), 1u);
	return &it->first;
}

void Inventory::Track(std::uint32_t number, Plan plan, std::uint64_t size,
		      const std::string *uidl, bool expired)
{
	messages_.push_back({number, plan, expired, uidl, size});
}

void Inventory::ClassifyListed(std::uint32_t number, std::uint64_t size,
			       std::string_view uidl)
{
	if (const auto it = uidl_index_.find(uidl); it != uidl_index_.end()) {
		// Several messages with one unique-id: none of them can be told apart by
		// it. The earlier ones lose it when the listing ends.
		++it->second;
		return ClassifyNew(number, size, {}, false);
	}
	std::optional<SavedCopy> copy;
	if (rules_.already_saved)
		copy = rules_.already_saved(uidl, size);
	if (!copy || copy->download)
		return ClassifyNew(number, size, uidl, copy.has_value());
	Track(number, rules_.keep && !copy->expired ? Plan::Keep : Plan::Dele, size,
	      IndexUidl(uidl), copy->expired);
}

void Inventory::ClassifyNew(std::uint32_t number, std::uint64_t size,
			    std::string_view uidl, bool index_anyway)
{
	if (number < rules_.first_number) {
		// Handled by the session before this one in the same run, or moved
		// down by deletions since: either way a message acted on later that
		// shares its unique-id must be seen as a duplicate.
		IndexUidl(uidl);
		return;
	}
	if (rules_.max_message_size > 0 && size > rules_.max_message_size) {
		const std::string what =
		    "message " + std::to_string(number) +
		    (uidl.empty() ? "" : " (UIDL " + Escape(uidl, 80) + ")") + ": " +
		    std::to_string(size) + " octets, over max_message_size (" +
		    std::to_string(rules_.max_message_size) + "): ";
		if (rules_.oversize == Oversize::Delete) {
			Track(number, Plan::OversizeDele, size, IndexUidl(uidl));
			Warn(what + "deleted without downloading it (oversize: delete)");
		} else {
			++counts_.oversize_skipped;
			if (index_anyway)
				IndexUidl(uidl);
			Warn(what + "left on the server");
		}
		return;
	}
	const bool over_bytes = rules_.limit_bytes > 0 && counts_.to_fetch > 0 &&
				counts_.to_fetch_bytes + size > rules_.limit_bytes;
	if (deferring_ || counts_.to_fetch >= rules_.limit || stop_fetching_ ||
	    over_bytes) {
		// Not kept, so that a mailbox of any size costs the same. Its unique-id
		// is only looked up: whatever the session acts on came before it, so a
		// duplicate of it is seen here. first_deferred_ is the lowest, not the
		// first: a saved copy found to share its unique-id is classified again
		// when the listing ends, after higher-numbered ones.
		if (first_deferred_ == 0 || number < first_deferred_)
			first_deferred_ = number;
		deferring_ = true;
		++counts_.deferred;
		if (index_anyway)
			IndexUidl(uidl);
		return;
	}
	Track(number, Plan::Fetch, size, IndexUidl(uidl));
	++counts_.to_fetch;
	counts_.to_fetch_bytes += size;
}

void Inventory::Classify()
{
	// Each listed message in number order, by its unique-id if it has a usable one.
	// A unique-id for a message LIST did not give has nothing to act on.
	bool every_uidl = have_uidl_;
	for (std::uint32_t i = 0; i < sizes_.size(); ++i) {
		if (sizes_[i] == no_message)
			continue;
		const std::uint32_t at = i < uidl_at_.size() ? uidl_at_[i] : 0;
		if (at == 0 || at == bad_uidl) {
			every_uidl = false;
			ClassifyNew(i + 1, ListedSize(i + 1), {}, false);
			continue;
		}
		const std::string_view rest =
		    std::string_view(uidl_arena_).substr(at - 1);
		ClassifyListed(i + 1, ListedSize(i + 1), rest.substr(0, rest.find(' ')));
	}
	uidls_complete_ = every_uidl;
	if (unreported_bad_uidls_ > 0)
		Warn("warning: " + std::to_string(unreported_bad_uidls_) +
		     " more message(s) with an unusable UIDL line are fetched without "
		     "de-duplication");

	// Two messages with one unique-id defeat de-duplication; treat them as having
	// none rather than risk skipping one of them.
	std::vector<TrackedMessage> known_duplicates;
	for (auto &m : messages_)
		if (m.uidl && uidl_index_.at(*m.uidl) > 1) {
			m.uidl = nullptr;
			if (m.plan != Plan::Fetch && m.plan != Plan::OversizeDele)
				known_duplicates.push_back(m);
		}
	if (std::any_of(uidl_index_.begin(), uidl_index_.end(),
			[](const auto &e) { return e.second > 1; }))
		Warn("warning: server gives the same UIDL to several messages; those are "
		     "fetched without de-duplication");
	if (!known_duplicates.empty()) {
		std::erase_if(messages_, [](const TrackedMessage &m) {
			return !m.uidl && m.plan != Plan::Fetch &&
			       m.plan != Plan::OversizeDele;
		});
		for (const auto &m : known_duplicates)
			ClassifyNew(m.number, m.size, {}, false);
	}

	// The per-message listing is no longer needed.
	sizes_ = {};
	big_sizes_.clear();
	uidl_arena_ = {};
	uidl_at_ = {};

	std::sort(messages_.begin(), messages_.end(),
		  [](const TrackedMessage &a, const TrackedMessage &b) {
			  return a.number < b.number;
		  });
	messages_.shrink_to_fit();
	for (const auto &m : messages_) {
		if (m.plan == Plan::Dele || m.plan == Plan::Keep)
			++counts_.already_saved;
		else if (m.plan == Plan::OversizeDele)
			++counts_.oversize_deleted;
	}
}

std::optional<std::uint32_t> Inventory::IndexOf(std::uint32_t number) const noexcept
{
	const auto it = std::lower_bound(
	    messages_.begin(), messages_.end(), number,
	    [](const TrackedMessage &m, std::uint32_t n) { return m.number < n; });
	if (it == messages_.end() || it->number != number)
		return std::nullopt;
	return static_cast<std::uint32_t>(it - messages_.begin());
}

bool Inventory::HasSizeTwin(std::uint32_t index) const noexcept
{
	const TrackedMessage &self = messages_[index];
	return std::any_of(
	    messages_.begin(), messages_.end(), [&](const TrackedMessage &m) {
		    return m.number != self.number && m.plan == Plan::Fetch &&
			   m.size + 2 >= self.size && m.size <= self.size + 2;
	    });
}

std::vector<std::string_view> Inventory::DuplicateUidls() const
{
	std::vector<std::string_view> out;
	for (const auto &[uidl, count] : uidl_index_)
		if (count > 1)
			out.push_back(uidl);
	return out;
}

std::vector<std::string> Inventory::TakeWarnings() noexcept
{
	std::vector<std::string> out;
	out.swap(warnings_);
	return out;
}

} // namespace popstream::pop3
