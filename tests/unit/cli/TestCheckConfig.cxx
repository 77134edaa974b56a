#include "cli/CheckConfig.hxx"

#include "ConfigTestHelpers.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <sstream>
#include <sys/stat.h>

using namespace popstream;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

struct Output {
	int status;
	std::string out, err;
};

Output Check(const std::string &path)
{
	std::ostringstream out, err;
	const int status = cli::RunCheckConfig(path, "popstream", out, err);
	return {status, out.str(), err.str()};
}

const char *const valid_config = "defaults:\n"
				 "  maildir: ~/Mail/default\n"
				 "  interval: 10m\n"
				 "  max_message_size: 25MB\n"
				 "max_concurrent: 2\n"
				 "accounts:\n"
				 "  - name: work\n"
				 "    server: alice@mail.example.com\n"
				 "    maildir: ~/Mail/work\n"
				 "    password_command: [cat, secret/location]\n"
				 "    keep: true\n"
				 "    delete_after: 14d\n"
				 "    oversize: delete\n"
				 "    checkpoint_every: 500 messages or 50MiB\n"
				 "  - name: home\n"
				 "    host: pop.example.net\n"
				 "    tls: starttls\n"
				 "    sni: mail.example.net\n"
				 "    pipelining: off\n"
				 "    timeout: 90s\n"
				 "    keep: true\n"
				 "    max_message_size: 0\n"
				 "    max_messages_per_session: 100\n"
				 "    max_bytes_per_session: 1.5GiB\n"
				 "    enabled: false\n"
				 "  - name: netrc\n"
				 "    server: tcp:bob+work\n"
				 "  - name: missing\n"
				 "    server: tcp:nosuch+account\n"
				 "    enabled: false\n";

/** The netrc file the valid config is checked with. */
const char *const netrc_text =
    "machine pop.example.net login bob password x\n"
    "machine carol@localhost:2110 account bob+work password y\n";

std::string ExpectedOutput(const std::string &path)
{
	return path + ": 4 accounts, at most 2 fetched at a time\n" + //
	       "account work (" + path + ":7:5)\n" +                  //
	       "  server: alice@mail.example.com\n"
	       "  host: mail.example.com:995\n"
	       "  tls: implicit\n"
	       "  user: alice\n"
	       "  password: from command cat (not run)\n"
	       "  auth: auto\n"
	       "  allow_plaintext: false\n"
	       "  maildir: /home/alice/Mail/work\n"
	       "  interval: 10m\n"
	       "  timeout: 3m\n"
	       "  connect_timeout: 30s\n"
	       "  pipelining: auto\n"
	       "  ca_file: (system store)\n"
	       "  keep: true\n"
	       "  delete_after: 14d\n"
	       "  max_message_size: 25MB\n"
	       "  oversize: delete\n"
	       "  max_messages_per_session: (no limit)\n"
	       "  max_bytes_per_session: (no limit)\n"
	       "  checkpoint_every: 500 messages or 50MiB\n"
	       "  enabled: true\n" +
	       "account home (" + path + ":15:5)\n" + //
	       "  host: pop.example.net:110\n"
	       "  tls: starttls\n"
	       "  sni: mail.example.net\n"
	       "  user: bob\n"
	       "  password: from netrc\n"
	       "  auth: auto\n"
	       "  allow_plaintext: false\n"
	       "  maildir: /home/alice/Mail/default\n"
	       "  interval: 10m\n"
	       "  timeout: 1m30s\n"
	       "  connect_timeout: 30s\n"
	       "  pipelining: off\n"
	       "  ca_file: (system store)\n"
	       "  keep: true\n"
	       "  delete_after: (never)\n"
	       "  max_message_size: (no limit)\n"
	       "  max_messages_per_session: 100\n"
	       "  max_bytes_per_session: 1.5GiB\n"
	       "  checkpoint_every: (every 5000 messages, the most one session takes)\n"
	       "  enabled: false\n" +
	       "account netrc (" + path + ":26:5)\n" + //
	       "  server: tcp:bob+work\n"
	       "  host: localhost:2110\n"
	       "  tls: none\n"
	       "  user: carol\n"
	       "  password: from netrc\n"
	       "  auth: auto\n"
	       "  allow_plaintext: false\n"
	       "  maildir: /home/alice/Mail/default\n"
	       "  interval: 10m\n"
	       "  timeout: 3m\n"
	       "  connect_timeout: 30s\n"
	       "  pipelining: auto\n"
	       "  ca_file: (system store)\n"
	       "  keep: false\n"
	       "  max_message_size: 25MB\n"
	       "  oversize: skip\n"
	       "  max_messages_per_session: (no limit)\n"
	       "  max_bytes_per_session: (no limit)\n"
	       "  checkpoint_every: (every 5000 messages, the most one session takes)\n"
	       "  enabled: true\n" +
	       "account missing (" + path + ":28:5)\n" + //
	       "  server: tcp:nosuch+account\n"
	       "  warning: no netrc entry has the account \"nosuch+account\", and it is "
	       "not "
	       "a connection spec\n"
	       "  tls: none\n"
	       "  user: (from netrc or the local user)\n"
	       "  password: from netrc\n"
	       "  auth: auto\n"
	       "  allow_plaintext: false\n"
	       "  maildir: /home/alice/Mail/default\n"
	       "  interval: 10m\n"
	       "  timeout: 3m\n"
	       "  connect_timeout: 30s\n"
	       "  pipelining: auto\n"
	       "  ca_file: (system store)\n"
	       "  keep: false\n"
	       "  max_message_size: 25MB\n"
	       "  oversize: skip\n"
	       "  max_messages_per_session: (no limit)\n"
	       "  max_bytes_per_session: (no limit)\n"
	       "  checkpoint_every: (every 5000 messages, the most one session takes)\n"
	       "  enabled: false\n";
}

