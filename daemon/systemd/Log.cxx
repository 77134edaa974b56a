#include "Log.hxx"

#include "core/util/Escape.hxx"
#include "posix/File.hxx"

#include <systemd/sd-journal.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>
#include <sys/uio.h>

namespace popstream::systemd {

namespace {

/** SYSLOG_IDENTIFIER=: what `journalctl --user -t popstreamd` selects. */
constexpr std::string_view syslog_identifier = "popstreamd";

constexpr std::string_view redacted = "[redacted]";

/** Parses a whole decimal number; rejects signs, spaces and trailing bytes. */
std::optional<std::uint64_t> ParseDecimal(std::string_view text) noexcept
{
	std::uint64_t value = 0;
	const char *end = text.data() + text.size();
	const auto [ptr, ec] = std::from_chars(text.data(), end, value);
	if (text.empty() || ec != std::errc() || ptr != end)
		return std::nullopt;
	return value;
}

void ReplaceAll(std::string &text, std::string_view what, std::string_view with)
{
	for (std::size_t at = text.find(what); at != std::string::npos;
	     at = text.find(what, at + with.size()))
		text.replace(at, what.size(), with);
}

} // namespace

bool IsJournalStream(std::string_view journal_stream, std::uint64_t device,
		     std::uint64_t inode) noexcept
{
	const std::size_t colon = journal_stream.find(':');
	if (colon == std::string_view::npos)
		return false;
	const auto stream_device = ParseDecimal(journal_stream.substr(0, colon));
	const auto stream_inode = ParseDecimal(journal_stream.substr(colon + 1));
	return stream_device && stream_inode && *stream_device == device &&
	       *stream_inode == inode;
}

LogTarget DetectLogTarget(int fd) noexcept
{
	const char *journal_stream = std::getenv("JOURNAL_STREAM");
	if (journal_stream == nullptr)
		return LogTarget::Stderr;
	struct stat st {};
	if (fstat(fd, &st) != 0)
		return LogTarget::Stderr;
	return IsJournalStream(journal_stream, static_cast<std::uint64_t>(st.st_dev),
			       static_cast<std::uint64_t>(st.st_ino))
		   ? LogTarget::Journal
		   : LogTarget::Stderr;
}

std::string EscapeLineBreaks(std::string_view text)
{
	std::string escaped;
	escaped.reserve(text.size());
	for (const char c : text) {
		const auto byte = static_cast<unsigned char>(c);
		if (c == '\n') {
			escaped += "\\n";
		} else if (c == '\r') {
			escaped += "\\r";
		} else if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
			// Other control bytes cannot split a line, but a terminal would
			// act on them (ESC sequences), and callers are meant to have
			// escaped them.
			char hex[5];
			std::snprintf(hex, sizeof(hex), "\\x%02x", byte);
			escaped += hex;
		} else {
			escaped += c;
		}
	}
	return escaped;
}

std::string FormatStderrLine(Priority priority, std::string_view text,
			     std::string_view account)
{
	// "<N>" as in sd-daemon.h's SD_ERR ... SD_DEBUG: journald strips it into
	// PRIORITY= when stderr is a plain stream to it, and people can still read it.
	std::string line = "<" + std::to_string(static_cast<int>(priority)) + ">";
	if (!account.empty()) {
		line += EscapeLineBreaks(account);
		line += ": ";
	}
	line += EscapeLineBreaks(text);
	line += '\n';
	return line;
}

std::string FormatFetchSummary(const FetchSummary &summary)
{
	char seconds[32];
	std::snprintf(seconds, sizeof(seconds), "%.2f", summary.seconds);

	std::string text = std::to_string(summary.messages);
	text += summary.messages == 1 ? " message, " : " messages, ";
	text += std::to_string(summary.bytes);
	text += summary.bytes == 1 ? " byte in " : " bytes in ";
	text += seconds;
	text += " s, ";
	if (summary.errors == 0 && summary.error.empty()) {
		text += "no errors";
	} else {
		// A fetch that failed as a whole counts as one error even if the caller
		// forgot to count it.
		const std::uint64_t errors = std::max<std::uint64_t>(summary.errors, 1);
		text += std::to_string(errors);
		text += errors == 1 ? " error" : " errors";
		if (!summary.error.empty()) {
			text += ": ";
			text += summary.error;
		}
	}
	return text;
}

void Logger::AddSecret(std::string_view secret)
{
	if (secret.size() < 4)
		return;
	// Log text is escaped before it gets here, so the secret may appear in escaped
	// form (a backslash or a non-ASCII byte in a password) as well as raw.
	for (std::string form :
	     {std::string(secret), Escape(secret, secret.size() * 4 + 3)})
		if (std::find(secrets_.begin(), secrets_.end(), form) == secrets_.end())
			secrets_.push_back(std::move(form));
	std::sort(secrets_.begin(), secrets_.end(),
		  [](const std::string &a, const std::string &b) {
			  return a.size() > b.size();
		  });
}

std::string Logger::Redact(std::string_view text) const
{
	std::string result(text);
	for (const auto &secret : secrets_)
		ReplaceAll(result, secret, redacted);
	return result;
}

void Logger::WriteLine(const std::string &line) const noexcept
{
	// One write(2) per line, so that lines from several writers on the same pipe do
	// not interleave. Errors are ignored: a logger has nowhere to report them.
	posix::WriteAllBestEffort(fd_, line);
}

void Logger::Log(Priority priority, std::string_view text,
		 const LogFields &fields) noexcept
{
	if (static_cast<int>(priority) > static_cast<int>(max_priority_))
		return;

	const std::string account = EscapeLineBreaks(Redact(fields.account));
	const std::string body = Redact(text);

	if (target_ == LogTarget::Journal) {
		// The account prefixes MESSAGE= too, so that plain `journalctl` output
		// says which account a line is about without showing fields.
		std::string message = "MESSAGE=";
		if (!account.empty())
			message += account + ": ";
		message += EscapeLineBreaks(body);

		std::vector<std::string> entry;
		entry.push_back(std::move(message));
		entry.push_back("PRIORITY=" + std::to_string(static_cast<int>(priority)));
		entry.push_back("SYSLOG_IDENTIFIER=" + std::string(syslog_identifier));
		if (!account.empty())
			entry.push_back("ACCOUNT=" + account);
		if (!fields.server.empty())
			entry.push_back("SERVER=" +
					EscapeLineBreaks(Redact(fields.server)));
		if (fields.messages)
			entry.push_back("MESSAGES=" + std::to_string(*fields.messages));
		if (fields.bytes)
			entry.push_back("BYTES=" + std::to_string(*fields.bytes));

		std::vector<iovec> iov;
		iov.reserve(entry.size());
		for (auto &field : entry)
			iov.push_back({field.data(), field.size()});
		if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0)
			return;
		// journald refused the entry (restarting, out of buffer space): the
		// stream, if still connected, carries the line instead, and the "<N>"
		// prefix keeps its priority. A missing journal socket is not reported
		// (sd_journal_sendv() then drops the entry and returns 0), but Journal is
		// only chosen when journald itself connected our stderr.
	}

	WriteLine(FormatStderrLine(priority, body, account));
}

void Logger::LogFetch(const FetchSummary &summary) noexcept
{
	const bool clean = summary.errors == 0 && summary.error.empty();
	Log(clean ? Priority::Info : Priority::Warning, FormatFetchSummary(summary),
	    LogFields{
		.account = summary.account,
		.server = summary.server,
		.messages = summary.messages,
		.bytes = summary.bytes,
	    });
}

} // namespace popstream::systemd
