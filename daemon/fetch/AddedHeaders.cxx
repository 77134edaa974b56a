#include "AddedHeaders.hxx"

#include "FetchOptions.hxx"

#include <cstdio>
#include <unistd.h>

namespace popstream::fetch {

namespace {

/** @return @p text with every byte outside printable ASCII (and the angle brackets
 *          and semicolon that delimit the trace field's parts) replaced by `?` */
std::string Printable(std::string_view text)
{
	std::string out(text);
	for (auto &c : out)
		if (c < 0x21 || c > 0x7e || c == '<' || c == '>' || c == ';')
			c = '?';
	return out;
}

} // namespace

std::string FormatAddedHeaders(std::string_view from, std::string_view by,
			       std::string_view user, std::string_view account,
			       bool received, std::string_view account_field,
			       std::time_t when)
{
	std::string out;
	if (received) {
		std::tm local{};
		localtime_r(&when, &local);
		char date[64];
		// The C locale's day and month names, as RFC 5322 §3.3 spells them.
		const auto n =
		    std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &local);
		// RFC 5321 §4.1.3: an address, not a name, goes in brackets.
		std::string host = Printable(from);
		if (host.find_first_not_of("0123456789.") == std::string::npos ||
		    host.find(':') != std::string::npos)
			host = "[" +
			       std::string(host.find(':') != std::string::npos ? "IPv6:"
									       : "") +
			       host + "]";
		// "for" takes a mailbox (RFC 5321 §4.4): a login name alone is left out.
		const std::string who = Printable(user);
		// RFC 5322 §3.6.7: the date follows a ';', whatever tokens precede.
		out += "Received: from " + host + " by " + Printable(by) +
		       " with POP3 (popstream)" +
		       (who.find('@') != std::string::npos ? "\n\tfor <" + who + ">; "
							   : ";\n\t") +
		       std::string(date, n) + "\n";
	}
	if (!account_field.empty())
		out += std::string(account_field) + ": " + Printable(account) + "\n";
	return out;
}

std::function<std::string()> AddedHeadersFor(const FetchOptions &options)
{
	if (!options.received_header && options.account_header.empty())
		return {};
	char host[256] = {};
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		std::snprintf(host, sizeof(host), "localhost");
	return [from = options.account.host, by = std::string(host),
		user = options.account.user, account = options.account_name,
		received = options.received_header, field = options.account_header] {
		return FormatAddedHeaders(from, by, user, account, received, field,
					  std::time(nullptr));
	};
}

std::vector<std::string> AddedHeaderNames(const FetchOptions &options)
{
	std::vector<std::string> names{"Received"};
	if (!options.account_header.empty())
		names.push_back(options.account_header);
	return names;
}

} // namespace popstream::fetch
