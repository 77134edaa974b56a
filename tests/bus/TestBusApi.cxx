// The D-Bus API of popstreamd (BusService over a fake Controller, in
// popstream-test-busd), driven with busctl, a signal recorder and the CLI client.
#include "BusHarness.hxx"
#include "bus/AccountStatus.hxx"
#include "bus/Api.hxx"
#include "config.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <regex>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace popstream;
using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

// The accounts of most tests. work has fixed times so output can be compared exactly;
// broken-acct fails every fetch; old is disabled.
const std::string accounts =
    "work last_attempt=1699999999000000 "
    "last_success=1700000000000000 "
    "next_poll=1893456000000000 messages=42 bytes=123456\n"
    "my-acct_2 state=4 error=connection refused by mail.example.com\n"
    "broken-acct fail=login rejected: [AUTH] invalid password\n"
    "old state=7\n";

const std::string manager = bus::manager_path;
const std::string work = std::string(bus::account_prefix) + "/work";
const std::string my_acct = std::string(bus::account_prefix) + "/my_2dacct_5f2";
const std::string broken = std::string(bus::account_prefix) + "/broken_2dacct";

std::string Match(const std::string &member, const std::string &path_namespace)
{
	return "type='signal',sender='" + std::string(bus::bus_name) + "',member='" +
	       member + "',path_namespace='" + path_namespace + "'";
}

bool Contains(const std::string &haystack, const std::string &needle)
{
	return haystack.find(needle) != std::string::npos;
}

/** The members of one interface in an introspection document, normalised. */
std::set<std::string> Members(std::string xml, const std::string &interface)
{
	xml = std::regex_replace(xml, std::regex("<!--[\\s\\S]*?-->"), "");
	const auto begin = xml.find("<interface name=\"" + interface + "\"");
	REQUIRE(begin != std::string::npos);
	const auto end = xml.find("</interface>", begin);
	const std::string block = xml.substr(begin, end - begin);

	const std::regex tag(
	    "<(/?)(method|signal|property|arg|annotation)\\b([^>]*?)(/?)>");
	const std::regex attribute("(\\w+)=\"([^\"]*)\"");
	std::set<std::string> members;
	std::string current, args, emits;
	const auto finish = [&] {
		if (current.empty())
			return;
		if (current.rfind("property", 0) == 0)
			current +=
			    " emits=" + (emits.empty() ? std::string("true") : emits);
		else
			current += "(" + args + ")";
		members.insert(current);
		current.clear();
		args.clear();
		emits.clear();
	};
	for (std::sregex_iterator it(block.begin(), block.end(), tag), last; it != last;
	     ++it) {
		const auto &m = *it;
		const std::string kind = m[2], closing = m[1], self_closing = m[4];
		std::map<std::string, std::string> attrs;
		const std::string text = m[3];
		for (std::sregex_iterator a(text.begin(), text.end(), attribute);
		     a != last; ++a)
			attrs[(*a)[1]] = (*a)[2];
		if (!closing.empty()) {
			if (kind != "arg" && kind != "annotation")
				finish();
			continue;
		}
		if (kind == "arg") {
			args +=
			    (args.empty() ? "" : ",") + attrs["type"] + " " +
			    attrs["name"] +
			    (attrs.count("direction") ? " " + attrs["direction"] : "");
		} else if (kind == "annotation") {
			if (attrs["name"] ==
			    "org.freedesktop.DBus.Property.EmitsChangedSignal")
				emits = attrs["value"];
		} else {
			finish();
			current = kind + " " + attrs["name"];
			if (kind == "property")
				current += " " + attrs["type"] + " " + attrs["access"];
			if (!self_closing.empty())
				finish();
		}
	}
	finish();
	return members;
}

/** Runs the `status`/`fetch` client: the real `popstream` binary once the subcommands
 * are wired, else popstream-test-bus-client. */
std::vector<std::vector<std::string>> Clients()
{
	std::vector<std::vector<std::string>> clients{{test_bus_client_path}};
	if (const char *bin = std::getenv("POPSTREAM_BIN")) {
		ProcessOptions probe;
		// `help SUBCOMMAND` complains on stderr about one it does not know.
		probe.argv = {bin, "help", "status"};
		probe.timeout = 10s;
		ProcessResult r;
		try {
			r = Run(probe);
		} catch (const std::exception &) {
		}
		if (r.exit_code == 0 && r.err.empty())
			clients.push_back({bin});
		else
			MESSAGE("`popstream status` is not wired yet; testing the client "
				"through popstream-test-bus-client only");
	}
	return clients;
}

ProcessResult RunClient(const std::vector<std::string> &client,
			const std::vector<std::string> &args)
{
	ProcessOptions options;
	options.argv = client;
	options.argv.insert(options.argv.end(), args.begin(), args.end());
	options.env = {"TZ=UTC"};
	options.timeout = 30s;
	return Run(options);
}

} // namespace

