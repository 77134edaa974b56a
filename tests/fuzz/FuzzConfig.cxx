// libFuzzer target: loading the config file (daemon/config, yaml-cpp into the core
// config model) through ParseConfig(), the text-taking form of LoadConfig(). Nothing is
// read from the disk (check_files = false) and ~ and $VARS expand in a fixed fake
// environment. A config must either load into accounts that keep the model's promises
// (Model.hxx) or be refused with a ConfigError of one-line messages; any other
// exception escaping is a bug, since callers catch only ConfigError.
#include "FuzzCheck.hxx"

#include "config/LoadConfig.hxx"

#include <algorithm>
#include <set>
#include <string>
#include <string_view>

using namespace popstream::config;

namespace {

const std::string file_name = "fuzz.yaml";

LoadOptions Options()
{
	LoadOptions options;
	options.lookup = [](const std::string &name) -> std::optional<std::string> {
		if (name == "HOME")
			return "/home/alice";
		if (name == "MAILROOT")
			return "/srv/mail";
		if (name == "EMPTY")
			return "";
		return std::nullopt;
	};
	options.check_files = false;
	return options;
}

void CheckConfig(const Config &config)
{
	FUZZ_CHECK(config.path == file_name);
	FUZZ_CHECK(!config.accounts.empty());
	FUZZ_CHECK(config.max_concurrent >= 1 && config.max_concurrent <= 64);
	std::set<std::string> names;
	for (const auto &a : config.accounts) {
		FUZZ_CHECK(!a.name.empty());
		FUZZ_CHECK(std::all_of(a.name.begin(), a.name.end(), [](char c) {
			return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			       (c >= '0' && c <= '9') || c == '_' || c == '-';
		}));
		FUZZ_CHECK(names.insert(a.name).second);
		// Exactly one way to connect.
		FUZZ_CHECK(a.server.empty() != a.host.empty());
		if (!a.server.empty())
			FUZZ_CHECK(a.port == 0 && a.sni.empty() && a.user.empty());
		else
			FUZZ_CHECK(a.port != 0 && a.host.front() != '[');
		// Exactly one delivery: a Maildir or an mbox (absolute), or an MDA.
		FUZZ_CHECK(!a.maildir.empty() + !a.mda.empty() + !a.mbox.empty() == 1);
		FUZZ_CHECK(a.maildir.empty() || a.maildir.starts_with("/"));
		FUZZ_CHECK(a.mbox.empty() || a.mbox.starts_with("/"));
		FUZZ_CHECK(a.ca_file.empty() || a.ca_file.starts_with("/"));
		FUZZ_CHECK(a.keep || a.delete_after.count() == 0);
		FUZZ_CHECK(a.interval.count() > 0 && a.timeout.count() > 0);
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::string_view text(reinterpret_cast<const char *>(data), size);
	try {
		CheckConfig(ParseConfig(text, file_name, Options()));
	} catch (const ConfigError &e) {
		const auto &messages = e.Messages();
		FUZZ_CHECK(!messages.empty() && messages.size() <= MAX_ERRORS + 1);
		for (const auto &m : messages) {
			FUZZ_CHECK(m.starts_with(file_name + ":"));
			FUZZ_CHECK(m.find('\n') == std::string::npos);
		}
	}
	return 0;
}
