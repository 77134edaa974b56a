#include "BusService.hxx"

#include "core/util/Escape.hxx"
#include "core/util/Names.hxx"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <system_error>
#include <utility>

namespace popstream::bus {

namespace {

void Check(int r, const char *what)
{
	if (r < 0)
		throw std::system_error(-r, std::generic_category(), what);
}

/** @return a copy of @p names as the char** that sd-bus's *_strv functions take. */
std::vector<char *> Strv(const std::vector<const char *> &names)
{
	std::vector<char *> v;
	v.reserve(names.size() + 1);
	for (const char *n : names)
		v.push_back(const_cast<char *>(n)); // sd-bus only reads them
	v.push_back(nullptr);
	return v;
}

/** Sets @p error from an exception thrown by the Controller, for the method's reply. */
int ErrorFromException(sd_bus_error *error) noexcept
{
	try {
		throw;
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	} catch (const std::exception &e) {
		return sd_bus_error_set(error, SD_BUS_ERROR_FAILED,
					ToValidUtf8(e.what()).c_str());
	} catch (...) {
		return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "internal error");
	}
}

/** FetchAll() and FetchNow() refuse in the same words once the daemon is stopping, so
 * that a client sees one error for one situation. */
int RefuseWhileStopping(sd_bus_error *error) noexcept
{
	return sd_bus_error_set(
	    error, error_stopping,
	    "popstreamd is shutting down; no new fetches are started");
}

} // namespace

/** The C callbacks handed to sd-bus; a nested struct so they may touch the internals. */
struct BusService::Callbacks {
	static int GetManagerProperty(sd_bus *, const char *, const char *,
				      const char *property, sd_bus_message *reply,
				      void *userdata, sd_bus_error *) noexcept
	{
		const auto &self = *static_cast<const BusService *>(userdata);
		if (std::strcmp(property, "Version") == 0)
			return sd_bus_message_append(reply, "s", self.version_.c_str());
		if (std::strcmp(property, "LastReload") == 0)
			return sd_bus_message_append(reply, "t", self.last_reload_us_);
		if (std::strcmp(property, "LastReloadError") == 0)
			return sd_bus_message_append(
			    reply, "s", ToValidUtf8(self.last_reload_error_).c_str());
		return sd_bus_message_append(
		    reply, "u", static_cast<std::uint32_t>(self.manager_state_));
	}

	static int FetchAll(sd_bus_message *m, void *userdata,
			    sd_bus_error *error) noexcept
	{
		auto &self = *static_cast<BusService *>(userdata);
		if (self.manager_state_ == ManagerState::Stopping)
			return RefuseWhileStopping(error);
		try {
			self.controller_.FetchAll();
		} catch (...) {
			return ErrorFromException(error);
		}
		return sd_bus_reply_method_return(m, "");
	}

	static int Reload(sd_bus_message *m, void *userdata, sd_bus_error *error) noexcept
	{
		auto &self = *static_cast<BusService *>(userdata);
		std::string problems;
		try {
			problems = self.controller_.Reload();
			self.ReloadFinished(
			    problems,
			    static_cast<std::uint64_t>(
				std::chrono::duration_cast<std::chrono::microseconds>(
				    std::chrono::system_clock::now().time_since_epoch())
				    .count()));
			if (!problems.empty()) {
				const std::string text =
				    "the new configuration has errors; the previous "
				    "one keeps running:\n" +
				    problems;
				return sd_bus_error_set(error, error_invalid_config,
							ToValidUtf8(text).c_str());
			}
		} catch (...) {
			return ErrorFromException(error);
		}
		return sd_bus_reply_method_return(m, "");
	}

