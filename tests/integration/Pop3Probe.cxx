#include "Pop3Probe.hxx"

#include <arpa/inet.h>
#include <cerrno>
#include <map>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <system_error>
#include <unistd.h>

namespace popstream::test {

namespace {

/** A blocking loopback connection that reads CRLF lines. */
class Connection {
	int fd_ = -1;
	std::string buffer_;

public:
	explicit Connection(unsigned port)
	{
		fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd_ < 0)
			throw std::system_error(errno, std::generic_category(), "socket");
		// A server that stops answering must fail the test, not hang it.
		timeval timeout{30, 0};
		setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
		sockaddr_in addr{};
		addr.sin_family = AF_INET;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr.sin_port = htons(static_cast<uint16_t>(port));
		if (connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) !=
		    0) {
			const int e = errno;
			close(fd_);
			throw std::system_error(e, std::generic_category(),
						"connect to port " +
						    std::to_string(port));
		}
	}
	~Connection() { close(fd_); }
	Connection(const Connection &) = delete;
	Connection &operator=(const Connection &) = delete;

	void Send(const std::string &line)
	{
		const std::string data = line + "\r\n";
		if (send(fd_, data.data(), data.size(), MSG_NOSIGNAL) !=
		    static_cast<ssize_t>(data.size()))
			throw std::system_error(errno, std::generic_category(), "send");
	}

	/** @return the next line without its CRLF */
	std::string Line()
	{
		for (;;) {
			const auto eol = buffer_.find("\r\n");
			if (eol != std::string::npos) {
				std::string line = buffer_.substr(0, eol);
				buffer_.erase(0, eol + 2);
				return line;
			}
			char chunk[4096];
			const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
			if (n <= 0)
				throw std::runtime_error(
				    "POP3 probe: connection closed or "
				    "timed out");
			buffer_.append(chunk, static_cast<size_t>(n));
		}
	}

	/** Sends @p command and requires +OK. */
	void Command(const std::string &command, const std::string &shown)
	{
		Send(command);
		const auto reply = Line();
		if (!reply.starts_with("+OK"))
			throw std::runtime_error("POP3 probe: " + shown + ": " + reply);
	}

	/** Sends @p command and @return the lines of its multi-line +OK reply. */
	std::vector<std::string> MultiLine(const std::string &command)
	{
		Command(command, command);
		std::vector<std::string> lines;
		for (std::string line = Line(); line != "."; line = Line())
			lines.push_back(line);
		return lines;
	}
};

} // namespace

std::vector<ProbedMessage> ProbeListing(unsigned port, const std::string &user,
					const std::string &password)
{
	Connection c(port);
	const auto greeting = c.Line();
	if (!greeting.starts_with("+OK"))
		throw std::runtime_error("POP3 probe: greeting: " + greeting);
	c.Command("USER " + user, "USER");
	c.Command("PASS " + password, "PASS");

	std::map<unsigned, std::string> uidls;
	for (const auto &line : c.MultiLine("UIDL")) {
		std::istringstream in(line);
		unsigned n = 0;
		std::string uidl;
		if (!(in >> n >> uidl))
			throw std::runtime_error("POP3 probe: bad UIDL line: " + line);
		uidls[n] = uidl;
	}
	std::vector<ProbedMessage> listing;
	for (const auto &line : c.MultiLine("LIST")) {
		ProbedMessage m;
		std::istringstream in(line);
		if (!(in >> m.number >> m.size))
			throw std::runtime_error("POP3 probe: bad LIST line: " + line);
		m.uidl = uidls[m.number];
		listing.push_back(m);
	}
	if (listing.size() != uidls.size())
		throw std::runtime_error("POP3 probe: LIST and UIDL disagree");
	c.Command("QUIT", "QUIT");
	return listing;
}

std::string Describe(const std::vector<ProbedMessage> &listing)
{
	std::string s;
	for (const auto &m : listing)
		s += std::to_string(m.number) + " " + std::to_string(m.size) + " " +
		     m.uidl + "\n";
	return s;
}

} // namespace popstream::test
