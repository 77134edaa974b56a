#pragma once

#include "core/pop3/Session.hxx"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace popstream::config {

/** Where a value came from, for messages in the form FILE:LINE:COLUMN (1-based). */
struct Mark {
	std::string file;
	unsigned line = 0;
	unsigned column = 0;
	/** @return "FILE:LINE:COLUMN" */
	std::string ToString() const;
};

/** How the connection is secured. */
enum class TlsMode {
	/** TLS from the first byte (POP3S, port 995). */
	Implicit,
	/** Cleartext, then STLS (RFC 2595 §4) before login; refuses to log in without it. */
	StartTls,
	/** Cleartext throughout (port 110). */
	None,
};

/** One account of the daemon, with defaults applied and paths expanded. */
struct Account {
	/** Unique, [A-Za-z0-9_-]+; names the D-Bus object and the state directory. */
	std::string name;
	/** The connection spec as written (`server:`), or empty if the explicit keys were
	 * used. A spec naming a netrc account is resolved when the account is fetched. */
	std::string server;
	/** Explicit connection keys (used when `server` is empty). */
	std::string host;
	std::uint16_t port = 0;
	TlsMode tls = TlsMode::Implicit;
	std::string sni;
	std::string user;
	/** argv of `password_command` (run without a shell; first line of stdout), or
	 * empty to use netrc. */
	std::vector<std::string> password_command;
	/** Maildir path, with ~ and $VARS expanded. */
	std::string maildir;
	std::chrono::milliseconds interval{std::chrono::minutes(5)};
	/** Idle timeout of the connection. */
	std::chrono::milliseconds timeout{std::chrono::seconds(180)};
	pop3::Pipelining pipelining = pop3::Pipelining::Auto;
	/** PEM CA file, expanded; empty = system store. */
	std::string ca_file;
	bool enabled = true;
	/** Where the account's entry starts in the file. */
	Mark where;
};

/** A whole configuration file. */
struct Config {
	/** The file it was read from. */
	std::string path;
	/** Most accounts fetched at the same time. */
	unsigned max_concurrent = 4;
	std::vector<Account> accounts;
};

} // namespace popstream::config
