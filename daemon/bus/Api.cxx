#include "Api.hxx"
#include "AccountStatus.hxx"

#include <systemd/sd-bus.h>

#include <cstdlib>
#include <new>

namespace popstream::bus {

const char *ManagerStateName(std::uint32_t state) noexcept
{
	switch (static_cast<ManagerState>(state)) {
	case ManagerState::Unknown:
		break;
	case ManagerState::Starting:
		return "starting";
	case ManagerState::Running:
		return "running";
	case ManagerState::Reloading:
		return "reloading";
	case ManagerState::Stopping:
		return "stopping";
	}
	return "unknown";
}

// A state added to AccountState without a name here must not build: -Wswitch (in -Wall)
// names the enumerator a switch with no default forgets, and this makes it an error.
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
const char *AccountStateName(std::uint32_t state) noexcept
{
	// A client also names what an older or newer daemon sends: any other value
	// falls through to "unknown".
	switch (static_cast<AccountState>(state)) {
	case AccountState::Unknown:
		break;
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
	case AccountState::Queued:
		return "queued";
	}
	return "unknown";
}
#pragma GCC diagnostic pop

std::string AccountPath(std::string_view name)
{
	char *path = nullptr;
	const std::string id(name);
	if (sd_bus_path_encode(account_prefix, id.c_str(), &path) < 0)
		throw std::bad_alloc(); // its only failure mode
	std::string result(path);
	std::free(path);
	return result;
}

namespace {

/** @return the length of the well-formed UTF-8 sequence at the start of @p s, or 0 */
std::size_t SequenceLength(std::string_view s) noexcept
{
	const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
	const auto continuation = [&](std::size_t i) {
		return i < s.size() && (byte(i) & 0xc0) == 0x80;
	};
	const unsigned char b0 = byte(0);
	if (b0 >= 0x01 && b0 <= 0x7f)
		return 1;
	// The ranges of the second byte exclude overlong forms, UTF-16 surrogates and
	// code points above U+10FFFF (RFC 3629 §4).
	if (b0 >= 0xc2 && b0 <= 0xdf)
		return continuation(1) ? 2 : 0;
	if (b0 >= 0xe0 && b0 <= 0xef) {
		if (!continuation(1) || !continuation(2))
			return 0;
		const unsigned char b1 = byte(1);
		if ((b0 == 0xe0 && b1 < 0xa0) || (b0 == 0xed && b1 > 0x9f))
			return 0;
		return 3;
	}
	if (b0 >= 0xf0 && b0 <= 0xf4) {
		if (!continuation(1) || !continuation(2) || !continuation(3))
			return 0;
		const unsigned char b1 = byte(1);
		if ((b0 == 0xf0 && b1 < 0x90) || (b0 == 0xf4 && b1 > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

} // namespace

std::string ToValidUtf8(std::string_view text)
{
	std::string out;
	out.reserve(text.size());
	while (!text.empty()) {
		const std::size_t n = SequenceLength(text);
		if (n == 0) {
			out += "\xef\xbf\xbd"; // U+FFFD REPLACEMENT CHARACTER
			text.remove_prefix(1);
		} else {
			out.append(text.substr(0, n));
			text.remove_prefix(n);
		}
	}
	return out;
}

} // namespace popstream::bus