TEST_CASE("bus.api-helpers")
{
	CHECK(bus::ToValidUtf8("plain") == "plain");
	CHECK(bus::ToValidUtf8("gr\xc3\xbc\xc3\x9f") == "gr\xc3\xbc\xc3\x9f");
	// Latin-1, a truncated sequence, an overlong '/', a surrogate, NUL: each bad
	// byte becomes U+FFFD, since D-Bus refuses a message with invalid UTF-8.
	CHECK(bus::ToValidUtf8("caf\xe9") == "caf\xef\xbf\xbd");
	CHECK(bus::ToValidUtf8("\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd");
	CHECK(bus::ToValidUtf8("\xc0\xaf") == "\xef\xbf\xbd\xef\xbf\xbd");
	CHECK(bus::ToValidUtf8("\xed\xa0\x80").size() == 9);
	CHECK(bus::ToValidUtf8(std::string("a\0b", 3)) == "a\xef\xbf\xbd"
							  "b");
	CHECK(bus::ToValidUtf8("\xf0\x9f\x93\xac") == "\xf0\x9f\x93\xac");

	CHECK(std::string(bus::AccountStateName(5)) == "auth-needed");
	CHECK(std::string(bus::AccountStateName(7)) == "disabled");
	CHECK(std::string(bus::AccountStateName(8)) == "queued");
	CHECK(std::string(bus::AccountStateName(9)) == "unknown");
	// The one table of names covers every state the service exports.
	using bus::AccountState;
	const auto name = [](AccountState state) {
		return std::string(
		    bus::AccountStateName(static_cast<std::uint32_t>(state)));
	};
	CHECK(name(AccountState::Unknown) == "unknown");
	CHECK(name(AccountState::Idle) == "idle");
	CHECK(name(AccountState::Connecting) == "connecting");
	CHECK(name(AccountState::Fetching) == "fetching");
	CHECK(name(AccountState::Backoff) == "backoff");
	CHECK(name(AccountState::AuthNeeded) == "auth-needed");
	CHECK(name(AccountState::Error) == "error");
	CHECK(name(AccountState::Disabled) == "disabled");
	CHECK(std::string(bus::ManagerStateName(3)) == "reloading");
	CHECK(std::string(bus::ManagerStateName(99)) == "unknown");
}

TEST_CASE("bus.properties")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	const std::string a = bus::account_interface, m = bus::manager_interface;

	CHECK(GetProperty(manager, m, "Version") == "s \"" POPSTREAM_VERSION "\"");
	CHECK(GetProperty(manager, m, "State") == "u 2"); // running

	CHECK(GetProperty(work, a, "Name") == "s \"work\"");
	CHECK(GetProperty(work, a, "State") == "u 1");
	CHECK(GetProperty(work, a, "LastAttempt") == "t 1699999999000000");
	CHECK(GetProperty(work, a, "LastSuccess") == "t 1700000000000000");
	CHECK(GetProperty(work, a, "NextPoll") == "t 1893456000000000");
	CHECK(GetProperty(work, a, "LastError") == "s \"\"");
	CHECK(GetProperty(work, a, "MessagesFetched") == "t 42");
	CHECK(GetProperty(work, a, "BytesFetched") == "t 123456");
	const auto progress =
	    Busctl({"--json=short", "get-property", bus::bus_name, work, a, "Progress"});
	CHECK(progress.out == "{\"type\":\"(tttt)\",\"data\":[0,0,0,0]}\n");

	CHECK(GetProperty(my_acct, a, "State") == "u 4"); // backoff
	CHECK(GetProperty(my_acct, a, "LastError") ==
	      "s \"connection refused by mail.example.com\"");
	CHECK(GetProperty(my_acct, a, "LastSuccess") == "t 0");
	CHECK(GetProperty(std::string(bus::account_prefix) + "/old", a, "State") ==
	      "u 7");
}

TEST_CASE("bus.path-encoding")
{
	CHECK(bus::AccountPath("my-acct_2") == my_acct);
	CHECK(bus::AccountPath("work") == work);
	CHECK(bus::AccountPath("2nd") == std::string(bus::account_prefix) + "/_32nd");

	TempDir dir;
	TestDaemon daemon(dir, accounts);
	CHECK(GetProperty(my_acct, bus::account_interface, "Name") == "s \"my-acct_2\"");
	const auto tree = Busctl({"tree", "--list", bus::bus_name});
	REQUIRE(tree.exit_code == 0);
	CHECK(Contains(tree.out, my_acct + "\n"));
	CHECK(Contains(tree.out, broken + "\n"));
	// A path that decodes to the same name but is not the canonical encoding is no
	// account object.
	const auto alias = Busctl({"get-property", bus::bus_name,
				   std::string(bus::account_prefix) + "/my_2Dacct_5F2",
				   bus::account_interface, "Name"});
	CHECK(alias.exit_code != 0);
}

