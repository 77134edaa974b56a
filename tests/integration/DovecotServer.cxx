#include "DovecotServer.hxx"

#include "TempDir.hxx"

#include <mbedtls/sha256.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace popstream::test {

namespace {

std::string Harness()
{
	return RequireEnv("POPSTREAM_SOURCE_ROOT") + "/tests/support/dovecot-harness";
}

/** -Wextra objects to designated initializers that leave members out. */
ProcessOptions Options(std::vector<std::string> argv,
		       std::chrono::milliseconds timeout = std::chrono::minutes(2))
{
	ProcessOptions o;
	o.argv = std::move(argv);
	o.timeout = timeout;
	return o;
}

/** Strips the single quotes the harness puts around values with unusual characters. */
std::string Unquote(std::string value)
{
	if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'')
		value = value.substr(1, value.size() - 2);
	return value;
}

} // namespace

uint64_t SampleSet::Bytes() const noexcept
{
	uint64_t sum = 0;
	for (const auto &m : messages)
		sum += m.size;
	return sum;
}

uint64_t SampleSet::Octets() const noexcept
{
	uint64_t sum = 0;
	for (const auto &m : messages)
		sum += m.octets;
	return sum;
}

std::map<std::string, unsigned> SampleSet::FetchedHashes() const
{
	std::map<std::string, unsigned> hashes;
	for (const auto &m : messages)
		++hashes[m.fetched_sha256];
	return hashes;
}

DovecotServer::DovecotServer(std::string dir, const std::vector<std::string> &users,
			     const DovecotOptions &options)
    : dir_(std::move(dir)), harness_(Harness())
{
	std::vector<std::string> argv{harness_, "start", dir_};
	for (const auto &u : users) {
		argv.push_back("--user");
		argv.push_back(u);
	}
	if (!options.auth_mechanisms.empty())
		argv.insert(argv.end(), {"--auth-mechanisms", options.auth_mechanisms});
	if (!options.listen.empty())
		argv.insert(argv.end(), {"--listen", options.listen});
	if (options.require_client_cert)
		argv.push_back("--require-client-cert");
	if (options.tls_resumable)
		argv.push_back("--tls-resumable");
	if (!options.oauth2_introspection_url.empty())
		argv.insert(argv.end(),
			    {"--oauth2-introspection", options.oauth2_introspection_url});
	const auto r = Run(Options(argv, std::chrono::seconds(60)));
	if (r.exit_code != 0)
		throw std::runtime_error("dovecot-harness start failed: " + Describe(r));

	std::istringstream lines(r.out);
	std::string line;
	while (std::getline(lines, line)) {
		const auto eq = line.find('=');
		if (eq == std::string::npos)
			continue;
		const std::string key = line.substr(0, eq);
		const std::string value = Unquote(line.substr(eq + 1));
		if (key == "POP3_HOST")
			host = value;
		else if (key == "POP3_PORT")
			pop3_port = static_cast<unsigned>(std::stoul(value));
		else if (key == "POP3S_PORT")
			pop3s_port = static_cast<unsigned>(std::stoul(value));
		else if (key == "CA_FILE")
			ca_file = value;
	}
	if (pop3_port == 0 || pop3s_port == 0 || ca_file.empty()) {
		Run(Options({harness_, "stop", dir_}));
		throw std::runtime_error("dovecot-harness printed no ports: " + r.out);
	}
}

DovecotServer::~DovecotServer()
{
	Run(Options({harness_, "stop", dir_}, std::chrono::seconds(30)));
}

void DovecotServer::Restart(bool new_cert)
{
	std::vector<std::string> argv{harness_, "restart", dir_};
	if (new_cert)
		argv.push_back("--new-cert");
	const auto r = Run(Options(argv, std::chrono::seconds(60)));
	if (r.exit_code != 0)
		throw std::runtime_error("dovecot-harness restart failed: " +
					 Describe(r));
}

std::string DovecotServer::Maildir(const std::string &user) const
{
	return dir_ + "/mail/" + user;
}

SampleSet DovecotServer::Fill(const std::string &user, unsigned count, unsigned seed)
{
	auto set = MakeSampleMail(Maildir(user), count, seed);
	Own(user);
	return set;
}

void DovecotServer::Own(const std::string &user)
{
	const auto r = Run(Options({harness_, "own", dir_, user}));
	if (r.exit_code != 0)
		throw std::runtime_error("dovecot-harness own failed: " + Describe(r));
}

