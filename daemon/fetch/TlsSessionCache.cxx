#include "TlsSessionCache.hxx"

#include "FetchOptions.hxx"
#include "core/util/Base64.hxx"
#include "net/Connection.hxx"
#include "posix/File.hxx"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace popstream::fetch {

namespace {

/** The first line of the file; the number changes with the format. */
constexpr std::string_view kMagic = "popstream tls-session 1";

/** A session with a ticket and the server's certificate is a few KiB; the cap only
 * stops a wrong file from filling memory. */
constexpr std::size_t kMaxFileBytes = 64 * 1024;

void Wipe(std::string &secret) noexcept
{
	explicit_bzero(secret.data(), secret.size());
	secret.clear();
}

std::int64_t Seconds(std::chrono::system_clock::time_point t) noexcept
{
	return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
	    .count();
}

/** @return the value of line "NAME VALUE" at @p pos in @p text, advancing @p pos */
std::optional<std::string_view> Field(std::string_view text, std::size_t &pos,
				      std::string_view name)
{
	const std::size_t end = text.find('\n', pos);
	if (end == std::string_view::npos)
		return std::nullopt;
	std::string_view line = text.substr(pos, end - pos);
	pos = end + 1;
	if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
	    line[name.size()] != ' ')
		return std::nullopt;
	return line.substr(name.size() + 1);
}

/** fsyncs the directory holding @p path, so that a rename into it is durable. */
void SyncParent(const std::string &path) noexcept
{
	const std::size_t slash = path.rfind('/');
	const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
	const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	fsync(fd);
	close(fd);
}

} // namespace

std::string TlsSessionKey(const FetchOptions &options)
{
	return "server=" + options.account.host + ":" +
	       std::to_string(options.account.port) +
	       (options.account.tls ? "\nmode=tls\n" : "\nmode=starttls\n") +
	       net::TlsTrustKey(options.account.VerifyName(), options.tls);
}

TlsSessionCache::~TlsSessionCache()
{
	Clear();
}

void TlsSessionCache::Clear() noexcept
{
	Wipe(session_);
	key_.clear();
	verified_ = 0;
}

std::string TlsSessionCache::Find(std::string_view key,
				  std::chrono::system_clock::time_point now)
{
	Load();
	if (session_.empty())
		return {};
	const std::int64_t age = Seconds(now) - verified_;
	// A key that differs means the trust settings (CA file, pins, name...) changed
	// since the session was verified: resuming would skip checks they now ask for.
	// The age bound makes the certificate be checked again at least daily, so that
	// a certificate that expired, was revoked from the CA file or replaced is
	// noticed even if the server keeps resuming (RFC 5246 §F.1.4 suggests the same
	// 24 hours for session ids). A time in the future means the clock went back:
	// the age cannot be known.
	if (key != key_ || age < 0 ||
	    age >= std::chrono::duration_cast<std::chrono::seconds>(kMaxAge).count()) {
		Forget();
		return {};
	}
	return session_;
}

bool TlsSessionCache::Remember(std::string_view key, std::string session, bool resumed,
			       std::chrono::system_clock::time_point now)
{
	Load();
	if (session.empty() || (resumed && (session_.empty() || key != key_))) {
		// Nothing to resume; or a resumption of something this cache did not
		// offer, whose verification time is unknown.
		Wipe(session);
		Forget();
		return true;
	}
	const std::int64_t verified = resumed ? verified_ : Seconds(now);
	Clear();
	key_ = key;
	session_ = std::move(session);
	verified_ = verified;
	return Save();
}

void TlsSessionCache::Forget() noexcept
{
	loaded_ = true;
	Clear();
	if (!path_.empty())
		unlink(path_.c_str());
}

void TlsSessionCache::Load() noexcept
{
	if (loaded_ || path_.empty())
		return;
	loaded_ = true;
	const int fd = open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		// A symlink (ELOOP) or an unreadable file is not ours to trust.
		if (errno != ENOENT)
			Forget();
		return;
	}
	struct stat st {};
	posix::ReadResult read;
	// The file holds the master secret: one that someone else owns or can read is
	// neither trusted nor kept.
	const bool private_file = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
				  st.st_uid == geteuid() && (st.st_mode & 077) == 0;
	if (private_file)
		read = posix::ReadToEnd(fd, kMaxFileBytes);
	close(fd);
	bool ok = private_file && read.error == 0 && !read.too_large;
	std::optional<std::string> key, session;
	std::int64_t verified = 0;
	if (ok) {
		const std::string_view text = read.text;
		std::size_t pos = 0;
		const bool magic =
		    text.substr(0, kMagic.size() + 1) == std::string(kMagic) + "\n";
		pos = kMagic.size() + 1;
		const auto key_field = magic ? Field(text, pos, "key") : std::nullopt;
		const auto verified_field =
		    key_field ? Field(text, pos, "verified") : std::nullopt;
		const auto session_field =
		    verified_field ? Field(text, pos, "session") : std::nullopt;
		if (key_field)
			key = Base64Decode(*key_field);
		if (session_field)
			session = Base64Decode(*session_field);
		if (verified_field) {
			try {
				std::size_t used = 0;
				const std::string v(*verified_field);
				verified = std::stoll(v, &used);
				ok = used == v.size();
			} catch (const std::exception &) {
				ok = false;
			}
		}
		ok = ok && key && session && !session->empty() && pos == text.size();
	}
	Wipe(read.text);
	if (ok) {
		key_ = std::move(*key);
		session_ = std::move(*session);
		verified_ = verified;
	} else {
		if (session)
			Wipe(*session);
		Forget();
	}
}

bool TlsSessionCache::Save() const noexcept
{
	if (path_.empty())
		return true;
	try {
		std::string encoded = Base64Encode(session_);
		std::string text = std::string(kMagic) + "\nkey " + Base64Encode(key_) +
				   "\nverified " + std::to_string(verified_) +
				   "\nsession " + encoded + "\n";
		Wipe(encoded);
		// Written whole or not at all: a kill leaves the old file or the new one.
		const std::string temp = path_ + ".tmp";
		unlink(temp.c_str());
		const int fd =
		    open(temp.c_str(),
			 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		bool ok = fd >= 0;
		if (ok) {
			std::size_t done = 0;
			while (ok && done < text.size()) {
				const ssize_t n =
				    write(fd, text.data() + done, text.size() - done);
				if (n < 0 && errno == EINTR)
					continue;
				ok = n > 0;
				if (ok)
					done += static_cast<std::size_t>(n);
			}
			ok = ok && fsync(fd) == 0;
			ok = close(fd) == 0 && ok;
			ok = ok && rename(temp.c_str(), path_.c_str()) == 0;
			if (!ok)
				unlink(temp.c_str());
		}
		Wipe(text);
		if (ok)
			SyncParent(path_);
		return ok;
	} catch (const std::exception &) {
		// std::bad_alloc: the session stays in memory only.
		return false;
	}
}

} // namespace popstream::fetch