	static int GetAccountProperty(sd_bus *, const char *, const char *,
				      const char *property, sd_bus_message *reply,
				      void *userdata, sd_bus_error *) noexcept
	{
		const auto &s = static_cast<const Account *>(userdata)->status;
		const auto is = [property](const char *name) {
			return std::strcmp(property, name) == 0;
		};
		try {
			if (is("Name"))
				return sd_bus_message_append(reply, "s",
							     ToValidUtf8(s.name).c_str());
			if (is("State"))
				return sd_bus_message_append(
				    reply, "u", static_cast<std::uint32_t>(s.state));
			if (is("LastAttempt"))
				return sd_bus_message_append(reply, "t",
							     s.last_attempt_us);
			if (is("LastSuccess"))
				return sd_bus_message_append(reply, "t",
							     s.last_success_us);
			if (is("NextPoll"))
				return sd_bus_message_append(reply, "t", s.next_poll_us);
			if (is("LastErrorClass"))
				return sd_bus_message_append(
				    reply, "s", ToValidUtf8(s.last_error_class).c_str());
			if (is("Server"))
				return sd_bus_message_append(
				    reply, "s", ToValidUtf8(s.server).c_str());
			if (is("Delivery"))
				return sd_bus_message_append(
				    reply, "(ss)", ToValidUtf8(s.delivery_kind).c_str(),
				    ToValidUtf8(s.delivery).c_str());
			if (is("Enabled"))
				return sd_bus_message_append(reply, "b",
							     s.enabled ? 1 : 0);
			if (is("Interval"))
				return sd_bus_message_append(reply, "t", s.interval_us);
			if (is("LastError"))
				return sd_bus_message_append(
				    reply, "s", ToValidUtf8(s.last_error).c_str());
			if (is("MessagesFetched"))
				return sd_bus_message_append(reply, "t",
							     s.messages_fetched);
			if (is("BytesFetched"))
				return sd_bus_message_append(reply, "t", s.bytes_fetched);
			const auto &p = s.progress;
			return sd_bus_message_append(reply, "(tttt)", p.messages_done,
						     p.messages_total, p.bytes_done,
						     p.bytes_total);
		} catch (const std::bad_alloc &) {
			return -ENOMEM;
		}
	}

	static int FetchNow(sd_bus_message *m, void *userdata,
			    sd_bus_error *error) noexcept
	{
		auto &account = *static_cast<Account *>(userdata);
		auto &self = *account.service;
		try {
			// Copied: the controller may report changes (even a removal)
			// before it returns.
			const std::string name = account.status.name;
			if (self.manager_state_ == ManagerState::Stopping)
				return RefuseWhileStopping(error);
			if (account.status.state == AccountState::Disabled)
				return sd_bus_error_setf(
				    error, error_account_disabled,
				    "account '%s' is disabled (enabled: false in the "
				    "configuration)",
				    Escape(name, 200).c_str());
			if (!self.controller_.FetchNow(name))
				return sd_bus_error_setf(error, error_unknown_account,
							 "no account named '%s'",
							 Escape(name, 200).c_str());
		} catch (...) {
			return ErrorFromException(error);
		}
		return sd_bus_reply_method_return(m, "");
	}

	static int FindAccount(sd_bus *, const char *path, const char *, void *userdata,
			       void **found, sd_bus_error *) noexcept
	{
		auto *account = static_cast<BusService *>(userdata)->FindByPath(path);
		if (account == nullptr)
			return 0;
		*found = account;
		return 1;
	}

	static int EnumerateAccounts(sd_bus *, const char *prefix, void *userdata,
				     char ***nodes, sd_bus_error *) noexcept
	{
		const auto &accounts = static_cast<BusService *>(userdata)->accounts_;
		// sd-bus asks with the path being introspected. An account has no
		// children: listing every account for each of them made `busctl tree`
		// quadratic (8 to 14 s at 5000 accounts, the daemon busy meanwhile).
		const std::size_t prefix_len = std::strlen(account_prefix);
		if (prefix != nullptr &&
		    std::strncmp(prefix, account_prefix, prefix_len) == 0 &&
		    prefix[prefix_len] == '/') {
			*nodes = static_cast<char **>(std::calloc(1, sizeof(char *)));
			return *nodes == nullptr ? -ENOMEM : 0;
		}
		// sd-bus frees the array and the strings with free().
		auto **v = static_cast<char **>(
		    std::calloc(accounts.size() + 1, sizeof(char *)));
		if (v == nullptr)
			return -ENOMEM;
		std::size_t i = 0;
		for (const auto &[name, account] : accounts) {
			v[i] = strdup(account.path.c_str());
			if (v[i] == nullptr) {
				for (std::size_t j = 0; j < i; ++j)
					std::free(v[j]);
				std::free(v);
				return -ENOMEM;
			}
			++i;
		}
		*nodes = v;
		return 0;
	}

