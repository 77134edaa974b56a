#include "Mbox.hxx"

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
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
};

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

std::string MboxFromLine(std::string_view header, std::time_t when)
{
	std::string sender = "MAILER-DAEMON";
	std::size_t at = 0;
	while (at < header.size()) {
		auto end = header.find('\n', at);
		if (end == std::string_view::npos)
			end = header.size();
		const auto line = header.substr(at, end - at);
		if (line.empty() || line == "\r")
			break; // the end of the header
		constexpr std::string_view name = "return-path:";
		if (line.size() > name.size() &&
		    std::equal(
			name.begin(), name.end(), line.begin(), [](char a, char b) {
				return a == std::tolower(static_cast<unsigned char>(b));
			})) {
			const auto open = line.find('<'), close = line.find('>');
			if (open != std::string_view::npos &&
			    close != std::string_view::npos && close > open + 1) {
				const auto address =
				    line.substr(open + 1, close - open - 1);
				if (std::all_of(
					address.begin(), address.end(),
					[](char c) { return c > 0x20 && c < 0x7f; }))
					sender = address;
			}
			break;
		}
		at = end + 1;
	}
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
	std::string head(64 * 1024, '\0');
	const auto got = pread(message.fd, head.data(), head.size(), 0);
	head.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
	const std::string from = MboxFromLine(head, std::time(nullptr));

	// What will be appended, counted and hashed before a byte is written, so that
	// the intent log can tell a whole append from a torn one after a kill.
	std::uint64_t length = 0, hash = fnv_offset;
	const auto count = [&](std::string_view bytes) {
		length += bytes.size();
		Hash(hash, bytes);
	};
	count(from);
	MboxrdQuoter counting(count);
	if (const int e = ReadAll(message.fd, message.size,
				  [&](std::string_view b) { counting.Feed(b); })) {
		result.why =
		    "cannot read the staged message: " + std::string(std::strerror(e));
		return result;
	}
	counting.Finish();
	count("\n");

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

	// The intent, durable before the first byte lands in the mbox.
	{
		const int log = open(intents_.c_str(),
				     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		const std::string line =
		    (message.uidl.empty() ? "-" : message.uidl) + " " +
		    std::to_string(message.listed) + " " + std::to_string(offset) + " " +
		    std::to_string(length) + " " + std::to_string(hash) + "\n";
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
	const auto put = [&](std::string_view bytes) {
		out.append(bytes);
		if (out.size() >= 64 * 1024)
			flush();
	};
	put(from);
	MboxrdQuoter writing(put);
	if (const int e = ReadAll(message.fd, message.size,
				  [&](std::string_view b) { writing.Feed(b); }))
		error = e;
	writing.Finish();
	put("\n");
	flush();
	if (error == 0 && fsync(fd) != 0)
		error = errno;
	if (error == 0 && fstat(fd, &st) == 0 &&
	    static_cast<std::uint64_t>(st.st_size) != offset + length)
		error = EIO; // someone wrote past our locks
	if (error != 0) {
		// Never left half-written: a reader would take the rest of the file
		// for part of this message.
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
		if (fields >> i.uidl >> i.listed >> i.offset >> i.length >> i.hash)
			intents.push_back(std::move(i));
	}
	for (std::size_t k = 0; k < intents.size(); ++k) {
		const auto &i = intents[k];
		if (i.uidl != "-" && known(i.uidl))
			continue;
		const int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC);
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
		if (size >= i.offset + i.length) {
			std::uint64_t hash = fnv_offset, at = i.offset;
			std::string buffer(64 * 1024, '\0');
			bool readable = true;
			while (at < i.offset + i.length) {
				const auto want =
				    static_cast<std::size_t>(std::min<std::uint64_t>(
					buffer.size(), i.offset + i.length - at));
				const auto n = pread(fd, buffer.data(), want,
						     static_cast<off_t>(at));
				if (n <= 0) {
					readable = false;
					break;
				}
				Hash(hash, std::string_view(buffer.data(),
							    static_cast<std::size_t>(n)));
				at += static_cast<std::uint64_t>(n);
			}
			if (readable && hash == i.hash) {
				if (i.uidl != "-")
					out.delivered.emplace_back(i.uidl, i.listed);
			} else {
				out.notices.push_back(
				    "the mbox " + path_ +
				    " holds other bytes where UIDL " + i.uidl +
				    " was being appended at offset " +
				    std::to_string(i.offset) + ": left alone");
			}
			continue;
		}
		if (size <= i.offset || k + 1 != intents.size())
			continue; // nothing of it arrived
		MboxLock lock(fd, path_ + ".lock");
		bool deferred = false;
		if (auto why = lock.Take(Clock::now() + lock_wait_, deferred);
		    !why.empty()) {
			out.notices.push_back(
			    "the mbox " + path_ +
			    " ends in a torn append, not truncated: " + why);
			continue;
		}
		if (ftruncate(fd, static_cast<off_t>(i.offset)) == 0 && fsync(fd) == 0)
			out.notices.push_back("the mbox " + path_ +
					      " ended in a torn append of " +
					      std::to_string(size - i.offset) + " of " +
					      std::to_string(i.length) +
					      " bytes (a kill during delivery): "
					      "truncated back; the message "
					      "is still on the server");
		else
			out.notices.push_back("the mbox " + path_ +
					      " ends in a torn append and cannot be "
					      "truncated: " +
					      std::strerror(errno));
	}
	return out;
}

void MboxAppender::ClearIntents() noexcept
{
	unlink(intents_.c_str());
}

} // namespace popstream::store
