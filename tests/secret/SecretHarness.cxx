#include "SecretHarness.hxx"

#include <systemd/sd-bus.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace popstream::test {

const char *const goa_stand_in_path = POPSTREAM_TEST_GOA;

void RequireProgram(const std::string &path, const char *package)
{
	if (!path.empty())
		return;
	std::printf("SKIP: install %s to run this test\n", package);
	std::fflush(stdout);
	std::_Exit(77);
}

std::string GnomeKeyringDaemon()
{
	RequireProgram(POPSTREAM_GNOME_KEYRING_DAEMON, "gnome-keyring");
	return POPSTREAM_GNOME_KEYRING_DAEMON;
}

std::string SecretTool()
{
	RequireProgram(POPSTREAM_SECRET_TOOL, "libsecret-tools");
	return POPSTREAM_SECRET_TOOL;
}

bool WaitForName(const char *name, std::chrono::milliseconds timeout)
{
	sd_bus *bus = nullptr;
	if (sd_bus_open_user(&bus) < 0)
		throw std::runtime_error("the test has no session bus");
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	bool owned = false;
	while (!owned && std::chrono::steady_clock::now() < deadline) {
		sd_bus_error error = SD_BUS_ERROR_NULL;
		sd_bus_message *reply = nullptr;
		int has = 0;
		if (sd_bus_call_method(bus, "org.freedesktop.DBus",
				       "/org/freedesktop/DBus", "org.freedesktop.DBus",
				       "NameHasOwner", &error, &reply, "s", name) >= 0 &&
		    sd_bus_message_read(reply, "b", &has) >= 0)
			owned = has != 0;
		sd_bus_message_unref(reply);
		sd_bus_error_free(&error);
		if (!owned)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	sd_bus_flush_close_unref(bus);
	return owned;
}

Keyring::Keyring(const TempDir &home, bool unlock)
{
	const std::string daemon = GnomeKeyringDaemon();
	// Its keyrings, its control socket and its configuration all in the test's
	// directory: never the user's.
	env = {"HOME=" + home.Path(), "XDG_DATA_HOME=" + home / "data",
	       "XDG_CONFIG_HOME=" + home / "config", "XDG_CACHE_HOME=" + home / "cache",
	       "XDG_RUNTIME_DIR=" + home.Path()};
	ProcessOptions options;
	options.argv = {daemon, "--foreground", "--components=secrets"};
	if (unlock) {
		// --unlock reads the login keyring's password from stdin and creates the
		// keyring with it if there is none, as PAM does at a desktop login.
		options.argv.push_back("--unlock");
		options.input = "keyring-password-of-the-test";
	}
	options.env = env;
	options.timeout = std::chrono::minutes(2);
	child_ = std::make_unique<Child>(options);
	if (!WaitForName("org.freedesktop.secrets", std::chrono::seconds(10))) {
		const auto result = Stop();
		throw std::runtime_error("gnome-keyring-daemon did not take "
					 "org.freedesktop.secrets within 10 s: " +
					 result.err);
	}
}

Keyring::~Keyring()
{
	if (child_)
		Stop();
}

ProcessResult Keyring::Stop()
{
	if (!child_)
		return {};
	child_->Signal(SIGTERM);
	auto result = child_->Wait();
	child_.reset();
	return result;
}

ProcessResult RunSecretTool(const std::vector<std::string> &args,
			    const std::string &input)
{
	ProcessOptions options;
	options.argv = {SecretTool()};
	options.argv.insert(options.argv.end(), args.begin(), args.end());
	options.input = input;
	options.timeout = std::chrono::seconds(10);
	return Run(options);
}

StandIn::StandIn(const std::string &silent_name)
{
	if (silent_name.empty())
		Start({}, "org.gnome.OnlineAccounts");
	else
		Start({"--silent", silent_name}, silent_name);
}

StandIn::StandIn(const TokenFile &file)
{
	Start({"--token-file", file.path}, "org.gnome.OnlineAccounts");
}

void StandIn::Start(std::vector<std::string> args, const std::string &name)
{
	ProcessOptions options;
	options.argv = {goa_stand_in_path};
	options.argv.insert(options.argv.end(), args.begin(), args.end());
	options.timeout = std::chrono::minutes(2);
	child_ = std::make_unique<Child>(options);
	if (!WaitForName(name.c_str(), std::chrono::seconds(10))) {
		child_->Signal(SIGKILL);
		const auto result = child_->Wait();
		throw std::runtime_error("popstream-test-goa did not take " + name +
					 ": " + result.err);
	}
}

StandIn::~StandIn()
{
	child_->Signal(SIGTERM);
	child_->Wait();
}

} // namespace popstream::test