TEST_CASE("bus.errors")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	const std::string nope = std::string(bus::account_prefix) + "/nope";

	auto r =
	    Busctl({"call", bus::bus_name, nope, bus::account_interface, "FetchNow"});
	CHECK(r.exit_code != 0);
	CHECK(Contains(r.err,
		       "no account named 'nope' (accounts: broken-acct, my-acct_2, "
		       "old, work)"));

	r = Busctl(
	    {"get-property", bus::bus_name, nope, bus::account_interface, "State"});
	CHECK(r.exit_code != 0);
	CHECK(Contains(r.err, "no account named 'nope'"));

	r = Busctl(
	    {"call", bus::bus_name, work, bus::account_interface, "FetchNow", "s", "x"});
	CHECK(r.exit_code != 0);
	CHECK(Contains(r.err, "Invalid arguments"));

	r = Busctl({"call", bus::bus_name, work, bus::account_interface, "Frobnicate"});
	CHECK(r.exit_code != 0);
	CHECK(Contains(r.err, "Frobnicate"));

	SignalRecorder recorder;
	std::string message;
	CHECK(CallDaemon(recorder.Bus(), nope, bus::account_interface, "FetchNow",
			 &message) == bus::error_unknown_account);
	CHECK(CallDaemon(recorder.Bus(), std::string(bus::account_prefix) + "/old",
			 bus::account_interface, "FetchNow",
			 &message) == bus::error_account_disabled);
	CHECK(message ==
	      "account 'old' is disabled (enabled: false in the configuration)");

	CallTest(recorder.Bus(), "SetManagerState", "u", std::uint32_t{4}); // stopping
	CHECK(CallDaemon(recorder.Bus(), work, bus::account_interface, "FetchNow") ==
	      bus::error_stopping);
	CHECK(CallDaemon(recorder.Bus(), manager, bus::manager_interface, "FetchAll") ==
	      bus::error_stopping);
}

TEST_CASE("bus.introspection-matches-xml")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	const std::string shipped = ReadFile(bus_xml_path);

	const auto account_xml =
	    Busctl({"introspect", "--xml-interface", bus::bus_name, my_acct});
	REQUIRE(account_xml.exit_code == 0);
	const auto expected_account = Members(shipped, bus::account_interface);
	CHECK(expected_account.size() == 16);
	CHECK(Members(account_xml.out, bus::account_interface) == expected_account);
	CHECK(expected_account.count(
		  "signal FetchFinished(t messages,t bytes,s error)") == 1);
	CHECK(expected_account.count("property Name s read emits=const") == 1);
	CHECK(expected_account.count("property Progress (tttt) read emits=true") == 1);

	const auto manager_xml =
	    Busctl({"introspect", "--xml-interface", bus::bus_name, manager});
	REQUIRE(manager_xml.exit_code == 0);
	const auto expected_manager = Members(shipped, bus::manager_interface);
	CHECK(expected_manager.size() == 6);
	CHECK(Members(manager_xml.out, bus::manager_interface) == expected_manager);
	CHECK(Contains(manager_xml.out, "org.freedesktop.DBus.ObjectManager"));
}

TEST_CASE("bus.managed-objects")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	const auto r =
	    Busctl({"--json=short", "call", bus::bus_name, manager,
		    "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"});
	REQUIRE(r.exit_code == 0);
	for (const auto &path :
	     {work, my_acct, broken, std::string(bus::account_prefix) + "/old"})
		CHECK(Contains(r.out, "\"" + path + "\":{"));
	CHECK_FALSE(Contains(r.out, "\"" + manager + "\":{"));
	CHECK(Contains(r.out, "\"Name\":{\"type\":\"s\",\"data\":\"my-acct_2\"}"));
	CHECK(Contains(r.out, "\"MessagesFetched\":{\"type\":\"t\",\"data\":42}"));
	CHECK(Contains(r.out, "\"State\":{\"type\":\"u\",\"data\":7}"));
}

