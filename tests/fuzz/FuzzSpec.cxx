// libFuzzer target: the connection spec grammar (daemon/core/spec/ConnectionSpec). A spec
// either parses into fields that print back (FormatConnectionSpec) as a spec that parses
// to the same connection, or is refused with a one-line SpecError naming it.
#include "FuzzCheck.hxx"

#include "core/spec/ConnectionSpec.hxx"

#include <string>
#include <string_view>

using namespace popstream;

namespace {

bool HasControl(std::string_view s) noexcept
{
	for (const char c : s) {
		const auto b = static_cast<unsigned char>(c);
		if (b < 0x20 || b == 0x7f)
			return true;
	}
	return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::string_view text(reinterpret_cast<const char *>(data), size);

	const auto split = SplitScheme(text);
	const std::size_t prefix = split.starttls ? 9 : split.explicit_scheme ? 4 : 0;
	FUZZ_CHECK(split.rest.size() + prefix == text.size());
	FUZZ_CHECK(split.explicit_scheme || split.tls);
	FUZZ_CHECK(!split.starttls || (split.explicit_scheme && !split.tls));

	ConnectionSpec spec;
	try {
		spec = ParseConnectionSpec(text);
	} catch (const SpecError &e) {
		const std::string_view what = e.what();
		// One line, printable: the spec is escaped in it.
		FUZZ_CHECK(what.starts_with("bad connection spec \""));
		FUZZ_CHECK(!HasControl(what));
		return 0;
	}

	FUZZ_CHECK(spec.tls == split.tls);
	FUZZ_CHECK(spec.starttls == split.starttls);
	FUZZ_CHECK(spec.explicit_scheme == split.explicit_scheme);
	FUZZ_CHECK(!spec.host.empty());
	FUZZ_CHECK(!HasControl(spec.user) && !HasControl(spec.host) &&
		   !HasControl(spec.sni));
	FUZZ_CHECK(!spec.port || *spec.port != 0);
	FUZZ_CHECK(spec.Port() != 0);

	// The canonical form parses back to the same connection, with the port explicit.
	const std::string canonical = FormatConnectionSpec(spec);
	ConnectionSpec again;
	try {
		again = ParseConnectionSpec(canonical);
	} catch (const SpecError &e) {
		std::fprintf(stderr, "canonical form refused: %s\n", e.what());
		FUZZ_CHECK(false);
	}
	FUZZ_CHECK(again.tls == spec.tls);
	FUZZ_CHECK(again.starttls == spec.starttls);
	FUZZ_CHECK(again.explicit_scheme);
	FUZZ_CHECK(again.user == spec.user);
	FUZZ_CHECK(again.host == spec.host);
	FUZZ_CHECK(again.sni == spec.sni);
	FUZZ_CHECK(again.port && *again.port == spec.Port());
	// And printing is stable from then on.
	FUZZ_CHECK(FormatConnectionSpec(again) == canonical);

	const std::string host_port = FormatHostPort(spec.host, spec.Port());
	FUZZ_CHECK(host_port.ends_with(":" + std::to_string(spec.Port())));
	return 0;
}
