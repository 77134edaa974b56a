// popstream-test-goa: a stand-in for GNOME Online Accounts (goa-daemon) on the test's
// session bus, with the part of its API that popstream uses: the ObjectManager at
// /org/gnome/OnlineAccounts, account objects with org.gnome.OnlineAccounts.Account
// (Id, ProviderName, PresentationIdentity, AttentionNeeded) and, for OAuth 2.0
// accounts, org.gnome.OnlineAccounts.OAuth2Based.GetAccessToken() -> (s, i). The
// interfaces follow goa-daemon's org.gnome.OnlineAccounts.xml.
//
// Usage:
//   popstream-test-goa            owns org.gnome.OnlineAccounts and serves these
//   accounts:
//     account_ok        Microsoft, ada@example.com: GetAccessToken answers
//                       ("goa-access-token-N", 3600), N counting the calls from 1
//     account_attention Google, bob@example.org, AttentionNeeded: GetAccessToken fails
//                       with org.gnome.OnlineAccounts.Error.NotAuthorized
//     account_password  IMAP and SMTP, carol@example.net: PasswordBased, no OAuth2Based
//   popstream-test-goa --token-file FILE
//                       the same, but account_ok's GetAccessToken answers (the content
//                       of FILE without its line end, 3600), FILE read at each call:
//                       a token a real server accepts (one the test got from
//                       tests/support/fake-oauth2-server), or fails with
//                       org.gnome.OnlineAccounts.Error.Failed if FILE is unreadable
//   popstream-test-goa --silent NAME
//                       owns NAME and never answers a message (a hung service)
//
// Try it (one line): busctl --user call org.gnome.OnlineAccounts
//   /org/gnome/OnlineAccounts/Accounts/account_ok
//   org.gnome.OnlineAccounts.OAuth2Based GetAccessToken
//
// Exit status: 0 on SIGTERM, 64 for other arguments, 69 without a session bus, 75 if
// the name is taken.
#include <systemd/sd-bus.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

/** One account object. */
struct Account {
	const char *id, *provider, *identity;
	bool attention_needed;
	bool oauth2;
	unsigned calls = 0;
};

/** --token-file: where account_ok's token comes from; empty = counted tokens. */
std::string token_file;

Account accounts[] = {
    {"account_ok", "Microsoft", "ada@example.com", false, true},
    {"account_attention", "Google", "bob@example.org", true, true},
    {"account_password", "IMAP and SMTP", "carol@example.net", false, false},
};

int GetProperty(sd_bus *, const char *, const char *, const char *property,
		sd_bus_message *reply, void *userdata, sd_bus_error *)
{
	const auto &account = *static_cast<const Account *>(userdata);
	const std::string name(property);
	if (name == "Id")
		return sd_bus_message_append(reply, "s", account.id);
	if (name == "ProviderName")
		return sd_bus_message_append(reply, "s", account.provider);
	if (name == "PresentationIdentity")
		return sd_bus_message_append(reply, "s", account.identity);
	return sd_bus_message_append(reply, "b", account.attention_needed ? 1 : 0);
}

int GetAccessToken(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	auto &account = *static_cast<Account *>(userdata);
	if (account.attention_needed)
		// goa-daemon's text when the keyring holds no credentials for it.
		return sd_bus_error_set(error,
					"org.gnome.OnlineAccounts.Error.NotAuthorized",
					"No credentials found in the keyring");
	++account.calls;
	std::string token = "goa-access-token-" + std::to_string(account.calls);
	if (!token_file.empty() && std::string(account.id) == "account_ok") {
		// Read at each call, as goa-daemon asks the provider again: the test
		// may put a new token there between two fetches.
		std::ifstream in(token_file);
		std::ostringstream content;
		content << in.rdbuf();
		token = content.str();
		while (!token.empty() && (token.back() == '\n' || token.back() == '\r'))
			token.pop_back();
		if (!in.is_open() || token.empty())
			return sd_bus_error_set(
			    error, "org.gnome.OnlineAccounts.Error.Failed",
			    "the stand-in's token file is unreadable");
	}
	return sd_bus_reply_method_return(m, "si", token.c_str(), 3600);
}

int GetPassword(sd_bus_message *m, void *, sd_bus_error *error)
{
	(void)m;
	return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
				"the stand-in keeps no passwords");
}

const sd_bus_vtable account_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Id", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("ProviderName", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("PresentationIdentity", "s", GetProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("AttentionNeeded", "b", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_VTABLE_END,
};

const sd_bus_vtable oauth2_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("GetAccessToken", "", "si", GetAccessToken, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

const sd_bus_vtable password_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("GetPassword", "s", "s", GetPassword, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

// goa-daemon's manager object: not an account, so a client must skip it.
const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_VTABLE_END,
};

int Fail(const char *what, int r, int status)
{
	std::fprintf(stderr, "popstream-test-goa: %s: %s\n", what, std::strerror(-r));
	return status;
}

} // namespace

int main(int argc, char **argv)
{
	sd_bus *bus = nullptr;
	int r = sd_bus_open_user(&bus);
	if (r < 0)
		return Fail("session bus", r, 69);

	if (argc == 3 && std::string(argv[1]) == "--silent") {
		r = sd_bus_request_name(bus, argv[2], 0);
		if (r < 0)
			return Fail(argv[2], r, 75);
		// Own the name, read nothing: callers wait for a reply that never comes.
		for (;;)
			pause();
	}

	if (argc == 3 && std::string(argv[1]) == "--token-file")
		token_file = argv[2];
	else if (argc != 1) {
		std::fprintf(stderr, "usage: popstream-test-goa [--token-file FILE | "
				     "--silent NAME]\n");
		return 64;
	}

	const char *root = "/org/gnome/OnlineAccounts";
	if ((r = sd_bus_add_object_manager(bus, nullptr, root)) < 0 ||
	    (r = sd_bus_add_object_vtable(
		 bus, nullptr, "/org/gnome/OnlineAccounts/Manager",
		 "org.gnome.OnlineAccounts.Manager", manager_vtable, nullptr)) < 0)
		return Fail("object manager", r, 1);
	for (auto &account : accounts) {
		const std::string path = std::string(root) + "/Accounts/" + account.id;
		r = sd_bus_add_object_vtable(bus, nullptr, path.c_str(),
					     "org.gnome.OnlineAccounts.Account",
					     account_vtable, &account);
		if (r >= 0)
			r = account.oauth2 ? sd_bus_add_object_vtable(
						 bus, nullptr, path.c_str(),
						 "org.gnome.OnlineAccounts.OAuth2Based",
						 oauth2_vtable, &account)
					   : sd_bus_add_object_vtable(
						 bus, nullptr, path.c_str(),
						 "org.gnome.OnlineAccounts.PasswordBased",
						 password_vtable, &account);
		if (r < 0)
			return Fail(path.c_str(), r, 1);
	}
	// The name last: once a client sees it owned, every object is there.
	r = sd_bus_request_name(bus, "org.gnome.OnlineAccounts", 0);
	if (r < 0)
		return Fail("org.gnome.OnlineAccounts", r, 75);

	for (;;) {
		r = sd_bus_process(bus, nullptr);
		if (r < 0)
			return Fail("process", r, r == -ECONNRESET ? 0 : 1);
		if (r > 0)
			continue;
		r = sd_bus_wait(bus, UINT64_MAX);
		if (r < 0 && r != -EINTR)
			return Fail("wait", r, 1);
	}
}
