#include "TlsOptions.hxx"
#include "core/util/Escape.hxx"

namespace popstream {

TlsVersion ParseTlsVersion(std::string_view text)
{
	if (text == "1.0")
		return TlsVersion::Tls1_0;
	if (text == "1.1")
		return TlsVersion::Tls1_1;
	if (text == "1.2")
		return TlsVersion::Tls1_2;
	// mbedTLS 2.28 implements TLS 1.3 only as an experiment that Debian does not
	// build; saying so beats "expected 1.0, 1.1 or 1.2" to someone who asks for it.
	if (text == "1.3")
		throw TlsVersionError("TLS 1.3 is not available: this build supports TLS "
				      "up to 1.2 (mbedTLS 2.28)");
	throw TlsVersionError("bad TLS version \"" + Escape(text, 100) +
			      "\" (expected 1.0, 1.1 or 1.2)");
}

const char *TlsVersionName(TlsVersion version) noexcept
{
	switch (version) {
	case TlsVersion::Tls1_0:
		return "1.0";
	case TlsVersion::Tls1_1:
		return "1.1";
	case TlsVersion::Tls1_2:
		break;
	}
	return "1.2";
}

} // namespace popstream
