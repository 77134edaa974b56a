// Issue 14, `popstream run`: the configured accounts fetched once without the daemon,
// against a real Dovecot 2.3. Bytes in each Maildir, what the server still holds, the
// exit status and the exact lines; `-q` silent when there is nothing to say (the
// crontab line of the README), and the lock shared with the daemon and dl.
#include "DovecotServer.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <csignal>

#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

using namespace popstream::test;

namespace {

bool Has(const std::string &text, const std::string &needle)
{
	return text.find(needle) != std::string::npos;
}

/** alice (with mail), bob (empty) and a disabled carol, all on one Dovecot. */
struct Setup {
	TempDir tmp{0755};
	std::unique_ptr<DovecotServer> server;
	SampleSet sample;
	std::string netrc = tmp / "netrc";
	std::string config = tmp / "config.yaml";

	explicit Setup(unsigned count)
	{
		std::filesystem::create_directory(tmp / "srv");
		server = std::make_unique<DovecotServer>(
		    tmp / "srv",
		    std::vector<std::string>{"alice:s3cret", "bob:b0b", "carol:c4rol"});
		if (count > 0)
			sample = server->Fill("alice", count, 7);
		const auto port = std::to_string(server->pop3_port);
		WriteFile(netrc,
			  "machine alice@127.0.0.1:" + port +
			      " password s3cret\n"
			      "machine bob@127.0.0.1:" +
			      port + " password b0b\nmachine carol@127.0.0.1:" + port +
			      " password c4rol\n",
			  0600);
		WriteFile(config,
			  "accounts:\n"
			  "  - name: work\n    server: tcp:alice@127.0.0.1:" +
			      port + "\n    maildir: " + Maildir("work") +
			      "\n"
			      "  - name: home\n    server: tcp:bob@127.0.0.1:" +
			      port + "\n    maildir: " + Maildir("home") +
			      "\n"
			      "  - name: old\n    server: tcp:carol@127.0.0.1:" +
			      port + "\n    maildir: " + Maildir("old") +
			      "\n    enabled: false\n",
			  0600);
	}

	std::string Maildir(const std::string &account) const
	{
		return tmp / ("Mail/" + account);
	}

	ProcessResult Run(std::vector<std::string> args) const
	{
		args.insert(args.begin(), {"run", "-c", config});
		return RunPopstream(args, netrc, tmp.Path());
	}

	/** `popstream ARGS...` with the configuration where it is looked for by default
	 * ($HOME/.config/popstream/config.yaml), as a user runs `dl ACCOUNT`. */
	ProcessResult Default(std::vector<std::string> args) const
	{
		std::filesystem::create_directories(tmp / ".config/popstream");
		std::filesystem::copy_file(
		    config, tmp / ".config/popstream/config.yaml",
		    std::filesystem::copy_options::overwrite_existing);
		ProcessOptions options;
		options.argv = {RequireEnv("POPSTREAM_BIN")};
		options.argv.insert(options.argv.end(), args.begin(), args.end());
		options.env = {"NETRC=" + netrc, "HOME=" + tmp.Path(), "XDG_STATE_HOME",
			       "XDG_CONFIG_HOME"};
		options.timeout = std::chrono::minutes(3);
		return popstream::test::Run(options);
	}

	std::map<std::string, unsigned> Saved(const std::string &account) const
	{
		std::map<std::string, unsigned> hashes;
		for (const auto &name : ListDir(Maildir(account) + "/new"))
			++hashes[Sha256Hex(ReadFile(Maildir(account) + "/new/" + name))];
		return hashes;
	}
};

} // namespace