void DovecotServer::WaitForSessions() const
{
	const std::string master = ReadFile(dir_ + "/run/master.pid");
	const pid_t master_pid = static_cast<pid_t>(std::stol(master));
	for (int i = 0; i < 400; ++i) {
		bool open = false;
		for (const auto &entry : std::filesystem::directory_iterator("/proc")) {
			const auto name = entry.path().filename().string();
			if (name.find_first_not_of("0123456789") != std::string::npos)
				continue;
			std::string stat;
			try {
				stat = ReadFile(entry.path().string() + "/stat");
			} catch (const std::exception &) {
				continue; // gone meanwhile
			}
			// pid (comm) state ppid ...: comm may contain blanks, so parse
			// from the last parenthesis.
			const auto open_paren = stat.find('(');
			const auto close_paren = stat.rfind(')');
			if (open_paren == std::string::npos ||
			    close_paren == std::string::npos)
				continue;
			const auto comm =
			    stat.substr(open_paren + 1, close_paren - open_paren - 1);
			std::istringstream rest(stat.substr(close_paren + 1));
			std::string state;
			pid_t ppid = 0;
			rest >> state >> ppid;
			if (ppid == master_pid && comm == "pop3" && state != "Z")
				open = true;
		}
		if (!open)
			return;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	throw std::runtime_error("a Dovecot POP3 session is still open after 20 s");
}

unsigned DovecotServer::Count(const std::string &user) const
{
	const auto r = Run(Options({harness_, "count", dir_, user}));
	if (r.exit_code != 0)
		throw std::runtime_error("dovecot-harness count failed: " + Describe(r));
	return static_cast<unsigned>(std::stoul(r.out));
}

SampleSet MakeSampleMail(const std::string &maildir, unsigned count, unsigned seed)
{
	const auto r = Run(
	    Options({RequireEnv("POPSTREAM_MAKE_SAMPLE_MAIL"), "--count",
		     std::to_string(count), "--seed", std::to_string(seed), maildir}));
	if (r.exit_code != 0)
		throw std::runtime_error("make-sample-mail failed: " + Describe(r));

	// The manifest names each message; its bytes are read back here, before any
	// client can take them away, to know what a client must save.
	SampleSet set;
	std::istringstream manifest(ReadFile(maildir + "/../manifest"));
	SampleMessage m;
	while (manifest >> m.name >> m.size >> m.sha256) {
		std::string bytes = ReadFile(maildir + "/new/" + m.name);
		if (bytes.size() != m.size || Sha256Hex(bytes) != m.sha256)
			throw std::runtime_error("manifest does not match " + m.name);
		m.octets = m.size + static_cast<uint64_t>(
					std::count(bytes.begin(), bytes.end(), '\n'));
		if (bytes.empty() || bytes.back() != '\n')
			bytes += '\n';
		m.fetched_sha256 = Sha256Hex(bytes);
		set.messages.push_back(m);
	}
	if (set.messages.size() != count)
		throw std::runtime_error("manifest lists " +
					 std::to_string(set.messages.size()) +
					 " messages");
	return set;
}

std::map<std::string, unsigned> SavedHashes(const std::string &dir)
{
	std::map<std::string, unsigned> hashes;
	for (const auto &name : ListDir(dir))
		++hashes[Sha256Hex(ReadFile(dir + "/" + name))];
	return hashes;
}

std::string Sha256Hex(const std::string &bytes)
{
	unsigned char digest[32];
	if (mbedtls_sha256_ret(reinterpret_cast<const unsigned char *>(bytes.data()),
			       bytes.size(), digest, 0) != 0)
		throw std::runtime_error("SHA-256 failed");
	static constexpr char hex[] = "0123456789abcdef";
	std::string out;
	for (const unsigned char b : digest) {
		out += hex[b >> 4];
		out += hex[b & 15];
	}
	return out;
}

void WriteNetrc(const std::string &path, const std::string &user,
		const std::string &password, const std::vector<unsigned> &ports)
{
	std::string text;
	for (const unsigned port : ports)
		text += "machine " + user + "@127.0.0.1:" + std::to_string(port) +
			" login " + user + " password " + password + "\n";
	WriteFile(path, text, 0600);
}

unsigned ClosedPort()
{
	const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw std::system_error(errno, std::generic_category(), "socket");
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(addr);
	// Port 0: the kernel picks a free one; after close() nothing listens there, and
	// the kernel hands out ephemeral ports in sequence, so it stays free for a while.
	if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
	    getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
		const int e = errno;
		close(fd);
		throw std::system_error(e, std::generic_category(), "bind");
	}
	close(fd);
	return ntohs(addr.sin_port);
}

ProcessResult RunPopstream(const std::vector<std::string> &args, const std::string &netrc,
			   const std::string &home,
			   const std::vector<std::string> &prefix)
{
	std::vector<std::string> argv = prefix;
	argv.push_back(RequireEnv("POPSTREAM_BIN"));
	argv.insert(argv.end(), args.begin(), args.end());
	auto options = Options(argv, std::chrono::minutes(3));
	options.env = {"NETRC=" + netrc, "HOME=" + home, "XDG_STATE_HOME"};
	return Run(options);
}

std::string Describe(const ProcessResult &result)
{
	std::string s = "exit " + std::to_string(result.exit_code);
	if (result.signal != 0)
		s += ", signal " + std::to_string(result.signal);
	if (result.timed_out)
		s += ", timed out";
	s += "\nstdout: " + result.out + "\nstderr: " + result.err;
	return s;
}

bool SaysMessages(const std::string &text, uint64_t n)
{
	if (n == 0 && text.find(": no new mail") != std::string::npos)
		return true;
	const std::string needle = std::to_string(n) + " message";
	for (size_t pos = text.find(needle); pos != std::string::npos;
	     pos = text.find(needle, pos + 1))
		if (pos == 0 || !std::isdigit(static_cast<unsigned char>(text[pos - 1])))
			return true;
	return false;
}

} // namespace popstream::test
