// popstreamd: the multi-account daemon (see popstreamd(1)).
#include "Daemon.hxx"
#include "config.h"
#include "config/LoadConfig.hxx"
#include "systemd/Log.hxx"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

namespace {

/** Fetches get this long to finish after SIGTERM; the unit's TimeoutStopSec is 30 s. */
constexpr std::uint64_t default_stop_deadline_ms = 20'000;

} // namespace

int main(int argc, char **argv)
{
	// A peer that resets, or a closed stderr, must give EPIPE to the code that can
	// handle it, not kill the daemon mid-fetch.
	std::signal(SIGPIPE, SIG_IGN);
	CLI::App app(
	    "popstreamd " POPSTREAM_VERSION
	    ": polls the POP3 accounts of a YAML config into Maildirs and answers on "
	    "the session bus as io.github.popstream.Popstream1.",
	    "popstreamd");
	std::string config_path;
	bool verbose = false;
	double stop_timeout_s = default_stop_deadline_ms / 1000.0;
	app.add_option(
	       "-c,--config", config_path,
	       "The configuration file (default: $XDG_CONFIG_HOME/popstream/config.yaml)")
	    ->type_name("FILE");
	app.add_option("--stop-timeout", stop_timeout_s,
		       "Seconds fetches may take to finish after SIGTERM (keep below "
		       "TimeoutStopSec)")
	    ->type_name("SECONDS")
	    ->check(CLI::Range(0.1, 3600.0).description(""))
	    ->default_str("20");
	app.add_flag("-v,--verbose", verbose,
		     "Also log debug lines (commands sent, files saved)");
	app.set_version_flag("--version", "popstreamd " POPSTREAM_VERSION);
	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForHelp &) {
		std::cout << app.help();
		return 0;
	} catch (const CLI::CallForVersion &e) {
		std::cout << e.what() << "\n";
		return 0;
	} catch (const CLI::ParseError &e) {
		std::fprintf(stderr, "popstreamd: %s (run 'popstreamd --help')\n",
			     e.what());
		return 64;
	}
	if (config_path.empty())
		config_path = popstream::config::DefaultConfigPath();

	popstream::systemd::Logger logger(popstream::systemd::DetectLogTarget(2));
	if (verbose)
		logger.SetMaxPriority(popstream::systemd::Priority::Debug);
	// The logger alone would only pass debug lines on: the fetches must be told to
	// write them.
	popstream::service::Daemon daemon(
	    config_path, logger, static_cast<std::uint64_t>(stop_timeout_s * 1000),
	    verbose);
	return daemon.Run();
}
