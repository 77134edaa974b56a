#include "Credentials.hxx"
#include "core/spec/ConnectionSpec.hxx"
#include "core/util/Escape.hxx"
#include "posix/File.hxx"
#include "posix/Passwd.hxx"
#include "posix/UniqueFd.hxx"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace popstream {

namespace {

/** A netrc holds a handful of lines. The cap stops `NETRC=/dev/stdin` fed from
 * something endless, or a wrong path to a huge file, from filling memory. */
constexpr std::size_t MAX_NETRC_SIZE = 1024 * 1024;

std::string ErrnoText(int error)
{
	return std::generic_category().message(error);
}

CredentialError ConfigError(const std::string &message, bool no_password = false)
{
	return CredentialError(ExitCode::Config, message, no_password);
}

std::string Quoted(std::string_view text)
{
	return "\"" + Escape(text, 200) + "\"";
}

/**
 * The netrc file as far as ResolveCredentials() needs it: parsed, or the reason it
 * could not be opened. A file that opens but is unsafe or malformed throws at once.
 */
struct LoadedNetrc {
	std::optional<Netrc> netrc;
	int open_error = 0;
};

LoadedNetrc TryLoadNetrc(const std::string &path)
{
	const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return {std::nullopt, errno};
	const posix::UniqueFd file(fd);

	// fstat() on the open file, not stat() on the path: the file checked is then
	// the file read, even if the path is swapped in between.
	struct stat st {};
	if (fstat(fd, &st) != 0)
		throw ConfigError("cannot read " + path + ": " + ErrnoText(errno));
	// Pipes are accepted so that a password manager can feed the file through
	// process substitution; they are created owned by the user with mode 0600.
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		throw ConfigError(path + ": not a regular file");
	if (st.st_uid != geteuid())
		throw ConfigError(path + ": must be owned by you (uid " +
				  std::to_string(geteuid()) + "), but is owned by uid " +
				  std::to_string(st.st_uid));
	if ((st.st_mode & 077) != 0) {
		char mode[8];
		std::snprintf(mode, sizeof(mode), "%04o",
			      static_cast<unsigned>(st.st_mode & 07777));
		throw ConfigError(path +
				  ": must not be accessible by group or others (mode " +
				  mode + "); run chmod 600 " + path);
	}

	const auto read = posix::ReadToEnd(fd, MAX_NETRC_SIZE);
	if (read.error != 0)
		throw ConfigError("cannot read " + path + ": " + ErrnoText(read.error));
	if (read.too_large)
		throw ConfigError(path + ": larger than 1 MiB, which no netrc file is");

	try {
		return {Netrc::Parse(read.text, path), 0};
	} catch (const NetrcError &e) {
		throw ConfigError(e.what());
	}
}

bool HasControlCharacter(std::string_view text) noexcept
{
	for (const char c : text) {
		const auto u = static_cast<unsigned char>(c);
		if (u < 0x20 || u == 0x7f)
			return true;
	}
	return false;
}

/** How an entry is named in messages: `path:line: machine "x"` or `path:line:
 * default entry`. */
std::string EntryName(const std::string &path, const NetrcEntry &entry)
{
	std::string name = path + ":" + std::to_string(entry.line) + ": ";
	if (entry.is_default)
		return name + "default entry";
	return name + "machine " + Quoted(entry.machine);
}

/** The login of @p entry as a user name, or nothing if it has none. */
std::optional<std::string> LoginOf(const std::string &path, const NetrcEntry &entry)
{
	if (!entry.login || entry.login->empty())
		return std::nullopt;
	// The user goes into the USER command and into every log line.
	if (HasControlCharacter(*entry.login))
		throw ConfigError(EntryName(path, entry) +
				  ": the login contains a control character");
	return *entry.login;
}

/** The `login` of the first entry for machine @p machine that has one. */
std::optional<std::string> FindLogin(const std::string &path, const Netrc &netrc,
				     std::string_view machine)
{
	for (const auto &entry : netrc.Entries())
		if (!entry.is_default && entry.machine == machine)
			if (auto login = LoginOf(path, entry))
				return login;
	return std::nullopt;
}

/** The server name in an account value such as "alice@mail.example.com". */
std::string_view AccountHost(std::string_view account) noexcept
{
	const auto at = account.rfind('@');
	return at == std::string_view::npos ? account : account.substr(at + 1);
}

/** Step 3 of ResolveCredentials(): the user for a parsed spec. */
Credentials Complete(const ConnectionSpec &connection, const std::string &path,
		     const LoadedNetrc &loaded, const CredentialOptions &options);

/** Step 4 of ResolveCredentials(): the password of @p account from @p loaded. */
std::string LookupPassword(const Credentials &account, const std::string &path,
			   const LoadedNetrc &loaded);

/** Step 4 as a PasswordLookup; it keeps the parsed file, not the path, so that a
 * pipe is read once. */
PendingCredentials Defer(Credentials account, const std::string &path, LoadedNetrc loaded)
{
	auto netrc = std::make_shared<const LoadedNetrc>(std::move(loaded));
	PendingCredentials result;
	result.password = [account, path, netrc] {
		return LookupPassword(account, path, *netrc);
	};
	result.account = std::move(account);
	return result;
}

} // namespace

