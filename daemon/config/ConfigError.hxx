#pragma once

#include "core/util/ExitCode.hxx"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace popstream::config {

namespace detail {

/** @return @p lines joined by '\n' */
inline std::string JoinLines(const std::vector<std::string> &lines)
{
	std::string text;
	for (const auto &line : lines) {
		if (!text.empty())
			text += '\n';
		text += line;
	}
	return text;
}

} // namespace detail

/**
 * A configuration file that cannot be used. It carries every problem found, each as
 * one line `FILE:LINE:COLUMN: KEY: PROBLEM` (1-based), or `FILE: PROBLEM` when there
 * is no position (the file cannot be read). what() is those lines joined by '\n'. No
 * message contains a password or the output of a password command.
 */
class ConfigError : public std::runtime_error {
	std::vector<std::string> messages_;

public:
	/** @param _messages one or more one-line messages, in file order */
	explicit ConfigError(std::vector<std::string> _messages)
	    : std::runtime_error(detail::JoinLines(_messages)),
	      messages_(std::move(_messages))
	{
	}

	/** @param message a single one-line message */
	explicit ConfigError(const std::string &message)
	    : ConfigError(std::vector<std::string>{message})
	{
	}

	/** @return every message, one line each, in file order */
	const std::vector<std::string> &Messages() const noexcept { return messages_; }

	/** @return the exit status for it: EX_CONFIG (78) */
	static constexpr ExitCode Code() noexcept { return ExitCode::Config; }
};

} // namespace popstream::config
