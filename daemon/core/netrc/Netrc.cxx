#include "Netrc.hxx"

#include <array>

namespace popstream {

namespace {

constexpr std::array<std::string_view, 6> keywords{
    "machine", "default", "login", "password", "account", "macdef",
};

bool IsKeyword(std::string_view word) noexcept
{
	for (const auto keyword : keywords)
		if (word == keyword)
			return true;
	return false;
}

constexpr bool IsSpace(char c) noexcept
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

struct Token {
	std::string value;
	/** Quoted tokens are never keywords or comments. */
	bool quoted = false;
	unsigned line = 0;
};

/**
 * Splits the file into tokens and tracks line numbers. Error messages are built from
 * keywords and line numbers only: any token may be (part of) a password.
 */
class Lexer {
	std::string_view text_;
	std::string_view name_;
	std::size_t pos_ = 0;
	unsigned line_ = 1;

public:
	Lexer(std::string_view _text, std::string_view _name) noexcept
	    : text_(_text), name_(_name)
	{
	}

	[[nodiscard]] NetrcError Error(unsigned line, std::string_view problem) const
	{
		std::string msg(name_);
		msg += ':';
		msg += std::to_string(line);
		msg += ": ";
		msg += problem;
		return NetrcError(msg, line);
	}

	/** @return the next token, or nothing at the end of the text */
	std::optional<Token> Next()
	{
		SkipSpace();
		if (pos_ >= text_.size())
			return std::nullopt;

		Token token;
		token.line = line_;
		if (text_[pos_] != '"') {
			const auto start = pos_;
			while (pos_ < text_.size() && !IsSpace(text_[pos_]))
				++pos_;
			token.value = text_.substr(start, pos_ - start);
			return token;
		}

		token.quoted = true;
		++pos_;
		for (;;) {
			if (pos_ >= text_.size())
				throw Error(token.line, "unterminated quoted token");
			char c = text_[pos_++];
			if (c == '"')
				break;
			if (c == '\\') {
				if (pos_ >= text_.size())
					throw Error(token.line,
						    "unterminated quoted token");
				c = text_[pos_++];
			}
			if (c == '\n')
				++line_;
			token.value += c;
		}
		// `"a"b` has no reading that all netrc implementations agree on, so it
		// is refused rather than guessed at.
		if (pos_ < text_.size() && !IsSpace(text_[pos_]))
			throw Error(line_,
				    "a closing '\"' must be followed by a space or a "
				    "line end");
		return token;
	}

	/** Skips the rest of the current line (a comment). */
	void SkipLine() noexcept
	{
		while (pos_ < text_.size() && text_[pos_] != '\n')
			++pos_;
	}

	/**
	 * Skips a macdef body: the rest of the macdef line, then every line up to and
	 * including the next empty one ("two consecutive new-lines", netrc(5)), or to
	 * the end of the text.
	 */
	void SkipMacroBody() noexcept
	{
		SkipLine();
		while (pos_ < text_.size()) {
			// pos_ is at the '\n' ending the previous line.
			++pos_;
			++line_;
			const auto start = pos_;
			SkipLine();
			auto line = text_.substr(start, pos_ - start);
			if (!line.empty() && line.back() == '\r')
				line.remove_suffix(1);
			if (line.empty())
				return;
		}
	}

private:
	void SkipSpace() noexcept
	{
		while (pos_ < text_.size() && IsSpace(text_[pos_])) {
			if (text_[pos_] == '\n')
				++line_;
			++pos_;
		}
	}
};

std::string Quote(std::string_view keyword)
{
	return "\"" + std::string(keyword) + "\"";
}

/** Reads the value that must follow @p keyword. */
std::string ExpectValue(Lexer &lexer, const Token &keyword)
{
	auto value = lexer.Next();
	if (!value)
		throw lexer.Error(keyword.line,
				  "expected a value after " + Quote(keyword.value));
	// `machine a login` followed by `machine b` is far more likely a forgotten
	// value than a login named "machine"; taking it literally would misassign every
	// later token. A value that really is a keyword can be quoted.
	if (!value->quoted && IsKeyword(value->value))
		throw lexer.Error(keyword.line, "expected a value after " +
						    Quote(keyword.value) + ", found " +
						    Quote(value->value) +
						    " (quote it if it is the value)");
	return std::move(value->value);
}

} // namespace

Netrc Netrc::Parse(std::string_view text, std::string_view name)
{
	Netrc netrc;
	Lexer lexer(text, name);
	NetrcEntry *current = nullptr;

	while (auto token = lexer.Next()) {
		const auto &word = token->value;
		if (!token->quoted && !word.empty() && word.front() == '#') {
			lexer.SkipLine();
			continue;
		}

		if (token->quoted || !IsKeyword(word))
			// The token is not printed: a password with an unquoted space
			// lands here, and its second half must not reach a log.
			throw lexer.Error(token->line,
					  "unexpected token where a keyword was expected "
					  "(quote values that contain spaces)");

		if (word == "machine") {
			auto &entry = netrc.entries_.emplace_back();
			entry.line = token->line;
			entry.machine = ExpectValue(lexer, *token);
			current = &entry;
		} else if (word == "default") {
			auto &entry = netrc.entries_.emplace_back();
			entry.line = token->line;
			entry.is_default = true;
			current = &entry;
		} else if (word == "macdef") {
			// Macros belong to ftp(1); the name is read only to find where
			// the body starts. The current entry stays open, as in ftp(1).
			ExpectValue(lexer, *token);
			lexer.SkipMacroBody();
		} else {
			if (current == nullptr)
				throw lexer.Error(token->line,
						  Quote(word) + " outside a machine or "
								"default entry");
			auto value = ExpectValue(lexer, *token);
			if (word == "login")
				current->login = std::move(value);
			else if (word == "password")
				current->password = std::move(value);
			else
				current->account = std::move(value);
		}
	}
	return netrc;
}

const NetrcEntry *Netrc::FindMachine(std::string_view machine,
				     std::optional<std::string_view> user) const noexcept
{
	for (const auto &entry : entries_)
		if (!entry.is_default && entry.machine == machine &&
		    (!user || entry.AllowsUser(*user)))
			return &entry;
	return nullptr;
}

const NetrcEntry *Netrc::FindAccount(std::string_view account) const noexcept
{
	for (const auto &entry : entries_)
		if (entry.account && *entry.account == account)
			return &entry;
	return nullptr;
}

const NetrcEntry *Netrc::FindDefault(std::optional<std::string_view> user) const noexcept
{
	for (const auto &entry : entries_)
		if (entry.is_default && (!user || entry.AllowsUser(*user)))
			return &entry;
	return nullptr;
}

} // namespace popstream