TEST_CASE("bus.interfaces-added-removed")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	SignalRecorder recorder;
	recorder.Match(Match("InterfacesAdded", manager));
	recorder.Match(Match("InterfacesRemoved", manager));
	recorder.Match(Match("PropertiesChanged", manager));

	// Reload: broken-acct and old go, new-one comes, work and my-acct_2 stay.
	daemon.WriteAccounts("work\nmy-acct_2\nnew-one next_poll=5\n");
	const auto r =
	    Busctl({"call", bus::bus_name, manager, bus::manager_interface, "Reload"});
	CHECK(r.exit_code == 0);
	CHECK(r.err.empty());
	// The reply comes after the signals, but on another connection: wait for them.
	REQUIRE(recorder.WaitFor(
	    [&] {
		    return recorder.Named("InterfacesAdded").size() == 1 &&
			   recorder.Named("InterfacesRemoved").size() == 2 &&
			   recorder.Named("PropertiesChanged").size() == 2;
	    },
	    5s));

	const auto added =
	    ParseInterfacesAdded(recorder.Named("InterfacesAdded")[0]->message.get());
	CHECK(added.path == std::string(bus::account_prefix) + "/new_2done");
	REQUIRE(added.interfaces.count(bus::account_interface) == 1);
	const auto &props = added.interfaces.at(bus::account_interface);
	CHECK(props.size() == 14);
	CHECK(props.at("Name") == "s \"new-one\"");
	CHECK(props.at("State") == "u 1");
	CHECK(props.at("NextPoll") == "t 5");
	CHECK(props.at("Progress") == "(tttt) 0 0 0 0");
	CHECK(added.interfaces.count("org.freedesktop.DBus.Properties") == 1);

	std::set<std::string> removed_paths;
	for (const auto *s : recorder.Named("InterfacesRemoved")) {
		const auto [path, interfaces] = ParseInterfacesRemoved(s->message.get());
		removed_paths.insert(path);
		CHECK(std::find(interfaces.begin(), interfaces.end(),
				bus::account_interface) != interfaces.end());
	}
	CHECK(removed_paths ==
	      std::set<std::string>{broken, std::string(bus::account_prefix) + "/old"});

	// The Manager went through reloading (3) and back to running (2).
	std::vector<std::string> states;
	for (const auto *s : recorder.Named("PropertiesChanged"))
		if (s->path == manager)
			states.push_back(
			    ParsePropertiesChanged(s->message.get()).changed["State"]);
	CHECK(states == std::vector<std::string>{"u 3", "u 2"});

	const auto tree = Busctl({"tree", "--list", bus::bus_name});
	CHECK(Contains(tree.out, std::string(bus::account_prefix) + "/new_2done\n"));
	CHECK_FALSE(Contains(tree.out, broken + "\n"));
	CHECK(GetProperty(std::string(bus::account_prefix) + "/new_2done",
			  bus::account_interface, "Name") == "s \"new-one\"");
}

TEST_CASE("bus.reload-invalid-config")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	SignalRecorder recorder;
	recorder.Match(Match("InterfacesRemoved", manager));
	daemon.WriteAccounts("work\n!popstream.yaml:3:5: unknown key 'intervall'\n"
			     "!popstream.yaml:7:1: account 'work' defined twice\n");

	std::string message;
	CHECK(CallDaemon(recorder.Bus(), manager, bus::manager_interface, "Reload",
			 &message) == bus::error_invalid_config);
	CHECK(message ==
	      "the new configuration has errors; the previous one keeps running:\n"
	      "popstream.yaml:3:5: unknown key 'intervall'\n"
	      "popstream.yaml:7:1: account 'work' defined twice");
	const auto r =
	    Busctl({"call", bus::bus_name, manager, bus::manager_interface, "Reload"});
	CHECK(r.exit_code != 0);
	CHECK(Contains(r.err, "unknown key 'intervall'"));

	// Nothing changed.
	recorder.Pump(300ms);
	CHECK(recorder.Named("InterfacesRemoved").empty());
	CHECK(GetProperty(broken, bus::account_interface, "Name") == "s \"broken-acct\"");
	CHECK(GetProperty(manager, bus::manager_interface, "State") == "u 2");
}

TEST_CASE("bus.properties-changed")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	SignalRecorder recorder;
	recorder.Match(Match("PropertiesChanged", manager));

	CallTest(recorder.Bus(), "SetState", "sus", "work", std::uint32_t{5},
		 "login rejected: [AUTH] invalid password");
	REQUIRE(recorder.WaitFor([&] { return recorder.received.size() == 1; }, 5s));
	CHECK(recorder.received[0].path == work);
	const auto pc = ParsePropertiesChanged(recorder.received[0].message.get());
	CHECK(pc.interface == bus::account_interface);
	CHECK(pc.changed ==
	      std::map<std::string, std::string>{
		  {"State", "u 5"},
		  {"LastError", "s \"login rejected: [AUTH] invalid password\""}});
	CHECK(pc.invalidated.empty());

	// A notification that changes nothing sends nothing.
	CallTest(recorder.Bus(), "Touch", "s", "work");
	recorder.Pump(300ms);
	CHECK(recorder.received.size() == 1);

	CallTest(recorder.Bus(), "SetManagerState", "u", std::uint32_t{3});
	REQUIRE(recorder.WaitFor([&] { return recorder.received.size() == 2; }, 5s));
	CHECK(recorder.received[1].path == manager);
	const auto mc = ParsePropertiesChanged(recorder.received[1].message.get());
	CHECK(mc.interface == bus::manager_interface);
	CHECK(mc.changed == std::map<std::string, std::string>{{"State", "u 3"}});
}