const char *const invalid_config = "accounts:\n"
				   "  - name: work\n"
				   "    server: alice@mail.example.com\n"
				   "    intervall: 5m\n"
				   "  - name: work\n"
				   "    host: h\n"
				   "    maildir: /m\n"
				   "    interval: 5\n";

std::vector<std::string> ExpectedErrors(const std::string &path)
{
	return {
	    path + ":2:5: accounts[0].maildir: missing (set it in the account or under "
		   "defaults:)",
	    path + ":4:5: accounts[0].intervall: unknown key; did you mean \"interval\"?",
	    path +
		":5:11: accounts[1].name: duplicate account name \"work\" (first at line "
		"2)",
	    path + ":8:15: accounts[1].interval: must be between 10s and 7d, not 5",
	};
}

std::string Lines(const std::vector<std::string> &lines)
{
	std::string text;
	for (const auto &line : lines)
		text += line + "\n";
	return text;
}

/**
 * Runs the real binary. @return nothing if it does not know `check-config` yet (the
 * subcommand is wired into Commands.cxx separately)
 */
std::optional<test::ProcessResult> RunBinary(std::vector<std::string> args,
					     std::vector<std::string> env = {})
{
	args.insert(args.begin(), {test::RequireEnv("POPSTREAM_BIN"), "check-config"});
	test::ProcessOptions options;
	options.argv = std::move(args);
	options.env = std::move(env);
	options.timeout = std::chrono::seconds(30);
	auto result = test::Run(options);
	if (result.exit_code == 64 && result.out.empty()) {
		MESSAGE("popstream has no check-config subcommand yet; skipped");
		return std::nullopt;
	}
	return result;
}

} // namespace

TEST_CASE("check-config prints the resolved accounts and returns 0")
{
	const test::ScopedEnv home("HOME", "/home/alice");
	TempDir dir;
	WriteFile(dir / "netrc", netrc_text, 0600);
	const test::ScopedEnv netrc("NETRC", (dir / "netrc").c_str());
	const auto path = dir / "config.yaml";
	WriteFile(path, valid_config);
	const auto result = Check(path);
	CHECK(result.status == 0);
	CHECK(result.err.empty());
	CHECK(result.out == ExpectedOutput(path));
	// Only argv[0] of the command, whose arguments may say where a secret is.
	CHECK(result.out.find("secret/location") == std::string::npos);
}

TEST_CASE("check-config prints every error, one line each, and returns 78")
{
	TempDir dir;
	const auto path = dir / "config.yaml";
	WriteFile(path, invalid_config);
	const auto result = Check(path);
	CHECK(result.status == 78);
	CHECK(result.out.empty());
	CHECK(result.err == Lines(ExpectedErrors(path)));
}

TEST_CASE("check-config: an unreadable file is a config error too")
{
	TempDir dir;
	const auto result = Check(dir / "missing.yaml");
	CHECK(result.status == 78);
	CHECK(result.err ==
	      dir / "missing.yaml" + ": cannot read: No such file or directory\n");
}

