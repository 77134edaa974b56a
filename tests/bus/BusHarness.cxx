#include "BusHarness.hxx"

#include "bus/Api.hxx"
#include "bus/SdBusUv.hxx"

#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace popstream::test {

const char *const test_busd_path = POPSTREAM_TEST_BUSD;
const char *const test_bus_client_path = POPSTREAM_TEST_BUS_CLIENT;
const char *const bus_xml_path = POPSTREAM_BUS_XML;
const char *const bus_service_file_path = POPSTREAM_BUS_SERVICE_FILE;

ProcessResult Busctl(const std::vector<std::string> &args)
{
	ProcessOptions options;
	options.argv = {"busctl", "--user"};
	options.argv.insert(options.argv.end(), args.begin(), args.end());
	options.timeout = std::chrono::seconds(30);
	return Run(options);
}

std::string GetProperty(const std::string &path, const std::string &interface,
			const std::string &property)
{
	const auto r = Busctl({"get-property", bus::bus_name, path, interface, property});
	if (r.exit_code != 0)
		throw std::runtime_error("busctl get-property " + property + ": " +
					 r.err);
	std::string out = r.out;
	while (!out.empty() && out.back() == '\n')
		out.pop_back();
	return out;
}

bool NameHasOwner()
{
	const auto bus = bus::OpenUserBus("test");
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = nullptr;
	const int r = sd_bus_call_method(
	    bus.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus",
	    "org.freedesktop.DBus", "NameHasOwner", &error, &reply, "s", bus::bus_name);
	sd_bus_error_free(&error);
	MessagePtr owned(reply);
	int has = 0;
	if (r < 0 || sd_bus_message_read(reply, "b", &has) < 0)
		throw std::runtime_error("NameHasOwner failed");
	return has != 0;
}

TestDaemon::TestDaemon(const TempDir &dir, const std::string &accounts,
		       std::vector<std::string> env)
    : file_(dir / "accounts")
{
	WriteAccounts(accounts);
	ProcessOptions options;
	options.argv = {test_busd_path, file_};
	options.env = std::move(env);
	options.timeout = std::chrono::minutes(2);
	child_ = std::make_unique<Child>(options);
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (!NameHasOwner()) {
		if (std::chrono::steady_clock::now() > deadline) {
			const auto result = Kill();
			throw std::runtime_error(
			    "the test daemon did not take the bus name: " + result.err);
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	// One round trip through the daemon's loop: the reply comes after everything it
	// emitted while starting (State = running), so a SignalRecorder created next
	// does not catch the tail of the start-up.
	const auto bus = bus::OpenUserBus("test");
	sd_bus_error error = SD_BUS_ERROR_NULL;
	const int r =
	    sd_bus_call_method(bus.get(), bus::bus_name, bus::manager_path,
			       "org.freedesktop.DBus.Peer", "Ping", &error, nullptr, "");
	sd_bus_error_free(&error);
	if (r < 0)
		throw std::runtime_error("the test daemon does not answer Ping");
}

TestDaemon::~TestDaemon()
{
	if (child_ && child_->Pid() > 0)
		Stop();
}

void TestDaemon::WriteAccounts(const std::string &accounts) const
{
	WriteFile(file_, accounts);
}

ProcessResult TestDaemon::Stop()
{
	child_->Signal(SIGTERM);
	return child_->Wait();
}

ProcessResult TestDaemon::Kill()
{
	child_->Signal(SIGKILL);
	return child_->Wait();
}

unsigned long CpuTicks(pid_t pid)
{
	std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
	std::string stat((std::istreambuf_iterator<char>(in)),
			 std::istreambuf_iterator<char>());
	// The command name (field 2) may contain blanks; the fields after it do not.
	std::istringstream fields(stat.substr(stat.rfind(')') + 2));
	std::vector<std::string> f;
	for (std::string word; fields >> word;)
		f.push_back(word);
	if (f.size() < 13)
		throw std::runtime_error("cannot parse /proc/PID/stat");
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	return std::stoul(f[11]) + std::stoul(f[12]);
}

SignalRecorder::SignalRecorder()
{
	bus_ = bus::OpenUserBus("recorder").release();
}

SignalRecorder::~SignalRecorder()
{
	for (auto *slot : slots_)
		sd_bus_slot_unref(slot);
	sd_bus_flush_close_unref(bus_);
}

void SignalRecorder::Match(const std::string &rule)
{
	sd_bus_slot *slot = nullptr;
	const int r = sd_bus_add_match(bus_, &slot, rule.c_str(), OnSignal, this);
	if (r < 0)
		throw std::system_error(-r, std::generic_category(), "AddMatch " + rule);
	slots_.push_back(slot);
}

int SignalRecorder::OnSignal(sd_bus_message *m, void *userdata, sd_bus_error *) noexcept
{
	auto &self = *static_cast<SignalRecorder *>(userdata);
	const auto text = [](const char *s) {
		return std::string(s != nullptr ? s : "");
	};
	self.received.push_back(
	    {text(sd_bus_message_get_path(m)), text(sd_bus_message_get_interface(m)),
	     text(sd_bus_message_get_member(m)), std::chrono::steady_clock::now(),
	     MessagePtr(sd_bus_message_ref(m))});
	return 0;
}

bool SignalRecorder::WaitFor(const std::function<bool()> &done,
			     std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	while (!done()) {
		const int r = sd_bus_process(bus_, nullptr);
		if (r < 0)
			throw std::system_error(-r, std::generic_category(),
						"sd_bus_process");
		if (r > 0)
			continue;
		const auto left = deadline - std::chrono::steady_clock::now();
		if (left <= std::chrono::steady_clock::duration::zero())
			return done();
		sd_bus_wait(
		    bus_, static_cast<std::uint64_t>(
			      std::chrono::duration_cast<std::chrono::microseconds>(left)
				  .count()));
	}
	return true;
}

void SignalRecorder::Pump(std::chrono::milliseconds duration)
{
	WaitFor([] { return false; }, duration);
}

std::vector<const ReceivedSignal *> SignalRecorder::Named(const std::string &member) const
{
	std::vector<const ReceivedSignal *> v;
	for (const auto &s : received)
		if (s.member == member)
			v.push_back(&s);
	return v;
}

void CallTest(sd_bus *bus, const char *method, const char *signature, ...)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = nullptr;
	va_list ap;
	va_start(ap, signature);
	const int r = sd_bus_call_methodv(bus, bus::bus_name, "/io/github/popstream/Test",
					  "io.github.popstream.Test", method, &error,
					  &reply, signature, ap);
	va_end(ap);
	sd_bus_message_unref(reply);
	if (r < 0) {
		const std::string message =
		    error.message != nullptr ? error.message : "?";
		sd_bus_error_free(&error);
		throw std::runtime_error(std::string("Test.") + method + ": " + message);
	}
}

std::string CallDaemon(sd_bus *bus, const std::string &path, const char *interface,
		       const char *method, std::string *message)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = nullptr;
	const int r = sd_bus_call_method(bus, bus::bus_name, path.c_str(), interface,
					 method, &error, &reply, "");
	sd_bus_message_unref(reply);
	std::string name;
	if (r < 0) {
		name = error.name != nullptr ? error.name : "?";
		if (message != nullptr)
			*message = error.message != nullptr ? error.message : "";
	}
	sd_bus_error_free(&error);
	return name;
}

