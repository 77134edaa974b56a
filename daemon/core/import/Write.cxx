#include "Write.hxx"

#include "core/config/Validate.hxx"

#include <algorithm>
#include <array>
#include <cstdio>

namespace popstream::importer {

namespace {

bool IsPlainCharacter(char c) noexcept
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '/' || c == '~' ||
	       c == '@' || c == '+' || c == '%' || c == '-';
}

/** @return whether YAML 1.1 or 1.2 reads @p text as something other than a string */
bool LooksTyped(std::string_view text)
{
	static constexpr std::array<std::string_view, 22> words = {
	    "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes",
	    "YES",  "no",   "No",   "NO",    "on",    "On",    "ON",  "off",
	    "Off",  "OFF",  "null", "Null",  "NULL",  "~"};
	if (std::find(words.begin(), words.end(), text) != words.end())
		return true;
	// Numbers in any of YAML's spellings start with a digit, a sign or a dot.
	const char c = text.front();
	return (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-';
}

} // namespace

std::string YamlScalar(std::string_view text)
{
	// '@' and '%' may not start a plain scalar; '~' alone is null (LooksTyped).
	const bool plain = !text.empty() && text.front() != '@' && text.front() != '%' &&
			   std::all_of(text.begin(), text.end(), IsPlainCharacter) &&
			   !LooksTyped(text);
	if (plain)
		return std::string(text);
	std::string out = "\"";
	for (const char c : text) {
		const auto byte = static_cast<unsigned char>(c);
		if (c == '"' || c == '\\') {
			out += '\\';
			out += c;
		} else if (byte < 0x20 || byte == 0x7f) {
			char escape[5];
			std::snprintf(escape, sizeof(escape), "\\x%02x", byte);
			out += escape;
		} else {
			out += c;
		}
	}
	return out + "\"";
}

std::string YamlList(const std::vector<std::string> &words)
{
	std::string out = "[";
	for (std::size_t i = 0; i < words.size(); ++i)
		out += (i > 0 ? ", " : "") + YamlScalar(words[i]);
	return out + "]";
}

std::string CommentText(std::string_view text)
{
	std::string out(text);
	for (char &c : out)
		if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
			c = '?';
	return out;
}

namespace {

/** `KEY: PATH`; a relative path (taken from the other tool's working directory,
 * which popstream cannot know) made relative to the home directory, with a note. */
std::string PathLines(std::string_view key, const std::string &path,
		      const std::string &from, const std::string &in, bool name_origin)
{
	// "$$" is a literal '$' (LiteralPath()), so such a path is relative.
	if (path.starts_with("/") || path == "~" || path.starts_with("~/") ||
	    (path.starts_with("$") && !path.starts_with("$$")))
		return (name_origin ? in + "# " + CommentText(from) + "\n" : "") + in +
		       std::string(key) + ": " + YamlScalar(path) + "\n";
	return in + "# " + CommentText(from) +
	       ": a relative path, taken from your home directory: confirm\n" + in +
	       std::string(key) + ": " + YamlScalar("~/" + path) + "\n";
}

} // namespace

std::string DeliveryLines(const Account &account, Tool tool, std::string_view indent)
{
	const std::string in(indent);
	const auto &delivery = account.delivery;
	const std::string from = std::string(ToolName(tool)) + ": " + delivery.origin;
	const std::string placeholder = in + "maildir: " + YamlScalar("~/Maildir") +
					"   # placeholder: confirm or change\n";
	switch (delivery.kind) {
	case Delivery::Kind::Maildir:
		return PathLines("maildir", delivery.target, from, in, false);
	case Delivery::Kind::Mbox:
		if (delivery.target.empty())
			return in + "# " + CommentText(from) +
			       ": not carried over: an mbox without a path\n" +
			       placeholder;
		return PathLines("mbox", delivery.target, from, in, true);
	case Delivery::Kind::Mda:
		if (delivery.argv.empty())
			return in + "# " + CommentText(from) +
			       ": not carried over: " + CommentText(delivery.why) + "\n" +
			       placeholder;
		return in + "# " + CommentText(from) +
		       (delivery.note.empty() ? "" : ": " + CommentText(delivery.note)) +
		       "\n" + in + "mda: " + YamlList(delivery.argv) + "\n";
	case Delivery::Kind::Other:
		return in + "# " + CommentText(delivery.origin) +
		       ": not carried over: popstream delivers to a Maildir, an mbox or "
		       "an MDA\n" +
		       placeholder;
	case Delivery::Kind::Unset:
		break;
	}
	return in + "# no delivery in the " + std::string(ToolName(tool)) +
	       " file: confirm or change this Maildir\n" + in +
	       "maildir: " + YamlScalar("~/Maildir") + "\n";
}

namespace {

std::string DroppedLine(const Dropped &dropped, std::string_view indent)
{
	std::string text = dropped.option;
	if (!dropped.value.empty())
		text += " " + dropped.value;
	return std::string(indent) + "# " + CommentText(text) +
	       ": not carried over: " + CommentText(dropped.why) + "\n";
}

std::string_view TlsName(Tls tls) noexcept
{
	switch (tls) {
	case Tls::Implicit:
		return "implicit";
	case Tls::StartTls:
		return "starttls";
	case Tls::None:
		return "none";
	}
	return "implicit";
}

void Key(std::string &out, std::string_view key, const std::string &value)
{
	if (!value.empty())
		out += "    " + std::string(key) + ": " + value + "\n";
}

} // namespace

std::string WriteConfig(const Imported &imported, std::string_view source)
{
	const std::string tool(ToolName(imported.tool));
	std::string out = "# popstream config.yaml imported from " + tool + " file " +
			  CommentText(source) + " by 'popstream import " + tool + "'.\n" +
			  "# Read every comment, then check it with 'popstream "
			  "check-config FILE'.\n";
	for (const auto &dropped : imported.dropped)
		out += DroppedLine(dropped, "");
	out += "accounts:\n";
	for (const auto &a : imported.accounts) {
		out += "  - name: " + YamlScalar(a.name) + "\n";
		for (const auto &note : a.notes)
			out += "    # " + CommentText(note) + "\n";
		if (!a.enabled)
			out += "    enabled: false\n";
		Key(out, "host", a.host.empty() ? "" : YamlScalar(a.host));
		Key(out, "port", a.port == 0 ? "" : std::to_string(a.port));
		Key(out, "tls", std::string(TlsName(a.tls)));
		Key(out, "sni", a.sni.empty() ? "" : YamlScalar(a.sni));
		Key(out, "user", a.user.empty() ? "" : YamlScalar(a.user));
		Key(out, "auth", a.auth);
		Key(out, "password_command",
		    a.password_command.empty() ? "" : YamlList(a.password_command));
		Key(out, "oauth_token_command",
		    a.token_command.empty() ? "" : YamlList(a.token_command));
		Key(out, "ca_file", a.ca_file.empty() ? "" : YamlScalar(a.ca_file));
		Key(out, "tls_cert", a.tls_cert.empty() ? "" : YamlScalar(a.tls_cert));
		Key(out, "tls_key", a.tls_key.empty() ? "" : YamlScalar(a.tls_key));
		if (a.tls_fingerprints.size() == 1)
			Key(out, "tls_fingerprint",
			    YamlScalar(a.tls_fingerprints.front()));
		else if (a.tls_fingerprints.size() > 1)
			Key(out, "tls_fingerprint", YamlList(a.tls_fingerprints));
		if (a.keep)
			Key(out, "keep", *a.keep ? "true" : "false");
		Key(out, "delete_after", a.delete_after);
		Key(out, "max_message_size", a.max_message_size);
		Key(out, "oversize", a.max_message_size.empty() ? "" : a.oversize);
		Key(out, "max_messages_per_session",
		    a.max_messages_per_session == 0
			? ""
			: std::to_string(a.max_messages_per_session));
		Key(out, "max_bytes_per_session", a.max_bytes_per_session);
		Key(out, "checkpoint_every", a.checkpoint_every);
		Key(out, "timeout", a.timeout);
		Key(out, "interval", a.interval);
		Key(out, "pipelining", a.pipelining);
		Key(out, "received_header", a.received_header ? "true" : "");
		out += DeliveryLines(a, imported.tool, "    ");
		for (const auto &dropped : a.dropped)
			out += DroppedLine(dropped, "    ");
	}
	return out;
}

} // namespace popstream::importer
