#include "Mbox.hxx"

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace popstream::store {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

/** FNV-1a: enough to tell our bytes from another program's after a kill. */
void Hash(std::uint64_t &hash, std::string_view bytes) noexcept
{
	for (const unsigned char c : bytes) {
		hash ^= c;
		hash *= fnv_prime;
	}
}

/** Errors after which no other message can be appended either. */
bool IsWide(int error) noexcept
{
	return error == ENOSPC || error == EDQUOT || error == EROFS || error == EIO ||
	       error == EACCES || error == EPERM;
}

/** Feeds the @p size bytes of @p fd (from offset 0) to @p feed.
 * @return 0, or an errno (EIO for a file shorter than @p size) */
int ReadAll(int fd, std::uint64_t size, const std::function<void(std::string_view)> &feed)
{
	std::string buffer(64 * 1024, '\0');
	std::uint64_t at = 0;
	while (at < size) {
		const auto want = static_cast<std::size_t>(
		    std::min<std::uint64_t>(buffer.size(), size - at));
		const auto n = pread(fd, buffer.data(), want, static_cast<off_t>(at));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
		at += static_cast<std::uint64_t>(n);
	}
	return 0;
}

/** @return whether the dot-lock @p lock was left by a program that is gone: its pid
 *          no longer runs, or it is older than mbox_stale_lock */
bool Stale(const std::string &lock)
{
	struct stat st {};
	if (stat(lock.c_str(), &st) != 0)
		return false;
	if (std::time(nullptr) - st.st_mtime >
	    static_cast<std::time_t>(mbox_stale_lock.count()))
		return true;
	std::ifstream in(lock);
	long pid = 0;
	// procmail writes "0", others nothing: only a pid can be checked.
	return in >> pid && pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 &&
	       errno == ESRCH;
}

/** The dot-lock and the fcntl(2) lock of one mbox, released when destroyed. */
class MboxLock {
public:
	MboxLock(int fd, std::string lock) : fd_(fd), lock_(std::move(lock)) {}
	~MboxLock()
	{
		if (locked_) {
			struct flock fl {};
			fl.l_type = F_UNLCK;
			fl.l_whence = SEEK_SET;
			fcntl(fd_, F_SETLK, &fl);
		}
		if (dotted_)
			unlink(lock_.c_str());
	}
	MboxLock(const MboxLock &) = delete;
	MboxLock &operator=(const MboxLock &) = delete;

	/** @return "" once both are held, or why not (then deferred says whether it was
	 *          only someone else's lock) */
	std::string Take(Clock::time_point deadline, bool &deferred)
	{
		deferred = false;
		// Written under a name of its own, then linked into place: a kill
		// never leaves a lock that does not name its (dead) holder.
		const std::string mine =
		    lock_ + "." + std::to_string(getpid()) + ".popstream";
		for (;;) {
			const int l = open(
			    mine.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (l < 0 &&
			    (errno == EACCES || errno == EPERM || errno == EROFS))
				break; // a directory such as /var/mail: fcntl alone, as
				       // mutt
			if (l < 0)
				return "cannot create " + mine + ": " +
				       std::strerror(errno);
			const auto pid = std::to_string(getpid()) + "\n";
			const bool written = write(l, pid.data(), pid.size()) ==
					     static_cast<ssize_t>(pid.size());
			close(l);
			const int linked =
			    written ? link(mine.c_str(), lock_.c_str()) : -1;
			const int e = written ? errno : EIO;
			unlink(mine.c_str());
			if (linked == 0) {
				dotted_ = true;
				break;
			}
			errno = e;
			if (errno == EACCES || errno == EPERM || errno == EROFS)
				break; // a directory such as /var/mail: fcntl alone, as
				       // mutt
			if (errno != EEXIST)
				return "cannot create " + lock_ + ": " +
				       std::strerror(errno);
			if (Stale(lock_)) {
				unlink(lock_.c_str());
				continue;
			}
			if (Clock::now() >= deadline) {
				deferred = true;
				return "locked by another program (" + lock_ + ")";
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
		for (;;) {
			struct flock fl {};
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			if (fcntl(fd_, F_SETLK, &fl) == 0) {
				locked_ = true;
				return {};
			}
			if (errno != EAGAIN && errno != EACCES && errno != EINTR)
				return std::string("cannot lock it: ") +
				       std::strerror(errno);
			if (Clock::now() >= deadline) {
				deferred = true;
				return "locked by another program (fcntl)";
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
	}

private:
	int fd_;
	std::string lock_;
	bool dotted_ = false;
	bool locked_ = false;
};

/** One line of the intent log. */
struct Intent {
	std::string uidl;
	std::uint64_t listed = 0;
	std::uint64_t offset = 0;
	std::uint64_t length = 0;
	std::uint64_t hash = 0;
	/** The newlines put before the From line (the file did not end in an empty
	 * line). */
	std::string separator;
	/** The staged copy, in the spool's tmp/, to rebuild what was being written. */
	std::string staged;
	/** The mbox written to: the next run may be told another. */
	std::string path;
	/** The From line, without its LF. */
	std::string from;
};

/** @return @p text with blanks, controls and '%' as %XX: one field of a line */
std::string Encode(std::string_view text)
{
	static constexpr char hex[] = "0123456789ABCDEF";
	std::string out;
	for (const unsigned char c : text) {
		if (c <= 0x20 || c == 0x7f || c == '%') {
			out += '%';
			out += hex[c >> 4];
			out += hex[c & 0xF];
		} else {
			out += static_cast<char>(c);
		}
	}
	return out.empty() ? "%" : out; // never an empty field
}

std::string Decode(std::string_view field)
{
	if (field == "%")
		return {};
	std::string out;
	for (std::size_t i = 0; i < field.size(); ++i) {
		if (field[i] == '%' && i + 2 < field.size()) {
			out += static_cast<char>(
			    std::stoi(std::string(field.substr(i + 1, 2)), nullptr, 16));
			i += 2;
		} else {
			out += field[i];
		}
	}
	return out;
}

/** Feeds what an append writes (separator, From line, quoted message, empty line)
 * to @p sink. @return 0, or the errno of reading the staged copy */
int Produce(const std::string &separator, const std::string &from, int fd,
	    std::uint64_t size, const std::function<void(std::string_view)> &sink)
{
	sink(separator);
	sink(from);
	MboxrdQuoter quoter(sink);
	if (const int e = ReadAll(fd, size, [&](std::string_view b) { quoter.Feed(b); }))
		return e;
	quoter.Finish();
	sink("\n");
	return 0;
}

/** @return the FNV-1a hash of @p length bytes of @p fd from @p offset, or nullopt
 *          if they cannot all be read */
std::optional<std::uint64_t> HashRange(int fd, std::uint64_t offset, std::uint64_t length)
{
	std::uint64_t hash = fnv_offset, at = offset;
	std::string buffer(64 * 1024, '\0');
	while (at < offset + length) {
		const auto want = static_cast<std::size_t>(
		    std::min<std::uint64_t>(buffer.size(), offset + length - at));
		const auto n = pread(fd, buffer.data(), want, static_cast<off_t>(at));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return std::nullopt;
		Hash(hash, std::string_view(buffer.data(), static_cast<std::size_t>(n)));
		at += static_cast<std::uint64_t>(n);
	}
	return hash;
}

} // namespace

MboxrdQuoter::MboxrdQuoter(std::function<void(std::string_view)> sink)
    : sink_(std::move(sink))
{
}

void MboxrdQuoter::Flush(bool quote)
{
	static const std::string quotes(4096, '>');
	std::uint64_t left = quotes_ + (quote ? 1 : 0);
	while (left > 0) {
		const auto n =
		    static_cast<std::size_t>(std::min<std::uint64_t>(left, 4096));
		sink_(std::string_view(quotes.data(), n));
		left -= n;
	}
	if (matched_ > 0)
		sink_(std::string_view("From ", matched_));
	if (quotes_ > 0 || matched_ > 0 || quote)
		last_was_lf_ = false;
	at_start_ = false;
	quotes_ = 0;
	matched_ = 0;
}

void MboxrdQuoter::Feed(std::string_view bytes)
{
	static constexpr std::string_view from = "From ";
	std::size_t i = 0;
	while (i < bytes.size()) {
		if (at_start_) {
			const char c = bytes[i];
			if (matched_ == 0 && c == '>') {
				++quotes_;
				++i;
			} else if (c == from[matched_]) {
				++i;
				if (++matched_ == from.size())
					Flush(true);
			} else {
				Flush(false); // not a From line; c goes on below
			}
			continue;
		}
		const auto lf = bytes.find('\n', i);
		const auto end = lf == std::string_view::npos ? bytes.size() : lf + 1;
		sink_(bytes.substr(i, end - i));
		last_was_lf_ = lf != std::string_view::npos;
		at_start_ = last_was_lf_;
		i = end;
	}
}

void MboxrdQuoter::Finish()
{
	if (at_start_ && (quotes_ > 0 || matched_ > 0))
		Flush(false);
	if (!last_was_lf_) {
		sink_("\n");
		last_was_lf_ = true;
	}
	at_start_ = true;
}

std::string EnvelopeSender(std::string_view header)
{
	std::size_t at = 0;
	while (at < header.size()) {
		auto end = header.find('\n', at);
		if (end == std::string_view::npos)
			end = header.size();
		const auto line = header.substr(at, end - at);
		if (line.empty() || line == "\r")
			break; // the end of the header
		constexpr std::string_view name = "return-path:";
		if (line.size() < name.size() ||
		    !std::equal(
			name.begin(), name.end(), line.begin(), [](char a, char b) {
				return a == std::tolower(static_cast<unsigned char>(b));
			})) {
			at = end + 1;
			continue;
		}
		// The field's value, unfolded (RFC 5322 §2.2.3): its continuation lines
		// start with a blank.
		std::string value(line.substr(name.size()));
		while (end + 1 < header.size() &&
		       (header[end + 1] == ' ' || header[end + 1] == '\t')) {
			const auto next = header.find('\n', end + 1);
			const auto stop =
			    next == std::string_view::npos ? header.size() : next;
			value += header.substr(end + 1, stop - end - 1);
			end = stop;
		}
		std::erase(value, '\r');
		const auto first = value.find_first_not_of(" \t");
		const auto last = value.find_last_not_of(" \t");
		std::string address;
		if (first != std::string::npos) {
			const auto open = value.find('<'), close = value.find('>');
			if (open != std::string::npos && close != std::string::npos &&
			    close > open)
				address = value.substr(open + 1, close - open - 1);
			else if (open == std::string::npos)
				// Without brackets, as some MTAs write it: one word.
				address = value.substr(first, last - first + 1);
		}
		if (!address.empty() && address.front() != '-' &&
		    std::all_of(address.begin(), address.end(),
				[](char c) { return c > 0x20 && c < 0x7f; }))
			return address;
		break;
	}
	return "MAILER-DAEMON";
}

std::string MboxFromLine(std::string_view header, std::time_t when)
{
	const std::string sender = EnvelopeSender(header);
	std::tm local{};
	localtime_r(&when, &local);
	char date[64];
	const auto n = std::strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &local);
	return "From " + sender + " " + std::string(date, n) + "\n";
}

MboxAppender::MboxAppender(std::string path, std::string intents,
			   std::chrono::milliseconds lock_wait)
    : path_(std::move(path)), intents_(std::move(intents)), lock_wait_(lock_wait)
{
}

HandOffResult MboxAppender::Append(const HandOffMessage &message)
{
	HandOffResult result;
	const std::string who = "the mbox " + path_;
	if (!still_locked_.empty()) {
		// Waited once this run already: the rest waits on the server instead.
		result.why = who + ": " + still_locked_;
		result.deferred = true;
		return result;
	}
	std::string head(64 * 1024, '\0');
	const auto got = pread(message.fd, head.data(), head.size(), 0);
	head.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
	const std::string from = MboxFromLine(head, std::time(nullptr));

	int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		// As a Maildir is: its directories are made (0700) on first delivery.
		std::error_code ignored;
		const auto dir = std::filesystem::path(path_).parent_path();
		if (!dir.empty() && std::filesystem::create_directories(dir, ignored))
			std::filesystem::permissions(
			    dir, std::filesystem::perms::owner_all, ignored);
		fd = open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		const int e = errno;
		result.why = "cannot open " + who + ": " + std::strerror(e);
		result.every_save =
		    IsWide(e) || e == ENOENT || e == ENOTDIR || e == EISDIR;
		return result;
	}
	struct Closer {
		int fd;
		~Closer() { close(fd); }
	} closer{fd};
	MboxLock lock(fd, path_ + ".lock");
	bool deferred = false;
	if (auto why = lock.Take(Clock::now() + lock_wait_, deferred); !why.empty()) {
		if (deferred)
			still_locked_ = why;
		result.why = who + ": " + why;
		result.deferred = deferred;
		return result;
	}
	struct stat st {};
	if (fstat(fd, &st) != 0) {
		result.why = who + ": " + std::strerror(errno);
		return result;
	}
	const auto offset = static_cast<std::uint64_t>(st.st_size);
	// A file that does not end in an empty line (another program's last message
	// without its newline, a torn write) gets one first: otherwise the From line
	// would be read as part of that message, and this one hidden in it.
	std::string separator;
	if (offset > 0) {
		char tail[2] = {'\n', '\n'};
		const auto want = offset >= 2 ? 2 : 1;
		if (pread(fd, tail + (2 - want), static_cast<std::size_t>(want),
			  static_cast<off_t>(offset -
					     static_cast<std::uint64_t>(want))) == want)
			separator = tail[1] != '\n'   ? "\n\n"
				    : tail[0] != '\n' ? "\n"
						      : "";
		else
			separator = "\n\n";
	}

	// What will be appended, counted and hashed before a byte is written, so that
	// the intent log can tell a whole append from a torn one after a kill.
	std::uint64_t length = 0, hash = fnv_offset;
	if (const int e = Produce(separator, from, message.fd, message.size,
				  [&](std::string_view bytes) {
					  length += bytes.size();
					  Hash(hash, bytes);
				  })) {
		result.why =
		    "cannot read the staged message: " + std::string(std::strerror(e));
		return result;
	}

	// The intent, durable before the first byte lands in the mbox.
	{
		const int log = open(intents_.c_str(),
				     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		const std::string line =
		    Encode(message.uidl) + " " + std::to_string(message.listed) + " " +
		    std::to_string(offset) + " " + std::to_string(length) + " " +
		    std::to_string(hash) + " " + Encode(separator) + " " +
		    Encode(message.name) + " " + Encode(path_) + " " +
		    Encode(std::string_view(from).substr(0, from.size() - 1)) + "\n";
		const bool ok = log >= 0 &&
				write(log, line.data(), line.size()) ==
				    static_cast<ssize_t>(line.size()) &&
				fdatasync(log) == 0;
		const int e = errno;
		if (log >= 0)
			close(log);
		if (!ok) {
			result.why = "cannot write " + intents_ + ": " + std::strerror(e);
			result.every_save = true;
			return result;
		}
	}

	int error = 0;
	std::string out;
	const auto flush = [&] {
		std::size_t done = 0;
		while (error == 0 && done < out.size()) {
			const auto n = write(fd, out.data() + done, out.size() - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				error = errno;
			else
				done += static_cast<std::size_t>(n);
		}
		out.clear();
	};
	if (const int e = Produce(separator, from, message.fd, message.size,
				  [&](std::string_view bytes) {
					  out.append(bytes);
					  if (out.size() >= 64 * 1024)
						  flush();
				  }))
		error = e;
	flush();
	if (error == 0 && fsync(fd) != 0)
		error = errno;
	if (error == 0 && fstat(fd, &st) == 0 &&
	    static_cast<std::uint64_t>(st.st_size) != offset + length)
		error = EIO; // someone wrote past our locks
	if (error != 0) {
		// Never left half-written: a reader would take the rest of the file
		// for part of this message. Still under our locks: nobody else wrote.
		if (ftruncate(fd, static_cast<off_t>(offset)) == 0)
			fsync(fd);
		result.why = "cannot append to " + who + ": " + std::strerror(error);
		result.every_save = IsWide(error);
		return result;
	}
	result.delivered = true;
	return result;
}

MboxAppender::Recovered
MboxAppender::Recover(const std::function<bool(const std::string &)> &known)
{
	Recovered out;
	std::ifstream in(intents_);
	if (!in)
		return out;
	std::vector<Intent> intents;
	for (std::string line; std::getline(in, line);) {
		std::istringstream fields(line);
		Intent i;
		std::string uidl, separator, staged, path, from;
		if (fields >> uidl >> i.listed >> i.offset >> i.length >> i.hash >>
		    separator >> staged >> path >> from) {
			i.uidl = Decode(uidl);
			i.separator = Decode(separator);
			i.staged = Decode(staged);
			i.path = Decode(path);
			i.from = Decode(from) + "\n";
			intents.push_back(std::move(i));
		}
	}
	for (std::size_t k = 0; k < intents.size(); ++k) {
		const auto &i = intents[k];
		if (!i.uidl.empty() && known(i.uidl))
			continue;
		// The file it wrote, whatever the account says today.
		const std::string who = "the mbox " + i.path;
		const int fd = open(i.path.c_str(), O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct Closer {
			int fd;
			~Closer() { close(fd); }
		} closer{fd};
		struct stat st {};
		if (fstat(fd, &st) != 0)
			continue;
		const auto size = static_cast<std::uint64_t>(st.st_size);
		if (size >= i.offset + i.length &&
		    HashRange(fd, i.offset, i.length) == std::optional(i.hash)) {
			if (!i.uidl.empty())
				out.delivered.push_back({i.uidl, i.listed, i.path});
			continue;
		}
		if (size <= i.offset)
			continue; // nothing of it arrived
		// Only bytes proven to be the start of this very append are cut: the
		// staged copy rebuilds what was being written. Whatever else follows
		// (another program's delivery after a lock it took for stale) stays.
		MboxLock lock(fd, i.path + ".lock");
		bool deferred = false;
		if (auto why = lock.Take(Clock::now() + lock_wait_, deferred);
		    !why.empty()) {
			out.notices.push_back(
			    who + " ends in a torn append, not truncated: " + why);
			continue;
		}
		if (fstat(fd, &st) != 0)
			continue;
		const auto now_size = static_cast<std::uint64_t>(st.st_size);
		const auto torn = now_size - i.offset;
		bool ours = false;
		if (now_size < i.offset + i.length) {
			const int staged = open(i.staged.c_str(), O_RDONLY | O_CLOEXEC);
			if (staged >= 0) {
				struct stat sst {};
				std::uint64_t expect = fnv_offset, seen = 0;
				if (fstat(staged, &sst) == 0 &&
				    Produce(i.separator, i.from, staged,
					    static_cast<std::uint64_t>(sst.st_size),
					    [&](std::string_view bytes) {
						    if (seen >= torn)
							    return;
						    const auto n =
							std::min<std::uint64_t>(
							    bytes.size(), torn - seen);
						    Hash(expect, bytes.substr(0, n));
						    seen += n;
					    }) == 0 &&
				    seen == torn)
					ours = HashRange(fd, i.offset, torn) ==
					       std::optional(expect);
				close(staged);
			}
		}
		if (!ours) {
			out.notices.push_back(
			    who +
			    " holds bytes that are not those of the append of UIDL " +
			    i.uidl + " at offset " + std::to_string(i.offset) +
			    " (another program wrote there after a kill): left alone; "
			    "check "
			    "the message there by hand");
			continue;
		}
		if (ftruncate(fd, static_cast<off_t>(i.offset)) == 0 && fsync(fd) == 0)
			out.notices.push_back(who + " ended in a torn append of " +
					      std::to_string(torn) + " of " +
					      std::to_string(i.length) +
					      " bytes (a kill during delivery): "
					      "truncated back; the message "
					      "is still on the server");
		else
			out.notices.push_back(who +
					      " ends in a torn append and cannot be "
					      "truncated: " +
					      std::strerror(errno));
	}
	return out;
}

std::string MboxJournalFile(std::string_view path)
{
	return "(mbox)" + Encode(path);
}

void MboxAppender::ClearIntents() noexcept
{
	unlink(intents_.c_str());
}

} // namespace popstream::store
