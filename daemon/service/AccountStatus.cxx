#include "AccountStatus.hxx"

namespace popstream::service {

const char *StateName(AccountState state) noexcept
{
	switch (state) {
	case AccountState::Unknown:
		return "unknown";
	case AccountState::Idle:
		return "idle";
	case AccountState::Connecting:
		return "connecting";
	case AccountState::Fetching:
		return "fetching";
	case AccountState::Backoff:
		return "backoff";
	case AccountState::AuthNeeded:
		return "auth-needed";
	case AccountState::Error:
		return "error";
	case AccountState::Disabled:
		return "disabled";
	}
	return "unknown";
}

} // namespace popstream::service