TEST_CASE("bus.progress-throttle")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	SignalRecorder recorder;
	recorder.Match(Match("PropertiesChanged", my_acct));

	// 30 updates, 50 ms apart: 1.5 s of progress.
	const auto start = std::chrono::steady_clock::now();
	CallTest(recorder.Bus(), "ProgressBurst", "suu", "my-acct_2", std::uint32_t{30},
		 std::uint32_t{50});
	const auto last_seen = [&] {
		for (const auto &s : recorder.received)
			if (ParsePropertiesChanged(s.message.get()).changed["Progress"] ==
			    "(tttt) 30 30 30000 30000")
				return true;
		return false;
	};
	CHECK(recorder.WaitFor(last_seen, 6s));
	recorder.Pump(1200ms); // nothing may follow the last value

	std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>>
	    progress;
	for (const auto &s : recorder.received) {
		const auto pc = ParsePropertiesChanged(s.message.get());
		if (pc.changed.count("Progress"))
			progress.emplace_back(s.when, pc.changed.at("Progress"));
	}
	MESSAGE("Progress emissions: " << progress.size());
	// First value at once, then at most one per second, and the last one always.
	CHECK(progress.size() >= 2);
	CHECK(progress.size() <= 4);
	REQUIRE_FALSE(progress.empty());
	CHECK(progress.front().second == "(tttt) 1 30 1000 30000");
	CHECK(progress.back().second == "(tttt) 30 30 30000 30000");
	// Held back at most one interval after the burst ended (at 1.45 s), with some
	// slack for a loaded machine.
	CHECK(progress.back().first - start < 3500ms);
	for (std::size_t i = 1; i < progress.size(); ++i)
		CHECK(progress[i].first - progress[i - 1].first > 900ms);
	// Get always has the newest value.
	CHECK(GetProperty(my_acct, bus::account_interface, "Progress") ==
	      "(tttt) 30 30 30000 30000");
}

TEST_CASE("bus.fetch-finished")
{
	TempDir dir;
	// work's fetch takes 1.5 s, so the second FetchNow surely finds it running.
	TestDaemon daemon(dir, std::regex_replace(accounts, std::regex("bytes=123456\n"),
						  "bytes=123456 fetch_ms=1500\n"));
	SignalRecorder recorder;
	recorder.Match(Match("FetchFinished", bus::account_prefix));
	recorder.Match(Match("PropertiesChanged", work));

	const auto r =
	    Busctl({"call", bus::bus_name, work, bus::account_interface, "FetchNow"});
	CHECK(r.exit_code == 0);
	// A second request while the first runs is merged into it.
	CHECK(Busctl({"call", bus::bus_name, work, bus::account_interface, "FetchNow"})
		  .exit_code == 0);
	REQUIRE(recorder.WaitFor([&] { return !recorder.Named("FetchFinished").empty(); },
				 5s));
	const auto *finished = recorder.Named("FetchFinished")[0];
	CHECK(finished->path == work);
	CHECK(finished->interface == bus::account_interface);
	std::uint64_t messages = 0, bytes = 0;
	const char *error = nullptr;
	REQUIRE(sd_bus_message_read(finished->message.get(), "tts", &messages, &bytes,
				    &error) >= 0);
	CHECK(messages == 3);
	CHECK(bytes == 3000);
	CHECK(std::string(error).empty());

	std::vector<std::string> states;
	std::string last_progress;
	bool progress_before_finish = false;
	for (const auto &s : recorder.received) {
		if (s.member != "PropertiesChanged")
			continue;
		const auto pc = ParsePropertiesChanged(s.message.get());
		if (pc.changed.count("State"))
			states.push_back(pc.changed.at("State"));
		if (pc.changed.count("Progress")) {
			last_progress = pc.changed.at("Progress");
			progress_before_finish = s.when <= finished->when;
		}
	}
	CHECK(states == std::vector<std::string>{"u 2", "u 3", "u 1"});
	CHECK(last_progress == "(tttt) 0 0 0 0");
	CHECK(progress_before_finish);
	CHECK(GetProperty(work, bus::account_interface, "MessagesFetched") == "t 45");

	recorder.Pump(500ms);
	CHECK(recorder.Named("FetchFinished").size() == 1);

	CHECK(Busctl({"call", bus::bus_name, broken, bus::account_interface, "FetchNow"})
		  .exit_code == 0);
	REQUIRE(recorder.WaitFor(
	    [&] { return recorder.Named("FetchFinished").size() == 2; }, 5s));
	const auto *failed = recorder.Named("FetchFinished")[1];
	CHECK(failed->path == broken);
	REQUIRE(sd_bus_message_read(failed->message.get(), "tts", &messages, &bytes,
				    &error) >= 0);
	CHECK(messages == 0);
	CHECK(std::string(error) == "login rejected: [AUTH] invalid password");
}

