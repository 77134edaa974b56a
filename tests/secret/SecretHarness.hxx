#pragma once

#include "Process.hxx"
#include "ScopedEnv.hxx"
#include "TempDir.hxx"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

/**
 * Helpers for the secret tests (tests/secret/meson.build). Each test runs under its
 * own `dbus-run-session --config-file=session.conf`: a private session bus on which
 * nothing is activated, so a test has exactly the services it starts.
 */
namespace popstream::test {

/** Path of popstream-test-goa (GoaStandIn.cxx). */
extern const char *const goa_stand_in_path;

/**
 * Ends the test as skipped (meson's exit status 77) when a program it needs is not
 * installed, saying which package provides it.
 *
 * @param path the program's path as meson found it, empty if it found none
 * @param package the Debian package that provides it
 */
void RequireProgram(const std::string &path, const char *package);

/** @return the path of gnome-keyring-daemon, skipping the test if there is none */
std::string GnomeKeyringDaemon();

/** @return the path of secret-tool, skipping the test if there is none */
std::string SecretTool();

/**
 * Waits until some connection owns @p name on the session bus.
 * @return whether one did within @p timeout
 */
bool WaitForName(const char *name, std::chrono::milliseconds timeout);

/**
 * A real gnome-keyring-daemon (secrets component only) on the test's bus, with its
 * keyrings in a directory of its own and the login keyring created and unlocked with
 * a password given on stdin. The constructor returns once it owns
 * org.freedesktop.secrets; the destructor stops it.
 */
class Keyring {
public:
	/**
	 * @param home HOME and XDG_DATA_HOME of the daemon (its keyrings)
	 * @param unlock unlock (and create) the login keyring; false starts it locked
	 * @throws std::runtime_error if it does not take the name within 10 s
	 */
	explicit Keyring(const TempDir &home, bool unlock = true);
	~Keyring();
	Keyring(const Keyring &) = delete;
	Keyring &operator=(const Keyring &) = delete;

	/** Stops the daemon (SIGTERM) and waits for it. */
	ProcessResult Stop();

	/** The environment the daemon and secret-tool run with ("NAME=value"). */
	std::vector<std::string> env;

private:
	std::unique_ptr<Child> child_;
};

/**
 * Runs `secret-tool ARGS...` on the test's bus (10 s limit).
 * @param input written to its stdin (the secret for `store`)
 */
ProcessResult RunSecretTool(const std::vector<std::string> &args,
			    const std::string &input = {});

/**
 * popstream-test-goa, in its normal mode (@p silent_name empty) or owning
 * @p silent_name without ever answering. Returns once the name is owned.
 */
class StandIn {
public:
	/** @throws std::runtime_error if it does not own its name within 10 s */
	explicit StandIn(const std::string &silent_name = {});

	/** How StandIn(TokenFile) starts it: --token-file @p path. */
	struct TokenFile {
		std::string path;
	};
	/**
	 * The normal mode, except that account_ok hands out the content of @p file
	 * (read at each call) instead of its counted tokens.
	 * @throws std::runtime_error if it does not own its name within 10 s
	 */
	explicit StandIn(const TokenFile &file);
	~StandIn();
	StandIn(const StandIn &) = delete;
	StandIn &operator=(const StandIn &) = delete;

private:
	void Start(std::vector<std::string> args, const std::string &name);

	std::unique_ptr<Child> child_;
};

} // namespace popstream::test
