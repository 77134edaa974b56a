#include "BusClient.hxx"

#include "bus/AccountStatus.hxx"
#include "bus/Api.hxx"
#include "bus/SdBusUv.hxx"
#include "core/util/ExitCode.hxx"
#include "core/util/Names.hxx"
#include "posix/Clock.hxx"

#include <nlohmann/json.hpp>
#include <systemd/sd-bus.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <system_error>

// The client is blocking sd-bus on purpose: it does one thing at a time and has no
// other event source, so the libuv glue the daemon needs (bus/SdBusUv) would only add
// moving parts. sd_bus_wait() sleeps until the next message or timeout.

namespace popstream::cli {

namespace {

constexpr auto disabled = static_cast<std::uint32_t>(bus::AccountState::Disabled);
constexpr auto fetching = static_cast<std::uint32_t>(bus::AccountState::Fetching);

/** A failure that ends the command: the line to print and the exit status. */
struct ClientError : std::runtime_error {
	ExitCode code;
	ClientError(ExitCode _code, const std::string &message)
	    : std::runtime_error(message), code(_code)
	{
	}
};

const std::string reach_hint = "; is it running? (systemctl --user start popstream)";

struct ErrorHolder {
	sd_bus_error error = SD_BUS_ERROR_NULL;
	ErrorHolder() = default;
	ErrorHolder(const ErrorHolder &) = delete;
	ErrorHolder &operator=(const ErrorHolder &) = delete;
	~ErrorHolder() { sd_bus_error_free(&error); }
};

struct MessageUnref {
	void operator()(sd_bus_message *m) const noexcept { sd_bus_message_unref(m); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

struct SlotUnref {
	void operator()(sd_bus_slot *s) const noexcept { sd_bus_slot_unref(s); }
};
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;

/**
 * @return @p text with control characters (terminal escape sequences included) made
 *         visible as '?', and cut to one line. Text from the daemon is already one
 *         line; this only guards the terminal.
 */
std::string ForTerminal(std::string_view text)
{
	std::string out;
	out.reserve(text.size());
	for (const char c : text) {
		const auto b = static_cast<unsigned char>(c);
		out += (b < 0x20 || b == 0x7f) ? '?' : c;
	}
	return out;
}

/**
 * Turns a failed call into the error that ends the command.
 * @param auto_start whether the call asked D-Bus to start popstreamd
 */
[[noreturn]] void ThrowCallError(const sd_bus_error &error, int r,
				 bool auto_start = false)
{
	const std::string name = error.name != nullptr ? error.name : "";
	const std::string message = ForTerminal(
	    error.message != nullptr ? error.message : std::strerror(r < 0 ? -r : r));
	if (name == bus::error_unknown_account)
		throw ClientError(ExitCode::Usage, message);
	if (name == bus::error_account_disabled)
		throw ClientError(ExitCode::Config, message);
	if (name == bus::error_stopping)
		throw ClientError(ExitCode::TempFail, message);
	if (name == bus::error_invalid_config) {
		// One problem per line, each made safe for the terminal.
		std::string lines, raw = error.message != nullptr ? error.message : "";
		for (std::size_t at = 0; at <= raw.size();) {
			auto end = raw.find('\n', at);
			if (end == std::string::npos)
				end = raw.size();
			lines += (lines.empty() ? "" : "\n") +
				 ForTerminal(std::string_view(raw).substr(at, end - at));
			at = end + 1;
		}
		throw ClientError(ExitCode::Config, lines);
	}
	if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
	    name == "org.freedesktop.DBus.Error.NameHasNoOwner")
		throw ClientError(
		    ExitCode::Unavailable,
		    auto_start
			? "popstreamd is not running, and D-Bus activation could not "
			  "start it: " +
			      message + reach_hint
			: std::string("popstreamd is not running (start it with "
				      "'systemctl --user start popstream'; 'popstream "
				      "fetch' starts it too)"));
	// Everything else means no popstreamd answered: not running and not
	// activatable, exited, hung, or the bus itself is gone.
	throw ClientError(ExitCode::Unavailable,
			  "cannot reach popstreamd on the session bus: " + message +
			      reach_hint);
}

bus::BusPtr Connect()
{
	try {
		return bus::OpenUserBus("popstream");
	} catch (const std::system_error &e) {
		throw ClientError(
		    ExitCode::Unavailable,
		    std::string("cannot reach popstreamd on the session bus: ") +
			e.what() + reach_hint);
	}
}

/** One account as GetManagedObjects() reports it. */
struct AccountInfo {
	std::string path;
	std::string name;
	std::uint32_t state = 0;
	std::uint64_t last_attempt_us = 0;
	std::uint64_t last_success_us = 0;
	std::uint64_t messages_fetched = 0, bytes_fetched = 0;
	std::uint64_t next_poll_us = 0;
	std::string last_error, last_error_class, server;
	std::string delivery_kind, delivery;
	bool enabled = true;
	std::uint64_t interval_us = 0;
	std::uint64_t messages_done = 0, messages_total = 0;
	std::uint64_t bytes_done = 0, bytes_total = 0;
};

/** Reads the a{sv} of the Account interface into @p a; unknown properties are skipped
 * so that a newer daemon with more of them still works. */
int ReadAccountProperties(sd_bus_message *m, AccountInfo &a)
{
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *property = nullptr, *contents = nullptr;
		if ((r = sd_bus_message_read(m, "s", &property)) < 0 ||
		    (r = sd_bus_message_peek_type(m, nullptr, &contents)) < 0)
			return r;
		const std::string_view p = property;
		const std::string_view type = contents != nullptr ? contents : "";
		const char *s = nullptr;
		if (p == "Name" && type == "s") {
			r = sd_bus_message_read(m, "v", "s", &s);
			if (r >= 0)
				a.name = s;
		} else if (p == "State" && type == "u") {
			r = sd_bus_message_read(m, "v", "u", &a.state);
		} else if (p == "LastAttempt" && type == "t") {
			r = sd_bus_message_read(m, "v", "t", &a.last_attempt_us);
		} else if (p == "MessagesFetched" && type == "t") {
			r = sd_bus_message_read(m, "v", "t", &a.messages_fetched);
		} else if (p == "BytesFetched" && type == "t") {
			r = sd_bus_message_read(m, "v", "t", &a.bytes_fetched);
		} else if (p == "LastSuccess" && type == "t") {
			r = sd_bus_message_read(m, "v", "t", &a.last_success_us);
		} else if (p == "NextPoll" && type == "t") {
			r = sd_bus_message_read(m, "v", "t", &a.next_poll_us);
		} else if (p == "LastError" && type == "s") {
			r = sd_bus_message_read(m, "v", "s", &s);
			if (r >= 0)
				a.last_error = s;
		} else if ((p == "LastErrorClass" || p == "Server") && type == "s") {
			r = sd_bus_message_read(m, "v", "s", &s);
			if (r >= 0)
				(p == "Server" ? a.server : a.last_error_class) = s;
		} else if (p == "Enabled" && type == "b") {
			int enabled = 1;
			r = sd_bus_message_read(m, "v", "b", &enabled);
			a.enabled = enabled != 0;
		} else if (p == "Interval" && type == "t") {
			r = sd_bus_message_read(m, "v", "t", &a.interval_us);
		} else if (p == "Delivery" && type == "(ss)") {
			const char *kind = nullptr;
			r = sd_bus_message_read(m, "v", "(ss)", &kind, &s);
			if (r >= 0) {
				a.delivery_kind = kind;
				a.delivery = s;
			}
		} else if (p == "Progress" && type == "(tttt)") {
			r = sd_bus_message_read(m, "v", "(tttt)", &a.messages_done,
						&a.messages_total, &a.bytes_done,
						&a.bytes_total);
		} else {
			r = sd_bus_message_skip(m, "v");
		}
		if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

/** Parses the a{oa{sa{sv}}} of GetManagedObjects(), keeping the account objects. */
int ReadManagedObjects(sd_bus_message *m, std::vector<AccountInfo> &accounts)
{
	int r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
		const char *path = nullptr;
		if ((r = sd_bus_message_read(m, "o", &path)) < 0 ||
		    (r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}")) < 0)
			return r;
		AccountInfo account;
		account.path = path;
		bool is_account = false;
		while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
			const char *interface = nullptr;
			if ((r = sd_bus_message_read(m, "s", &interface)) < 0)
				return r;
			if (std::strcmp(interface, bus::account_interface) == 0) {
				is_account = true;
				r = ReadAccountProperties(m, account);
			} else {
				r = sd_bus_message_skip(m, "a{sv}");
			}
			if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
				return r;
		}
		if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0 ||
		    (r = sd_bus_message_exit_container(m)) < 0)
			return r;
		if (is_account)
			accounts.push_back(std::move(account));
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

/**
 * @param auto_start let the bus daemon start popstreamd (bus activation) if needed
 * @return every account, in natural order of their names (u2 before u10)
 */
std::vector<AccountInfo> GetAccounts(sd_bus *bus, bool auto_start)
{
	sd_bus_message *raw = nullptr;
	int r = sd_bus_message_new_method_call(
	    bus, &raw, bus::bus_name, bus::manager_path,
	    "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
	MessagePtr call(raw);
	if (r < 0)
		throw std::system_error(-r, std::generic_category(), "sd-bus");
	sd_bus_message_set_auto_start(call.get(), auto_start ? 1 : 0);

	ErrorHolder error;
	raw = nullptr;
	r = sd_bus_call(bus, call.get(), 0, &error.error, &raw);
	MessagePtr reply(raw);
	if (r < 0)
		ThrowCallError(error.error, r, auto_start);

	std::vector<AccountInfo> accounts;
	if ((r = ReadManagedObjects(reply.get(), accounts)) < 0)
		throw ClientError(ExitCode::Protocol,
				  std::string("unexpected reply from popstreamd: ") +
				      std::strerror(-r));
	std::sort(accounts.begin(), accounts.end(),
		  [](const AccountInfo &a, const AccountInfo &b) {
			  return NaturalLess(a.name, b.name);
		  });
	return accounts;
}

} // namespace

std::string FormatRelative(std::uint64_t us, std::uint64_t now_us, const char *none)
{
	if (us == 0)
		return none;
	const bool future = us > now_us;
	const std::uint64_t s = (future ? us - now_us : now_us - us) / 1'000'000;
	std::string span;
	if (s < 60)
		span = s < 5 ? "" : std::to_string(s) + " s";
	else if ((s + 30) / 60 < 60)
		span = std::to_string((s + 30) / 60) + " min";
	else if (s < 48 * 3600)
		span = std::to_string((s + 1800) / 3600) + " h";
	else
		span = std::to_string((s + 43200) / 86400) + " days";
	if (span.empty())
		return "now";
	return future ? "in " + span : span + " ago";
}

namespace {

std::string FormatState(const AccountInfo &a)
{
	std::string state = bus::AccountStateName(a.state);
	if (a.state == fetching && a.messages_total > 0)
		state += " " + std::to_string(a.messages_done) + "/" +
			 std::to_string(a.messages_total);
	return state;
}

void PrintLine(const std::string &program, const std::string &text)
{
	std::fprintf(stderr, "%s: %s\n", program.c_str(), text.c_str());
}

/** What `fetch --wait` is waiting for, shared with the signal handlers. */
struct Waiter {
	const std::string &program;
	/** Account object path → name, for the fetches not finished yet. */
	std::map<std::string, std::string> pending;
	/** popstreamd's unique connection name: signals from anyone else are ignored. */
	std::string owner;
	ExitCode status = ExitCode::Ok;
	/** The daemon left the bus (exited or crashed) while we were waiting. */
	bool daemon_gone = false;

	static int OnFetchFinished(sd_bus_message *m, void *userdata,
				   sd_bus_error *) noexcept
	{
		auto &self = *static_cast<Waiter *>(userdata);
		const char *path = sd_bus_message_get_path(m);
		std::uint64_t messages = 0, bytes = 0;
		const char *error = nullptr;
		if (path == nullptr ||
		    sd_bus_message_read(m, "tts", &messages, &bytes, &error) < 0)
			return 0;
		const auto it = self.pending.find(path);
		if (it == self.pending.end())
			return 0;
		const std::string name = ForTerminal(it->second);
		if (*error == '\0') {
			std::printf("%s: %llu messages, %llu bytes\n", name.c_str(),
				    static_cast<unsigned long long>(messages),
				    static_cast<unsigned long long>(bytes));
			std::fflush(stdout);
		} else {
			PrintLine(self.program, name + ": " + ForTerminal(error));
			self.status = ExitCode::TempFail;
		}
		self.pending.erase(it);
		return 0;
	}

	static int OnInterfacesRemoved(sd_bus_message *m, void *userdata,
				       sd_bus_error *) noexcept
	{
		auto &self = *static_cast<Waiter *>(userdata);
		const char *path = nullptr;
		if (sd_bus_message_read(m, "o", &path) < 0)
			return 0;
		const auto it = self.pending.find(path);
		if (it == self.pending.end())
			return 0;
		PrintLine(self.program, ForTerminal(it->second) +
					    ": removed from the configuration before its "
					    "fetch finished");
		self.status = ExitCode::TempFail;
		self.pending.erase(it);
		return 0;
	}

	static int OnNameOwnerChanged(sd_bus_message *m, void *userdata,
				      sd_bus_error *) noexcept
	{
		auto &self = *static_cast<Waiter *>(userdata);
		const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
		if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
			return 0;
		if (self.owner == old_owner)
			self.daemon_gone = true;
		return 0;
	}
};

std::string GetNameOwner(sd_bus *bus)
{
	ErrorHolder error;
	sd_bus_message *raw = nullptr;
	const int r = sd_bus_call_method(
	    bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	    "GetNameOwner", &error.error, &raw, "s", bus::bus_name);
	MessagePtr reply(raw);
	if (r < 0)
		ThrowCallError(error.error, r);
	const char *owner = nullptr;
	if (sd_bus_message_read(reply.get(), "s", &owner) < 0)
		throw ClientError(ExitCode::Protocol,
				  "unexpected reply from the bus daemon");
	return owner;
}

SlotPtr AddMatch(sd_bus *bus, const std::string &rule, sd_bus_message_handler_t handler,
		 void *userdata)
{
	sd_bus_slot *slot = nullptr;
	// Synchronous: the bus daemon has installed the rule when this returns, so no
	// signal sent after the FetchNow() calls below can be missed.
	const int r = sd_bus_add_match(bus, &slot, rule.c_str(), handler, userdata);
	if (r < 0)
		throw ClientError(
		    ExitCode::Unavailable,
		    std::string("cannot subscribe to popstreamd's signals: ") +
			std::strerror(-r));
	return SlotPtr(slot);
}

void Call(sd_bus *bus, const char *path, const char *interface, const char *method)
{
	ErrorHolder error;
	sd_bus_message *raw = nullptr;
	const int r = sd_bus_call_method(bus, bus::bus_name, path, interface, method,
					 &error.error, &raw, "");
	MessagePtr reply(raw);
	if (r < 0)
		ThrowCallError(error.error, r);
}

/** @return whether popstreamd owns its name on @p bus (without starting it) */
bool DaemonRunning(sd_bus *bus)
{
	ErrorHolder error;
	sd_bus_message *raw = nullptr;
	const int r = sd_bus_call_method(
	    bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	    "NameHasOwner", &error.error, &raw, "s", bus::bus_name);
	MessagePtr reply(raw);
	int has = 0;
	if (r < 0 || sd_bus_message_read(reply.get(), "b", &has) < 0)
		return true; // cannot tell: say nothing
	return has != 0;
}

int Fetch(const std::vector<std::string> &names, bool wait, const std::string &program)
{
	const auto bus = Connect();
	// What status says too: a fetch starts popstreamd if it is not running, and
	// says so rather than leave the user believing it was.
	const bool was_running = DaemonRunning(bus.get());
	const auto accounts = GetAccounts(bus.get(), true);
	if (!was_running)
		PrintLine(program,
			  "popstreamd was not running: started it (D-Bus "
			  "activation); 'systemctl --user enable --now popstream' "
			  "keeps it running");

	Waiter waiter{program, {}, {}, ExitCode::Ok, false};
	for (const auto &name : names) {
		const auto it =
		    std::find_if(accounts.begin(), accounts.end(),
				 [&](const AccountInfo &a) { return a.name == name; });
		if (it == accounts.end()) {
			std::vector<std::string> known;
			for (const auto &a : accounts)
				known.push_back(a.name);
			throw ClientError(ExitCode::Usage,
					  "no account named '" + ForTerminal(name) + "'" +
					      ForTerminal(UnknownNameHint(name, known)));
		}
		if (it->state == disabled)
			throw ClientError(ExitCode::Config,
					  "account '" + ForTerminal(name) +
					      "' is disabled (enabled: false in the "
					      "configuration)");
		waiter.pending.emplace(it->path, it->name);
	}
	if (names.empty())
		for (const auto &a : accounts)
			if (a.state != disabled) // FetchAll() skips them
				waiter.pending.emplace(a.path, a.name);

	std::vector<SlotPtr> matches;
	if (wait) {
		waiter.owner = GetNameOwner(bus.get());
		const std::string from = "type='signal',sender='" + waiter.owner + "',";
		matches.push_back(
		    AddMatch(bus.get(),
			     from + "interface='" + bus::account_interface +
				 "',member='FetchFinished',path_namespace='" +
				 bus::account_prefix + "'",
			     Waiter::OnFetchFinished, &waiter));
		matches.push_back(AddMatch(
		    bus.get(),
		    from + "path='" + bus::manager_path +
			"',interface='org.freedesktop.DBus.ObjectManager',member='"
			"InterfacesRemoved'",
		    Waiter::OnInterfacesRemoved, &waiter));
		matches.push_back(AddMatch(
		    bus.get(),
		    std::string(
			"type='signal',sender='org.freedesktop.DBus',path='/org/"
			"freedesktop/DBus',interface='org.freedesktop.DBus',member='"
			"NameOwnerChanged',arg0='") +
			bus::bus_name + "'",
		    Waiter::OnNameOwnerChanged, &waiter));
	}

	if (names.empty())
		Call(bus.get(), bus::manager_path, bus::manager_interface, "FetchAll");
	else
		for (const auto &name : names)
			Call(bus.get(), bus::AccountPath(name).c_str(),
			     bus::account_interface, "FetchNow");
	if (!wait)
		return ToInt(ExitCode::Ok);

	while (!waiter.pending.empty() && !waiter.daemon_gone) {
		int r = sd_bus_process(bus.get(), nullptr);
		if (r > 0)
			continue;
		if (r == 0)
			r = sd_bus_wait(bus.get(), UINT64_MAX);
		if (r < 0 && r != -EINTR)
			throw ClientError(
			    ExitCode::Unavailable,
			    std::string("lost the session bus while waiting: ") +
				std::strerror(-r));
	}
	if (!waiter.pending.empty()) {
		std::string list;
		for (const auto &[path, name] : waiter.pending)
			list += (list.empty() ? "" : ", ") + ForTerminal(name);
		throw ClientError(ExitCode::Unavailable,
				  "popstreamd exited before these fetches finished: " +
				      list);
	}
	return ToInt(waiter.status);
}

/** @return µs since the epoch as seconds, or null for 0 (never) */
nlohmann::json JsonTime(std::uint64_t us)
{
	return us == 0 ? nlohmann::json(nullptr) : nlohmann::json(us / 1'000'000);
}

/** The accounts as a JSON array, for scripts and status-bar applets. */
std::string StatusJson(const std::vector<AccountInfo> &accounts)
{
	auto array = nlohmann::json::array();
	for (const auto &a : accounts)
		array.push_back({
		    {"name", a.name},
		    {"state", bus::AccountStateName(a.state)},
		    {"last_attempt", JsonTime(a.last_attempt_us)},
		    {"last_success", JsonTime(a.last_success_us)},
		    {"next_poll", JsonTime(a.next_poll_us)},
		    {"last_error", a.last_error},
		    {"last_error_class", a.last_error_class},
		    {"server", a.server},
		    {"delivery", {{"kind", a.delivery_kind}, {"target", a.delivery}}},
		    {"enabled", a.enabled},
		    {"interval", a.interval_us / 1'000'000},
		    {"messages_fetched", a.messages_fetched},
		    {"bytes_fetched", a.bytes_fetched},
		    {"progress",
		     {{"messages_done", a.messages_done},
		      {"messages_total", a.messages_total},
		      {"octets_done", a.bytes_done},
		      {"octets_total", a.bytes_total}}},
		});
	// Invalid UTF-8 in a name becomes U+FFFD rather than an exception.
	return array.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

/** @return 77 if an account waits for a new password, 78 if one is in error, else 0 */
int StatusCode(const std::vector<AccountInfo> &accounts)
{
	ExitCode worst = ExitCode::Ok;
	for (const auto &a : accounts) {
		if (a.state == static_cast<std::uint32_t>(bus::AccountState::Error))
			worst = ExitCode::Config;
		else if (a.state ==
			     static_cast<std::uint32_t>(bus::AccountState::AuthNeeded) &&
			 worst == ExitCode::Ok)
			worst = ExitCode::NoPerm;
	}
	return ToInt(worst);
}

/** The manager's LastReload and LastReloadError; nothing if it has none (an older
 * daemon) or the call fails. */
std::optional<std::pair<std::uint64_t, std::string>> LastReload(sd_bus *bus)
{
	ErrorHolder error;
	std::uint64_t when = 0;
	if (sd_bus_get_property_trivial(bus, bus::bus_name, bus::manager_path,
					bus::manager_interface, "LastReload",
					&error.error, 't', &when) < 0)
		return std::nullopt;
	ErrorHolder error2;
	char *text = nullptr;
	if (sd_bus_get_property_string(bus, bus::bus_name, bus::manager_path,
				       bus::manager_interface, "LastReloadError",
				       &error2.error, &text) < 0)
		return std::nullopt;
	std::string problems = text;
	std::free(text);
	return std::pair{when, problems};
}

int Status(bool json)
{
	const auto bus = Connect();
	// A query starts nothing: with popstreamd not running, that is the answer.
	const auto accounts = GetAccounts(bus.get(), false);
	const auto reload = LastReload(bus.get());
	const bool refused = reload && !reload->second.empty();
	if (json) {
		std::printf("%s\n", StatusJson(accounts).c_str());
		if (refused) {
			// Not in the array of accounts; a script sees it in the status.
			std::fprintf(
			    stderr, "popstream: status: the last configuration "
				    "reload was refused; 'popstream status' shows why\n");
			return ToInt(ExitCode::Config);
		}
		return StatusCode(accounts);
	}
	if (accounts.empty()) {
		std::printf("popstreamd has no accounts configured.\n");
		return ToInt(ExitCode::Ok);
	}

	const std::uint64_t now_us = posix::NowUs();
	std::vector<std::vector<std::string>> rows;
	rows.push_back({"ACCOUNT", "STATE", "LAST SUCCESS", "NEXT POLL", "LAST ERROR"});
	for (const auto &a : accounts)
		rows.push_back({ForTerminal(a.name), FormatState(a),
				FormatRelative(a.last_success_us, now_us, "never"),
				FormatRelative(a.next_poll_us, now_us, "-"),
				ForTerminal(a.last_error)});

	std::vector<std::size_t> width(rows.front().size(), 0);
	for (const auto &row : rows)
		for (std::size_t i = 0; i < row.size(); ++i)
			width[i] = std::max(width[i], row[i].size());
	for (const auto &row : rows) {
		std::string line;
		for (std::size_t i = 0; i < row.size(); ++i) {
			line += row[i];
			if (i + 1 < row.size())
				line.append(width[i] - row[i].size() + 2, ' ');
		}
		while (!line.empty() && line.back() == ' ')
			line.pop_back();
		std::printf("%s\n", line.c_str());
	}
	// A refused reload is easy to miss (systemctl reload was long ago, or it was
	// a SIGHUP): the file on disk is not what runs.
	if (refused) {
		std::printf(
		    "\nThe last configuration reload (%s) was refused; the previous "
		    "one keeps running:\n",
		    FormatRelative(reload->first, now_us, "never").c_str());
		std::string_view rest = reload->second;
		while (!rest.empty()) {
			const auto end = rest.find('\n');
			std::printf("  %s\n", ForTerminal(rest.substr(0, end)).c_str());
			rest.remove_prefix(end == std::string_view::npos ? rest.size()
									 : end + 1);
		}
		return ToInt(ExitCode::Config);
	}
	return StatusCode(accounts);
}

int Reload()
{
	const auto bus = Connect();
	ErrorHolder error;
	sd_bus_message *raw = nullptr;
	int r = sd_bus_message_new_method_call(bus.get(), &raw, bus::bus_name,
					       bus::manager_path, bus::manager_interface,
					       "Reload");
	MessagePtr call(raw);
	if (r < 0)
		throw std::system_error(-r, std::generic_category(), "sd-bus");
	// A reload of a daemon that does not run would start it with the new file:
	// not what was asked.
	sd_bus_message_set_auto_start(call.get(), 0);
	raw = nullptr;
	r = sd_bus_call(bus.get(), call.get(), 0, &error.error, &raw);
	MessagePtr reply(raw);
	if (r < 0)
		ThrowCallError(error.error, r);
	std::printf("popstreamd reloaded its configuration\n");
	return ToInt(ExitCode::Ok);
}

/** Runs @p body, turning a ClientError into its line on stderr and its status. */
template <typename F>
int Guard(const std::string &program, F &&body)
{
	try {
		return body();
	} catch (const ClientError &e) {
		PrintLine(program, e.what());
		return ToInt(e.code);
	} catch (const std::exception &e) {
		PrintLine(program, e.what());
		return ToInt(ExitCode::Software);
	}
}

} // namespace

bool FetchAfterLogin(const std::string &account) noexcept
{
	try {
		const auto bus = Connect();
		const auto accounts = GetAccounts(bus.get(), false);
		const bool known =
		    std::any_of(accounts.begin(), accounts.end(),
				[&](const AccountInfo &a) { return a.name == account; });
		if (!known)
			return false;
		Call(bus.get(), bus::AccountPath(account).c_str(), bus::account_interface,
		     "FetchNow");
		return true;
	} catch (...) {
		return false;
	}
}

int RunStatus(const std::string &program, bool json)
{
	return Guard(program, [json] { return Status(json); });
}

int RunReload(const std::string &program)
{
	return Guard(program, [] { return Reload(); });
}

int RunFetch(const std::vector<std::string> &accounts, bool wait,
	     const std::string &program)
{
	return Guard(program, [&] { return Fetch(accounts, wait, program); });
}

} // namespace popstream::cli
