#include "Loopback.hxx"
#include "AuthCode.hxx"
#include "Error.hxx"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace popstream::oauth {

namespace {

/** A request line and headers are far below this; a browser sends ~1 KiB. */
constexpr std::size_t max_request = 8 * 1024;

/** How long one connection may take to send its request. */
constexpr std::chrono::milliseconds request_timeout{10'000};

using Clock = std::chrono::steady_clock;

int Remaining(Clock::time_point deadline) noexcept
{
	const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
	    deadline - Clock::now());
	return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

/** @return the request head (up to the blank line), or empty on timeout or error */
std::string ReadHead(int fd)
{
	const auto deadline = Clock::now() + request_timeout;
	std::string head;
	char buffer[1024];
	while (head.size() < max_request && head.find("\r\n\r\n") == std::string::npos &&
	       head.find("\n\n") == std::string::npos) {
		pollfd p{fd, POLLIN, 0};
		const int ready = poll(&p, 1, Remaining(deadline));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			break;
		const ssize_t n = read(fd, buffer, sizeof(buffer));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		head.append(buffer, static_cast<std::size_t>(n));
	}
	return head;
}

void WriteAll(int fd, const std::string &bytes) noexcept
{
	std::size_t done = 0;
	while (done < bytes.size()) {
		const ssize_t n =
		    send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		done += static_cast<std::size_t>(n);
	}
}

void Answer(int fd, const char *status, const std::string &text)
{
	// Only our own words and escaped server text go into the page: it is HTML.
	std::string safe;
	for (const char c : text) {
		if (c == '<')
			safe += "&lt;";
		else if (c == '>')
			safe += "&gt;";
		else if (c == '&')
			safe += "&amp;";
		else
			safe += c;
	}
	const std::string body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
				 "<title>popstream</title></head><body><p>" +
				 safe + "</p></body></html>\n";
	WriteAll(fd, std::string("HTTP/1.1 ") + status +
			 "\r\nContent-Type: text/html; charset=utf-8\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n"
			 "Content-Length: " +
			 std::to_string(body.size()) + "\r\n\r\n" + body);
}

/** @return the target of "GET TARGET HTTP/1.x", or empty */
std::string GetTarget(const std::string &head)
{
	const auto line = head.substr(0, head.find_first_of("\r\n"));
	if (line.rfind("GET ", 0) != 0)
		return {};
	const auto end = line.find(' ', 4);
	if (end == std::string::npos)
		return {};
	return line.substr(4, end - 4);
}

struct Fd {
	int fd;
	~Fd()
	{
		if (fd >= 0)
			close(fd);
	}
};

} // namespace

LoopbackListener::LoopbackListener()
{
	fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd_ < 0)
		throw OAuthError(ErrorKind::Network,
				 std::string("cannot open the loopback listener: ") +
				     std::strerror(errno));
	sockaddr_in address{};
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	address.sin_port = 0;
	socklen_t length = sizeof(address);
	if (bind(fd_, reinterpret_cast<sockaddr *>(&address), sizeof(address)) < 0 ||
	    listen(fd_, 8) < 0 ||
	    getsockname(fd_, reinterpret_cast<sockaddr *>(&address), &length) < 0) {
		const int error = errno;
		close(fd_);
		fd_ = -1;
		throw OAuthError(ErrorKind::Network,
				 std::string("cannot listen on 127.0.0.1: ") +
				     std::strerror(error));
	}
	port_ = ntohs(address.sin_port);
}

LoopbackListener::~LoopbackListener()
{
	if (fd_ >= 0)
		close(fd_);
}

std::string LoopbackListener::RedirectUri() const
{
	return "http://127.0.0.1:" + std::to_string(port_) + "/";
}

std::string LoopbackListener::WaitForCode(const std::string &expected_state,
					  std::chrono::milliseconds timeout)
{
	const auto deadline = Clock::now() + timeout;
	while (true) {
		pollfd p{fd_, POLLIN, 0};
		const int ready = poll(&p, 1, Remaining(deadline));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			throw OAuthError(ErrorKind::Network,
					 std::string("waiting for the browser: ") +
					     std::strerror(errno));
		if (ready == 0)
			throw OAuthError(
			    ErrorKind::Expired,
			    "no browser came back to " + RedirectUri() + " within " +
				std::to_string(timeout.count() / 1000) + " s");
		Fd client{accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC)};
		if (client.fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			throw OAuthError(
			    ErrorKind::Network,
			    std::string("accepting the browser's connection: ") +
				std::strerror(errno));
		}
		const auto target = GetTarget(ReadHead(client.fd));
		const auto query = target.substr(0, target.find('#'));
		if (query.find("code=") == std::string::npos &&
		    query.find("error=") == std::string::npos) {
			Answer(client.fd, "404 Not Found", "Not found.");
			continue;
		}
		try {
			auto code = ParseRedirect(target, expected_state);
			Answer(client.fd, "200 OK",
			       "Signed in. You can close this tab and return to "
			       "popstream.");
			return code;
		} catch (const OAuthError &e) {
			Answer(client.fd, "400 Bad Request",
			       std::string("Sign-in failed: ") + e.what());
			throw;
		}
	}
}

} // namespace popstream::oauth
