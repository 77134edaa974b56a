#include "MailutilsServer.hxx"

#include "TempDir.hxx"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <random>
#include <sstream>
#include <stdexcept>
#include <strings.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace popstream::test {

namespace {

namespace fs = std::filesystem;

constexpr const char *pop3d = "/usr/sbin/pop3d";

/** -Wextra objects to designated initializers that leave members out. */
ProcessOptions Options(std::vector<std::string> argv)
{
	ProcessOptions o;
	o.argv = std::move(argv);
	o.timeout = std::chrono::minutes(1);
	return o;
}

void MustRun(std::vector<std::string> argv, const std::string &input = {})
{
	auto options = Options(argv);
	options.input = input;
	const auto r = Run(options);
	if (r.exit_code != 0)
		throw std::runtime_error(argv.front() + " failed: " + Describe(r));
}

/**
 * Makes kUser exist with kPassword. Tests run side by side, so another one may create
 * the user between our check and useradd (which then fails, or finds /etc/passwd
 * locked): check again before giving up.
 */
void EnsureUser()
{
	const std::string user = MailutilsServer::kUser;
	for (int attempt = 0; getpwnam(user.c_str()) == nullptr; ++attempt) {
		// No login shell: the account only exists for PAM to check a password.
		const auto r =
		    Run(Options({"useradd", "-m", "-s", "/usr/sbin/nologin", user}));
		if (r.exit_code != 0 && getpwnam(user.c_str()) == nullptr) {
			if (attempt == 10)
				throw std::runtime_error("useradd " + user +
							 " failed: " + Describe(r));
			std::this_thread::sleep_for(std::chrono::milliseconds(200));
		}
	}
	// chpasswd every time: cheap, and it repairs a password changed by hand.
	MustRun({"chpasswd"}, user + ":" + MailutilsServer::kPassword + "\n");
}

/** Gives @p path and everything below it to kUser. */
void Own(const fs::path &path)
{
	const passwd *pw = getpwnam(MailutilsServer::kUser);
	if (pw == nullptr)
		throw std::runtime_error(std::string("no user ") +
					 MailutilsServer::kUser);
	const auto give = [&](const fs::path &p) {
		if (lchown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
			throw std::system_error(errno, std::generic_category(),
						"chown " + p.string());
	};
	give(path);
	if (fs::is_directory(path))
		for (const auto &entry : fs::recursive_directory_iterator(path))
			give(entry.path());
}

/**
 * A random port below the kernel's ephemeral range, so that outgoing connections of
 * parallel tests never take it between our choice and pop3d's bind() (as in
 * dovecot-harness).
 */
unsigned RandomPort()
{
	unsigned lo = 20000, hi = 32767;
	std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
	unsigned low_ephemeral = 0;
	if (range >> low_ephemeral && low_ephemeral > 12000) {
		hi = low_ephemeral - 1;
		lo = hi - 12000;
	}
	static std::mt19937 random{std::random_device{}()};
	return lo + random() % (hi - lo + 1);
}

/** @return true if something accepts connections on 127.0.0.1:@p port */
bool Accepts(unsigned port)
{
	const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(static_cast<uint16_t>(port));
	const bool ok =
	    connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
	close(fd);
	return ok;
}

/** True while process @p pid exists and is not a zombie (an exited child not reaped). */
bool Alive(pid_t pid)
{
	std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
	std::string text;
	if (!std::getline(stat, text))
		return false;
	const auto paren = text.rfind(')');
	return paren != std::string::npos && paren + 2 < text.size() &&
	       text[paren + 2] != 'Z' && text[paren + 2] != 'X';
}

/**
 * @return true if pop3d sends @p bytes back unchanged apart from the X-UIDL: line it
 *         adds: a header of well-formed fields ended by a blank line, no X-UIDL: yet,
 *         and a final newline (see the class comment for what happens otherwise)
 */
bool KeptIntact(const std::string &bytes)
{
	const auto end = bytes.find("\n\n");
	if (end == std::string::npos || !bytes.ends_with('\n'))
		return false;
	std::istringstream header(bytes.substr(0, end + 1));
	bool first = true;
	for (std::string line; std::getline(header, line); first = false) {
		const bool continuation = line.starts_with(' ') || line.starts_with('\t');
		if (continuation) {
			if (first)
				return false;
			continue;
		}
		const auto colon = line.find(':');
		if (colon == 0 || colon == std::string::npos)
			return false;
		for (size_t i = 0; i < colon; ++i)
			if (line[i] <= ' ' || line[i] > '~')
				return false;
		if (strncasecmp(line.c_str(), "X-UIDL:", 7) == 0)
			return false;
	}
	return true;
}

std::string Config(const std::string &dir, unsigned port)
{
	// Quoted strings: the paths come from mkdtemp. ${user} is expanded by pop3d.
	return "# Written by MailutilsServer for one test; everything lives under " +
	       dir +
	       ".\n"
	       "mode daemon;\n"
	       "foreground yes;\n"
	       "pidfile \"" +
	       dir +
	       "/pop3d.pid\";\n"
	       "server 127.0.0.1:" +
	       std::to_string(port) +
	       " {\n"
	       "  tls-mode ondemand;\n"
	       "};\n"
	       "tls {\n"
	       "  ssl-certificate-file \"" +
	       dir +
	       "/cert.pem\";\n"
	       "  ssl-key-file \"" +
	       dir +
	       "/key.pem\";\n"
	       "};\n"
	       "# The key is root's 0600 file in a temporary directory, which the "
	       "default\n"
	       "# checks would refuse.\n"
	       "tls-file-checks {\n"
	       "  key-file none;\n"
	       "  cert-file none;\n"
	       "  ca-file none;\n"
	       "};\n"
	       "mailbox {\n"
	       "  mailbox-pattern \"maildir://" +
	       dir +
	       "/mail/${user}\";\n"
	       "};\n"
	       "auth {\n"
	       "  authorization system;\n"
	       "  authentication pam;\n"
	       "};\n"
	       "pam {\n"
	       "  service login;\n"
	       "};\n"
	       "mandatory-locking {\n"
	       "  lock-directory \"" +
	       dir +
	       "/lock\";\n"
	       "};\n"
	       "# To pop3d.log (stderr), not to a syslog the test cannot read.\n"
	       "logging {\n"
	       "  syslog no;\n"
	       "};\n";
}

} // namespace

MailutilsServer::MailutilsServer(std::string dir) : dir_(std::move(dir))
{
	if (access(pop3d, X_OK) != 0)
		throw std::runtime_error(
		    std::string(pop3d) +
		    " not found: these tests need GNU mailutils pop3d (Debian package "
		    "mailutils-pop3d; .ci/install-deps installs it)");
	EnsureUser();

	MustRun({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
		 dir_ + "/key.pem", "-out", dir_ + "/cert.pem", "-days", "2", "-subj",
		 "/CN=localhost"});
	// The lock directory is used after pop3d switched to kUser.
	fs::create_directory(dir_ + "/lock");
	fs::permissions(dir_ + "/lock", fs::perms(01777));
	fs::create_directory(dir_ + "/mail");
	fs::permissions(dir_ + "/mail", fs::perms(0755));
	for (const char *sub : {"", "/tmp", "/new", "/cur"})
		fs::create_directories(Maildir() + sub);
	fs::permissions(Maildir(), fs::perms(0700));
	Own(Maildir());

	const std::string log = dir_ + "/pop3d.log";
	for (int attempt = 1;; ++attempt) {
		do
			port = RandomPort();
		while (Accepts(port));
		WriteFile(dir_ + "/pop3d.conf", Config(dir_, port));
		// exec keeps the pid ours: it is what the destructor signals.
		auto options =
		    Options({"sh", "-c", "exec \"$0\" --config-file=\"$1\" >>\"$2\" 2>&1",
			     pop3d, dir_ + "/pop3d.conf", log});
		// The server lives as long as the test; the destructor stops it.
		options.timeout = std::chrono::hours(1);
		daemon_ = std::make_unique<Child>(options);

		// Up until the port accepts and pop3d still runs (it exits at once when
		// another process won the port).
		bool up = false;
		for (int i = 0; i < 400 && Alive(daemon_->Pid()); ++i) {
			if (Accepts(port) && Alive(daemon_->Pid())) {
				up = true;
				break;
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
		if (up)
			return;
		daemon_->Signal(SIGKILL);
		daemon_->Wait();
		daemon_.reset();
		const auto text = Log();
		if (text.find("in use") == std::string::npos || attempt == 10)
			throw std::runtime_error(
			    "pop3d did not come up on 127.0.0.1:" + std::to_string(port) +
			    "; its log:\n" + text);
	}
}

MailutilsServer::~MailutilsServer()
{
	if (!daemon_)
		return;
	daemon_->Signal(SIGTERM);
	for (int i = 0; i < 200 && Alive(daemon_->Pid()); ++i)
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	if (Alive(daemon_->Pid()))
		daemon_->Signal(SIGKILL);
	daemon_->Wait();
}

SampleSet MailutilsServer::Fill(unsigned count, unsigned seed)
{
	auto set = MakeSampleMail(Maildir(), count, seed);
	std::erase_if(set.messages, [&](const SampleMessage &m) {
		const auto path = Maildir() + "/new/" + m.name;
		if (KeptIntact(ReadFile(path)))
			return false;
		fs::remove(path);
		return true;
	});
	Own(Maildir());
	return set;
}

void MailutilsServer::Add(const std::string &name, const std::string &bytes)
{
	// Written in tmp/ and renamed: pop3d never sees half a message.
	const std::string tmp = Maildir() + "/tmp/" + name;
	WriteFile(tmp, bytes, 0600);
	Own(tmp);
	fs::rename(tmp, Maildir() + "/new/" + name);
}

unsigned MailutilsServer::Count() const
{
	return static_cast<unsigned>(ListDir(Maildir() + "/new").size() +
				     ListDir(Maildir() + "/cur").size());
}

std::string MailutilsServer::Log() const
{
	try {
		return ReadFile(dir_ + "/pop3d.log");
	} catch (const std::exception &) {
		return "(no log)";
	}
}

std::string WithoutXUidl(std::string bytes)
{
	std::string folded;
	folded.reserve(bytes.size());
	for (size_t i = 0; i < bytes.size(); ++i)
		if (!(bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n'))
			folded += bytes[i];
	const std::string header = "X-UIDL: ";
	size_t pos = 0;
	if (!folded.starts_with(header)) {
		pos = folded.find("\n" + header);
		if (pos == std::string::npos)
			return folded;
		++pos;
	}
	const auto eol = folded.find('\n', pos);
	folded.erase(pos, eol == std::string::npos ? std::string::npos : eol - pos + 1);
	return folded;
}

} // namespace popstream::test
