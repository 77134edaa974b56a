// popstreamd end to end: a real Dovecot (tests/support/dovecot-harness), a real session
// bus (this executable runs under dbus-run-session, see meson.build) and busctl.
// Three accounts: alice (cleartext) and bob (implicit TLS) are healthy, carol's netrc
// password is wrong.
#include "../integration/DovecotServer.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <set>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace popstream::test;
using namespace std::chrono_literals;

namespace {

const std::string bus_name = "io.github.popstream.Popstream1";
const std::string account_interface = "io.github.popstream.Popstream1.Account";
const std::string root_path = "/io/github/popstream/Popstream1";

/** Waits until @p ready returns true, checking every 50 ms, for at most @p limit. */
bool WaitFor(const std::function<bool()> &ready, std::chrono::milliseconds limit = 60s)
{
	const auto deadline = std::chrono::steady_clock::now() + limit;
	while (std::chrono::steady_clock::now() < deadline) {
		if (ready())
			return true;
		std::this_thread::sleep_for(50ms);
	}
	return ready();
}

ProcessResult Busctl(const std::vector<std::string> &args)
{
	ProcessOptions options;
	options.argv = {"busctl", "--user"};
	options.argv.insert(options.argv.end(), args.begin(), args.end());
	options.timeout = 30s;
	return Run(options);
}

/** @return busctl's text for a property of an account, e.g. "u 1" or "t 40" */
std::string AccountProperty(const std::string &account, const std::string &property)
{
	const auto r =
	    Busctl({"get-property", bus_name, root_path + "/account/" + account,
		    account_interface, property});
	std::string out = r.out;
	while (!out.empty() && out.back() == '\n')
		out.pop_back();
	return r.exit_code == 0 ? out : "error: " + r.err;
}

std::size_t CountFiles(const std::string &dir)
{
	return ListDir(dir).size();
}

/** The hashes of every message Dovecot still holds for a user (new/ and cur/). */
std::multiset<std::string> ServerHashes(const std::string &maildir)
{
	std::multiset<std::string> hashes;
	for (const char *sub : {"/new", "/cur"})
		for (const auto &name : ListDir(maildir + sub))
			hashes.insert(Sha256Hex(ReadFile(maildir + sub + "/" + name)));
	return hashes;
}

std::multiset<std::string> FetchedHashes(const std::string &maildir)
{
	std::multiset<std::string> hashes;
	for (const auto &content : ReadAllFiles(maildir + "/new"))
		hashes.insert(Sha256Hex(content));
	return hashes;
}

std::string MakeDir(const std::string &path)
{
	REQUIRE(mkdir(path.c_str(), 0755) == 0);
	return path;
}

/** A throwaway Dovecot with three users, a HOME with netrc and config, and popstreamd. */
class Fixture {
public:
	TempDir dir{0755};
	DovecotServer dovecot{MakeDir(dir / "dovecot"),
			      {"alice:s3cret", "bob:b0b", "carol:c4rol"}};
	std::string home = dir / "home";
	std::string config = dir / "home/config.yaml";
	std::unique_ptr<Child> daemon;

	Fixture()
	{
		REQUIRE(mkdir(home.c_str(), 0700) == 0);
		const auto p = std::to_string(dovecot.pop3_port);
		const auto ps = std::to_string(dovecot.pop3s_port);
		WriteFile(home + "/.netrc",
			  "machine alice@127.0.0.1:" + p + " password s3cret\n" +
			      "machine bob@127.0.0.1:" + ps + " password b0b\n" +
			      "machine carol@127.0.0.1:" + p + " password wrong\n",
			  0600);
		WriteConfig({"alice", "bob", "carol"});
	}

	~Fixture()
	{
		if (daemon) {
			daemon->Signal(SIGKILL);
			daemon->Wait();
		}
	}

	std::string Maildir(const std::string &account) const
	{
		return home + "/Mail/" + account;
	}

