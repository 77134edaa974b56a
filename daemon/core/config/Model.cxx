#include "Model.hxx"

namespace popstream::config {

std::string Mark::ToString() const
{
	if (line == 0)
		return file;
	return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string_view TlsModeName(TlsMode mode) noexcept
{
	switch (mode) {
	case TlsMode::Implicit:
		return "implicit";
	case TlsMode::StartTls:
		return "starttls";
	case TlsMode::None:
		return "none";
	}
	return "?";
}

std::string_view PipeliningName(pop3::Pipelining pipelining) noexcept
{
	switch (pipelining) {
	case pop3::Pipelining::Auto:
		return "auto";
	case pop3::Pipelining::On:
		return "on";
	case pop3::Pipelining::Off:
		return "off";
	}
	return "?";
}

std::string_view OversizeName(Oversize oversize) noexcept
{
	switch (oversize) {
	case Oversize::Skip:
		return "skip";
	case Oversize::Delete:
		return "delete";
	}
	return "?";
}

} // namespace popstream::config
