#include "Pkce.hxx"

#include <mbedtls/sha256.h>

#include <cerrno>
#include <sys/random.h>
#include <system_error>

namespace popstream::oauth {

std::string Base64Url(std::string_view octets)
{
	static constexpr char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	std::string out;
	out.reserve((octets.size() * 4 + 2) / 3);
	std::size_t i = 0;
	const auto byte = [&](std::size_t k) {
		return static_cast<unsigned>(static_cast<unsigned char>(octets[k]));
	};
	for (; i + 3 <= octets.size(); i += 3) {
		const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
		out += alphabet[v >> 18 & 63];
		out += alphabet[v >> 12 & 63];
		out += alphabet[v >> 6 & 63];
		out += alphabet[v & 63];
	}
	if (octets.size() - i == 1) {
		const unsigned v = byte(i) << 16;
		out += alphabet[v >> 18 & 63];
		out += alphabet[v >> 12 & 63];
	} else if (octets.size() - i == 2) {
		const unsigned v = byte(i) << 16 | byte(i + 1) << 8;
		out += alphabet[v >> 18 & 63];
		out += alphabet[v >> 12 & 63];
		out += alphabet[v >> 6 & 63];
	}
	return out;
}

std::string RandomToken(std::size_t octets)
{
	std::string bytes(octets, '\0');
	std::size_t filled = 0;
	while (filled < octets) {
		const ssize_t n = getrandom(bytes.data() + filled, octets - filled, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw std::system_error(errno, std::generic_category(),
						"getrandom");
		}
		filled += static_cast<std::size_t>(n);
	}
	return Base64Url(bytes);
}

std::string MakeCodeVerifier()
{
	return RandomToken(32);
}

std::string S256Challenge(std::string_view verifier)
{
	unsigned char digest[32];
	// mbedTLS 2.28 (Debian 12): the _ret form; it fails only on bad arguments.
	mbedtls_sha256_ret(reinterpret_cast<const unsigned char *>(verifier.data()),
			   verifier.size(), digest, /*is224=*/0);
	return Base64Url(
	    std::string_view(reinterpret_cast<const char *>(digest), sizeof(digest)));
}

} // namespace popstream::oauth
