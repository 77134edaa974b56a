#include "FakeOAuth2Server.hxx"

#include "TempDir.hxx"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace popstream::test {

namespace {

std::string Support(const char *name)
{
	return RequireEnv("POPSTREAM_SOURCE_ROOT") + "/tests/support/" + name;
}

/** @return the port in @p path, or 0 while it does not exist yet */
unsigned ReadPort(const std::string &path)
{
	if (!std::filesystem::exists(path))
		return 0;
	return static_cast<unsigned>(std::stoul(ReadFile(path)));
}

/** @return true once @p pid has ended (a zombie not yet reaped counts as ended) */
bool Exited(pid_t pid)
{
	std::string stat;
	try {
		stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
	} catch (const std::exception &) {
		return true;
	}
	// "pid (comm) S ...": comm may hold blanks, so look after the last ')'.
	const auto close_paren = stat.rfind(')');
	return close_paren == std::string::npos || close_paren + 2 >= stat.size() ||
	       stat[close_paren + 2] == 'Z';
}

/** An fd closed on every way out. */
struct Fd {
	int fd;
	~Fd()
	{
		if (fd >= 0)
			close(fd);
	}
};

/**
 * One HTTP/1.0 request to 127.0.0.1:@p port (the server closes the connection after
 * answering 1.0), and its status and body.
 */
std::pair<int, std::string> Http(unsigned port, const std::string &method,
				 const std::string &path, const std::string &body)
{
	Fd s{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	if (s.fd < 0)
		throw std::system_error(errno, std::generic_category(), "socket");
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(static_cast<uint16_t>(port));
	if (connect(s.fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0)
		throw std::system_error(errno, std::generic_category(),
					"connect to fake-oauth2-server");
	std::string request = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
	if (method == "POST")
		request += "Content-Type: application/json\r\nContent-Length: " +
			   std::to_string(body.size()) + "\r\n";
	request += "\r\n" + body;
	for (size_t done = 0; done < request.size();) {
		const ssize_t n = send(s.fd, request.data() + done, request.size() - done,
				       MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			throw std::system_error(errno, std::generic_category(), "send");
		done += static_cast<size_t>(n);
	}
	std::string answer;
	char buffer[8192];
	for (;;) {
		const ssize_t n = recv(s.fd, buffer, sizeof(buffer), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			throw std::system_error(errno, std::generic_category(), "recv");
		if (n == 0)
			break;
		answer.append(buffer, static_cast<size_t>(n));
	}
	// "HTTP/1.x NNN reason\r\n...headers...\r\n\r\nbody"
	const auto blank = answer.find("\r\n\r\n");
	if (answer.size() < 12 || !answer.starts_with("HTTP/1.") ||
	    blank == std::string::npos)
		throw std::runtime_error("fake-oauth2-server: not an HTTP answer: " +
					 answer);
	return {std::stoi(answer.substr(9, 3)), answer.substr(blank + 4)};
}

} // namespace

FakeOAuth2Server::FakeOAuth2Server(std::string dir, FakeOAuth2Options options)
    : dir_(std::move(dir)), options_(std::move(options)),
      pki_(options_.pki_dir.empty() ? dir_ + "/pki" : options_.pki_dir)
{
}

FakeOAuth2Server::~FakeOAuth2Server()
{
	if (child_) {
		child_->Signal(SIGTERM);
		child_->Wait();
	}
}

void FakeOAuth2Server::Start()
{
	if (child_)
		throw std::logic_error("FakeOAuth2Server started twice");
	ProcessOptions ca;
	ca.argv = {Support("make-test-ca"), pki_};
	const auto made = Run(ca);
	if (made.exit_code != 0)
		throw std::runtime_error("make-test-ca failed: " + made.err);

	const std::string port_file = dir_ + "/port",
			  introspect_file = dir_ + "/introspect-port";
	std::filesystem::remove(port_file);
	std::filesystem::remove(introspect_file);
	// stderr goes to a file, not Child's pipe: nobody reads that pipe while the
	// server runs, and a long test would fill it and stall the server.
	std::vector<std::string> argv{"/bin/sh",
				      "-c",
				      "exec \"$0\" \"$@\" 2>\"$FAKE_OAUTH2_LOG\"",
				      Support("fake-oauth2-server"),
				      "--cert",
				      pki_ + "/server.crt",
				      "--key",
				      pki_ + "/server.key",
				      "--port-file",
				      port_file,
				      "--introspect-port-file",
				      introspect_file,
				      "--user",
				      options_.user};
	if (!options_.client_secret.empty()) {
		WriteFile(dir_ + "/client-secret", options_.client_secret + "\n", 0600);
		argv.insert(argv.end(),
			    {"--client-secret-file", dir_ + "/client-secret"});
	}
	ProcessOptions o;
	o.argv = std::move(argv);
	o.env = {"FAKE_OAUTH2_LOG=" + dir_ + "/server.log"};
	// The server runs for the whole test; the destructor ends it.
	o.timeout = std::chrono::hours(4);
	child_ = std::make_unique<Child>(o);

	// Waiting for readiness, not timing anything: the port file appears once both
	// listeners accept connections.
	for (int i = 0; i < 1200; ++i) {
		port_ = ReadPort(port_file);
		if (port_ != 0) {
			introspect_port_ = ReadPort(introspect_file);
			return;
		}
		if (Exited(child_->Pid()) || i == 1199) {
			auto result = child_->Wait();
			child_.reset();
			throw std::runtime_error(
			    "fake-oauth2-server did not come up (exit " +
			    std::to_string(result.exit_code) + "): " + Stderr());
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
}

std::string FakeOAuth2Server::Url(const std::string &path) const
{
	return "https://localhost:" + std::to_string(port_) + path;
}

std::string FakeOAuth2Server::IntrospectionUrl(bool tls) const
{
	if (tls)
		return Url("/introspect");
	return "http://127.0.0.1:" + std::to_string(introspect_port_) + "/introspect";
}

std::string FakeOAuth2Server::Control(const std::string &json) const
{
	const auto [status, body] = Http(introspect_port_, "POST", "/control", json);
	if (status != 200)
		throw std::runtime_error("fake-oauth2-server /control: " +
					 std::to_string(status) + " " + body);
	return body;
}

std::string FakeOAuth2Server::Log() const
{
	const auto [status, body] = Http(introspect_port_, "GET", "/log", "");
	if (status != 200)
		throw std::runtime_error("fake-oauth2-server /log: " +
					 std::to_string(status));
	return body;
}

std::string FakeOAuth2Server::Stderr() const
{
	try {
		return ReadFile(dir_ + "/server.log");
	} catch (const std::exception &) {
		return {};
	}
}

namespace {

std::vector<std::string> ClientArgv(const FakeOAuth2Server &server,
				    const std::string &dir, const char *command,
				    const std::string &refresh_token_file)
{
	return {Support("fake-oauth2-client"),
		command,
		"--port-file",
		dir + "/port",
		"--ca-file",
		server.CaFile(),
		"--refresh-token-file",
		refresh_token_file};
}

} // namespace

void FakeOAuth2Server::DeviceLogin(const std::string &refresh_token_file) const
{
	ProcessOptions o;
	o.argv = ClientArgv(*this, dir_, "login", refresh_token_file);
	const auto r = Run(o);
	if (r.exit_code != 0)
		throw std::runtime_error("fake-oauth2-client login failed: " + r.err);
}

std::vector<std::string>
FakeOAuth2Server::TokenCommand(const std::string &refresh_token_file) const
{
	return ClientArgv(*this, dir_, "token", refresh_token_file);
}

std::string JoinCommand(const std::vector<std::string> &argv)
{
	// Single quotes keep every word literal for config::SplitCommand() and a shell
	// alike; a quote inside one is spelled '\''.
	std::string text;
	for (const auto &word : argv) {
		if (!text.empty())
			text += ' ';
		text += '\'';
		for (const char c : word)
			text += c == '\'' ? std::string("'\\''") : std::string(1, c);
		text += '\'';
	}
	return text;
}

} // namespace popstream::test