	/**
	 * Runs before the account vtable for every method call under account_prefix.
	 * Without it a call to a missing account would get sd-bus's "Unknown object
	 * '/io/.../account/x'", which does not tell a user what is wrong.
	 */
	static int RejectUnknownAccount(sd_bus_message *m, void *userdata,
					sd_bus_error *error) noexcept
	{
		auto &self = *static_cast<BusService *>(userdata);
		const char *path = sd_bus_message_get_path(m);
		// The prefix node itself is no account: introspecting it lists them.
		const std::size_t prefix_len = std::strlen(account_prefix);
		if (path == nullptr ||
		    std::strncmp(path, account_prefix, prefix_len) != 0 ||
		    path[prefix_len] != '/' || self.FindByPath(path) != nullptr)
			return 0;
		try {
			char *name = nullptr;
			if (sd_bus_path_decode(path, account_prefix, &name) <= 0)
				return 0;
			const std::string escaped = Escape(name, 200);
			std::free(name);
			return sd_bus_error_setf(
			    error, error_unknown_account, "no account named '%s'%s",
			    escaped.c_str(), self.UnknownAccountHint(escaped).c_str());
		} catch (const std::bad_alloc &) {
			return -ENOMEM;
		}
	}

	static const sd_bus_vtable manager_vtable[];
	static const sd_bus_vtable account_vtable[];
};

// The annotations that sd-bus derives from these flags (EmitsChangedSignal const/true)
// are those of io.github.popstream.Popstream1.xml; tests/bus compares the two.
const sd_bus_vtable BusService::Callbacks::manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("FetchAll", "", "", FetchAll, 0),
    SD_BUS_METHOD("Reload", "", "", Reload, 0),
    SD_BUS_PROPERTY("Version", "s", GetManagerProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "u", GetManagerProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastReload", "t", GetManagerProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastReloadError", "s", GetManagerProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_VTABLE_END,
};

