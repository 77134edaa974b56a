#include "Goa.hxx"

#include "SessionBus.hxx"
#include "core/util/Escape.hxx"

#include <algorithm>
#include <vector>

namespace popstream::secret {

namespace {

constexpr const char *goa_name = "org.gnome.OnlineAccounts";
constexpr const char *goa_path = "/org/gnome/OnlineAccounts";
constexpr const char *account_interface = "org.gnome.OnlineAccounts.Account";
constexpr const char *oauth2_interface = "org.gnome.OnlineAccounts.OAuth2Based";

/** What a message needs of one GOA account; none of it is secret. */
struct Account {
	std::string path;
	std::string id, provider, identity;
	bool attention_needed = false;
	bool oauth2 = false;

	/** @return "ID (Provider, identity)" */
	std::string Describe() const
	{
		std::string text = Escape(id, 100);
		std::string details = Escape(provider, 60);
		if (!identity.empty())
			details += (details.empty() ? "" : ", ") + Escape(identity, 100);
		if (!details.empty())
			text += " (" + details + ")";
		return text;
	}
};

[[noreturn]] void Malformed()
{
	throw GoaError(GoaError::Kind::Failed,
		       "GNOME Online Accounts answered GetManagedObjects with something "
		       "other than a{oa{sa{sv}}}");
}

void Check(int r)
{
	if (r < 0)
		Malformed();
}

/** Reads the a{sv} of an Account interface into @p account. */
void ReadAccountProperties(sd_bus_message *m, Account &account)
{
	Check(sd_bus_message_enter_container(m, 'a', "{sv}"));
	int r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *name = nullptr;
		Check(sd_bus_message_read(m, "s", &name));
		const std::string_view key(name);
		const char *text = nullptr;
		if (key == "Id" || key == "ProviderName" ||
		    key == "PresentationIdentity") {
			Check(sd_bus_message_read(m, "v", "s", &text));
			(key == "Id"             ? account.id
			 : key == "ProviderName" ? account.provider
						 : account.identity) = text;
		} else if (key == "AttentionNeeded") {
			int b = 0;
			Check(sd_bus_message_read(m, "v", "b", &b));
			account.attention_needed = b != 0;
		} else {
			Check(sd_bus_message_skip(m, "v"));
		}
		Check(sd_bus_message_exit_container(m));
	}
	Check(r);
	Check(sd_bus_message_exit_container(m));
}

/** @return the accounts in a GetManagedObjects reply, a{oa{sa{sv}}} */
std::vector<Account> ReadAccounts(sd_bus_message *m)
{
	std::vector<Account> accounts;
	Check(sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}"));
	int r;
	while ((r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
		const char *path = nullptr;
		Check(sd_bus_message_read(m, "o", &path));
		Account account;
		account.path = path;
		bool is_account = false;
		Check(sd_bus_message_enter_container(m, 'a', "{sa{sv}}"));
		int s;
		while ((s = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
			const char *interface = nullptr;
			Check(sd_bus_message_read(m, "s", &interface));
			const std::string_view name(interface);
			if (name == account_interface) {
				is_account = true;
				ReadAccountProperties(m, account);
			} else {
				account.oauth2 =
				    account.oauth2 || name == oauth2_interface;
				Check(sd_bus_message_skip(m, "a{sv}"));
			}
			Check(sd_bus_message_exit_container(m));
		}
		Check(s);
		Check(sd_bus_message_exit_container(m));
		Check(sd_bus_message_exit_container(m));
		if (is_account)
			accounts.push_back(std::move(account));
	}
	Check(r);
	Check(sd_bus_message_exit_container(m));
	return accounts;
}

/** @return "within 25 s" */
std::string Within(std::chrono::milliseconds timeout)
{
	if (timeout.count() % 1000 == 0)
		return "within " + std::to_string(timeout.count() / 1000) + " s";
	return "within " + std::to_string(timeout.count()) + " ms";
}

MessagePtr NewCall(sd_bus *bus, const char *path, const char *interface,
		   const char *member)
{
	sd_bus_message *raw = nullptr;
	if (sd_bus_message_new_method_call(bus, &raw, goa_name, path, interface, member) <
	    0)
		throw GoaError(GoaError::Kind::Failed, "cannot build a D-Bus call");
	return MessagePtr(raw);
}

} // namespace

GoaToken GoaAccessToken(std::string_view account_id, std::chrono::milliseconds timeout)
{
	const auto deadline = Clock::now() + timeout;
	const std::string shown_id = Escape(account_id, 100);
	BusPtr bus;
	try {
		bus = OpenSessionBus(deadline);
	} catch (const BusError &e) {
		throw GoaError(
		    GoaError::Kind::NoService,
		    std::string("cannot ask GNOME Online Accounts for a token: ") +
			e.what());
	}

	std::vector<Account> accounts;
	try {
		const auto call =
		    NewCall(bus.get(), goa_path, "org.freedesktop.DBus.ObjectManager",
			    "GetManagedObjects");
		const auto reply = CallMethod(bus.get(), call.get(), deadline);
		accounts = ReadAccounts(reply.get());
	} catch (const BusError &e) {
		if (e.timed_out)
			throw GoaError(GoaError::Kind::NoService,
				       "GNOME Online Accounts did not answer " +
					   Within(timeout));
		if (e.name == SD_BUS_ERROR_SERVICE_UNKNOWN ||
		    e.name == SD_BUS_ERROR_NAME_HAS_NO_OWNER)
			throw GoaError(GoaError::Kind::NoService,
				       "GNOME Online Accounts is not on the session bus "
				       "(nothing provides org.gnome.OnlineAccounts; is "
				       "gnome-online-accounts installed, and is this the "
				       "desktop's session?)");
		throw GoaError(GoaError::Kind::NoService,
			       "GNOME Online Accounts cannot list its accounts: " +
				   Escape(e.what(), 300));
	}

	const Account *account = nullptr;
	for (const auto &a : accounts)
		if (a.id == account_id)
			account = &a;
	if (account == nullptr) {
		// Sorted: GetManagedObjects lists them in no particular order.
		std::sort(accounts.begin(), accounts.end(),
			  [](const Account &a, const Account &b) { return a.id < b.id; });
		std::string known;
		for (const auto &a : accounts)
			known += (known.empty() ? "" : ", ") + a.Describe();
		throw GoaError(GoaError::Kind::NoAccount,
			       "GNOME Online Accounts has no account with id " +
				   shown_id +
				   (known.empty() ? "; it has no accounts"
						  : "; its accounts: " + known));
	}
	if (!account->oauth2)
		throw GoaError(GoaError::Kind::NotOAuth2,
			       "GNOME Online Accounts account " + account->Describe() +
				   " has no OAuth 2.0 token to give "
				   "(no org.gnome.OnlineAccounts.OAuth2Based interface)");

	try {
		const auto call = NewCall(bus.get(), account->path.c_str(),
					  oauth2_interface, "GetAccessToken");
		const auto reply = CallMethod(bus.get(), call.get(), deadline);
		const char *token = nullptr;
		std::int32_t expires_in = 0;
		if (sd_bus_message_read(reply.get(), "si", &token, &expires_in) < 0)
			throw GoaError(
			    GoaError::Kind::Failed,
			    "GNOME Online Accounts answered GetAccessToken for " +
				account->Describe() + " with something other than (si)");
		if (token == nullptr || token[0] == '\0')
			throw GoaError(
			    GoaError::Kind::Failed,
			    "GNOME Online Accounts gave an empty access token for " +
				account->Describe());
		return {token, std::chrono::seconds(expires_in > 0 ? expires_in : 0)};
	} catch (const BusError &e) {
		if (e.timed_out)
			throw GoaError(GoaError::Kind::Failed,
				       "GNOME Online Accounts did not give a token for " +
					   account->Describe() + " " + Within(timeout));
		const bool attention =
		    account->attention_needed ||
		    e.name == "org.gnome.OnlineAccounts.Error.NotAuthorized";
		std::string message = "GNOME Online Accounts cannot give a token for " +
				      account->Describe() + ": " + Escape(e.what(), 300);
		if (!e.name.empty())
			message += " (" + Escape(e.name, 100) + ")";
		if (attention)
			message += "; sign in to the account again in GNOME Settings, "
				   "Online Accounts";
		throw GoaError(attention ? GoaError::Kind::NeedsAttention
					 : GoaError::Kind::Failed,
			       message);
	}
}

} // namespace popstream::secret
