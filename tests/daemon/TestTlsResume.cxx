// popstreamd keeps each account's TLS session in memory between polls (issue 13): the
// second poll of an implicit-TLS account resumes it, against a Dovecot that resumes
// (dovecot-harness --tls-resumable), and the messages arrive byte-exact.
#include "../integration/DovecotServer.hxx"
#include "DaemonHelpers.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>

using namespace popstream::test;
using namespace std::chrono_literals;

TEST_CASE("popstreamd: the second poll of an account resumes its TLS session")
{
	TempDir dir{0755};
	std::filesystem::create_directory(dir / "srv");
	DovecotOptions options;
	options.tls_resumable = true;
	DovecotServer dovecot(dir / "srv", {"alice:s3cret"}, options);
	std::map<std::string, unsigned> expected =
	    dovecot.Fill("alice", 20, 51).FetchedHashes();

	TempDir home;
	const std::string port = std::to_string(dovecot.pop3s_port);
	const std::string label = "alice@127.0.0.1:" + port;
	WriteFile(home / ".netrc", "machine " + label + " password s3cret\n", 0600);
	WriteFile(home / "config.yaml",
		  "defaults:\n  interval: 1h\n  timeout: 30s\naccounts:\n"
		  "  - name: resumer\n    server: alice@127.0.0.1!pop.example.com:" +
		      port + "\n    ca_file: " + dovecot.ca_file +
		      "\n    maildir: " + home / "Maildir" + "\n",
		  0600);

	Child daemon(DaemonProcess(home.Path(), home / "config.yaml", {"-v"}));
	REQUIRE(WaitUntil(
	    [] { return AccountProp("resumer", "MessagesFetched") == "t 20"; }));
	REQUIRE(WaitUntil([] { return AccountProp("resumer", "State") == "u 1"; }));

	for (const auto &[hash, n] : dovecot.Fill("alice", 10, 52).FetchedHashes())
		expected[hash] += n;
	REQUIRE(CallFetchNow("resumer") == 0);
	REQUIRE(WaitUntil(
	    [] { return AccountProp("resumer", "MessagesFetched") == "t 30"; }));
	REQUIRE(WaitUntil([] { return AccountProp("resumer", "State") == "u 1"; }));
	daemon.Signal(SIGTERM);
	const auto r = daemon.Wait();
	INFO("stderr: " << r.err);
	CHECK(r.exit_code == 0);

	const std::string full = ": TLS full handshake, certificate verified\n";
	const std::string resumed = ": TLS session resumed\n";
	const auto first_full = r.err.find(full);
	const auto first_resumed = r.err.find(resumed);
	REQUIRE(first_full != std::string::npos);
	REQUIRE(first_resumed != std::string::npos);
	CHECK(first_full < first_resumed);
	// One full handshake, then only resumptions.
	CHECK(r.err.find(full, first_full + 1) == std::string::npos);
	// The daemon keeps the session in memory only.
	for (const auto &entry :
	     std::filesystem::recursive_directory_iterator(home.Path()))
		CHECK(entry.path().filename() != "tls-session");

	std::map<std::string, unsigned> saved;
	for (const auto &content : ReadAllFiles(home / "Maildir/new"))
		++saved[Sha256Hex(content)];
	CHECK(saved == expected);
}
