#include "StatePaths.hxx"

#include "AddedHeaders.hxx"
#include "Mda.hxx"

#include "FetchOptions.hxx"
#include "store/DeliveryLedger.hxx"

#include <cstdlib>
#include <filesystem>
#include <pwd.h>
#include <unistd.h>

namespace popstream::fetch {

namespace {

std::string Escape(std::string_view part)
{
	static constexpr char hex[] = "0123456789ABCDEF";
	std::string out;
	for (std::size_t i = 0; i < part.size(); ++i) {
		const auto c = static_cast<unsigned char>(part[i]);
		if (c == '/' || c == '%' || c < 0x20 || c == 0x7f ||
		    (i == 0 && c == '.')) {
			out += '%';
			out += hex[c >> 4];
			out += hex[c & 0xf];
		} else {
			out += static_cast<char>(c);
		}
	}
	return out;
}

std::string StateHome()
{
	if (const char *s = std::getenv("XDG_STATE_HOME"); s != nullptr && s[0] == '/')
		return s;
	const char *home = std::getenv("HOME");
	std::string h = home != nullptr ? home : "";
	if (h.empty())
		if (const passwd *pw = getpwuid(geteuid());
		    pw != nullptr && pw->pw_dir != nullptr)
			h = pw->pw_dir;
	return h + "/.local/state";
}

} // namespace

std::string StateDir(std::string_view key)
{
	std::string dir = StateHome() + "/popstream";
	// "dl/user@host:port" keeps dl's accounts apart from the daemon's names.
	if (key.substr(0, 3) == "dl/")
		return dir + "/dl/" + Escape(key.substr(3));
	return dir + "/" + Escape(key);
}

std::string LockPath(std::string_view label)
{
	return StateHome() + "/popstream/locks/" + Escape(label);
}

std::string CanonicalPath(const std::string &path)
{
	std::error_code error;
	// Absolute first: of a relative path that does not exist yet, weakly_canonical
	// would keep the relative form.
	const auto absolute = std::filesystem::absolute(path, error);
	if (error)
		return path;
	auto canonical = std::filesystem::weakly_canonical(absolute, error);
	return error || canonical.empty() ? path : canonical.string();
}

store::LedgerOptions LedgerOptionsFor(const FetchOptions &options)
{
	store::LedgerOptions ledger;
	ledger.maildir = options.maildir;
	if (!options.mda.empty()) {
		// Staged where no mail reader looks, with the journal that vouches.
		ledger.maildir = options.state_dir + "/mda-spool";
		ledger.hand_off_name = "the MDA \"" + options.mda.front() + "\"";
		ledger.hand_off = [argv = options.mda](const store::HandOffMessage &m) {
			return RunMda(argv, m.fd, m.size);
		};
	}
	if (!options.mbox.empty()) {
		// Staged where no mail reader looks; the intent log lets a killed run's
		// append be told whole or torn at the next start.
		ledger.maildir = options.state_dir + "/mbox-spool";
		ledger.mbox = std::make_shared<store::MboxAppender>(
		    CanonicalPath(options.mbox), options.state_dir + "/mbox-intents");
	}
	ledger.added_headers = AddedHeadersFor(options);
	ledger.added_header_names = AddedHeaderNames(options);
	ledger.state_dir = options.state_dir;
	ledger.lock_holder = options.account.Label();
	if (!options.state_dir.empty())
		ledger.lock_path = LockPath(ledger.lock_holder);
	ledger.policy = options.policy;
	return ledger;
}

} // namespace popstream::fetch
