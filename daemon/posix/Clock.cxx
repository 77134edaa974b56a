#include "Clock.hxx"

#include <chrono>
#include <ctime>

namespace popstream::posix {

namespace {

bool ToLocal(std::uint64_t us, std::tm &tm) noexcept
{
	const auto seconds = static_cast<std::time_t>(us / 1'000'000);
	return localtime_r(&seconds, &tm) != nullptr;
}

} // namespace

std::uint64_t NowUs() noexcept
{
	return static_cast<std::uint64_t>(
	    std::chrono::duration_cast<std::chrono::microseconds>(
		std::chrono::system_clock::now().time_since_epoch())
		.count());
}

bool SameLocalDay(std::uint64_t a_us, std::uint64_t b_us) noexcept
{
	std::tm a{}, b{};
	return ToLocal(a_us, a) && ToLocal(b_us, b) && a.tm_year == b.tm_year &&
	       a.tm_yday == b.tm_yday;
}

std::string FormatLocalTime(std::uint64_t us, bool with_date)
{
	std::tm tm{};
	if (!ToLocal(us, tm))
		return "?";
	char buffer[64];
	// Two literal formats rather than one variable one, so that -Wformat checks them.
	const std::size_t length =
	    with_date ? std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M", &tm)
		      : std::strftime(buffer, sizeof(buffer), "%H:%M", &tm);
	return std::string(buffer, length);
}

} // namespace popstream::posix