TEST_CASE("bus.busctl-monitor")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	// busctl monitor writes to a file, so the test can read it while it runs.
	const std::string out = dir / "monitor.json";
	WriteFile(out, "");
	ProcessOptions options;
	options.argv = {"sh", "-c",
			"exec busctl --user --json=short monitor "
			"--match=\"type='signal',interface='io.github.popstream.Test'\" "
			"--match=\"type='signal',member='FetchFinished'\" >'" +
			    out + "'"};
	options.timeout = 30s;
	Child monitor(options);

	// The monitor is listening once it shows a Marker.
	SignalRecorder recorder;
	bool listening = false;
	for (int i = 0; i < 200 && !listening; ++i) {
		CallTest(recorder.Bus(), "EmitMarker");
		std::this_thread::sleep_for(50ms);
		listening = Contains(ReadFile(out), "\"member\":\"Marker\"");
	}
	REQUIRE(listening);

	REQUIRE(
	    Busctl({"call", bus::bus_name, my_acct, bus::account_interface, "FetchNow"})
		.exit_code == 0);
	bool seen = false;
	for (int i = 0; i < 100 && !seen; ++i) {
		std::this_thread::sleep_for(50ms);
		seen = Contains(ReadFile(out), "\"member\":\"FetchFinished\"");
	}
	monitor.Signal(SIGTERM);
	monitor.Wait();
	const std::string log = ReadFile(out);
	REQUIRE(seen);
	CHECK(Contains(log, "\"path\":\"" + my_acct + "\""));
	CHECK(Contains(log, "\"interface\":\"io.github.popstream.Popstream1.Account\""));
	CHECK(Contains(log, "\"payload\":{\"type\":\"tts\",\"data\":[3,3000,\"\"]}"));
}

TEST_CASE("bus.second-daemon-fails")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	ProcessOptions options;
	options.argv = {test_busd_path, dir / "accounts"};
	options.timeout = 20s;
	const auto r = Run(options);
	CHECK(r.exit_code == 75);
	CHECK(Contains(r.err, "the D-Bus name io.github.popstream.Popstream1 is owned by "
			      "another process: is popstreamd already running?"));
	// The first one still answers.
	CHECK(GetProperty(manager, bus::manager_interface, "State") == "u 2");
}

TEST_CASE("bus.idle-cpu")
{
	TempDir dir;
	TestDaemon daemon(dir, accounts);
	// Some traffic first, so that every watcher has been armed at least once.
	REQUIRE(Busctl({"call", bus::bus_name, work, bus::account_interface, "FetchNow"})
		    .exit_code == 0);
	std::this_thread::sleep_for(600ms);
	const unsigned long before = CpuTicks(daemon.Pid());
	std::this_thread::sleep_for(1s);
	const unsigned long ticks = CpuTicks(daemon.Pid()) - before;
	MESSAGE("CPU ticks of the idle daemon over 1 s: " << ticks);
	CHECK(ticks <= 2); // 20 ms; a spinning loop would use ~100
}

TEST_CASE("bus.activation")
{
	// The shipped service file, with Exec= pointed at the test daemon, started by a
	// bus of our own when a busctl call names the bus name. When that bus goes
	// away, the daemon notices and exits.
	TempDir dir;
	WriteFile(dir / "accounts", accounts);
	const std::string service = ReadFile(bus_service_file_path);
	CHECK(Contains(service, "\nName=io.github.popstream.Popstream1\n"));
	CHECK(Contains(service, "\nSystemdService=popstream.service\n"));
	CHECK(std::regex_search(service, std::regex("\nExec=/[^\n]*/popstreamd\n")));

	const std::string services = dir / "services";
	REQUIRE(mkdir(services.c_str(), 0755) == 0);
	const std::string pid_file = dir / "pid";
	// In a regex_replace format "$$" is one "$": the shell sees "echo $$".
	WriteFile(services + "/io.github.popstream.Popstream1.service",
		  std::regex_replace(service, std::regex("\nExec=[^\n]*\n"),
				     "\nExec=/bin/sh -c 'echo $$$$ >" + pid_file +
					 "; exec " + test_busd_path + " " +
					 dir / "accounts" + "'\n"));
	WriteFile(
	    dir / "session.conf",
	    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
	    "1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/"
	    "busconfig.dtd\">\n"
	    "<busconfig><type>session</type><listen>unix:tmpdir=" +
		dir.Path() + "</listen><servicedir>" + services +
		"</servicedir><policy context=\"default\"><allow "
		"send_destination=\"*\" eavesdrop=\"true\"/><allow "
		"eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n");

	ProcessOptions options;
	options.argv = {"dbus-run-session",
			"--config-file=" + dir / "session.conf",
			"--",
			"busctl",
			"--user",
			"get-property",
			bus::bus_name,
			manager,
			bus::manager_interface,
			"Version"};
	options.timeout = 30s;
	const auto r = Run(options);
	CHECK(r.exit_code == 0);
	CHECK(r.out == "s \"" POPSTREAM_VERSION "\"\n");
	INFO(r.err);

	const pid_t pid = std::stoi(ReadFile(pid_file));
	bool exited = false;
	for (int i = 0; i < 100 && !exited; ++i) {
		std::this_thread::sleep_for(50ms);
		exited = kill(pid, 0) != 0;
	}
	CHECK(exited);
}

