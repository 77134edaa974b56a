#include "PasswordPrompt.hxx"
#include "posix/File.hxx"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace popstream::cli {

namespace {

/** The signal caught while the prompt waits; 0 = none. */
volatile std::sig_atomic_t caught_signal = 0;

void Catch(int signum)
{
	caught_signal = signum;
}

/** The signals that end the prompt, and (last) the one that suspends it. */
constexpr int caught_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
constexpr std::size_t n_caught = sizeof(caught_signals) / sizeof(caught_signals[0]);

/** Linux's canonical input line holds 4095 bytes; a longer one is not a password
 * typed by hand. */
constexpr std::size_t max_password_bytes = 4096;

void Wipe(std::string &text) noexcept
{
	explicit_bzero(text.data(), text.size());
	text.clear();
}

/** How one attempt to read the line ended. */
enum class ReadEnd { Line, EndOfInput, TooLong, Signal, Error };

/**
 * Reads up to the first LF into @p line, waiting in ppoll() with the caught signals
 * let through, so that one pending since before the wait still ends it.
 */
ReadEnd ReadLine(int fd, const sigset_t &wait_mask, std::string &line, int &error)
{
	char buffer[512];
	ReadEnd end = ReadEnd::Error;
	for (;;) {
		pollfd poll_fd{fd, POLLIN, 0};
		if (ppoll(&poll_fd, 1, nullptr, &wait_mask) < 0) {
			if (errno == EINTR && caught_signal != 0) {
				end = ReadEnd::Signal;
				break;
			}
			if (errno == EINTR)
				continue;
			error = errno;
			break;
		}
		const auto n = read(fd, buffer, sizeof(buffer));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			error = errno;
			break;
		}
		if (n == 0) {
			end = ReadEnd::EndOfInput;
			break;
		}
		line.append(buffer, static_cast<std::size_t>(n));
		if (line.find('\n') != std::string::npos) {
			end = ReadEnd::Line;
			break;
		}
		if (line.size() > max_password_bytes) {
			end = ReadEnd::TooLong;
			break;
		}
	}
	explicit_bzero(buffer, sizeof(buffer));
	return end;
}

/** Stops the process as SIGTSTP asks, with the terminal as the shell expects it;
 * returns once it is continued. The signal is blocked on entry and on return. */
void Suspend(const struct sigaction &catcher) noexcept
{
	struct sigaction stop {};
	stop.sa_handler = SIG_DFL;
	sigemptyset(&stop.sa_mask);
	sigaction(SIGTSTP, &stop, nullptr);
	sigset_t tstp;
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP);
	pthread_sigmask(SIG_UNBLOCK, &tstp, nullptr); // stops here until SIGCONT
	pthread_sigmask(SIG_BLOCK, &tstp, nullptr);
	sigaction(SIGTSTP, &catcher, nullptr);
}

/** PromptPassword() on the terminal open as @p fd. */
PromptResult PromptOn(int fd, std::string_view prompt)
{
	PromptResult result;
	termios saved{};
	if (tcgetattr(fd, &saved) != 0) {
		result.no_terminal = true;
		return result;
	}
	termios quiet = saved;
	quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);

	// Blocked outside the wait, so that none slips in between a check and ppoll().
	sigset_t block, old_mask;
	sigemptyset(&block);
	for (const int signum : caught_signals)
		sigaddset(&block, signum);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	sigset_t wait_mask = old_mask;
	for (const int signum : caught_signals)
		sigdelset(&wait_mask, signum);
	struct sigaction catcher {};
	catcher.sa_handler = Catch;
	sigemptyset(&catcher.sa_mask);
	struct sigaction old_actions[n_caught];
	for (std::size_t i = 0; i < n_caught; ++i)
		sigaction(caught_signals[i], &catcher, &old_actions[i]);
	caught_signal = 0;

	std::string line;
	int error = 0;
	ReadEnd end;
	for (;;) {
		tcsetattr(fd, TCSAFLUSH, &quiet);
		posix::WriteAllBestEffort(fd, prompt);
		Wipe(line);
		end = ReadLine(fd, wait_mask, line, error);
		tcsetattr(fd, TCSADRAIN, &saved);
		// The user's Enter was not echoed either.
		posix::WriteAllBestEffort(fd, "\n");
		if (end != ReadEnd::Signal || caught_signal != SIGTSTP)
			break;
		caught_signal = 0;
		Suspend(catcher);
	}

	const int signum = caught_signal;
	for (std::size_t i = 0; i < n_caught; ++i) {
		sigaction(caught_signals[i], &old_actions[i], nullptr);
		// Without a handler of its own the process ends as it would have, now
		// that the terminal echoes again: the signal is pending until the mask
		// is restored below.
		if (caught_signals[i] == signum && old_actions[i].sa_handler == SIG_DFL)
			raise(signum);
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

	switch (end) {
	case ReadEnd::Line:
		break;
	case ReadEnd::Signal:
		result.interrupted = true;
		result.error = "interrupted at the password prompt";
		Wipe(line);
		return result;
	case ReadEnd::EndOfInput:
		result.error = "no password given (end of input at the prompt)";
		Wipe(line);
		return result;
	case ReadEnd::TooLong:
		result.error = "the password typed is longer than 4096 bytes";
		Wipe(line);
		return result;
	case ReadEnd::Error:
		result.error =
		    std::string("cannot read the password from the terminal: ") +
		    std::strerror(error);
		Wipe(line);
		return result;
	}

	std::string password = line.substr(0, line.find('\n'));
	Wipe(line);
	if (!password.empty() && password.back() == '\r')
		password.pop_back();
	if (password.empty()) {
		result.error = "no password given at the prompt";
		return result;
	}
	if (password.find_first_of(std::string_view("\r\0", 2)) != std::string::npos) {
		Wipe(password);
		result.error = "the password typed holds a CR or NUL, which POP3 cannot "
			       "send";
		return result;
	}
	result.password = std::move(password);
	return result;
}

} // namespace

PromptResult PromptPassword(std::string_view prompt)
{
	const int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		PromptResult result;
		result.no_terminal = true;
		return result;
	}
	auto result = PromptOn(fd, prompt);
	close(fd);
	return result;
}

} // namespace popstream::cli
