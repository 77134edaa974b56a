#include "FetchResult.hxx"

#include <cstdio>

namespace popstream::fetch {

ExitCode ExitCodeFor(net::NetErrorKind kind) noexcept
{
	using net::NetErrorKind;
	switch (kind) {
	case NetErrorKind::Resolve:
		return ExitCode::NoHost;
	case NetErrorKind::Refused:
	case NetErrorKind::Connect:
	case NetErrorKind::Tls:
	case NetErrorKind::TlsVerify:
		return ExitCode::Unavailable;
	case NetErrorKind::ConnectTimeout:
	case NetErrorKind::IdleTimeout:
	case NetErrorKind::Closed:
	case NetErrorKind::Io:
		return ExitCode::TempFail;
	}
	return ExitCode::Software;
}

ExitCode ExitCodeFor(pop3::ErrorKind kind) noexcept
{
	using pop3::ErrorKind;
	switch (kind) {
	case ErrorKind::Auth:
		return ExitCode::NoPerm;
	case ErrorKind::Protocol:
	case ErrorKind::Desync:
		return ExitCode::Protocol;
	case ErrorKind::StartTls:
		return ExitCode::Unavailable;
	case ErrorKind::AuthMethod:
		return ExitCode::Config;
	case ErrorKind::Greeting:
	case ErrorKind::AuthTemporary:
	case ErrorKind::ConnectionLost:
	case ErrorKind::Timeout:
	case ErrorKind::QuitFailed:
		return ExitCode::TempFail;
	}
	return ExitCode::Software;
}

void FetchResult::Listed(const pop3::ListedEvent &listing,
			 const pop3::SessionStats &stats)
{
	logged_in = true;
	listed = listing.count;
	to_fetch = stats.to_fetch;
	to_fetch_bytes = stats.to_fetch_bytes;
	listed_bytes = listing.bytes;
}

void FetchResult::Committed(const pop3::SessionStats &stats)
{
	committed = true;
	deleted += stats.deleted;
	already_saved += stats.already_saved;
	not_retrieved += stats.not_retrieved;
}

void FetchResult::Failed(const pop3::SessionStats &stats, bool quit_sent,
			 const pop3::Error &ended)
{
	unconfirmed = stats.marked;
	quit_unconfirmed = quit_sent;
	if (ended.reply)
		resp_code = ended.reply->code;
}

const char *ErrorClassName(ErrorClass error_class) noexcept
{
	switch (error_class) {
	case ErrorClass::None:
		break;
	case ErrorClass::Auth:
		return "auth";
	case ErrorClass::Tls:
		return "tls";
	case ErrorClass::Network:
		return "network";
	case ErrorClass::Protocol:
		return "protocol";
	case ErrorClass::Local:
		return "local";
	case ErrorClass::Config:
		return "config";
	}
	return "";
}

ErrorClass ClassifyError(ExitCode code, bool tls, std::string_view resp_code) noexcept
{
	switch (code) {
	case ExitCode::Ok:
		return ErrorClass::None;
	case ExitCode::NoPerm:
		return ErrorClass::Auth;
	case ExitCode::Config:
	case ExitCode::Usage:
		return ErrorClass::Config;
	case ExitCode::CantCreate:
	case ExitCode::IoError:
	case ExitCode::Software:
		return ErrorClass::Local;
	case ExitCode::Protocol:
		return ErrorClass::Protocol;
	default:
		break;
	}
	if (tls)
		return ErrorClass::Tls;
	// [IN-USE], [LOGIN-DELAY], [SYS/TEMP]: the server said why.
	return resp_code.empty() ? ErrorClass::Network : ErrorClass::Protocol;
}

namespace {

/** @return "1 message", "2 messages" */
std::string Messages(std::uint64_t n)
{
	return std::to_string(n) + (n == 1 ? " message" : " messages");
}

} // namespace

std::string FormatListing(const pop3::ListedEvent &listed,
			  const pop3::SessionStats &stats)
{
	return Messages(listed.count) + " (" + std::to_string(listed.bytes) +
	       " bytes) on the server; " + std::to_string(stats.to_fetch) +
	       " to download" +
	       (stats.already_saved > 0
		    ? ", " + std::to_string(stats.already_saved) + " saved earlier"
		    : "");
}

std::string DescribeLink(const pop3::SessionStats &stats)
{
	char rtt[32];
	std::snprintf(rtt, sizeof(rtt), "%.1f", static_cast<double>(stats.rtt_us) / 1000);
	return "link: round trip " + std::string(rtt) + " ms, " +
	       (stats.bytes_per_second > 0
		    ? std::to_string(stats.bytes_per_second) + " bytes/s"
		    : std::string("throughput not measured")) +
	       "; RETR window " + std::to_string(stats.window_bytes) + " octets";
}

std::string FormatSummary(const std::string &label, const FetchResult &r)
{
	std::string s = label + ": ";
	if (r.dry_run) {
		s += "dry run: " + Messages(r.to_fetch) + ", " +
		     std::to_string(r.to_fetch_bytes) + " bytes would be downloaded (" +
		     Messages(r.listed) + ", " + std::to_string(r.listed_bytes) +
		     " bytes on the server); nothing saved or deleted";
		return s;
	}
	// Nothing came and nothing changed on the server: the one thing worth saying.
	if (r.error.empty() && r.saved == 0 && r.deleted == 0 && r.unconfirmed == 0 &&
	    !r.quit_unconfirmed)
		return s + "no new mail";
	char seconds[32];
	std::snprintf(seconds, sizeof(seconds), "%.2f", r.seconds);
	s += Messages(r.saved) + ", " + std::to_string(r.saved_bytes) +
	     " bytes saved to " + r.maildir + " in " + seconds + " s";
	if (r.keep) {
		s += "; all kept on the server";
	} else if (r.committed) {
		s += "; " + std::to_string(r.deleted) + " deleted on the server";
		if (r.already_saved > 0)
			s += " (" + std::to_string(r.already_saved) +
			     " of them saved earlier, not downloaded again)";
	} else if (r.quit_unconfirmed) {
		s +=
		    "; QUIT was sent but not confirmed: whether the server deleted the " +
		    std::to_string(r.unconfirmed) + " marked message(s) is unknown";
	} else if (r.saved > 0 || r.unconfirmed > 0) {
		// The journal lets the next run delete them without downloading them
		// again, if the server has UIDL.
		s += "; nothing deleted on the server (no confirmed QUIT): the next run "
		     "deletes the saved messages there";
	}
	return s;
}

} // namespace popstream::fetch