TEST_CASE("cli.status")
{
	for (const auto &client : Clients()) {
		INFO(client[0]);
		// No daemon yet and none activatable on this bus: status starts none.
		auto r = RunClient(client, {"status"});
		CHECK(r.exit_code == 69);
		CHECK(r.out.empty());
		CHECK(r.err == "popstream: popstreamd is not running (start it with "
			       "'systemctl --user start popstream'; 'popstream fetch' "
			       "starts it too)\n");

		TempDir dir;
		TestDaemon daemon(dir, accounts + "today last_success=now\nu10\nu2\n");
		r = RunClient(client, {"status"});
		CHECK(r.exit_code == 0);
		CHECK(r.err.empty());
		// Times relative to now; u2 before u10.
		const std::regex expected(
		    "ACCOUNT +STATE +LAST SUCCESS +NEXT POLL +LAST ERROR\n"
		    "broken-acct +idle +never +-\n"
		    "my-acct_2 +backoff +never +- +connection refused by "
		    "mail.example.com\n"
		    "old +disabled +never +-\n"
		    "today +idle +now +-\n"
		    "u2 +idle +never +-\n"
		    "u10 +idle +never +-\n"
		    "work +idle +[0-9]+ days ago +in [0-9]+ days\n");
		CHECK(std::regex_match(r.out, expected));
		INFO(r.out);

		// An account waiting for a new password makes status fail (77), one in
		// error more so (78): a script or a status bar can tell.
		daemon.WriteAccounts(accounts + "locked state=5\n");
		CHECK(RunClient(client, {"reload"}).exit_code == 0);
		CHECK(RunClient(client, {"status"}).exit_code == 77);
		daemon.WriteAccounts(accounts + "locked state=5\nbroken state=6\n");
		CHECK(RunClient(client, {"reload"}).exit_code == 0);
		r = RunClient(client, {"status", "--json"});
		CHECK(r.exit_code == 78);
		INFO(r.out);
		CHECK(Contains(r.out, "\"name\": \"locked\""));
		CHECK(Contains(r.out, "\"state\": \"auth-needed\""));
		CHECK(Contains(r.out, "\"state\": \"error\""));
		CHECK(Contains(r.out, "\"next_poll\": 1893456000"));
		CHECK(Contains(r.out, "\"last_success\": null"));
		CHECK(Contains(r.out, "\"messages_fetched\": 42"));
		CHECK(Contains(r.out, "\"last_error_class\": \"\""));
		CHECK(r.out.starts_with("[\n"));
	}
}

TEST_CASE("cli.reload")
{
	for (const auto &client : Clients()) {
		INFO(client[0]);
		auto r = RunClient(client, {"reload"});
		CHECK(r.exit_code == 69);
		CHECK(Contains(r.err, "popstreamd is not running"));

		TempDir dir;
		TestDaemon daemon(dir, accounts);
		daemon.WriteAccounts(accounts + "new-one\n");
		r = RunClient(client, {"reload"});
		CHECK(r.exit_code == 0);
		CHECK(r.out == "popstreamd reloaded its configuration\n");
		CHECK(GetProperty(bus::AccountPath("new-one"), bus::account_interface,
				  "Name") == "s \"new-one\"");

		// A bad configuration: refused, each problem on a line, the old one
		// running on.
		daemon.WriteAccounts(
		    "work\n!popstream.yaml:3:5: unknown key 'intervall'\n"
		    "!popstream.yaml:7:1: account 'work' defined twice\n");
		r = RunClient(client, {"reload"});
		CHECK(r.exit_code == 78);
		CHECK(r.out.empty());
		CHECK(r.err ==
		      "popstream: the new configuration has errors; the previous "
		      "one keeps running:\n"
		      "popstream.yaml:3:5: unknown key 'intervall'\n"
		      "popstream.yaml:7:1: account 'work' defined twice\n");
		CHECK(GetProperty(bus::AccountPath("new-one"), bus::account_interface,
				  "Name") == "s \"new-one\"");
		// status tells long after: the file on disk is not what runs.
		r = RunClient(client, {"status"});
		CHECK(r.exit_code == 78);
		CHECK(Contains(r.out,
			       "\nThe last configuration reload (now) was refused; "
			       "the previous one keeps running:\n"
			       "  popstream.yaml:3:5: unknown key 'intervall'\n"
			       "  popstream.yaml:7:1: account 'work' defined twice\n"));
		const auto reload_error =
		    GetProperty(manager, bus::manager_interface, "LastReloadError");
		INFO(reload_error);
		CHECK(Contains(reload_error, "unknown key"));
	}
}

