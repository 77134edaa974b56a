#include "BearerClient.hxx"

#include "core/util/Escape.hxx"

#include <string.h>
#include <utility>

namespace popstream::auth {

namespace {

/** How much of one JSON value the summary shows: a scope list is rarely longer, and a
 * hostile server cannot flood the line. */
constexpr std::size_t MAX_SHOWN_VALUE = 120;
/** How much of a challenge that is not the expected JSON is shown. */
constexpr std::size_t MAX_SHOWN_CHALLENGE = 200;
/** Nesting a JSON value may have before the summary gives up on parsing it. */
constexpr unsigned MAX_JSON_DEPTH = 16;

void Wipe(std::string &s) noexcept
{
	explicit_bzero(s.data(), s.size());
	s.clear();
}

bool IsControl(char c) noexcept
{
	const auto b = static_cast<unsigned char>(c);
	return b < 0x20 || b == 0x7f;
}

bool HasControl(std::string_view s) noexcept
{
	for (const char c : s)
		if (IsControl(c))
			return true;
	return false;
}

/** @return whether @p token is printable ASCII without spaces, which every
 *          b64token (RFC 6750 §2.1) is, and which cannot break the 0x01 framing */
bool IsTokenText(std::string_view token) noexcept
{
	for (const char c : token) {
		const auto b = static_cast<unsigned char>(c);
		if (b <= 0x20 || b >= 0x7f)
			return false;
	}
	return true;
}

/** The saslname of RFC 5801 §4: "," and "=" escaped as "=2C" and "=3D". */
std::string EscapeSaslName(std::string_view name)
{
	std::string out;
	out.reserve(name.size());
	for (const char c : name) {
		if (c == ',')
			out += "=2C";
		else if (c == '=')
			out += "=3D";
		else
			out.push_back(c);
	}
	return out;
}

std::string_view MechanismName(BearerFormat format) noexcept
{
	return format == BearerFormat::Xoauth2 ? "XOAUTH2" : "OAUTHBEARER";
}

/**
 * Just enough JSON (RFC 8259) to pick the string members out of one object. Every
 * read is bounded by the input; nesting is bounded by MAX_JSON_DEPTH.
 */
class JsonReader {
	std::string_view s;
	std::size_t i = 0;

public:
	explicit JsonReader(std::string_view text) noexcept : s(text) {}

