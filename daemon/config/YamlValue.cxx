#include "YamlValue.hxx"
#include "core/util/Escape.hxx"

#include <algorithm>

namespace popstream::config {

namespace {

/** yaml-cpp's tag for a plain (unquoted) scalar without an explicit tag. */
constexpr std::string_view plain_tag = "?";

ValueError WrongType(std::string_view expected, const YAML::Node &node)
{
	return ValueError("expected " + std::string(expected) + ", got " +
			  std::string(DescribeType(node)));
}

bool IsPlain(const YAML::Node &node)
{
	return node.IsScalar() && node.Tag() == plain_tag;
}

std::string Quoted(std::string_view text)
{
	return "\"" + Escape(text, 100) + "\"";
}

/** @return "0 (ZERO) or ", or nothing when @p zero is empty */
std::string ZeroOr(std::string_view zero)
{
	return zero.empty() ? std::string() : "0 (" + std::string(zero) + ") or ";
}

} // namespace

Mark MarkOf(const YAML::Node &node, const std::string &file, const Mark &fallback)
{
	const auto mark = node.Mark();
	if (mark.is_null() || mark.line < 0 || mark.column < 0)
		return fallback;
	return {file, static_cast<unsigned>(mark.line) + 1,
		static_cast<unsigned>(mark.column) + 1};
}

std::string_view DescribeType(const YAML::Node &node)
{
	switch (node.Type()) {
	case YAML::NodeType::Map:
		return "a map";
	case YAML::NodeType::Sequence:
		return "a list";
	case YAML::NodeType::Scalar:
		return IsPlain(node) ? "a value" : "a string";
	case YAML::NodeType::Null:
	case YAML::NodeType::Undefined:
		break;
	}
	return "nothing (null)";
}

std::string YamlValue::String() const
{
	if (!node_.IsScalar())
		throw WrongType("a string", node_);
	const auto &text = node_.Scalar();
	// A NUL would cut a path short, a line break would split a command or log line.
	if (HasControlCharacter(text))
		throw ValueError("control character in the value");
	return text;
}

bool YamlValue::Bool() const
{
	if (IsPlain(node_)) {
		const auto &text = node_.Scalar();
		if (text == "true" || text == "True" || text == "TRUE")
			return true;
		if (text == "false" || text == "False" || text == "FALSE")
			return false;
		throw ValueError("expected true or false, got " + Quoted(text));
	}
	throw WrongType("true or false", node_);
}

std::uint64_t YamlValue::Integer(std::uint64_t min, std::uint64_t max) const
{
	if (!IsPlain(node_))
		throw WrongType("a number", node_);
	const auto &text = node_.Scalar();
	std::uint64_t value = 0;
	bool too_large = false;
	for (const char c : text) {
		if (c < '0' || c > '9')
			throw ValueError("expected a number, got " + Quoted(text));
		if (value > max)
			too_large = true;
		else
			value = value * 10 + static_cast<std::uint64_t>(c - '0');
	}
	if (text.empty())
		throw ValueError("expected a number, got nothing");
	if (too_large || value < min || value > max)
		throw ValueError("must be between " + std::to_string(min) + " and " +
				 std::to_string(max) + ", not " + Escape(text, 40));
	return value;
}

std::chrono::milliseconds YamlValue::Duration(std::chrono::milliseconds min,
					      std::chrono::milliseconds max,
					      std::string_view zero) const
{
	if (!node_.IsScalar())
		throw WrongType("a duration such as 90s, 5m or 1h", node_);
	const auto &text = node_.Scalar();
	const auto value = ParseDuration(text);
	if (value.count() == 0 && !zero.empty())
		return value;
	if (value < min || value > max)
		throw ValueError("must be " + ZeroOr(zero) + "between " +
				 FormatDuration(min) + " and " + FormatDuration(max) +
				 ", not " + Escape(text, 40));
	return value;
}

std::uint64_t YamlValue::Size(std::uint64_t min, std::uint64_t max,
			      std::string_view zero) const
{
	if (!node_.IsScalar())
		throw WrongType("a size such as 25MB or 1.5GiB", node_);
	const auto &text = node_.Scalar();
	const auto value = ParseSize(text);
	if (value == 0 && !zero.empty())
		return value;
	if (value < min || value > max) {
		std::string problem = "must be " + ZeroOr(zero) + "between " +
				      FormatSize(min) + " and " + FormatSize(max) +
				      ", not " + Escape(text, 40);
		// `max_message_size: 25` meant as 25MB is the likely mistake.
		if (value < min && std::all_of(text.begin(), text.end(), [](char c) {
			    return c >= '0' && c <= '9';
		    }))
			problem +=
			    " (a number without a unit counts octets; write e.g. " +
			    text + "MB)";
		throw ValueError(problem);
	}
	return value;
}

CheckpointEvery YamlValue::Checkpoint() const
{
	if (!node_.IsScalar())
		throw WrongType("a number of messages or a size, such as 500 or 50MB",
				node_);
	return ParseCheckpointEvery(node_.Scalar());
}

std::vector<std::string> YamlValue::Command() const
{
	std::vector<std::string> argv;
	if (node_.IsScalar()) {
		argv = SplitCommand(node_.Scalar());
	} else if (node_.IsSequence()) {
		std::size_t index = 0;
		for (const auto &element : node_) {
			const auto where = MarkOf(element, mark_.file, mark_);
			const auto key = key_ + "[" + std::to_string(index++) + "]";
			if (!element.IsScalar())
				throw LocatedError(
				    where, key,
				    "expected a string, got " +
					std::string(DescribeType(element)));
			if (HasControlCharacter(element.Scalar()))
				throw LocatedError(where, key,
						   "control character in the value");
			argv.push_back(element.Scalar());
		}
		if (argv.empty())
			throw ValueError("empty command");
	} else {
		throw WrongType("a command (a list of strings, or one string)", node_);
	}
	if (argv.front().empty())
		throw ValueError("the program name (the first word) is empty");
	return argv;
}

void YamlValue::ForEach(const std::function<void(const YamlValue &)> &each) const
{
	if (!node_.IsSequence()) {
		each(*this);
		return;
	}
	if (node_.size() == 0)
		throw ValueError("empty list");
	std::size_t index = 0;
	for (const auto &element : node_) {
		const YamlValue value(element, MarkOf(element, mark_.file, mark_),
				      key_ + "[" + std::to_string(index++) + "]");
		try {
			each(value);
		} catch (const ValueError &e) {
			throw LocatedError(value.Where(), value.Key(), e.what());
		}
	}
}

void YamlValue::ForEachEntry(
    const std::function<void(const std::string &name, const YamlValue &)> &each) const
{
	if (!node_.IsMap())
		throw WrongType("a map", node_);
	if (node_.size() == 0)
		throw ValueError("empty map");
	for (const auto &entry : node_) {
		const auto where = MarkOf(entry.first, mark_.file, mark_);
		if (!entry.first.IsScalar())
			throw LocatedError(where, key_, "a key must be a string");
		const auto &name = entry.first.Scalar();
		const YamlValue value(entry.second,
				      MarkOf(entry.second, mark_.file, where),
				      key_ + "." + name);
		try {
			each(name, value);
		} catch (const ValueError &e) {
			throw LocatedError(value.Where(), value.Key(), e.what());
		}
	}
}

} // namespace popstream::config