TEST_CASE("check-config without a file reads the default path")
{
	TempDir dir;
	WriteFile(dir / "netrc", netrc_text, 0600);
	const test::ScopedEnv netrc("NETRC", (dir / "netrc").c_str());
	const test::ScopedEnv home("HOME", "/home/alice");
	const test::ScopedEnv xdg("XDG_CONFIG_HOME", dir.Path().c_str());
	const auto missing = Check("");
	CHECK(missing.status == 78);
	CHECK(missing.err == dir / "popstream/config.yaml" +
				 ": cannot read: No such file or directory\n");

	REQUIRE(mkdir((dir / "popstream").c_str(), 0700) == 0);
	test::WriteFile(dir / "popstream/config.yaml", valid_config);
	const auto found = Check("");
	CHECK(found.status == 0);
	CHECK(found.out == ExpectedOutput(dir / "popstream/config.yaml"));
}

TEST_CASE("popstream check-config FILE (the real binary)")
{
	TempDir dir;
	WriteFile(dir / "netrc", netrc_text, 0600);
	const auto netrc = "NETRC=" + dir / "netrc";
	const auto path = dir / "config.yaml";
	WriteFile(path, valid_config);
	const auto valid = RunBinary({path}, {"HOME=/home/alice", netrc});
	if (!valid)
		return;
	CHECK(valid->exit_code == 0);
	CHECK(valid->out == ExpectedOutput(path));
	CHECK(valid->err.empty());

	const auto bad_path = dir / "bad.yaml";
	WriteFile(bad_path, invalid_config);
	const auto invalid = RunBinary({bad_path});
	REQUIRE(invalid);
	CHECK(invalid->exit_code == 78);
	CHECK(invalid->out.empty());
	CHECK(invalid->err == Lines(ExpectedErrors(bad_path)));

	// Without FILE: $XDG_CONFIG_HOME/popstream/config.yaml.
	REQUIRE(mkdir((dir / "popstream").c_str(), 0700) == 0);
	test::WriteFile(dir / "popstream/config.yaml", valid_config);
	const auto by_default =
	    RunBinary({}, {"HOME=/home/alice", netrc, "XDG_CONFIG_HOME=" + dir.Path()});
	REQUIRE(by_default);
	CHECK(by_default->exit_code == 0);
	CHECK(by_default->out == ExpectedOutput(dir / "popstream/config.yaml"));
}

TEST_CASE("check-config runs no password command and survives a bad netrc")
{
	TempDir dir;
	WriteFile(dir / "netrc", "machine h password x\n", 0644);
	const test::ScopedEnv netrc("NETRC", (dir / "netrc").c_str());
	const auto path = dir / "config.yaml";
	WriteFile(path, "accounts:\n"
			"  - name: a\n"
			"    server: alice@h\n"
			"    maildir: /m\n"
			"    password_command: [touch, " +
			    dir / "ran" +
			    "]\n"
			    "  - name: b\n"
			    "    server: bob@h\n"
			    "    maildir: /m\n");
	const auto result = Check(path);
	// The netrc a fetch would refuse fails the check, for both accounts.
	CHECK(result.status == 78);
	CHECK(result.err ==
	      path + ":2:5: account a: " + dir / "netrc" +
		  ": must not be accessible by group or others (mode 0644); "
		  "run chmod 600 " +
		  dir / "netrc" + "\n" + path + ":6:5: account b: " + dir / "netrc" +
		  ": must not be accessible by group or others (mode 0644); "
		  "run chmod 600 " +
		  dir / "netrc" + "\n");
	CHECK(test::ListDir(dir.Path()) ==
	      std::vector<std::string>{"config.yaml", "netrc"});
	const auto warning =
	    "  warning: " + dir / "netrc" +
	    ": must not be accessible by group or others (mode 0644); run "
	    "chmod 600 " +
	    dir / "netrc" + "\n";
	// Both read netrc (for a netrc account of that name), so both warn.
	CHECK(
	    result.out ==
	    path + ": 2 accounts, at most 4 fetched at a time\n" + "account a (" + path +
		":2:5)\n" + "  server: alice@h\n" + warning +
		"  host: h:995\n"
		"  tls: implicit\n"
		"  user: alice\n"
		"  password: from command touch (not run)\n"
		"  auth: auto\n"
		"  allow_plaintext: false\n"
		"  maildir: /m\n"
		"  interval: 5m\n"
		"  timeout: 3m\n"
		"  connect_timeout: 30s\n"
		"  pipelining: auto\n"
		"  ca_file: (system store)\n"
		"  keep: false\n"
		"  max_message_size: (no limit)\n"
		"  max_messages_per_session: (no limit)\n"
		"  max_bytes_per_session: (no limit)\n"
		"  checkpoint_every: (every 5000 messages, the most one session takes)\n"
		"  enabled: true\n" +
		"account b (" + path + ":6:5)\n" + "  server: bob@h\n" + warning +
		"  host: h:995\n"
		"  tls: implicit\n"
		"  user: bob\n"
		"  password: from netrc\n"
		"  auth: auto\n"
		"  allow_plaintext: false\n"
		"  maildir: /m\n"
		"  interval: 5m\n"
		"  timeout: 3m\n"
		"  connect_timeout: 30s\n"
		"  pipelining: auto\n"
		"  ca_file: (system store)\n"
		"  keep: false\n"
		"  max_message_size: (no limit)\n"
		"  max_messages_per_session: (no limit)\n"
		"  max_bytes_per_session: (no limit)\n"
		"  checkpoint_every: (every 5000 messages, the most one session takes)\n"
		"  enabled: true\n");
}

