#include "CrashPoint.hxx"

#include <csignal>
#include <cstdlib>
#include <string>

namespace popstream::fetch {

namespace {

struct Plan {
	std::string name;
	long remaining = 0;
};

Plan ReadPlan() noexcept
{
	Plan plan;
	const char *spec = std::getenv("POPSTREAM_CRASH_AT");
	if (spec == nullptr)
		return plan;
	const std::string s(spec);
	const auto colon = s.rfind(':');
	plan.name = s.substr(0, colon);
	plan.remaining =
	    colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
	return plan;
}

} // namespace

void CrashPoint(std::string_view name) noexcept
{
	static Plan plan = ReadPlan();
	if (plan.remaining <= 0 || name != plan.name)
		return;
	if (--plan.remaining == 0)
		raise(SIGKILL);
}

} // namespace popstream::fetch
