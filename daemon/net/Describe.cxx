#include "Describe.hxx"
#include "core/util/Escape.hxx"

#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

namespace popstream::net {

std::string FormatPeer(std::string_view host, std::uint16_t port)
{
	// Host names come from the configuration; 253 bytes is the longest valid DNS
	// name.
	std::string escaped = Escape(host, 256);
	if (host.find(':') != std::string_view::npos)
		escaped = "[" + escaped + "]";
	return escaped + ":" + std::to_string(port);
}

std::string FormatSeconds(std::uint64_t ms)
{
	std::string text = std::to_string(ms / 1000);
	if (const std::uint64_t rest = ms % 1000; rest != 0) {
		std::string fraction = std::to_string(rest);
		fraction.insert(0, 3 - fraction.size(), '0');
		while (fraction.back() == '0')
			fraction.pop_back();
		text += "." + fraction;
	}
	return text + " s";
}

std::string DescribeUvError(int status)
{
	return uv_strerror(status);
}

std::string DescribeResolveError(int status)
{
	// libuv renames the EAI_* codes and replaces their glibc texts with its own
	// terser ones; users searching for a DNS problem know the glibc wording.
	int eai = 0;
	switch (status) {
	case UV_EAI_ADDRFAMILY:
		eai = EAI_ADDRFAMILY;
		break;
	case UV_EAI_AGAIN:
		eai = EAI_AGAIN;
		break;
	case UV_EAI_BADFLAGS:
		eai = EAI_BADFLAGS;
		break;
	case UV_EAI_FAIL:
		eai = EAI_FAIL;
		break;
	case UV_EAI_FAMILY:
		eai = EAI_FAMILY;
		break;
	case UV_EAI_MEMORY:
		eai = EAI_MEMORY;
		break;
	case UV_EAI_NODATA:
		eai = EAI_NODATA;
		break;
	case UV_EAI_NONAME:
		eai = EAI_NONAME;
		break;
	case UV_EAI_OVERFLOW:
		eai = EAI_OVERFLOW;
		break;
	case UV_EAI_SERVICE:
		eai = EAI_SERVICE;
		break;
	case UV_EAI_SOCKTYPE:
		eai = EAI_SOCKTYPE;
		break;
	default:
		return uv_strerror(status);
	}
	return gai_strerror(eai);
}

std::string FormatAddress(const sockaddr &address)
{
	char buffer[64];
	if (uv_ip_name(&address, buffer, sizeof(buffer)) != 0)
		return "?";
	return buffer;
}

} // namespace popstream::net