TEST_CASE("check-config shows each on_new_mail argument with its boundaries")
{
	TempDir dir;
	WriteFile(dir / "netrc", "machine h password x\n", 0600);
	const test::ScopedEnv netrc("NETRC", (dir / "netrc").c_str());
	const auto path = dir / "config.yaml";
	// Run without a shell, so a list element is one argument whatever it holds.
	WriteFile(path, "accounts:\n"
			"  - name: a\n"
			"    server: alice@h\n"
			"    maildir: /m\n"
			"    on_new_mail: [notify-send, New mail, '', \"it's\", a\\b]\n");
	const auto result = Check(path);
	CAPTURE(result.out);
	CHECK(result.status == 0);
	CHECK(result.err.empty());
	const auto line =
	    "  on_new_mail: notify-send 'New mail' '' 'it'\\''s' 'a\\\\b'\n";
	CHECK(result.out.find(line) != std::string::npos);
}

TEST_CASE("check-config fails (78) for what would fail every fetch: no password, a "
	  "missing command, two accounts on one mailbox; each with its line")
{
	TempDir dir;
	WriteFile(dir / "netrc", "machine h login alice password x\n", 0600);
	const test::ScopedEnv netrc("NETRC", (dir / "netrc").c_str());
	const auto path = dir / "config.yaml";
	WriteFile(path, "accounts:\n"
			"  - name: a\n"
			"    server: alice@h\n"
			"    maildir: /m\n"
			"  - name: b\n"
			"    server: bob@h\n"
			"    maildir: /m\n"
			"  - name: c\n"
			"    server: carol@h\n"
			"    maildir: /m\n"
			"    password_command: [no-such-password-tool, x]\n"
			"  - name: a-again\n"
			"    server: alice@h:995\n"
			"    maildir: /m2\n"
			"  - name: off\n"
			"    server: dave@h\n"
			"    maildir: /m\n"
			"    enabled: false\n");
	const auto result = Check(path);
	CHECK(result.status == 78);
	CHECK(result.out.find("  password: from netrc (" + dir / "netrc" +
			      ": no password for bob@h:995") != std::string::npos);
	CHECK(result.out.find("  password: from command no-such-password-tool "
			      "(no-such-password-tool is not an executable file on "
			      "$PATH)\n") != std::string::npos);
	// The disabled account is shown as it is, and fails nothing.
	CHECK(
	    result.err ==
	    path + ":5:5: account b: " + dir / "netrc" +
		": no password for bob@h:995 (looked for machine \"bob@h:995\", "
		"machine \"h\", default)\n" +
		path +
		":8:5: account c: no-such-password-tool is not an executable file on "
		"$PATH\n" +
		path +
		":12:5: account a-again: the mailbox alice@h:995 is also account a's (" +
		path + ":2:5): remove one, or the two take turns\n");
}

TEST_CASE("check-config: a Maildir under a file can never be made")
{
	TempDir dir;
	WriteFile(dir / "netrc", "default password x\n", 0600);
	const test::ScopedEnv netrc("NETRC", (dir / "netrc").c_str());
	WriteFile(dir / "afile", "", 0600);
	const auto path = dir / "config.yaml";
	WriteFile(path, "accounts:\n"
			"  - name: a\n"
			"    server: alice@h\n"
			"    maildir: " +
			    dir / "afile/sub" + "\n");
	const auto result = Check(path);
	CHECK(result.status == 78);
	CHECK(result.err == path + ":2:5: account a: " + dir / "afile" +
				" is not a directory, so " + dir / "afile/sub" +
				" cannot be made\n");
}