std::string ReadVariantText(sd_bus_message *m)
{
	const char *contents = nullptr;
	if (sd_bus_message_peek_type(m, nullptr, &contents) < 0 || contents == nullptr)
		throw std::runtime_error("not a variant");
	const std::string type = contents;
	std::string text;
	if (type == "s") {
		const char *s = nullptr;
		sd_bus_message_read(m, "v", "s", &s);
		text = "s \"" + std::string(s) + "\"";
	} else if (type == "u") {
		std::uint32_t u = 0;
		sd_bus_message_read(m, "v", "u", &u);
		text = "u " + std::to_string(u);
	} else if (type == "t") {
		std::uint64_t t = 0;
		sd_bus_message_read(m, "v", "t", &t);
		text = "t " + std::to_string(t);
	} else if (type == "(tttt)") {
		std::uint64_t a = 0, b = 0, c = 0, d = 0;
		sd_bus_message_read(m, "v", "(tttt)", &a, &b, &c, &d);
		text = "(tttt) " + std::to_string(a) + " " + std::to_string(b) + " " +
		       std::to_string(c) + " " + std::to_string(d);
	} else {
		sd_bus_message_skip(m, "v");
		text = "? " + type;
	}
	return text;
}

namespace {

std::map<std::string, std::string> ReadProperties(sd_bus_message *m)
{
	std::map<std::string, std::string> props;
	sd_bus_message_enter_container(m, 'a', "{sv}");
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		const char *name = nullptr;
		sd_bus_message_read(m, "s", &name);
		const std::string key = name;
		props[key] = ReadVariantText(m);
		sd_bus_message_exit_container(m);
	}
	sd_bus_message_exit_container(m);
	return props;
}

} // namespace

PropertiesChanged ParsePropertiesChanged(sd_bus_message *m)
{
	sd_bus_message_rewind(m, 1);
	PropertiesChanged pc;
	const char *interface = nullptr;
	sd_bus_message_read(m, "s", &interface);
	pc.interface = interface;
	pc.changed = ReadProperties(m);
	char **invalidated = nullptr;
	sd_bus_message_read_strv(m, &invalidated);
	for (char **p = invalidated; p != nullptr && *p != nullptr; ++p) {
		pc.invalidated.emplace_back(*p);
		free(*p);
	}
	free(invalidated);
	return pc;
}

InterfacesAdded ParseInterfacesAdded(sd_bus_message *m)
{
	sd_bus_message_rewind(m, 1);
	InterfacesAdded added;
	const char *path = nullptr;
	sd_bus_message_read(m, "o", &path);
	added.path = path;
	sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
	while (sd_bus_message_enter_container(m, 'e', "sa{sv}") > 0) {
		const char *interface = nullptr;
		sd_bus_message_read(m, "s", &interface);
		const std::string key = interface;
		added.interfaces[key] = ReadProperties(m);
		sd_bus_message_exit_container(m);
	}
	sd_bus_message_exit_container(m);
	return added;
}

std::pair<std::string, std::vector<std::string>> ParseInterfacesRemoved(sd_bus_message *m)
{
	sd_bus_message_rewind(m, 1);
	const char *path = nullptr;
	sd_bus_message_read(m, "o", &path);
	std::pair<std::string, std::vector<std::string>> removed{path, {}};
	char **interfaces = nullptr;
	sd_bus_message_read_strv(m, &interfaces);
	for (char **p = interfaces; p != nullptr && *p != nullptr; ++p) {
		removed.second.emplace_back(*p);
		free(*p);
	}
	free(interfaces);
	return removed;
}

} // namespace popstream::test
