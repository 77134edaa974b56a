#include "Apop.hxx"

#include <mbedtls/md5.h>

#include <array>
#include <string.h>

namespace popstream::auth {

std::string ApopDigest(std::string_view timestamp, std::string_view password)
{
	// One buffer, so the digest needs no streaming context; it holds the password
	// and is wiped before it is freed.
	std::string input;
	input.reserve(timestamp.size() + password.size());
	input.append(timestamp);
	input.append(password);

	std::array<unsigned char, 16> digest{};
	// mbedtls_md5_ret() fails only on hardware-accelerated builds that report an
	// error; an all-zero digest would then simply be refused by the server.
	(void)mbedtls_md5_ret(reinterpret_cast<const unsigned char *>(input.data()),
			      input.size(), digest.data());
	explicit_bzero(input.data(), input.size());

	static constexpr char hex[] = "0123456789abcdef";
	std::string out;
	out.reserve(32);
	for (const unsigned char b : digest) {
		out.push_back(hex[b >> 4]);
		out.push_back(hex[b & 0x0f]);
	}
	return out;
}

} // namespace popstream::auth
