#include "CrashPoint.hxx"

#include <csignal>
#include <cstdlib>
#include <string>

namespace popstream::store {

namespace {

struct Plan {
	std::string name;
	long remaining = 0;
};

Plan ParsePlan(std::string_view spec) noexcept
{
	Plan plan;
	if (spec.empty())
		return plan;
	const std::string s(spec);
	const auto colon = s.rfind(':');
	plan.name = s.substr(0, colon);
	plan.remaining =
	    colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
	return plan;
}

Plan &ThePlan() noexcept
{
	static Plan plan = [] {
		const char *spec = std::getenv("POPSTREAM_CRASH_AT");
		return ParsePlan(spec == nullptr ? std::string_view() : spec);
	}();
	return plan;
}

} // namespace

void CrashPoint(std::string_view name) noexcept
{
	Plan &plan = ThePlan();
	if (plan.remaining <= 0 || name != plan.name)
		return;
	if (--plan.remaining == 0)
		raise(SIGKILL);
}

void ArmCrashPoint(std::string_view spec) noexcept
{
	ThePlan() = ParsePlan(spec);
}

} // namespace popstream::store
