#include "Pipeline.hxx"

#include "core/util/Escape.hxx"

#include <algorithm>
#include <cassert>

namespace popstream::pop3 {

namespace {

constexpr std::string_view HIDDEN = "********";

/** @return @p line as a log may show it, knowing which command it is */
std::string Shown(Command command, std::string_view line)
{
	switch (command) {
	case Command::Pass:
		return "PASS " + std::string(HIDDEN);
	case Command::Apop: {
		// The digest is no password, but it opens a dictionary attack on one.
		const auto space = line.rfind(' ');
		return Escape(line.substr(0, space)) + " " + std::string(HIDDEN);
	}
	case Command::Auth:
		if (line.starts_with("AUTH ")) {
			// AUTH MECHANISM [initial-response]
			const auto space = line.find(' ', 5);
			if (space == std::string_view::npos)
				return Escape(line);
			return Escape(line.substr(0, space)) + " " + std::string(HIDDEN);
		}
		if (line == "*" || line.empty())
			return std::string(line);
		return std::string(HIDDEN);
	default:
		return Escape(line);
	}
}

/** @return whether @p command carries credentials or a SASL step */
bool IsLogin(Command command) noexcept
{
	return command == Command::User || command == Command::Pass ||
	       command == Command::Apop || command == Command::Auth;
}

} // namespace

Pipeline::Pipeline(Pipelining mode, bool lock_step) noexcept
    : mode_(mode), lock_step_(lock_step)
{
}

void Pipeline::Negotiate(const Capabilities &caps) noexcept
{
	capa_known_ = caps.known;
	capa_pipelining_ = caps.pipelining;
}

std::size_t Pipeline::Window() const noexcept
{
	if (lock_step_ || mode_ == Pipelining::Off)
		return 1;
	if (mode_ == Pipelining::On)
		return limits::full_window_commands;
	// A server that does not answer CAPA predates RFC 2449: assume it may read one
	// command at a time and drop the rest.
	if (!capa_known_)
		return 1;
	return capa_pipelining_ ? limits::full_window_commands
				: limits::guarded_window_commands;
}

bool Pipeline::CanSubmit(Command command, std::uint64_t retr_bytes) const noexcept
{
	if (in_flight_.size() >= Window())
		return false;
	switch (command) {
	case Command::Retr:
		// One RETR may always go: a message larger than the window is fetched
		// alone rather than never.
		return retr_bytes_ == 0 || retr_bytes_ + retr_bytes <= window_bytes_;
	case Command::Quit:
		return std::all_of(
		    in_flight_.begin(), in_flight_.end(),
		    [](const InFlight &f) { return f.command == Command::Dele; });
	default:
		return true;
	}
}

void Pipeline::Submit(Command command, std::string_view line, std::uint32_t index,
		      std::uint64_t retr_bytes)
{
	// Invariant 4: no command may run as if logged in before the login is answered;
	// the read-only listing may, since a refused login only earns it -ERR.
	assert(login_in_flight_ == 0 || command == Command::Capa ||
	       command == Command::Stat || command == Command::Uidl ||
	       command == Command::List || IsLogin(command));
	out_ += line;
	out_ += "\r\n";
	if (keep_shown_)
		shown_.push_back(Shown(command, line));
	if (command == Command::Dele)
		++out_deles_;
	else if (command == Command::Quit)
		out_quit_ = true;
	Await(command);
	in_flight_.back().index = index;
	in_flight_.back().retr_bytes = retr_bytes;
	retr_bytes_ += retr_bytes;
}

void Pipeline::Await(Command command)
{
	in_flight_.push_back({command});
	login_in_flight_ += IsLogin(command);
	most_in_flight_ = std::max(most_in_flight_, in_flight_.size());
}

void Pipeline::Pop() noexcept
{
	assert(!in_flight_.empty());
	retr_bytes_ -= in_flight_.front().retr_bytes;
	login_in_flight_ -= IsLogin(in_flight_.front().command);
	in_flight_.pop_front();
}

bool Pipeline::Has(Command command) const noexcept
{
	return std::any_of(in_flight_.begin(), in_flight_.end(),
			   [command](const InFlight &f) { return f.command == command; });
}

std::vector<std::string> Pipeline::TakeShown()
{
	std::vector<std::string> shown;
	shown.swap(shown_);
	return shown;
}

std::string Pipeline::TakeOutput() noexcept
{
	std::string out;
	out.swap(out_);
	deles_taken_ += out_deles_;
	quit_taken_ = quit_taken_ || out_quit_;
	out_deles_ = 0;
	out_quit_ = false;
	return out;
}

void Pipeline::DropOutput() noexcept
{
	out_.clear();
	shown_.clear();
	out_deles_ = 0;
	out_quit_ = false;
}

} // namespace popstream::pop3
