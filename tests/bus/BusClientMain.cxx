// popstream-test-bus-client: runs cli::RunStatus() / cli::RunFetch() as `popstream
// status` / `popstream fetch` would, for the tests to use before (and besides) the
// subcommands wired into the real binary.
//
// Usage: popstream-test-bus-client status [--json]
//        popstream-test-bus-client reload
//        popstream-test-bus-client fetch [--wait] [ACCOUNT...]
#include "cli/BusClient.hxx"

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
	const std::vector<std::string> args(argv + 1, argv + argc);
	if (args.size() == 1 && args[0] == "status")
		return popstream::cli::RunStatus("popstream");
	if (args.size() == 2 && args[0] == "status" && args[1] == "--json")
		return popstream::cli::RunStatus("popstream", true);
	if (args.size() == 1 && args[0] == "reload")
		return popstream::cli::RunReload("popstream");
	if (!args.empty() && args[0] == "fetch") {
		bool wait = false;
		std::vector<std::string> accounts;
		for (std::size_t i = 1; i < args.size(); ++i) {
			if (args[i] == "--wait")
				wait = true;
			else
				accounts.push_back(args[i]);
		}
		return popstream::cli::RunFetch(accounts, wait, "popstream");
	}
	std::fprintf(stderr, "usage: popstream-test-bus-client status [--json]|reload|"
			     "fetch [--wait] [ACCOUNT...]\n");
	return 64;
}