std::string Credentials::Label() const
{
	return user + "@" + FormatHostPort(host, port);
}

std::string NetrcPath()
{
	if (const char *netrc = std::getenv("NETRC"); netrc != nullptr && *netrc != '\0')
		return netrc;
	if (const char *home = std::getenv("HOME"); home != nullptr && *home != '\0')
		return std::string(home) + "/.netrc";
	// Services started without a login environment may lack $HOME.
	if (const auto user = posix::EffectiveUser(); user && !user->home.empty())
		return user->home + "/.netrc";
	throw ConfigError("cannot find the netrc file: $HOME is not set and uid " +
			  std::to_string(geteuid()) +
			  " has no home directory (set $NETRC)");
}

std::string LocalUserName()
{
	if (auto user = posix::EffectiveUser(); user && !user->name.empty())
		return std::move(user->name);
	throw ConfigError(
	    "cannot find the local user name: uid " + std::to_string(geteuid()) +
	    " has no passwd entry (write the user into the spec as user@host)");
}

Netrc LoadNetrcFile(const std::string &path)
{
	auto loaded = TryLoadNetrc(path);
	if (!loaded.netrc)
		throw ConfigError("cannot read " + path + ": " +
				  ErrnoText(loaded.open_error));
	return std::move(*loaded.netrc);
}

Credentials ResolveCredentials(std::string_view spec, const CredentialOptions &options)
{
	auto pending = ResolveDeferred(spec, options);
	if (options.need_password)
		pending.account.password = pending.password();
	return std::move(pending.account);
}

PendingCredentials ResolveDeferred(std::string_view spec,
				   const CredentialOptions &options)
{
	const std::string path =
	    options.netrc_path.empty() ? NetrcPath() : options.netrc_path;
	auto loaded = TryLoadNetrc(path);
	const Netrc *netrc = loaded.netrc ? &*loaded.netrc : nullptr;

	ConnectionSpec connection;
	const auto scheme = SplitScheme(spec);
	const NetrcEntry *account =
	    netrc != nullptr ? netrc->FindAccount(scheme.rest) : nullptr;
	if (account != nullptr) {
		if (account->is_default)
			throw ConfigError(EntryName(path, *account) + ": account " +
					  Quoted(scheme.rest) +
					  " names no machine to connect to");
		try {
			connection = ParseConnectionSpec(account->machine);
		} catch (const SpecError &e) {
			throw ConfigError(path + ":" + std::to_string(account->line) +
					  ": machine of account " + Quoted(scheme.rest) +
					  ": " + e.what());
		}
		if (scheme.explicit_scheme) {
			connection.tls = scheme.tls;
			connection.starttls = scheme.starttls;
		}
		if (connection.user.empty())
			if (auto login = LoginOf(path, *account))
				connection.user = std::move(*login);
		if (connection.sni.empty())
			connection.sni = AccountHost(*account->account);
	} else {
		try {
			connection = ParseConnectionSpec(spec);
		} catch (const SpecError &e) {
			throw CredentialError(ExitCode::Usage, e.what());
		}
	}
	auto resolved = Complete(connection, path, loaded, options);
	return Defer(std::move(resolved), path, std::move(loaded));
}

