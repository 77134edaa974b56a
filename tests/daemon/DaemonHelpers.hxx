#pragma once

// Small helpers shared by the popstreamd tests that talk to it with busctl.
#include "Process.hxx"
#include "TempDir.hxx"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace popstream::test {

inline const std::string daemon_bus_name = "io.github.popstream.Popstream1";
inline const std::string account_path = "/io/github/popstream/Popstream1/account/";
inline const std::string account_interface = "io.github.popstream.Popstream1.Account";

/** Waits until @p ready returns true, checking every 50 ms, at most @p limit. */
inline bool WaitUntil(const std::function<bool()> &ready,
		      std::chrono::milliseconds limit = std::chrono::seconds(30))
{
	const auto deadline = std::chrono::steady_clock::now() + limit;
	while (std::chrono::steady_clock::now() < deadline) {
		if (ready())
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	return ready();
}

/** @return busctl's text for an account property ("u 1", "t 40"), or "error: ..." */
inline std::string AccountProp(const std::string &account, const std::string &property)
{
	ProcessOptions o;
	o.argv = {"busctl",
		  "--user",
		  "get-property",
		  daemon_bus_name,
		  account_path + account,
		  account_interface,
		  property};
	o.timeout = std::chrono::seconds(20);
	auto r = Run(o);
	while (!r.out.empty() && r.out.back() == '\n')
		r.out.pop_back();
	return r.exit_code == 0 ? r.out : "error: " + r.err;
}

/** @return the number in busctl's "t 123" output */
inline std::uint64_t PropNumber(const std::string &text)
{
	return text.size() > 2 ? std::stoull(text.substr(2)) : 0;
}

/**
 * @return how to start popstreamd on @p config with HOME @p home, in an environment
 *         without the caller's systemd and XDG variables, so it logs to stderr and keeps
 *         its state under @p home
 * @param args options before --config, e.g. {"-v"}
 */
inline ProcessOptions DaemonProcess(const std::string &home, const std::string &config,
				    std::vector<std::string> args = {})
{
	ProcessOptions o;
	o.argv = {RequireEnv("POPSTREAMD_BIN")};
	o.argv.insert(o.argv.end(), args.begin(), args.end());
	o.argv.insert(o.argv.end(), {"--config", config});
	o.env = {"HOME=" + home, "NOTIFY_SOCKET", "JOURNAL_STREAM", "XDG_STATE_HOME",
		 "XDG_CONFIG_HOME"};
	o.timeout = std::chrono::seconds(120);
	return o;
}

/** Calls FetchNow on @p account. @return busctl's exit status */
inline int CallFetchNow(const std::string &account)
{
	ProcessOptions o;
	o.argv = {
	    "busctl",          "--user",  "call", daemon_bus_name, account_path + account,
	    account_interface, "FetchNow"};
	o.timeout = std::chrono::seconds(20);
	return Run(o).exit_code;
}

} // namespace popstream::test
