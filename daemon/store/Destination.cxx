#include "Destination.hxx"

#include "core/util/Escape.hxx"

namespace popstream::store {

std::string MessageName(std::uint32_t number, std::string_view uidl)
{
	std::string s = "message " + std::to_string(number);
	if (!uidl.empty())
		s += " (UIDL " + Escape(uidl, 100) + ")";
	return s;
}

} // namespace popstream::store
