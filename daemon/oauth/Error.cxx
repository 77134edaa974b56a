#include "Error.hxx"

namespace popstream::oauth {

std::string_view ErrorKindName(ErrorKind kind) noexcept
{
	switch (kind) {
	case ErrorKind::NeedsLogin:
		return "needs-login";
	case ErrorKind::Denied:
		return "denied";
	case ErrorKind::Expired:
		return "expired";
	case ErrorKind::Rejected:
		return "rejected";
	case ErrorKind::Protocol:
		return "protocol";
	case ErrorKind::Network:
		return "network";
	case ErrorKind::Store:
		return "store";
	}
	return "?";
}

} // namespace popstream::oauth