	void SkipSpace() noexcept
	{
		while (i < s.size() &&
		       (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			++i;
	}

	bool AtEnd() noexcept
	{
		SkipSpace();
		return i == s.size();
	}

	bool Consume(char c) noexcept
	{
		SkipSpace();
		if (i < s.size() && s[i] == c) {
			++i;
			return true;
		}
		return false;
	}

	/** Reads a string; \uXXXX outside ASCII becomes '?' (the summary is ASCII). */
	bool String(std::string &out)
	{
		if (!Consume('"'))
			return false;
		while (i < s.size()) {
			const char c = s[i++];
			if (c == '"')
				return true;
			if (c != '\\') {
				out.push_back(c);
				continue;
			}
			if (i >= s.size())
				return false;
			const char e = s[i++];
			switch (e) {
			case '"':
			case '\\':
			case '/':
				out.push_back(e);
				break;
			case 'b':
				out.push_back('\b');
				break;
			case 'f':
				out.push_back('\f');
				break;
			case 'n':
				out.push_back('\n');
				break;
			case 'r':
				out.push_back('\r');
				break;
			case 't':
				out.push_back('\t');
				break;
			case 'u': {
				if (s.size() - i < 4)
					return false;
				unsigned code = 0;
				for (int k = 0; k < 4; ++k) {
					const char h = s[i++];
					code <<= 4;
					if (h >= '0' && h <= '9')
						code |= static_cast<unsigned>(h - '0');
					else if (h >= 'a' && h <= 'f')
						code |=
						    static_cast<unsigned>(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						code |=
						    static_cast<unsigned>(h - 'A' + 10);
					else
						return false;
				}
				out.push_back(code < 0x80 ? static_cast<char>(code)
							  : '?');
				break;
			}
			default:
				return false;
			}
		}
		return false;
	}

	/** Reads any value; @p out gets a string's text, or the other value's JSON. */
	bool Value(std::string &out, unsigned depth = 0)
	{
		SkipSpace();
		if (i >= s.size())
			return false;
		const char c = s[i];
		if (c == '"')
			return String(out);
		const std::size_t start = i;
		if (c == '{' || c == '[') {
			if (depth >= MAX_JSON_DEPTH)
				return false;
			const char close = c == '{' ? '}' : ']';
			++i;
			if (Consume(close)) {
				out.assign(s.substr(start, i - start));
				return true;
			}
			do {
				std::string ignored;
				if (c == '{' && (!String(ignored) || !Consume(':')))
					return false;
				if (!Value(ignored, depth + 1))
					return false;
			} while (Consume(','));
			if (!Consume(close))
				return false;
			out.assign(s.substr(start, i - start));
			return true;
		}
		// A number, true, false or null: up to the next delimiter.
		while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
		       s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			++i;
		if (i == start)
			return false;
		out.assign(s.substr(start, i - start));
		return true;
	}
};

/** A bearer-token client: one initial response, then at most the error challenge. */
class BearerClient final : public pop3::SaslClient {
	const BearerFormat format;
	/** The initial response until Start() hands it over; it holds the token. */
	std::string initial;
	bool started = false;
	bool answered_error = false;
	std::string diagnostic;

public:
	BearerClient(BearerFormat _format, std::string &&_initial) noexcept
	    : format(_format), initial(std::move(_initial))
	{
	}

	~BearerClient() override { Wipe(initial); }

	BearerClient(const BearerClient &) = delete;
	BearerClient &operator=(const BearerClient &) = delete;

	std::optional<pop3::SaslStep> Start() override
	{
		pop3::SaslStep step;
		if (started) {
			step.ok = false;
			step.error =
			    std::string(MechanismName(format)) + ": started twice";
			return step;
		}
		started = true;
		// Handed over, not copied, so that one copy of the token is left.
		step.response = std::exchange(initial, std::string{});
		return step;
	}

	pop3::SaslStep Step(std::string_view challenge) override
	{
		pop3::SaslStep step;
		if (!started || answered_error) {
			step.ok = false;
			step.error =
			    std::string(MechanismName(format)) +
			    (started ? ": the server sent a second challenge after "
				       "its error"
				     : ": a challenge before the initial response");
			return step;
		}
		// RFC 7628 §3.2.2: the only challenge after the initial response is the
		// error; answering it (§3.2.3) lets the server end with -ERR.
		answered_error = true;
		diagnostic = SummariseBearerError(challenge);
		if (format == BearerFormat::Oauthbearer)
			step.response.assign(1, '\x01');
		return step;
	}

	bool Complete() const override { return started; }

	std::string Diagnostic() const override { return diagnostic; }
};

} // namespace

std::string BearerInitialResponse(BearerFormat format, const pop3::SaslParams &params)
{
	std::string out;
	if (format == BearerFormat::Xoauth2) {
		out.reserve(params.user.size() + params.secret.size() + 22);
		out += "user=";
		out += params.user;
		out += '\x01';
	} else {
		out.reserve(params.user.size() * 3 + params.host.size() +
			    params.secret.size() + 40);
		out += "n,";
		if (!params.user.empty()) {
			out += "a=";
			out += EscapeSaslName(params.user);
		}
		out += ",\x01";
		if (!params.host.empty()) {
			out += "host=";
			out += params.host;
			out += '\x01';
		}
		if (params.port != 0) {
			out += "port=";
			out += std::to_string(params.port);
			out += '\x01';
		}
	}
	out += "auth=Bearer ";
	out += params.secret;
	out += "\x01\x01";
	return out;
}

std::string SummariseBearerError(std::string_view challenge)
{
	static constexpr std::string_view KEYS[] = {"status", "scope", "schemes"};
	std::string found[std::size(KEYS)];
	bool any = false;

	JsonReader json(challenge);
	bool parsed = json.Consume('{');
	if (parsed && !json.Consume('}')) {
		do {
			std::string key, value;
			if (!json.String(key) || !json.Consume(':') ||
			    !json.Value(value)) {
				parsed = false;
				break;
			}
			for (std::size_t k = 0; k < std::size(KEYS); ++k) {
				if (key == KEYS[k] && found[k].empty()) {
					found[k] = Escape(value, MAX_SHOWN_VALUE);
					any = true;
				}
			}
		} while (json.Consume(','));
		parsed = parsed && json.Consume('}');
	}
	parsed = parsed && json.AtEnd();

	if (!parsed || !any)
		return "the server's error (not the JSON of RFC 7628 §3.2.2): \"" +
		       Escape(challenge, MAX_SHOWN_CHALLENGE) + "\"";

	std::string out = "the server's error:";
	const char *separator = " ";
	for (std::size_t k = 0; k < std::size(KEYS); ++k) {
		if (found[k].empty())
			continue;
		out += separator;
		out += KEYS[k];
		out += " \"";
		out += found[k];
		out += '"';
		separator = ", ";
	}
	return out;
}

std::unique_ptr<pop3::SaslClient>
MakeBearerClient(BearerFormat format, const pop3::SaslParams &params, std::string &error)
{
	const std::string name(MechanismName(format));
	if (format == BearerFormat::Xoauth2 && params.user.empty()) {
		error = name + ": the user name is empty";
		return nullptr;
	}
	if (HasControl(params.user)) {
		error = name + ": the user name holds a control character";
		return nullptr;
	}
	if (HasControl(params.host)) {
		error = name + ": the host name holds a control character";
		return nullptr;
	}
	if (params.secret.empty()) {
		error = name + ": the access token is empty";
		return nullptr;
	}
	if (!IsTokenText(params.secret)) {
		error = name +
			": the access token holds a space, a control character or a "
			"non-ASCII octet (RFC 6750 §2.1)";
		return nullptr;
	}
	return std::make_unique<BearerClient>(format,
					      BearerInitialResponse(format, params));
}

} // namespace popstream::auth