TEST_CASE("cli.fetch")
{
	for (const auto &client : Clients()) {
		INFO(client[0]);
		auto r = RunClient(client, {"fetch", "work"});
		CHECK(r.exit_code == 69);
		CHECK(Contains(r.err, "popstreamd is not running, and D-Bus activation "
				      "could not start it: "));

		TempDir dir;
		TestDaemon daemon(dir, accounts + "slow fetch_ms=60000\n");

		r = RunClient(client, {"fetch", "--wait", "work"});
		CHECK(r.exit_code == 0);
		CHECK(r.out == "work: 3 messages, 3000 bytes\n");
		CHECK(r.err.empty());

		r = RunClient(client, {"fetch", "--wait", "broken-acct", "my-acct_2"});
		CHECK(r.exit_code == 75);
		CHECK(r.out == "my-acct_2: 3 messages, 3000 bytes\n");
		CHECK(
		    r.err ==
		    "popstream: broken-acct: login rejected: [AUTH] invalid password\n");

		r = RunClient(client, {"fetch", "--wait", "work", "nope"});
		CHECK(r.exit_code == 64);
		CHECK(r.err ==
		      "popstream: no account named 'nope' (accounts: broken-acct, "
		      "my-acct_2, old, slow, work)\n");

		r = RunClient(client, {"fetch", "old"});
		CHECK(r.exit_code == 78);
		CHECK(r.err ==
		      "popstream: account 'old' is disabled (enabled: false in the "
		      "configuration)\n");

		// Without --wait it returns once the fetch is queued.
		const auto start = std::chrono::steady_clock::now();
		r = RunClient(client, {"fetch", "slow"});
		CHECK(r.exit_code == 0);
		CHECK(r.out.empty());
		CHECK(std::chrono::steady_clock::now() - start < 5s);
		CHECK(GetProperty(std::string(bus::account_prefix) + "/slow",
				  bus::account_interface, "State") == "u 2");
	}
}

TEST_CASE("cli.fetch-all")
{
	for (const auto &client : Clients()) {
		INFO(client[0]);
		TempDir dir;
		TestDaemon daemon(dir, accounts);
		// All but old (disabled); broken-acct fails.
		auto r = RunClient(client, {"fetch", "--wait"});
		CHECK(r.exit_code == 75);
		CHECK(Contains(r.out, "work: 3 messages, 3000 bytes\n"));
		CHECK(Contains(r.out, "my-acct_2: 3 messages, 3000 bytes\n"));
		CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 2);
		CHECK(
		    r.err ==
		    "popstream: broken-acct: login rejected: [AUTH] invalid password\n");

		daemon.WriteAccounts("work\nmy-acct_2\n");
		REQUIRE(Busctl({"call", bus::bus_name, manager, bus::manager_interface,
				"Reload"})
			    .exit_code == 0);
		r = RunClient(client, {"fetch", "--wait"});
		CHECK(r.exit_code == 0);
		CHECK(r.err.empty());
	}
}

TEST_CASE("cli.fetch-daemon-exits")
{
	for (const auto &client : Clients()) {
		INFO(client[0]);
		TempDir dir;
		TestDaemon daemon(dir, "slow fetch_ms=60000\n");
		ProcessOptions options;
		options.argv = client;
		options.argv.insert(options.argv.end(), {"fetch", "--wait", "slow"});
		options.timeout = 30s;
		Child waiting(options);
		// Let it subscribe and trigger, then crash the daemon.
		for (int i = 0; i < 100; ++i) {
			std::this_thread::sleep_for(50ms);
			if (GetProperty(std::string(bus::account_prefix) + "/slow",
					bus::account_interface, "State") != "u 1")
				break;
		}
		daemon.Kill();
		const auto r = waiting.Wait();
		CHECK(r.exit_code == 69);
		CHECK(
		    r.err ==
		    "popstream: popstreamd exited before these fetches finished: slow\n");
	}
}