Credentials ResolveCredentials(const ConnectionSpec &connection,
			       const CredentialOptions &options)
{
	// With the user and the password known, netrc has nothing to give, and a
	// broken netrc must not stop an account that does not use it.
	if (!options.need_password && !connection.user.empty())
		return Complete(connection, {}, {}, options);
	auto pending = ResolveDeferred(connection, options);
	if (options.need_password)
		pending.account.password = pending.password();
	return std::move(pending.account);
}

PendingCredentials ResolveDeferred(const ConnectionSpec &connection,
				   const CredentialOptions &options)
{
	const std::string path =
	    options.netrc_path.empty() ? NetrcPath() : options.netrc_path;
	auto loaded = TryLoadNetrc(path);
	auto account = Complete(connection, path, loaded, options);
	return Defer(std::move(account), path, std::move(loaded));
}

namespace {

Credentials Complete(const ConnectionSpec &connection, const std::string &path,
		     const LoadedNetrc &loaded, const CredentialOptions &options)
{
	const Netrc *netrc = loaded.netrc ? &*loaded.netrc : nullptr;

	Credentials result;
	result.tls = connection.tls;
	result.starttls = !connection.tls && connection.starttls;
	result.host = connection.host;
	result.port = connection.Port();
	result.tls_name = connection.sni;
	result.user = connection.user;

	const auto host_port = FormatHostPort(result.host, result.port);
	if (result.user.empty() && netrc != nullptr) {
		auto login = FindLogin(path, *netrc, host_port);
		if (!login)
			login = FindLogin(path, *netrc, result.host);
		if (login)
			result.user = std::move(*login);
	}
	if (result.user.empty())
		result.user =
		    options.local_user.empty() ? LocalUserName() : options.local_user;
	return result;
}

std::string LookupPassword(const Credentials &result, const std::string &path,
			   const LoadedNetrc &loaded)
{
	const Netrc *netrc = loaded.netrc ? &*loaded.netrc : nullptr;
	const auto label = result.Label();
	// Only a file that is not there means "no password here"; one that cannot be
	// read is a mistake to fix, not to ask around.
	if (netrc == nullptr)
		throw ConfigError("cannot read " + path + ": " +
				      ErrnoText(loaded.open_error) +
				      " (needed for the password of " + label + ")",
				  loaded.open_error == ENOENT);

	// cs.pop3 always writes the port, so a `user@host:port` machine is specific to
	// one account; the plain `host` and `default` forms are what ftp(1) and curl
	// share, and there the login must agree with the user.
	const NetrcEntry *entry = netrc->FindMachine(label);
	if (entry == nullptr)
		entry = netrc->FindMachine(result.host, result.user);
	if (entry == nullptr)
		entry = netrc->FindDefault(result.user);
	if (entry == nullptr)
		throw ConfigError(path + ": no password for " + label +
				      " (looked for machine " + Quoted(label) +
				      ", machine " + Quoted(result.host) + ", default)",
				  true);

	if (!entry->password)
		throw ConfigError(EntryName(path, *entry) +
				      " has no password (needed for " + label + ")",
				  true);
	if (entry->password->empty())
		throw ConfigError(EntryName(path, *entry) +
				  " has an empty password (needed for " + label + ")");
	// A line break would end the PASS command early and send the rest as a second
	// command.
	if (entry->password->find_first_of(std::string_view("\r\n\0", 3)) !=
	    std::string::npos)
		throw ConfigError(EntryName(path, *entry) +
				  " has a password with a line break or NUL, which POP3 "
				  "cannot send");
	return *entry->password;
}

} // namespace

} // namespace popstream
