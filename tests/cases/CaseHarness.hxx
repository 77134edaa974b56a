#pragma once

#include "FakePop3Server.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace popstream::test {

/** True in a build with AddressSanitizer (g++ defines __SANITIZE_ADDRESS__): it slows
 * every instruction and keeps freed memory in quarantine, so the cases' CPU-time bounds
 * (no busy loop) hold only in the plain build, which checks them. */
#ifdef __SANITIZE_ADDRESS__
constexpr bool sanitized_build = true;
#else
constexpr bool sanitized_build = false;
#endif

/** The sysexits.h codes of the popstream CLI contract. */
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int io_error = 74;
inline constexpr int temp_fail = 75;
inline constexpr int protocol = 76;
inline constexpr int no_perm = 77;
inline constexpr int config = 78;
} // namespace exit_code

/**
 * The message M(n) that the cases use unless they say otherwise, CRLF form:
 * "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: msg n\r\n\r\nbody n\r\n",
 * 72 octets for n = 1..9.
 */
std::string StandardMessage(unsigned n);

/** @return @p text with every CRLF turned into LF; a lone CR stays (the Maildir form) */
std::string CrlfToLf(std::string_view text);

/** @return @p text with control bytes, backslashes and non-ASCII shown as escapes */
std::string Escape(std::string_view text);

/**
 * A rendering of file contents for CHECK(a == b): sorted, short contents escaped in full,
 * contents over 512 bytes as their size and FNV-1a hash, so a failing check names the
 * difference without printing megabytes.
 */
std::string DescribeContents(std::vector<std::string> contents);

/** @return the commands joined with " | ", for INFO() */
std::string Join(const std::vector<std::string> &commands);

/** @return true if @p commands holds @p command (verb compared case-insensitively,
 * arguments exactly, both trimmed) */
bool HasCommand(const std::vector<std::string> &commands, std::string_view command);

/** @return how many of @p commands have the verb @p verb (case-insensitive) */
std::size_t CountVerb(const std::vector<std::string> &commands, std::string_view verb);

/** @return the offset of the first byte in @p text that a terminal would interpret
 * (C0 controls other than LF and TAB, DEL), or std::string::npos */
std::size_t FindRawControlByte(std::string_view text);

/** @return true if @p text is well-formed UTF-8 (no overlongs, surrogates or stray
 * continuation bytes) */
bool IsValidUtf8(std::string_view text);

/** @return the directory holding make-test-ca's files (ca.crt, server.crt, server.key),
 * created once per test process. @throws std::runtime_error */
const std::string &TestCaDirectory();

/** The result of one `popstream dl` run. */
struct DlRun {
	ProcessResult process;
	/** Peak resident set size of popstream in KiB (ru_maxrss), -1 if unknown. */
	long max_rss_kib = -1;
	/** User + system CPU time of popstream in seconds, -1 if unknown. */
	double cpu_seconds = -1;
	/** Wall-clock time from start to exit, in seconds. */
	double wall_seconds = -1;

	int ExitCode() const noexcept { return process.exit_code; }
	const std::string &Out() const noexcept { return process.out; }
	const std::string &Err() const noexcept { return process.err; }
	/** @return a one-paragraph summary of exit status and output, for INFO() */
	std::string Describe() const;
};

/** How to run `popstream dl`. */
struct DlOptions {
	/** Options inserted after "dl", e.g. {"-v"} or {"--pipelining", "off"}. */
	std::vector<std::string> args;
	/** Implicit TLS: SPEC alice@127.0.0.1!pop.example.com:PORT with --ca-file. */
	bool tls = false;
	/** STLS: SPEC starttls:alice@127.0.0.1!pop.example.com:PORT with --ca-file. */
	bool starttls = false;
	/** popstream's --timeout, in seconds. */
	int timeout_seconds = 5;
	/** The test kills popstream after this long. */
	std::chrono::milliseconds process_timeout = std::chrono::seconds(30);
	/** Extra environment ("NAME=value"), e.g. LC_ALL. */
	std::vector<std::string> env;
	/** Maildir path; empty = CaseHarness::Maildir(). */
	std::string maildir;
	/** If not 0, this signal is sent to popstream @ref signal_after after it started.
	 */
	int signal = 0;
	std::chrono::milliseconds signal_after{0};
};

/**
 * One test's private world: HOME is a fresh TempDir with a .netrc (mode 0600) holding
 * "machine alice@127.0.0.1:PORT password s3cret" for every server used, and the
 * Maildir is HOME/Maildir.
 */
class CaseHarness {
	TempDir home_;
	std::vector<std::uint16_t> ports_;

	void WriteNetrc(std::uint16_t port);

public:
	/** @throws std::system_error */
	CaseHarness();

	/** @return HOME for popstream */
	const std::string &Home() const noexcept { return home_.Path(); }

	/** @return the default Maildir (which popstream creates) */
	std::string Maildir() const { return home_ / "Maildir"; }

	/**
	 * Runs `popstream dl` against @p server and waits until the server has finished
	 * with every connection popstream made.
	 */
	DlRun Dl(FakePop3Server &server, const DlOptions &options = {});

	/** @return how Dl() would start popstream, for a run in the background */
	ProcessOptions DlProcess(FakePop3Server &server, const DlOptions &options = {});

	/** @return the contents of the files in @p subdir (new, cur or tmp) of the
	 * Maildir (default: Maildir()), in delivery order (the time and sequence number
	 * of their unique names) */
	std::vector<std::string> Files(const std::string &subdir = "new",
				       const std::string &maildir = {}) const;

	/** @return the file names in @p subdir of the Maildir (default: Maildir()) */
	std::vector<std::string> Names(const std::string &subdir = "new",
				       const std::string &maildir = {}) const;
};

/**
 * @return popstream's peak RSS in KiB for fetching one small message (the memory every
 * run needs), measured once per test process; -1 if unknown. Case tests compare against
 * it, so the bounds they check are growth, not absolute size.
 */
long BaselineRssKib();

} // namespace popstream::test