TEST_SUITE("dovecot-run")
{
	TEST_CASE(
	    "run fetches every enabled account once, byte for byte, one summary line "
	    "each")
	{
		Setup s(40);
		WriteFile(s.server->Maildir("carol") + "/new/1.M1.carol",
			  "Subject: c\n\nc\n", 0600);
		s.server->Own("carol");
		const auto r = s.Run({});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(s.Saved("work") == s.sample.FetchedHashes());
		CHECK(s.server->Count("alice") == 0);
		CHECK(ListDir(s.Maildir("home") + "/new").empty());
		// Disabled: not fetched, not even its Maildir made.
		CHECK(s.server->Count("carol") == 1);
		CHECK_FALSE(std::filesystem::exists(s.Maildir("old")));
		const auto port = std::to_string(s.server->pop3_port);
		CHECK(Has(r.out, "work: alice@127.0.0.1:" + port + ": 40 messages, " +
				     std::to_string(s.sample.Bytes())));
		CHECK(Has(r.out, "; 40 deleted on the server\n"));
		CHECK(Has(r.out, "home: bob@127.0.0.1:" + port + ": no new mail"));
		CHECK(r.err.empty());

		// Named on the command line, a disabled account is fetched; named twice,
		// once.
		const auto named = s.Run({"old", "old"});
		INFO(Describe(named));
		CHECK(named.exit_code == 0);
		CHECK(s.server->Count("carol") == 0);
		CHECK(ListDir(s.Maildir("old") + "/new").size() == 1);
		CHECK_FALSE(Has(named.out, "work:"));
	}

	TEST_CASE("run -q prints nothing when no mail came, and only what matters else")
	{
		Setup s(0);
		// The crontab line: nothing to say, nothing said.
		const auto quiet = s.Run({"-q"});
		INFO(Describe(quiet));
		CHECK(quiet.exit_code == 0);
		CHECK(quiet.out.empty());
		CHECK(quiet.err.empty());

		// Mail for one account: its line alone.
		s.sample = s.server->Fill("alice", 3, 9);
		const auto mail = s.Run({"-q"});
		INFO(Describe(mail));
		CHECK(mail.exit_code == 0);
		CHECK(Has(mail.out, "work: alice@"));
		CHECK_FALSE(Has(mail.out, "home:"));
		CHECK(s.Saved("work") == s.sample.FetchedHashes());

		// A wrong password: that account's error, the worst status, and the
		// other account still fetched and silent.
		const auto port = std::to_string(s.server->pop3_port);
		WriteFile(s.netrc,
			  "machine alice@127.0.0.1:" + port +
			      " password s3cret\nmachine bob@127.0.0.1:" + port +
			      " password wrong\n",
			  0600);
		const auto failed = s.Run({"-q"});
		INFO(Describe(failed));
		CHECK(failed.exit_code == 77);
		CHECK(failed.out.empty());
		CHECK(Has(failed.err, "popstream: home: login failed"));
		CHECK(Has(failed.err, "Authentication failed"));
		CHECK_FALSE(Has(failed.err, "work"));
		CHECK_FALSE(Has(failed.err, "wrong")); // no secret in any line
	}

	TEST_CASE("run names what it cannot do: an unknown account, a config error, an "
		  "account another process is fetching")
	{
		Setup s(2);
		const auto unknown = s.Run({"work", "nosuch"});
		CHECK(unknown.exit_code == 64);
		CHECK(unknown.err ==
		      "popstream: run: " + s.config + " has no account \"nosuch\"\n");
		CHECK(s.server->Count("alice") == 2); // nothing fetched

		WriteFile(s.config, "accounts:\n  - name: x\n    intervall: 5m\n", 0600);
		const auto bad = s.Run({});
		CHECK(bad.exit_code == 78);
		CHECK(Has(bad.err, s.config + ":3:5: "));
	}

	TEST_CASE("run and another process never fetch one account at once: the second "
		  "says which process holds it")
	{
		Setup s(5);
		const auto lock = s.tmp / ".local/state/popstream/work/lock";
		std::filesystem::create_directories(s.tmp /
						    ".local/state/popstream/work");
		// A process that holds the account's lock and wrote its pid, as a
		// popstreamd in the middle of a fetch does.
		ProcessOptions holder;
		holder.argv = {"flock", lock, "sh", "-c",
			       "echo $$ > '" + lock + "'; exec sleep 5"};
		Child child(holder);
		for (int i = 0; i < 100 && (!std::filesystem::exists(lock) ||
					    ReadFile(lock).empty());
		     ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		const auto r = s.Run({"work"});
		INFO(Describe(r));
		CHECK(r.exit_code == 75);
		CHECK(Has(r.err, "popstream: work: sleep (pid "));
		CHECK(Has(r.err, ") is fetching this account (it holds " + lock + ")"));
		CHECK(s.server->Count("alice") == 5);
		child.Signal(SIGKILL);
		child.Wait();
		// Released: the next run fetches it.
		CHECK(s.Run({"-q", "work"}).exit_code == 0);
		CHECK(s.server->Count("alice") == 0);
	}

	TEST_CASE(
	    "dl ACCOUNT fetches a configured account with its settings, Maildir and "
	    "journal")
	{
		Setup s(6);
		const auto r = s.Default({"dl", "work"});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(s.Saved("work") == s.sample.FetchedHashes());
		CHECK(s.server->Count("alice") == 0);
		// The account's journal, the one run and the daemon keep: not dl's own.
		CHECK(std::filesystem::exists(s.tmp /
					      ".local/state/popstream/work/journal"));
		CHECK_FALSE(std::filesystem::exists(s.tmp / ".local/state/popstream/dl"));
		CHECK(Has(r.out, "work: alice@127.0.0.1:"));

		// dl's own flags apply; its connection flags would contradict the
		// account's, and are refused.
		const auto pinned = s.Default({"dl", "--ca-file", "/etc/x.pem", "work"});
		CHECK(pinned.exit_code == 64);
		CHECK(
		    pinned.err ==
		    "popstream: dl: --ca-file cannot be used with the configured account "
		    "\"work\", which has its own (change it in the configuration, or "
		    "give a "
		    "server spec instead)\n");
		// A spec that is no account keeps its old meaning, and still needs a
		// Maildir.
		const auto bare = s.Default({"dl", "nosuch"});
		CHECK(bare.exit_code == 64);
		CHECK(Has(bare.err, "dl: MAILDIR is missing"));
	}

	TEST_CASE("on_new_mail runs after a fetch that saved mail, with the facts; its "
		  "failure changes nothing")
	{
		Setup s(4);
		const auto port = std::to_string(s.server->pop3_port);
		const auto facts = s.tmp / "facts";
		const auto hook =
		    "[sh, -c, 'echo $POPSTREAM_ACCOUNT $POPSTREAM_MESSAGES "
		    "$POPSTREAM_BYTES "
		    "$POPSTREAM_MAILDIR >> \"$0\"; echo indexed; exit 2', '" +
		    facts + "']";
		WriteFile(s.config,
			  "defaults:\n  on_new_mail: " + hook +
			      "\naccounts:\n"
			      "  - name: work\n    server: tcp:alice@127.0.0.1:" +
			      port + "\n    maildir: " + s.Maildir("work") +
			      "\n"
			      "  - name: home\n    server: tcp:bob@127.0.0.1:" +
			      port + "\n    maildir: " + s.Maildir("home") + "\n",
			  0600);
		const auto r = s.Run({"-q"});
		INFO(Describe(r));
		CHECK(r.exit_code == 0); // the hook failed: the mail is still fine
		CHECK(s.Saved("work") == s.sample.FetchedHashes());
		CHECK(s.server->Count("alice") == 0);
		// Once, for the account that got mail; home got none.
		CHECK(ReadFile(facts) == "work 4 " + std::to_string(s.sample.Bytes()) +
					     " " + s.Maildir("work") + "\n");
		CHECK(Has(r.err, "popstream: work: on_new_mail: indexed\n"));
		CHECK(Has(
		    r.err,
		    "popstream: work: on_new_mail \"sh\": failed with exit status 2\n"));
		CHECK_FALSE(Has(r.err, "home"));

		// Nothing new: no hook.
		const auto again = s.Run({"-q"});
		CHECK(again.exit_code == 0);
		CHECK(again.err.empty());
		CHECK(ReadFile(facts) == "work 4 " + std::to_string(s.sample.Bytes()) +
					     " " + s.Maildir("work") + "\n");
	}

	TEST_CASE("mda: procmail gets every message byte for byte; 75 keeps the mail for "
		  "later; a failing MDA says why and deletes nothing")
	{
		Setup s(12);
		const auto port = std::to_string(s.server->pop3_port);
		const auto delivered = s.tmp / "pm/Maildir";
		// procmail falls back on locking the system mailbox when its Maildir's
		// parent is missing: give it the Maildir.
		for (const char *sub : {"tmp", "new", "cur"})
			std::filesystem::create_directories(delivered + "/" + sub);
		WriteFile(s.tmp / "procmailrc",
			  "DEFAULT=" + delivered + "/\nLOGFILE=" + s.tmp / "pm/log" +
			      "\n",
			  0644);
		auto config = [&](const std::string &mda) {
			WriteFile(s.config,
				  "accounts:\n  - name: work\n    server: "
				  "tcp:alice@127.0.0.1:" +
				      port + "\n    mda: " + mda + "\n",
				  0600);
		};
		auto saved = [&] {
			std::map<std::string, unsigned> hashes;
			for (const auto &name : ListDir(delivered + "/new"))
				++hashes[Sha256Hex(ReadFile(delivered + "/new/" + name))];
			return hashes;
		};
		const std::string procmail =
		    "[procmail, -m, '" + s.tmp / "procmailrc" + "']";
		config(procmail);
		const auto r = s.Run({});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(saved() == s.sample.FetchedHashes());
		CHECK(s.server->Count("alice") == 0);
		CHECK(Has(r.out, "work: alice@127.0.0.1:" + port + ": 12 messages, " +
				     std::to_string(s.sample.Bytes()) +
				     " bytes saved to the MDA procmail in "));
		// Nothing of the user's was touched to stage them.
		CHECK_FALSE(std::filesystem::exists(s.Maildir("work")));

		// EX_TEMPFAIL: the message stays on the server for the next run.
		const auto later = s.server->Fill("alice", 3, 11);
		config("[sh, -c, 'cat > /dev/null; echo mailbox locked >&2; exit 75']");
		const auto deferred = s.Run({});
		INFO(Describe(deferred));
		CHECK(deferred.exit_code == 75);
		CHECK(s.server->Count("alice") == 3);
		CHECK(Has(deferred.err,
			  "the MDA \"sh\": exit 75 (EX_TEMPFAIL), try again "
			  "later: mailbox locked"));

		// Any other status: kept too, with the MDA's own words.
		config("[sh, -c, 'cat > /dev/null; echo no such user >&2; exit 67']");
		const auto failed = s.Run({});
		INFO(Describe(failed));
		CHECK(failed.exit_code != 0);
		CHECK(s.server->Count("alice") == 3);
		CHECK(Has(failed.err,
			  "the MDA \"sh\": failed with exit status 67: no such user"));

		// Back to procmail: the three arrive once, the twelve are not sent again.
		config(procmail);
		const auto again = s.Run({"-q"});
		INFO(Describe(again));
		CHECK(again.exit_code == 0);
		CHECK(s.server->Count("alice") == 0);
		auto all = s.sample.FetchedHashes();
		for (const auto &[hash, n] : later.FetchedHashes())
			all[hash] += n;
		CHECK(saved() == all);
	}

	TEST_CASE("dl --mda expands %u and %a and needs no Maildir")
	{
		Setup s(2);
		const auto out = s.tmp / "out";
		std::filesystem::create_directory(out);
		const auto spec =
		    "tcp:alice@127.0.0.1:" + std::to_string(s.server->pop3_port);
		// An MDA that exits 0 without reading its input, or only part of it,
		// cannot have delivered the message: it stays on the server.
		for (const std::string mda : {"true", "head -c 10"}) {
			const auto unread = s.Default({"dl", "--mda", mda, spec});
			INFO(Describe(unread));
			CHECK(unread.exit_code == 74);
			CHECK(s.server->Count("alice") == 2);
			CHECK(Has(unread.err,
				  "exited 0 without reading the whole message ("));
			CHECK(Has(unread.err, "so it cannot have delivered it"));
		}
		const std::string mda = "sh -c 'cat > \"$0/$1-$$\"' " + out + " %u";
		// Kept on the server (-n): handed over once, not again on the next run.
		for (int run = 0; run < 2; ++run) {
			const auto kept = s.Default({"dl", "-n", "--mda", mda, spec});
			INFO(Describe(kept));
			CHECK(kept.exit_code == 0);
			CHECK(s.server->Count("alice") == 2);
			CHECK(ListDir(out).size() == 2);
		}
		// Then deleted without being handed over a third time.
		const auto r = s.Default({"dl", "--mda", mda, spec});
		INFO(Describe(r));
		CHECK(r.exit_code == 0);
		CHECK(s.server->Count("alice") == 0);
		const auto files = ListDir(out);
		REQUIRE(files.size() == 2);
		CHECK(files[0].rfind("alice-", 0) == 0);
		const auto both = s.Default({"dl", "--mda", "cat", spec, s.tmp / "M"});
		CHECK(both.exit_code == 64);
		CHECK(both.err ==
		      "popstream: dl: MAILDIR and --mda both say where the mail "
		      "goes (choose one)\n");
	}

	TEST_CASE("mda: interrupted while the MDA works, then run again: every message "
		  "delivered once")
	{
		Setup s(6);
		const auto port = std::to_string(s.server->pop3_port);
		const auto out = s.tmp / "out";
		std::filesystem::create_directory(out);
		// Reads the message, then takes half a second to deliver it.
		auto config = [&](const std::string &pause) {
			WriteFile(s.config,
				  "accounts:\n  - name: work\n    server: "
				  "tcp:alice@127.0.0.1:" +
				      port + "\n    mda: [sh, -c, 'cat > \"$0/.m$$\"; " +
				      pause + "mv \"$0/.m$$\" \"$0/m$$\"', " + out +
				      "]\n",
				  0600);
		};
		auto delivered = [&] {
			std::map<std::string, unsigned> hashes;
			for (const auto &name : ListDir(out))
				if (name[0] == 'm')
					++hashes[Sha256Hex(ReadFile(out + "/" + name))];
			return hashes;
		};
		config("sleep 0.5; ");
		ProcessOptions run;
		run.argv = {RequireEnv("POPSTREAM_BIN"), "run", "-c", s.config};
		run.env = {"NETRC=" + s.netrc, "HOME=" + s.tmp.Path(), "XDG_STATE_HOME",
			   "XDG_CONFIG_HOME"};
		run.timeout = std::chrono::minutes(2);
		Child child(run);
		for (int i = 0; i < 200 && delivered().size() < 2; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		// A first SIGINT finishes what is in flight (all six here); a second
		// stops now. As `kill -INT`: the MDA itself is not told.
		child.Signal(SIGINT);
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		child.Signal(SIGINT);
		const auto stopped = child.Wait();
		INFO(Describe(stopped));
		CHECK(stopped.exit_code != 0);
		const auto first = delivered().size();
		CHECK(first >= 2);
		CHECK(first < 6);
		// What the MDA had when the stop came was finished, and recorded: the
		// next run hands over only the rest.
		config("");
		const auto again = s.Run({});
		INFO(Describe(again));
		CHECK(again.exit_code == 0);
		CHECK(s.server->Count("alice") == 0);
		CHECK(delivered() == s.sample.FetchedHashes());
	}

	TEST_CASE("mda: an MDA that takes its time holds up no other account")
	{
		Setup s(3);
		const auto port = std::to_string(s.server->pop3_port);
		const auto home_mail = s.server->Fill("bob", 4, 5);
		const auto out = s.tmp / "out";
		const auto go = s.tmp / "go";
		std::filesystem::create_directory(out);
		// work's MDA waits for the test to say go; home delivers to a Maildir.
		WriteFile(
		    s.config,
		    "accounts:\n  - name: work\n    server: tcp:alice@127.0.0.1:" + port +
			"\n    mda: [sh, -c, 'while [ ! -e \"$1\" ]; do sleep "
			"0.05; done; cat > \"$0/m$$\"', " +
			out + ", " + go +
			"]\n  - name: home\n    server: tcp:bob@127.0.0.1:" + port +
			"\n    maildir: " + s.Maildir("home") + "\n",
		    0600);
		ProcessOptions run;
		run.argv = {RequireEnv("POPSTREAM_BIN"), "run", "-c", s.config};
		run.env = {"NETRC=" + s.netrc, "HOME=" + s.tmp.Path(), "XDG_STATE_HOME",
			   "XDG_CONFIG_HOME"};
		run.timeout = std::chrono::minutes(2);
		Child child(run);
		// home is fetched and emptied while work's MDA still waits: the loop
		// that serves both is not the MDA's.
		for (int i = 0; i < 1500 && s.server->Count("bob") > 0; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		CHECK(s.server->Count("bob") == 0);
		CHECK(s.Saved("home") == home_mail.FetchedHashes());
		CHECK(ListDir(out).empty());
		CHECK(s.server->Count("alice") == 3);
		WriteFile(go, "", 0600);
		const auto r = child.Wait();
		INFO(Describe(r));
		CHECK(r.exit_code == 0);
		CHECK(s.server->Count("alice") == 0);
		std::map<std::string, unsigned> hashes;
		for (const auto &name : ListDir(out))
			++hashes[Sha256Hex(ReadFile(out + "/" + name))];
		CHECK(hashes == s.sample.FetchedHashes());
	}

	TEST_CASE("received_header and account_header: at the top of each message, then "
		  "the server's bytes unchanged")
	{
		Setup s(5);
		const auto port = std::to_string(s.server->pop3_port);
		WriteFile(s.config,
			  "defaults:\n  account_header: X-Popstream-Account\naccounts:\n"
			  "  - name: work\n    server: tcp:alice@127.0.0.1:" +
			      port + "\n    maildir: " + s.Maildir("work") +
			      "\n    received_header: true\n",
			  0600);
		const auto r = s.Run({});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(s.server->Count("alice") == 0);
		std::map<std::string, unsigned> hashes;
		const auto dir = s.Maildir("work") + "/new/";
		for (const auto &name : ListDir(dir)) {
			const auto text = ReadFile(dir + name);
			const std::string head = "Received: from [127.0.0.1] by ";
			REQUIRE(text.rfind(head, 0) == 0);
			const auto first = text.find('\n');
			CHECK(text.substr(first, 2) == "\n\t");
			CHECK(Has(text.substr(0, first), " with POP3 (popstream)"));
			const auto second = text.find('\n', first + 1);
			const std::string account = "X-Popstream-Account: work\n";
			REQUIRE(text.compare(second + 1, account.size(), account) == 0);
			++hashes[Sha256Hex(text.substr(second + 1 + account.size()))];
		}
		CHECK(hashes == s.sample.FetchedHashes());
	}

	TEST_CASE("mbox: every message appended, read back byte for byte by Python's "
		  "mailbox.mbox; a second run appends nothing")
	{
		Setup s(12);
		const auto port = std::to_string(s.server->pop3_port);
		// "From " lines in a body, quoted and quoted again (mboxrd).
		const std::string quoting =
		    "Subject: quoting\n\nFrom the start\n>From quoted\n>>From twice\n";
		WriteFile(s.server->Maildir("alice") + "/new/1.M99.quoting", quoting,
			  0600);
		s.server->Own("alice");
		const auto box = s.tmp / "Mail/inbox";
		WriteFile(s.config,
			  "accounts:\n  - name: work\n    server: tcp:alice@127.0.0.1:" +
			      port + "\n    mbox: " + box + "\n",
			  0600);
		const auto r = s.Run({});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(s.server->Count("alice") == 0);
		CHECK(Has(r.out, "13 messages, "));
		CHECK(Has(r.out, " saved to the mbox " + box + " in "));
		CHECK_FALSE(std::filesystem::exists(box + ".lock"));

		// A reader's view: Python splits the mbox; mboxrd's quoting is undone
		// as mutt undoes it.
		ProcessOptions python;
		python.argv = {"python3", "-c",
			       "import hashlib, mailbox, re, sys\n"
			       "box = mailbox.mbox(sys.argv[1], create=False)\n"
			       "for key in box.keys():\n"
			       "    raw = re.sub(rb'(?m)^>(>*From )', rb'\\1', "
			       "box.get_bytes(key))\n"
			       "    print(hashlib.sha256(raw).hexdigest())\n",
			       box};
		const auto read = popstream::test::Run(python);
		INFO(Describe(read));
		REQUIRE(read.exit_code == 0);
		std::map<std::string, unsigned> hashes;
		std::istringstream lines(read.out);
		for (std::string line; std::getline(lines, line);)
			++hashes[line];
		auto want = s.sample.FetchedHashes();
		++want[Sha256Hex(quoting)];
		CHECK(hashes == want);

		const auto before = ReadFile(box);
		const auto again = s.Run({"-q"});
		INFO(Describe(again));
		CHECK(again.exit_code == 0);
		CHECK(again.out.empty());
		CHECK(ReadFile(box) == before);
	}

	TEST_CASE(
	    "import: an mpoprc's MDA (through sh, %F the sender) and mbox, imported, "
	    "checked and run")
	{
		Setup s(5);
		const auto port = std::to_string(s.server->pop3_port);
		s.server->Fill("bob", 3, 9);
		// procmail writes an mbox whose From_ lines carry the -f sender.
		WriteFile(s.tmp / "procmailrc",
			  "DEFAULT=" + s.tmp / "pm.mbox" +
			      "\nLOGFILE=" + s.tmp / "pm.log" + "\n",
			  0644);
		WriteFile(s.tmp / "mpoprc",
			  "defaults\nhost 127.0.0.1\nport " + port +
			      "\ntls off\nauth user\n\n"
			      "account work\nuser alice\npasswordeval \"echo s3cret\"\n"
			      "delivery mda \"/usr/bin/procmail -f '%F' -m "
			      "$HOME/procmailrc\"\n\n"
			      "account home\nuser bob\npasswordeval \"echo b0b\"\n"
			      "delivery mbox ~/bob.mbox\nreceived_header\n");
		const auto imported = s.Default({"import", "mpop", s.tmp / "mpoprc"});
		INFO(Describe(imported));
		REQUIRE(imported.exit_code == 0);
		CHECK(Has(imported.out,
			  "    mda: [sh, \"-c\", \"/usr/bin/procmail -f "
			  "\\\"$1\\\" -m $HOME/procmailrc\", sh, \"%F\"]\n"));
		CHECK(Has(imported.out, "    received_header: true\n"));
		CHECK(Has(imported.out, "    mbox: ~/bob.mbox\n"));
		WriteFile(s.config, imported.out, 0600);
		const auto checked = s.Default({"check-config", s.config});
		INFO(Describe(checked));
		CHECK(checked.exit_code == 0);

		const auto r = s.Run({});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(s.server->Count("alice") == 0);
		CHECK(s.server->Count("bob") == 0);
		// Each of alice's messages reached procmail with its sender as -f: the
		// From_ line procmail wrote names the message's Return-Path.
		const auto pm = ReadFile(s.tmp / "pm.mbox");
		INFO(pm.substr(0, 400));
		// A message without a Return-Path has MAILER-DAEMON, as in mpop.
		std::size_t senders = 0, from_lines = 0;
		std::istringstream pm_lines(pm);
		std::string sender, return_path;
		bool in_header = false;
		const auto judge = [&] {
			if (from_lines > 0)
				senders +=
				    sender ==
				    (return_path.empty() ? "MAILER-DAEMON" : return_path);
		};
		for (std::string line; std::getline(pm_lines, line);) {
			if (line.starts_with("From ")) {
				judge();
				++from_lines;
				sender = line.substr(5, line.find(' ', 5) - 5);
				return_path.clear();
				in_header = true;
			} else if (line.empty()) {
				in_header = false;
			} else if (in_header && return_path.empty() &&
				   line.starts_with("Return-Path: <")) {
				return_path = line.substr(14, line.find('>') - 14);
			}
		}
		judge();
		CHECK(from_lines == 5);
		CHECK(senders == 5);
		// bob's, appended to the mbox, each with popstream's Received: field.
		const auto box = ReadFile(s.tmp / "bob.mbox");
		std::size_t received = 0;
		for (std::size_t at = 0;
		     (at = box.find("\nReceived: from ", at)) != std::string::npos; ++at)
			++received;
		CHECK(received == 3);
		CHECK(box.starts_with("From "));
		CHECK_FALSE(box.starts_with("From MAILER-DAEMON"));
	}

	TEST_CASE("check-config --connect logs in to each account and lists it, fetching "
		  "nothing; a wrong password is the account's exit status")
	{
		Setup s(5);
		const auto r = RunPopstream({"check-config", "--connect", s.config},
					    s.netrc, s.tmp.Path());
		INFO(Describe(r));
		CHECK(r.exit_code == 0);
		CHECK(Has(r.out,
			  "work: alice@127.0.0.1:" + std::to_string(s.server->pop3_port) +
			      ": dry run: 5 messages, "));
		CHECK(Has(r.out, "home: bob@127.0.0.1:"));
		CHECK(s.server->Count("alice") == 5);
		CHECK_FALSE(std::filesystem::exists(s.Maildir("work")));

		// A password the server refuses: 77, as run says it.
		auto netrc = ReadFile(s.netrc);
		netrc.replace(netrc.find("s3cret"), 6, "wrong!");
		WriteFile(s.netrc, netrc, 0600);
		const auto refused = RunPopstream({"check-config", "--connect", s.config},
						  s.netrc, s.tmp.Path());
		INFO(Describe(refused));
		CHECK(refused.exit_code == 77);
		CHECK(Has(refused.err, "work: "));
		CHECK(s.server->Count("alice") == 5);
	}

	TEST_CASE("run: two accounts on one mailbox: the second is named and skipped, "
		  "not blamed on another process")
	{
		Setup s(3);
		const auto port = std::to_string(s.server->pop3_port);
		WriteFile(
		    s.config,
		    "accounts:\n  - name: work\n    server: tcp:alice@127.0.0.1:" + port +
			"\n    maildir: " + s.Maildir("work") +
			"\n  - name: again\n    server: tcp:alice@127.0.0.1:" + port +
			"\n    maildir: " + s.Maildir("again") + "\n",
		    0600);
		const auto r = s.Run({});
		INFO(Describe(r));
		CHECK(r.exit_code == 78);
		CHECK(
		    Has(r.err, "popstream: run: again: not fetched: it names the mailbox "
			       "alice@127.0.0.1:" +
				   port + " of account work"));
		CHECK(s.server->Count("alice") == 0);
		CHECK(s.Saved("work") == s.sample.FetchedHashes());
		CHECK_FALSE(std::filesystem::exists(s.Maildir("again")));
	}
}
