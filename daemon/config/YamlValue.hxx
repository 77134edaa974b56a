#pragma once

#include "core/config/Model.hxx"
#include "core/config/Validate.hxx"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::config {

/**
 * A problem with a part of a value that has its own position, such as one element of
 * a list. The loader reports it at that position instead of the value's.
 */
class LocatedError : public std::runtime_error {
	Mark mark_;
	std::string key_;

public:
	/**
	 * @param _mark where the part is
	 * @param _key the key path of the part, e.g. `accounts[0].password_command[1]`
	 * @param problem one line, without position or key
	 */
	LocatedError(Mark _mark, std::string _key, const std::string &problem)
	    : std::runtime_error(problem), mark_(std::move(_mark)), key_(std::move(_key))
	{
	}

	/** @return where the problem is */
	const Mark &Where() const noexcept { return mark_; }

	/** @return the key path of the part */
	const std::string &Key() const noexcept { return key_; }
};

/**
 * @param node a node of a parsed document
 * @param file the file name to put into the mark
 * @param fallback returned when yaml-cpp has no position for @p node
 * @return the 1-based position of @p node (yaml-cpp's Mark is 0-based)
 */
Mark MarkOf(const YAML::Node &node, const std::string &file, const Mark &fallback = {});

/**
 * @return how @p node is named in "expected X, got Y" messages: "a map", "a list",
 *         "a string" (quoted scalar), "a value" (plain scalar) or "nothing (null)"
 */
std::string_view DescribeType(const YAML::Node &node);

/**
 * One value of the config file with its position and key path, read as the type its
 * key needs. Every reader throws ValueError (without position) for a value of the
 * wrong type or content; the caller adds the position.
 */
class YamlValue {
	const YAML::Node &node_;
	Mark mark_;
	std::string key_;

public:
	/**
	 * @param _node the value; must outlive this object
	 * @param _mark its position (for a null value, the position of its key)
	 * @param _key its key path, e.g. `accounts[1].interval`
	 */
	YamlValue(const YAML::Node &_node, Mark _mark, std::string _key)
	    : node_(_node), mark_(std::move(_mark)), key_(std::move(_key))
	{
	}

	/** @return the position of the value */
	const Mark &Where() const noexcept { return mark_; }

	/** @return whether the value is a map (`{a: b}` or an indented block) */
	bool IsMap() const noexcept { return node_.IsMap(); }

	/** @return the key path of the value */
	const std::string &Key() const noexcept { return key_; }

	/**
	 * @return a scalar (plain or quoted) as text; may be empty (`""`)
	 * @throws ValueError for a map, list or null, or a control character
	 */
	std::string String() const;

	/**
	 * @return an unquoted `true` or `false` (also `True`, `TRUE`, `False`, `FALSE`:
	 *         the YAML 1.2 core schema)
	 * @throws ValueError for anything else, including `yes`/`no` (YAML 1.1 only)
	 */
	bool Bool() const;

	/**
	 * @return an unquoted decimal integer within [@p min, @p max]
	 * @throws ValueError for another type or a value out of range
	 */
	std::uint64_t Integer(std::uint64_t min, std::uint64_t max) const;

	/**
	 * @param zero when not empty, 0 is accepted too and means this (`never`); it is
	 *        named so in the message for a value out of range
	 * @return a scalar read by ParseDuration(), within [@p min, @p max] (or 0)
	 * @throws ValueError for another type, a bad duration or one out of range
	 */
	std::chrono::milliseconds Duration(std::chrono::milliseconds min,
					   std::chrono::milliseconds max,
					   std::string_view zero = {}) const;

	/**
	 * @param zero when not empty, 0 is accepted too and means this (`no limit`); it
	 *        is named so in the message for a value out of range
	 * @return a scalar read by ParseSize() (octets), within [@p min, @p max] (or 0)
	 * @throws ValueError for another type, a bad size or one out of range; for a
	 *         number without a unit that is too small, the message says that it
	 *         counts octets
	 */
	std::uint64_t Size(std::uint64_t min, std::uint64_t max,
			   std::string_view zero = {}) const;

	/**
	 * @return a scalar read by ParseCheckpointEvery()
	 * @throws ValueError for another type or a bad value
	 */
	CheckpointEvery Checkpoint() const;

	/**
	 * @return an argv: a list of strings, or one string split by SplitCommand()
	 * @throws ValueError for an empty command, an empty program name, or a value that
	 *         is neither; LocatedError for a list element that is not a string
	 */
	std::vector<std::string> Command() const;

	/**
	 * Calls @p each with every element of a list, or with this value if it is not
	 * a list (a key that may be written once or as a list: `tls_fingerprint`).
	 * @throws ValueError for an empty list; LocatedError for a ValueError that
	 *         @p each throws for an element, at that element
	 */
	void ForEach(const std::function<void(const YamlValue &)> &each) const;

	/**
	 * Calls @p each with the name and the value of every entry of a map, in file
	 * order (`oauth: {provider: ..., client_id: ...}`).
	 * @throws ValueError if this is not a map, for an empty map, or for a key that
	 *         is not a string; LocatedError for a ValueError that @p each throws for
	 *         an entry, at that entry's value, with the key path `KEY.NAME`
	 */
	void ForEachEntry(const std::function<void(const std::string &name,
						   const YamlValue &)> &each) const;
};

} // namespace popstream::config