	void WriteConfig(const std::vector<std::string> &accounts,
			 const std::string &extra = "")
	{
		const auto p = std::to_string(dovecot.pop3_port);
		const auto ps = std::to_string(dovecot.pop3s_port);
		std::string yaml =
		    "defaults:\n  interval: 1h\n  timeout: 30s\n" + extra + "accounts:\n";
		for (const auto &a : accounts) {
			yaml += "  - name: " + a + "\n    maildir: " + Maildir(a) + "\n";
			if (a == "bob")
				yaml += "    host: 127.0.0.1\n    port: " + ps +
					"\n    tls: implicit\n    sni: pop.example.com\n"
					"    user: bob\n    ca_file: " +
					dovecot.ca_file + "\n";
			else
				yaml += "    server: tcp:" + a + "@127.0.0.1:" + p + "\n";
		}
		WriteFile(config, yaml, 0600);
	}

	void Start(const std::vector<std::string> &extra_env = {})
	{
		ProcessOptions options;
		options.argv = {RequireEnv("POPSTREAMD_BIN"), "--config", config};
		options.env = {"HOME=" + home, "NOTIFY_SOCKET", "JOURNAL_STREAM",
			       "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
		options.env.insert(options.env.end(), extra_env.begin(), extra_env.end());
		options.timeout = 120s;
		daemon = std::make_unique<Child>(options);
		REQUIRE(WaitFor(
		    [] {
			    return Busctl({"status", bus_name}).exit_code == 0;
		    },
		    20s));
	}

	ProcessResult Stop(int signum = SIGTERM)
	{
		daemon->Signal(signum);
		auto r = daemon->Wait();
		daemon.reset();
		return r;
	}

	ProcessResult Popstream(const std::vector<std::string> &args)
	{
		ProcessOptions options;
		options.argv = {RequireEnv("POPSTREAM_BIN")};
		options.argv.insert(options.argv.end(), args.begin(), args.end());
		options.env = {"HOME=" + home, "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
		options.timeout = 60s;
		return Run(options);
	}
};

} // namespace

TEST_CASE("start-up fetch, FetchNow, properties, auth-needed, status and fetch --wait")
{
	Fixture f;
	const auto alice = f.dovecot.Fill("alice", 60, 1);
	const auto bob = f.dovecot.Fill("bob", 60, 2);
	f.Start();

	// The healthy accounts are fetched at start-up, without waiting for the interval.
	CHECK(WaitFor([&] {
		return CountFiles(f.Maildir("alice") + "/new") == 60 &&
		       CountFiles(f.Maildir("bob") + "/new") == 60 &&
		       AccountProperty("carol", "State") == "u 5";
	}));
	CHECK(WaitFor([&] {
		return f.dovecot.Count("alice") == 0 && f.dovecot.Count("bob") == 0;
	}));
	CHECK(FetchedHashes(f.Maildir("alice")) == [&] {
		std::multiset<std::string> s;
		for (const auto &m : alice.messages)
			s.insert(m.fetched_sha256);
		return s;
	}());
	CHECK(WaitFor([&] { return AccountProperty("alice", "State") == "u 1"; }));

	// Properties, with their D-Bus types.
	CHECK(AccountProperty("alice", "Name") == "s \"alice\"");
	CHECK(AccountProperty("alice", "MessagesFetched") == "t 60");
	// Octets as the server listed them, the unit of Progress (bob's below).
	CHECK(AccountProperty("alice", "BytesFetched") ==
	      "t " + std::to_string(alice.Octets()));
	CHECK(AccountProperty("alice", "Delivery") ==
	      "(ss) \"maildir\" \"" + f.Maildir("alice") + "\"");
	CHECK(AccountProperty("alice", "Enabled") == "b true");
	CHECK(AccountProperty("alice", "Server").find("@127.0.0.1:") !=
	      std::string::npos);
	CHECK(AccountProperty("alice", "LastErrorClass") == "s \"\"");
	CHECK(AccountProperty("alice", "LastError") == "s \"\"");
	CHECK(AccountProperty("alice", "LastSuccess") != "t 0");
	CHECK(AccountProperty("alice", "NextPoll") != "t 0");
	CHECK(AccountProperty("bob", "MessagesFetched") == "t 60");
	CHECK(AccountProperty("bob", "Progress") ==
	      "(tttt) 60 60 " + std::to_string(bob.Octets()) + " " +
		  std::to_string(bob.Octets()));

	// The bad account waits for a human; the others keep working.
	CHECK(AccountProperty("carol", "State") == "u 5");
	CHECK(AccountProperty("carol", "LastError").find("login failed") !=
	      std::string::npos);
	CHECK(AccountProperty("carol", "NextPoll") == "t 0");
	CHECK(AccountProperty("carol", "MessagesFetched") == "t 0");

	CHECK(AccountProperty("carol", "LastErrorClass") == "s \"auth\"");

	// carol needs a new password: status says so in its exit status too.
	const auto status = f.Popstream({"status"});
	CHECK(status.exit_code == 77);
	CHECK(status.out.find("auth-needed") != std::string::npos);
	CHECK(status.out.find("alice") != std::string::npos);

	// New mail plus FetchNow: delivered long before the 1 h interval.
	f.dovecot.Fill("alice", 10, 3);
	const auto call = Busctl({"call", bus_name, root_path + "/account/alice",
				  account_interface, "FetchNow"});
	CHECK(call.exit_code == 0);
	CHECK(
	    WaitFor([&] { return CountFiles(f.Maildir("alice") + "/new") == 70; }, 30s));
	CHECK(WaitFor(
	    [&] { return AccountProperty("alice", "MessagesFetched") == "t 70"; }, 10s));

	// The CLI client: fetch --wait returns the outcome.
	f.dovecot.Fill("bob", 5, 4);
	const auto wait = f.Popstream({"fetch", "--wait", "bob"});
	CHECK(wait.exit_code == 0);
	CHECK(CountFiles(f.Maildir("bob") + "/new") == 65);
	const auto wait_bad = f.Popstream({"fetch", "--wait", "carol"});
	CHECK(wait_bad.exit_code == 75);
	CHECK(f.Popstream({"fetch", "nobody"}).exit_code == 64);

	// Unknown accounts are a clear D-Bus error.
	const auto unknown =
	    Busctl({"get-property", bus_name, root_path + "/account/nobody",
		    account_interface, "State"});
	CHECK(unknown.exit_code != 0);

	const auto stop = f.Stop();
	CHECK(stop.exit_code == 0);
	CHECK(stop.err.find("s3cret") == std::string::npos);
	CHECK(stop.err.find("b0b") == std::string::npos);
}

TEST_CASE("SIGHUP adds and removes account objects; a bad new config keeps the old one")
{
	Fixture f;
	f.Start();
	CHECK(WaitFor([&] { return AccountProperty("bob", "Name") == "s \"bob\""; }));

	f.WriteConfig({"alice", "dave"});
	f.daemon->Signal(SIGHUP);
	CHECK(WaitFor([&] {
		const auto tree = Busctl({"tree", "--list", bus_name}).out;
		return tree.find("/account/dave") != std::string::npos &&
		       tree.find("/account/bob") == std::string::npos &&
		       tree.find("/account/carol") == std::string::npos;
	}));
	CHECK(AccountProperty("dave", "Name") == "s \"dave\"");

	// A broken config is refused by Reload() with the error, and nothing changes.
	WriteFile(f.config, "accounts:\n  - name: x\n    intervall: 5m\n", 0600);
	const auto reload = Busctl({"call", bus_name, root_path,
				    "io.github.popstream.Popstream1.Manager", "Reload"});
	CHECK(reload.exit_code != 0);
	CHECK(reload.err.find("config.yaml:3:5") != std::string::npos);
	const auto tree = Busctl({"tree", "--list", bus_name}).out;
	CHECK(tree.find("/account/dave") != std::string::npos);
	CHECK(f.Stop().exit_code == 0);
}

TEST_CASE("SIGTERM in the middle of a large fetch: every message in exactly one place")
{
	Fixture f;
	f.WriteConfig({"alice"});
	const auto sample = f.dovecot.Fill("alice", 2000, 7);
	f.Start();
	// Stop as soon as the first messages are durable.
	REQUIRE(
	    WaitFor([&] { return CountFiles(f.Maildir("alice") + "/new") > 0; }, 60s));
	const auto stop = f.Stop(SIGTERM);
	CHECK(stop.exit_code == 0);
	CHECK_FALSE(stop.timed_out);

	const auto fetched = FetchedHashes(f.Maildir("alice"));
	const auto on_server = ServerHashes(f.dovecot.Maildir("alice"));
	INFO("fetched " << fetched.size() << ", still on the server "
			<< on_server.size());
	// The stop really came in the middle.
	CHECK(fetched.size() > 0);
	CHECK(on_server.size() > 0);
	CHECK(CountFiles(f.Maildir("alice") + "/tmp") == 0);
	std::size_t both = 0, neither = 0;
	for (const auto &m : sample.messages) {
		const bool here = fetched.count(m.fetched_sha256) > 0;
		const bool there = on_server.count(m.sha256) > 0;
		both += here && there;
		neither += !here && !there;
	}
	CHECK(both == 0);
	CHECK(neither == 0);
	CHECK(fetched.size() + on_server.size() == sample.messages.size());
}

TEST_CASE("sd_notify: READY after the bus name, STATUS, RELOADING, STOPPING")
{
	Fixture f;
	TempDir sock_dir;
	const std::string path = sock_dir / "notify";
	const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	REQUIRE(fd >= 0);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
	REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0);
	timeval tv{0, 200'000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	std::vector<std::string> datagrams;
	const auto drain = [&] {
		char buf[4096];
		for (;;) {
			const auto n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			datagrams.emplace_back(buf, static_cast<std::size_t>(n));
		}
	};
	const auto seen = [&](const std::string &what) {
		drain();
		for (const auto &d : datagrams)
			if (d.find(what) != std::string::npos)
				return true;
		return false;
	};

	f.Start({"NOTIFY_SOCKET=" + path});
	CHECK(WaitFor([&] { return seen("READY=1"); }, 10s));
	// By READY=1 the bus name was owned (Start() saw it) and the timers armed.
	CHECK(WaitFor([&] { return seen("STATUS=3 accounts, next poll"); }, 10s));
	datagrams.clear();
	f.daemon->Signal(SIGHUP);
	CHECK(WaitFor([&] { return seen("RELOADING=1"); }, 10s));
	CHECK(WaitFor([&] { return seen("READY=1"); }, 10s));
	CHECK(f.Stop().exit_code == 0);
	CHECK(seen("STOPPING=1"));
	close(fd);
}

TEST_CASE("start-up errors: a bad config exits 78 naming file:line:column; a second "
	  "daemon exits 69")
{
	Fixture f;
	WriteFile(f.config,
		  "accounts:\n  - name: a\n    maildir: /tmp/x\n    intervall: 5m\n",
		  0600);
	ProcessOptions options;
	options.argv = {RequireEnv("POPSTREAMD_BIN"), "--config", f.config};
	options.env = {"HOME=" + f.home, "NOTIFY_SOCKET", "JOURNAL_STREAM",
		       "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
	options.timeout = 30s;
	auto r = Run(options);
	CHECK(r.exit_code == 78);
	CHECK(r.err.find("config.yaml:4:5") != std::string::npos);
	CHECK(r.err.find("did you mean \"interval\"") != std::string::npos);

	f.WriteConfig({"alice"});
	f.Start();
	options.argv = {RequireEnv("POPSTREAMD_BIN"), "--config", f.config};
	r = Run(options);
	CHECK(r.exit_code == 69);
	CHECK(r.err.find(bus_name) != std::string::npos);
	CHECK(f.Stop().exit_code == 0);
}
