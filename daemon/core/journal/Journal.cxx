#include "Journal.hxx"

#include <zlib.h>

#include <charconv>

namespace popstream::journal {

namespace {

/** Splits @p s at single spaces. */
std::vector<std::string_view> Fields(std::string_view s)
{
	std::vector<std::string_view> out;
	while (!s.empty()) {
		const auto space = s.find(' ');
		out.push_back(s.substr(0, space));
		if (space == std::string_view::npos)
			break;
		s.remove_prefix(space + 1);
	}
	return out;
}

template <typename T>
bool Number(std::string_view s, T &out) noexcept
{
	const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
	return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

/** A token is safe in a line: non-empty, no blanks, no control octets. */
bool Token(std::string_view s) noexcept
{
	if (s.empty())
		return false;
	for (const char c : s)
		if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
			return false;
	return true;
}

} // namespace

std::uint32_t Crc32(std::string_view bytes) noexcept
{
	// zlib's CRC-32 is the one journals were always written with (reflected
	// polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF); 0 is its start
	// value. crc32_z() takes a size_t length, so no line is too long for it.
	return static_cast<std::uint32_t>(
	    crc32_z(0, reinterpret_cast<const Bytef *>(bytes.data()), bytes.size()));
}

std::string EncodeRecord(const Record &r)
{
	std::string fields(1, static_cast<char>(r.type));
	fields += ' ';
	fields += r.uidl;
	switch (r.type) {
	case Record::Type::Pending:
		fields += ' ' + std::to_string(r.size) + ' ' + r.tmp + ' ' + r.file +
			  ' ' + std::to_string(r.saved_at);
		if (!r.replaces.empty())
			fields += ' ' + r.replaces;
		break;
	case Record::Type::Delivered:
		fields += ' ' + std::to_string(r.size) + ' ' + r.file + ' ' +
			  std::to_string(r.saved_at);
		break;
	case Record::Type::Confirmed:
	case Record::Type::Deleted:
	case Record::Type::Gone:
	case Record::Type::Unproven:
		break;
	}
	static constexpr char hex[] = "0123456789abcdef";
	const std::uint32_t crc = Crc32(fields);
	std::string line(8, '0');
	for (int i = 0; i < 8; ++i)
		line[static_cast<std::size_t>(i)] = hex[(crc >> (28 - 4 * i)) & 0xF];
	return line + ' ' + fields + '\n';
}

std::optional<Record> DecodeLine(std::string_view line)
{
	if (line.size() < 12 || line[8] != ' ')
		return std::nullopt;
	std::uint32_t crc = 0;
	const auto [p, ec] = std::from_chars(line.data(), line.data() + 8, crc, 16);
	const std::string_view fields = line.substr(9);
	if (ec != std::errc() || p != line.data() + 8 || Crc32(fields) != crc)
		return std::nullopt;

	const auto f = Fields(fields);
	if (f.size() < 2 || f[0].size() != 1 || !Token(f[1]))
		return std::nullopt;
	Record r;
	r.type = static_cast<Record::Type>(f[0][0]);
	r.uidl = std::string(f[1]);
	switch (r.type) {
	case Record::Type::Pending:
		if ((f.size() != 6 && f.size() != 7) || !Number(f[2], r.size) ||
		    !Token(f[3]) || !Token(f[4]) || !Number(f[5], r.saved_at) ||
		    (f.size() == 7 && !Token(f[6])))
			return std::nullopt;
		r.tmp = std::string(f[3]);
		r.file = std::string(f[4]);
		if (f.size() == 7)
			r.replaces = std::string(f[6]);
		return r;
	case Record::Type::Delivered:
		if (f.size() != 5 || !Number(f[2], r.size) || !Token(f[3]) ||
		    !Number(f[4], r.saved_at))
			return std::nullopt;
		r.file = std::string(f[3]);
		return r;
	case Record::Type::Confirmed:
	case Record::Type::Deleted:
	case Record::Type::Gone:
	case Record::Type::Unproven:
		if (f.size() != 2)
			return std::nullopt;
		return r;
	}
	return std::nullopt;
}

void State::Apply(const Record &r)
{
	++records_;
	switch (r.type) {
	case Record::Type::Pending: {
		auto &e = entries_[r.uidl];
		e = Entry{
		    Entry::State::Pending, r.size, r.file, r.tmp, r.replaces, r.saved_at};
		return;
	}
	case Record::Type::Delivered: {
		auto &e = entries_[r.uidl];
		e.state = Entry::State::Delivered;
		e.size = r.size;
		e.file = r.file;
		e.tmp = {}; // and its memory: a run may hold thousands of entries
		e.replaces = {};
		e.saved_at = r.saved_at;
		return;
	}
	case Record::Type::Confirmed: {
		const auto it = entries_.find(r.uidl);
		// Only a delivered message can be confirmed: a Pending one has no file
		// known to be in new/ yet.
		if (it != entries_.end() && it->second.state != Entry::State::Pending)
			it->second.state = Entry::State::Confirmed;
		return;
	}
	case Record::Type::Deleted: {
		const auto it = entries_.find(r.uidl);
		if (it != entries_.end() && it->second.state != Entry::State::Pending)
			it->second.state = Entry::State::Deleted;
		return;
	}
	case Record::Type::Gone:
		entries_.erase(r.uidl);
		return;
	case Record::Type::Unproven: {
		const auto it = entries_.find(r.uidl);
		if (it != entries_.end() && it->second.state == Entry::State::Confirmed)
			it->second.state = Entry::State::Delivered;
		return;
	}
	}
}

std::size_t State::Replay(std::string_view text)
{
	std::size_t damaged = 0;
	while (!text.empty()) {
		const auto lf = text.find('\n');
		// A last line without its LF was cut short by a crash mid-write.
		if (lf == std::string_view::npos) {
			++damaged;
			break;
		}
		if (const auto r = DecodeLine(text.substr(0, lf)))
			Apply(*r);
		else
			++damaged;
		text.remove_prefix(lf + 1);
	}
	return damaged;
}

const Entry *State::Find(std::string_view uidl) const
{
	const auto it = entries_.find(uidl);
	return it == entries_.end() ? nullptr : &it->second;
}

void State::ForEachRecord(const std::function<void(const Record &)> &emit) const
{
	Record r;
	for (const auto &[uidl, e] : entries_) {
		r.uidl = uidl;
		r.size = e.size;
		r.file = e.file;
		r.saved_at = e.saved_at;
		if (e.state == Entry::State::Pending) {
			r.type = Record::Type::Pending;
			r.tmp = e.tmp;
			r.replaces = e.replaces;
			emit(r);
			continue;
		}
		r.type = Record::Type::Delivered;
		r.tmp.clear();
		r.replaces.clear();
		emit(r);
		if (e.state == Entry::State::Confirmed)
			emit(Record::Mark(Record::Type::Confirmed, uidl));
		if (e.state == Entry::State::Deleted)
			emit(Record::Mark(Record::Type::Deleted, uidl));
	}
}

std::vector<Record> State::Snapshot() const
{
	std::vector<Record> out;
	ForEachRecord([&out](const Record &r) { out.push_back(r); });
	return out;
}

} // namespace popstream::journal