const sd_bus_vtable BusService::Callbacks::account_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("FetchNow", "", "", FetchNow, 0),
    SD_BUS_PROPERTY("Name", "s", GetAccountProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "u", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastAttempt", "t", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastSuccess", "t", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("NextPoll", "t", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastError", "s", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastErrorClass", "s", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Server", "s", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Delivery", "(ss)", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Enabled", "b", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Interval", "t", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("MessagesFetched", "t", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("BytesFetched", "t", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Progress", "(tttt)", GetAccountProperty, 0,
		    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_SIGNAL_WITH_NAMES(
	"FetchFinished", "tts",
	SD_BUS_PARAM(messages) SD_BUS_PARAM(bytes) SD_BUS_PARAM(error), 0),
    SD_BUS_VTABLE_END,
};

BusService::BusService(uv_loop_t &loop, Controller &controller, std::string version)
    : loop_(loop), controller_(controller), version_(std::move(version)),
      progress_timer_(new uv_timer_t)
{
	uv_timer_init(&loop_, progress_timer_);
	progress_timer_->data = this;
}

BusService::~BusService()
{
	// Unregister before the accounts they point to go away.
	slots_.clear();
	if (bus_ != nullptr)
		sd_bus_unref(bus_);
	uv_close(reinterpret_cast<uv_handle_t *>(progress_timer_),
		 [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
}

void BusService::Start(sd_bus *bus)
{
	bus_ = sd_bus_ref(bus);
	const auto add = [this](auto &&register_fn, const char *what) {
		sd_bus_slot *slot = nullptr;
		Check(register_fn(&slot), what);
		slots_.emplace_back(slot);
	};
	add(
	    [&](sd_bus_slot **s) {
		    return sd_bus_add_object_manager(bus_, s, manager_path);
	    },
	    "cannot add the D-Bus object manager");
	add(
	    [&](sd_bus_slot **s) {
		    return sd_bus_add_object_vtable(bus_, s, manager_path,
						    manager_interface,
						    Callbacks::manager_vtable, this);
	    },
	    "cannot export the D-Bus manager object");
	add(
	    [&](sd_bus_slot **s) {
		    return sd_bus_add_fallback(bus_, s, account_prefix,
					       Callbacks::RejectUnknownAccount, this);
	    },
	    "cannot add the D-Bus account filter");
	add(
	    [&](sd_bus_slot **s) {
		    return sd_bus_add_fallback_vtable(
			bus_, s, account_prefix, account_interface,
			Callbacks::account_vtable, Callbacks::FindAccount, this);
	    },
	    "cannot export the D-Bus account objects");
	add(
	    [&](sd_bus_slot **s) {
		    return sd_bus_add_node_enumerator(bus_, s, account_prefix,
						      Callbacks::EnumerateAccounts, this);
	    },
	    "cannot add the D-Bus account enumerator");

	// Accounts the daemon set up before the bus: exported without signals, as
	// nobody can have seen them yet (the name is not owned).
	for (const auto &status : controller_.Statuses())
		accounts_.insert_or_assign(status.name, NewAccount(status));
	RearmProgressTimer();
}

void BusService::RequestName()
{
	if (bus_ == nullptr)
		throw std::logic_error("BusService::RequestName() before Start()");
	const int r = sd_bus_request_name(bus_, bus_name, 0);
	if (r == -EEXIST)
		throw NameTakenError(std::string("the D-Bus name ") + bus_name +
				     " is owned by another process: is popstreamd "
				     "already running?");
	if (r < 0 && r != -EALREADY)
		throw std::system_error(-r, std::generic_category(),
					std::string("cannot own the D-Bus name ") +
					    bus_name);
}

void BusService::AccountAdded(const AccountStatus &status) noexcept
{
	if (accounts_.count(status.name) != 0) {
		AccountChanged(status, ~0u);
		return;
	}
	const auto it = accounts_.emplace(status.name, NewAccount(status)).first;
	const std::string &path = it->second.path;
	if (bus_ != nullptr)
		// Lists every interface of the new object with all its properties,
		// the form GetManagedObjects() returns too.
		sd_bus_emit_object_added(bus_, path.c_str());
}

void BusService::AccountRemoved(const std::string &name) noexcept
{
	const auto it = accounts_.find(name);
	if (it == accounts_.end())
		return;
	// Emitted while the object still exists: sd-bus lists its interfaces from
	// the registered vtables.
	if (bus_ != nullptr)
		sd_bus_emit_object_removed(bus_, it->second.path.c_str());
	accounts_.erase(it);
	RearmProgressTimer();
}

void BusService::AccountChanged(const AccountStatus &status, unsigned) noexcept
{
	const auto it = accounts_.find(status.name);
	if (it == accounts_.end()) {
		AccountAdded(status);
		return;
	}
	Account &account = it->second;
	const AccountStatus &old = account.status;
	std::vector<const char *> names;
	if (status.state != old.state)
		names.push_back("State");
	if (status.last_attempt_us != old.last_attempt_us)
		names.push_back("LastAttempt");
	if (status.last_success_us != old.last_success_us)
		names.push_back("LastSuccess");
	if (status.next_poll_us != old.next_poll_us)
		names.push_back("NextPoll");
	if (status.last_error != old.last_error)
		names.push_back("LastError");
	if (status.last_error_class != old.last_error_class)
		names.push_back("LastErrorClass");
	if (status.server != old.server)
		names.push_back("Server");
	if (status.delivery != old.delivery || status.delivery_kind != old.delivery_kind)
		names.push_back("Delivery");
	if (status.enabled != old.enabled)
		names.push_back("Enabled");
	if (status.interval_us != old.interval_us)
		names.push_back("Interval");
	if (status.messages_fetched != old.messages_fetched)
		names.push_back("MessagesFetched");
	if (status.bytes_fetched != old.bytes_fetched)
		names.push_back("BytesFetched");
	account.status = status;

	if (status.progress != account.progress_sent) {
		const bool due = uv_now(&loop_) >= account.progress_next_ms;
		// Progress rides along with any other change for free; alone, it
		// waits for its interval to end.
		if (due || !names.empty())
			ReleaseProgress(account, names);
		else if (!account.progress_held) {
			account.progress_held = true;
			RearmProgressTimer();
		}
	} else if (account.progress_held) {
		// Back to the value already announced: nothing to send.
		account.progress_held = false;
		RearmProgressTimer();
	}
	EmitAccountProperties(account, std::move(names));
}

void BusService::FetchFinished(const std::string &name, std::uint64_t messages,
			       std::uint64_t bytes, const std::string &error) noexcept
{
	const auto it = accounts_.find(name);
	if (it == accounts_.end())
		return;
	Account &account = it->second;
	// The final Progress goes out before the signal that ends the fetch.
	std::vector<const char *> names;
	ReleaseProgress(account, names);
	EmitAccountProperties(account, std::move(names));
	if (bus_ != nullptr)
		sd_bus_emit_signal(bus_, account.path.c_str(), account_interface,
				   "FetchFinished", "tts", messages, bytes,
				   ToValidUtf8(error).c_str());
}

void BusService::ReloadFinished(const std::string &problems,
				std::uint64_t now_us) noexcept
{
	try {
		last_reload_error_ = problems;
	} catch (...) {
		last_reload_error_.clear();
	}
	last_reload_us_ = now_us;
	if (bus_ != nullptr)
		sd_bus_emit_properties_changed(bus_, manager_path, manager_interface,
					       "LastReload", "LastReloadError", nullptr);
}

void BusService::SetManagerState(ManagerState state) noexcept
{
	if (state == manager_state_)
		return;
	manager_state_ = state;
	if (bus_ != nullptr)
		sd_bus_emit_properties_changed(bus_, manager_path, manager_interface,
					       "State", nullptr);
}

BusService::Account BusService::NewAccount(const AccountStatus &status)
{
	Account account;
	account.service = this;
	account.status = status;
	account.path = AccountPath(status.name);
	// Exported with its current Progress (in InterfacesAdded or
	// GetManagedObjects), so that value counts as announced.
	account.progress_sent = status.progress;
	return account;
}

BusService::Account *BusService::FindByPath(const char *path) noexcept
{
	char *name = nullptr;
	if (sd_bus_path_decode(path, account_prefix, &name) <= 0)
		return nullptr;
	Account *found = nullptr;
	try {
		const auto it = accounts_.find(name);
		// Decoding is not one-to-one ("_" alone, or a lower-case escape, decodes
		// too); only the exact path of an account counts as that account.
		if (it != accounts_.end() && it->second.path == path)
			found = &it->second;
	} catch (const std::bad_alloc &) {
	}
	std::free(name);
	return found;
}

void BusService::EmitAccountProperties(Account &account,
				       std::vector<const char *> names) noexcept
{
	if (names.empty() || bus_ == nullptr)
		return;
	// Errors can only be "disconnected" or "out of memory"; the first reaches the
	// daemon through SdBusUv, the second ends the process, as bad_alloc does
	// everywhere here.
	sd_bus_emit_properties_changed_strv(bus_, account.path.c_str(), account_interface,
					    Strv(names).data());
}

void BusService::ReleaseProgress(Account &account,
				 std::vector<const char *> &names) noexcept
{
	if (account.status.progress == account.progress_sent) {
		if (account.progress_held) {
			account.progress_held = false;
			RearmProgressTimer();
		}
		return;
	}
	names.push_back("Progress");
	account.progress_sent = account.status.progress;
	account.progress_next_ms = uv_now(&loop_) + progress_interval_ms;
	if (account.progress_held) {
		account.progress_held = false;
		RearmProgressTimer();
	}
}

void BusService::RearmProgressTimer() noexcept
{
	std::uint64_t due = UINT64_MAX;
	for (const auto &[name, account] : accounts_)
		if (account.progress_held)
			due = std::min(due, account.progress_next_ms);
	if (due == UINT64_MAX) {
		uv_timer_stop(progress_timer_);
		return;
	}
	const std::uint64_t now = uv_now(&loop_);
	uv_timer_start(
	    progress_timer_,
	    [](uv_timer_t *t) { static_cast<BusService *>(t->data)->OnProgressTimer(); },
	    due > now ? due - now : 0, 0);
}

void BusService::OnProgressTimer() noexcept
{
	const std::uint64_t now = uv_now(&loop_);
	for (auto &[name, account] : accounts_) {
		if (!account.progress_held || now < account.progress_next_ms)
			continue;
		std::vector<const char *> names;
		ReleaseProgress(account, names);
		EmitAccountProperties(account, std::move(names));
	}
	RearmProgressTimer();
}

std::string BusService::UnknownAccountHint(const std::string &wanted) const
{
	std::vector<std::string> names;
	names.reserve(accounts_.size());
	for (const auto &[name, account] : accounts_)
		names.push_back(name);
	return UnknownNameHint(wanted, names);
}

} // namespace popstream::bus
