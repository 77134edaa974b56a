#pragma once

#include "ScopedEnv.hxx"
#include "config/LoadConfig.hxx"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace popstream::test {

/** The environment the config tests expand ~ and $VARS in. */
inline config::EnvLookup FakeEnvironment()
{
	static const std::map<std::string, std::string> variables = {
	    {"HOME", "/home/alice"},
	    {"MAILROOT", "/srv/mail"},
	    {"EMPTY", ""},
	};
	return [](const std::string &name) -> std::optional<std::string> {
		const auto it = variables.find(name);
		if (it == variables.end())
			return std::nullopt;
		return it->second;
	};
}

/** LoadOptions with FakeEnvironment() and no file checks. */
inline config::LoadOptions TestOptions()
{
	config::LoadOptions options;
	options.lookup = FakeEnvironment();
	options.check_files = false;
	return options;
}

/** Parses @p text as "config.yaml"; fails the test on a ConfigError. */
inline config::Config Parse(const std::string &text,
			    const config::LoadOptions &options = TestOptions())
{
	try {
		return config::ParseConfig(text, "config.yaml", options);
	} catch (const config::ConfigError &e) {
		FAIL("unexpected ConfigError:\n" << e.what());
	}
	return {};
}

/** @return the messages of the ConfigError for @p text (parsed as "config.yaml"); fails
 * the test if it loads */
inline std::vector<std::string>
ErrorsOf(const std::string &text, const config::LoadOptions &options = TestOptions())
{
	try {
		config::ParseConfig(text, "config.yaml", options);
	} catch (const config::ConfigError &e) {
		return e.Messages();
	}
	FAIL("no ConfigError for:\n" << text);
	return {};
}

/** @return the only message of the ConfigError for @p text */
inline std::string ErrorOf(const std::string &text,
			   const config::LoadOptions &options = TestOptions())
{
	const auto errors = ErrorsOf(text, options);
	CHECK(errors.size() == 1);
	return errors.empty() ? std::string() : errors.front();
}

} // namespace popstream::test
