// Issue 4's disk faults: a full disk, a Maildir that cannot be written and a journal
// that cannot be written. Whatever fails, nothing that is not durably in new/ is
// DELE'd, tmp/ is left empty, the error names the file and the system's reason, and the
// next run, once the fault is gone, completes with every message saved exactly once.
//
// The faults are real: a small tmpfs mounted for the Maildir or the state directory
// (filled with a filler file where needed), and read-only bind mounts (root ignores
// permission bits, but not a read-only mount). The process first moves into a mount
// namespace of its own, so the mounts are invisible elsewhere and disappear with the
// process even if it crashes; the guards below unmount them anyway. Without the right
// to mount (not root, no CAP_SYS_ADMIN) every case is skipped with a message.

#include "CaseChecks.hxx"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <sched.h>
#include <stdexcept>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <system_error>
#include <unistd.h>

using namespace popstream::test;

namespace {

/**
 * Enters a private mount namespace and checks that a tmpfs can be mounted. Called from
 * the skip decorators, that is during static initialisation, while the process has only
 * one thread: unshare(CLONE_NEWNS) refuses a multi-threaded process.
 * @return why mounting is impossible, or an empty string
 */
const std::string &WhyNoMounts()
{
	static const std::string why = []() -> std::string {
		if (unshare(CLONE_NEWNS) != 0)
			return std::string("unshare(CLONE_NEWNS): ") +
			       std::strerror(errno);
		// Without this, mounts would propagate back to the parent namespace.
		if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
			return std::string("making / private: ") + std::strerror(errno);
		const char *base = std::getenv("TMPDIR");
		std::string probe =
		    std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
		    "/popstream-mount-probe.XXXXXX";
		if (mkdtemp(probe.data()) == nullptr)
			return "mkdtemp " + probe + ": " + std::strerror(errno);
		std::string result;
		if (mount("tmpfs", probe.c_str(), "tmpfs", 0, "size=64k") != 0)
			result = std::string("mount -t tmpfs: ") + std::strerror(errno);
		else
			umount2(probe.c_str(), MNT_DETACH);
		rmdir(probe.c_str());
		return result;
	}();
	return why;
}

/** @return true (and says why, once) if the cases cannot run here */
bool MountsUnavailable()
{
	const auto &why = WhyNoMounts();
	static bool said = false;
	if (!why.empty() && !said) {
		said = true;
		std::fprintf(
		    stderr,
		    "cases.disk-faults: skipped: mounting needs root (CAP_SYS_ADMIN): "
		    "%s\n",
		    why.c_str());
	}
	return !why.empty();
}

/** A tmpfs of a given size mounted on a directory (created if missing) while the object
 * lives. */
class TmpfsMount {
	std::string dir_;

public:
	/** @throws std::system_error */
	TmpfsMount(std::string dir, unsigned size_kib) : dir_(std::move(dir))
	{
		std::filesystem::create_directories(dir_);
		const auto options = "size=" + std::to_string(size_kib) + "k,mode=0700";
		if (mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
			  options.c_str()) != 0)
			throw std::system_error(errno, std::generic_category(),
						"mount -t tmpfs " + dir_);
	}
	~TmpfsMount() { umount2(dir_.c_str(), MNT_DETACH); }
	TmpfsMount(const TmpfsMount &) = delete;
	TmpfsMount &operator=(const TmpfsMount &) = delete;

	/** Grows (or shrinks) the file system in place, as freeing space would.
	 * @throws std::system_error */
	void Resize(unsigned size_kib)
	{
		const auto options = "size=" + std::to_string(size_kib) + "k";
		if (mount("tmpfs", dir_.c_str(), "tmpfs",
			  MS_REMOUNT | MS_NOSUID | MS_NODEV, options.c_str()) != 0)
			throw std::system_error(errno, std::generic_category(),
						"remount " + dir_);
	}

	/** @return free bytes on the file system */
	std::uint64_t FreeBytes() const
	{
		struct statvfs st {};
		if (statvfs(dir_.c_str(), &st) != 0)
			return 0;
		return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
	}
};

/**
 * A read-only bind mount of a file or directory over itself while the object lives (or
 * until Release()): writes there fail with EROFS, for root too.
 */
class ReadOnlyBind {
	std::string path_;

public:
	/** @throws std::system_error */
	explicit ReadOnlyBind(std::string path) : path_(std::move(path))
	{
		if (mount(path_.c_str(), path_.c_str(), nullptr, MS_BIND, nullptr) != 0)
			throw std::system_error(errno, std::generic_category(),
						"bind mount " + path_);
		if (mount(nullptr, path_.c_str(), nullptr,
			  MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
			const int error = errno;
			umount2(path_.c_str(), MNT_DETACH);
			path_.clear();
			throw std::system_error(error, std::generic_category(),
						"read-only remount");
		}
	}
	~ReadOnlyBind() { Release(); }
	ReadOnlyBind(const ReadOnlyBind &) = delete;
	ReadOnlyBind &operator=(const ReadOnlyBind &) = delete;

	/** Makes the path writable again. */
	void Release() noexcept
	{
		if (!path_.empty())
			umount2(path_.c_str(), MNT_DETACH);
		path_.clear();
	}
};

/**
 * Fills the file system holding @p path with the file @p path until it is full, then
 * gives back @p leave_bytes (a multiple of the page size: tmpfs counts whole pages).
 * @throws std::system_error
 */
void FillUpTo(const std::string &path, std::uint64_t leave_bytes)
{
	const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		throw std::system_error(errno, std::generic_category(), "create " + path);
	const std::string chunk(64 * 1024, 'x');
	std::uint64_t size = 0;
	for (;;) {
		const ssize_t n = write(fd, chunk.data(), chunk.size());
		if (n > 0) {
			size += static_cast<std::uint64_t>(n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break; // ENOSPC: full
	}
	const auto keep = size > leave_bytes ? size - leave_bytes : 0;
	const int rc = ftruncate(fd, static_cast<off_t>(keep));
	const int error = errno;
	close(fd);
	if (rc != 0)
		throw std::system_error(error, std::generic_category(),
					"truncate " + path);
}

/**
 * @return message @p n of about @p size octets (CRLF form): headers naming n, then
 *         76-octet lines that name n too, so that each message is unique
 */
std::string Message(unsigned n, std::size_t size)
{
	const auto number = std::to_string(n);
	std::string m =
	    "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: msg " + number +
	    "\r\nMessage-ID: <" + number + "@disk.example>\r\n\r\n";
	for (unsigned line = 0; m.size() < size; ++line) {
		std::string text =
		    "body " + number + " line " + std::to_string(line) + " ";
		text.resize(74, '.');
		m += text + "\r\n";
	}
	return m;
}

/** The messages of one test, in the server's order at the start of the test. */
struct Mail {
	std::vector<std::string> crlf;
	std::vector<std::string> uids;

	/** Adds @p count messages of @p size octets, unique-ids PREFIX1.. */
	Mail(FakePop3Server &server, unsigned count, std::size_t size,
	     const std::string &uid_prefix = "u")
	{
		for (unsigned n = 1; n <= count; ++n) {
			crlf.push_back(Message(n, size));
			uids.push_back(uid_prefix + std::to_string(n));
			server.AddMessage(crlf.back(), uids.back());
		}
	}

	/** @return every message in Maildir (LF) form */
	std::vector<std::string> Stored() const
	{
		std::vector<std::string> out;
		for (const auto &m : crlf)
			out.push_back(CrlfToLf(m));
		return out;
	}
};

/** @return true if one line of @p text contains every one of @p needles */
bool LineWithAll(std::string_view text, const std::vector<std::string> &needles)
{
	std::size_t begin = 0;
	while (begin < text.size()) {
		auto end = text.find('\n', begin);
		if (end == std::string_view::npos)
			end = text.size();
		const auto line = text.substr(begin, end - begin);
		begin = end + 1;
		if (std::all_of(needles.begin(), needles.end(),
				[&](const std::string &n) {
					return line.find(n) != std::string_view::npos;
				}))
			return true;
	}
	return false;
}

/** @return how many lines of @p text contain @p needle */
std::size_t CountLinesWith(std::string_view text, std::string_view needle)
{
	std::size_t count = 0;
	std::size_t begin = 0;
	while (begin < text.size()) {
		auto end = text.find('\n', begin);
		if (end == std::string_view::npos)
			end = text.size();
		count += text.substr(begin, end - begin).find(needle) !=
			 std::string_view::npos;
		begin = end + 1;
	}
	return count;
}

/**
 * Checks what must hold after any run, however it failed: tmp/ is empty; no message is
 * in new/ twice; every message is on the server or in new/ (nothing lost); and each
 * DELE of the run was for a message whose copy is in new/.
 * @param numbered the messages (CRLF) in the server's numbering at the run's start
 * @param first_connection the run's first connection
 * @return how many of @p all are in new/
 */
std::size_t CheckNothingLost(const CaseHarness &harness, const FakePop3Server &server,
			     const Mail &all, const std::vector<std::string> &numbered,
			     unsigned first_connection, const std::string &maildir)
{
	INFO("tmp/ holds: ", Join(harness.Names("tmp", maildir)));
	CHECK(harness.Names("tmp", maildir).empty());
	const auto files = harness.Files("new", maildir);
	std::map<std::string, std::size_t> copies;
	for (const auto &f : files)
		++copies[f];
	std::size_t saved = 0;
	const auto remaining = server.RemainingUids();
	for (std::size_t i = 0; i < all.crlf.size(); ++i) {
		const auto n = copies[CrlfToLf(all.crlf[i])];
		CAPTURE(all.uids[i]);
		CHECK(n <= 1);
		const bool on_server = std::find(remaining.begin(), remaining.end(),
						 all.uids[i]) != remaining.end();
		CHECK_MESSAGE((n > 0 || on_server), "message lost");
		saved += n > 0 ? 1 : 0;
	}
	CHECK(files.size() == saved); // nothing in new/ that is not one of ours
	for (const auto &command : CommandsFrom(server, first_connection)) {
		std::string verb = command.substr(0, command.find(' '));
		for (auto &ch : verb)
			ch = static_cast<char>(
			    std::toupper(static_cast<unsigned char>(ch)));
		if (verb != "DELE")
			continue;
		const auto n = std::stoul(command.substr(5));
		CAPTURE(command);
		REQUIRE((n >= 1 && n <= numbered.size()));
		CHECK_MESSAGE(copies[CrlfToLf(numbered[n - 1])] == 1,
			      "DELE of a message that is not in new/");
	}
	return saved;
}

/** The state directory of the account as popstream dl names it (see StatePaths.cxx). */
std::string AccountStateDir(const std::string &state_home, const FakePop3Server &server)
{
	return state_home +
	       "/popstream/dl/alice@127.0.0.1:" + std::to_string(server.Port());
}

/** Runs popstream until it has nothing left to do and checks it all ended well. */
void CheckNextRunCompletes(CaseHarness &harness, FakePop3Server &server, const Mail &all,
			   const DlOptions &options)
{
	const unsigned before = server.ConnectionCount();
	std::vector<std::string> numbered;
	const auto remaining = server.RemainingUids();
	for (const auto &uid : remaining)
		for (std::size_t i = 0; i < all.uids.size(); ++i)
			if (all.uids[i] == uid)
				numbered.push_back(all.crlf[i]);
	const auto maildir =
	    options.maildir.empty() ? harness.Maildir() : options.maildir;
	const auto saved_before = harness.Names("new", maildir).size();
	const auto run = harness.Dl(server, options);
	INFO("next run: ", run.Describe());
	INFO(DescribeCommands(server));
	CheckOrderlyExit(run);
	CHECK(run.ExitCode() == exit_code::ok);
	// The failed run left the journal whole: no torn line, and no "pending" record of
	// a message it gave up on, which would look like an interrupted delivery. (A
	// "pending" whose "delivered" did not fit on the disk any more is recognised from
	// the file in new/: "1 message(s) found saved, 0 unfinished".)
	CHECK_FALSE(ContainsNoCase(run.Err(), "damaged"));
	CHECK(CountLinesWith(run.Err(), "unfinished") ==
	      CountLinesWith(run.Err(), " 0 unfinished"));
	CHECK(server.RemainingUids().empty());
	CheckNewFiles(harness, all.Stored(), maildir);
	// What the failed run saved is recognised and deleted, not downloaded again.
	CHECK(CountVerb(CommandsFrom(server, before + 1), "RETR") ==
	      all.crlf.size() - saved_before);
	CheckNothingLost(harness, server, all, numbered, before + 1, maildir);
}

} // namespace

TEST_CASE("Maildir on a full disk mid-message: what fits is saved and deleted, the rest "
	  "stays; the next run completes" *
	  doctest::skip(MountsUnavailable()))
{
	for (const std::string pipelining : {"auto", "off"}) {
		CAPTURE(pipelining);
		FakePop3Server server;
		// 4 × 300 KiB on a 1 MiB file system: three fit, the fourth fails while
		// it is being written (each write is up to 64 KiB).
		const Mail mail(server, 4, 300 * 1024);
		CaseHarness harness;
		TmpfsMount disk(harness.Maildir(), 1024);
		DlOptions options;
		options.args = {"--pipelining", pipelining};
		const auto run = harness.Dl(server, options);
		INFO("full run: ", run.Describe());
		INFO(DescribeCommands(server));
		CheckOrderlyExit(run);
		// EX_IOERR: a message could not be written (ExitCode.hxx).
		CHECK(run.ExitCode() == exit_code::io_error);
		CHECK(LineWithAll(run.Err(), {"message 4", harness.Maildir() + "/tmp/",
					      "No space left on device"}));
		CHECK(CountLinesWith(run.Err(), "No space left on device") == 1);
		const auto saved = CheckNothingLost(harness, server, mail, mail.crlf, 1,
						    harness.Maildir());
		CHECK(saved == 3);
		CheckNewFiles(harness, {CrlfToLf(mail.crlf[0]), CrlfToLf(mail.crlf[1]),
					CrlfToLf(mail.crlf[2])});
		CHECK(server.RemainingUids() == std::vector<std::string>{"u4"});
		CHECK_FALSE(HasCommand(server.AllCommands(), "DELE 4"));
		// The deletions of what was saved are committed, not left hanging.
		CHECK(HasCommand(server.AllCommands(), "QUIT"));
		CHECK(ContainsNoCase(run.Out(), "3 deleted on the server"));
		MESSAGE("full Maildir (pipelining ", pipelining, "): ", run.wall_seconds,
			" s, free after: ", disk.FreeBytes(), " bytes");

		disk.Resize(4096);
		CheckNextRunCompletes(harness, server, mail, options);
	}
}

TEST_CASE("Maildir on a nearly full disk, small messages: the one that does not fit "
	  "fails at its final write, nothing unsaved is deleted" *
	  doctest::skip(MountsUnavailable()))
{
	// Each message (under the 64 KiB write buffer) is written at once when it ends,
	// so the failure comes from the fsync step's flush; with no room at all it comes
	// from the very first message.
	for (const std::uint64_t leave_pages : {0u, 5u}) {
		for (const std::string pipelining : {"auto", "off"}) {
			CAPTURE(leave_pages);
			CAPTURE(pipelining);
			FakePop3Server server;
			const Mail mail(server, 6, 5000);
			CaseHarness harness;
			const auto maildir = harness.Home() + "/disk/Maildir";
			TmpfsMount disk(harness.Home() + "/disk", 512);
			const auto filler = harness.Home() + "/disk/filler";
			FillUpTo(filler, leave_pages * 4096);
			DlOptions options;
			options.args = {"--pipelining", pipelining};
			options.maildir = maildir;
			const auto run = harness.Dl(server, options);
			INFO("full run: ", run.Describe());
			INFO(DescribeCommands(server));
			CheckOrderlyExit(run);
			CHECK(run.ExitCode() == exit_code::io_error);
			CHECK(LineWithAll(run.Err(), {"cannot save", maildir + "/tmp/",
						      "No space left on device"}));
			CHECK(CountLinesWith(run.Err(), "No space left on device") == 1);
			const auto saved = CheckNothingLost(harness, server, mail,
							    mail.crlf, 1, maildir);
			// A 5000-octet message takes two pages: none fits in none, two in
			// five.
			CHECK(saved == (leave_pages == 0 ? 0 : 2));
			CHECK(server.RemainingUids().size() == mail.crlf.size() - saved);
			CHECK(CountVerb(server.AllCommands(), "DELE") == saved);
			MESSAGE("nearly full Maildir (", leave_pages,
				" pages free, pipelining ", pipelining, "): ", saved,
				" saved, ", run.wall_seconds, " s");

			std::filesystem::remove(filler);
			CheckNextRunCompletes(harness, server, mail, options);
		}
	}
}

TEST_CASE("journal on a full disk: nothing is deleted that was not journaled; the next "
	  "run completes without duplicates" *
	  doctest::skip(MountsUnavailable()))
{
	// Long unique-ids make each journal record about 200 octets, so one free page
	// holds the records of a few messages and the disk fills up in mid-run.
	const std::string long_uid(60, 'j');
	for (const std::uint64_t leave_pages : {0u, 1u}) {
		for (const std::string pipelining : {"auto", "off"}) {
			CAPTURE(leave_pages);
			CAPTURE(pipelining);
			FakePop3Server server;
			const Mail mail(server, 30, 2000, long_uid);
			CaseHarness harness;
			const auto state = harness.Home() + "/state";
			TmpfsMount disk(state, 256);
			const auto journal = AccountStateDir(state, server) + "/journal";
			// The directories exist before the disk fills up, as they would
			// after earlier runs.
			std::filesystem::create_directories(
			    AccountStateDir(state, server));
			std::filesystem::create_directories(state + "/popstream/locks");
			FillUpTo(state + "/filler", leave_pages * 4096);
			DlOptions options;
			options.args = {"--pipelining", pipelining};
			options.env = {"XDG_STATE_HOME=" + state};
			const auto run = harness.Dl(server, options);
			INFO("full run: ", run.Describe());
			INFO(DescribeCommands(server));
			CheckOrderlyExit(run);
			CHECK(run.ExitCode() == exit_code::io_error);
			CHECK(LineWithAll(
			    run.Err(), {"journal", journal, "No space left on device"}));
			// One line gives the reason, one names the first message it cost;
			// not one line per message or per later attempt to write.
			CHECK(CountLinesWith(run.Err(), "No space left on device") == 1);
			CHECK(CountLinesWith(run.Err(), "cannot save") <= 1);
			const auto saved =
			    CheckNothingLost(harness, server, mail, mail.crlf, 1, {});
			if (leave_pages == 0)
				CHECK(saved == 0);
			else
				CHECK(saved < mail.crlf.size());
			CHECK(server.RemainingUids().size() == mail.crlf.size() - saved);
			CHECK(CountVerb(server.AllCommands(), "DELE") == saved);
			MESSAGE("full journal disk (", leave_pages,
				" pages free, pipelining ", pipelining, "): ", saved,
				" of ", mail.crlf.size(), " saved and deleted, ",
				run.wall_seconds, " s");

			std::filesystem::remove(state + "/filler");
			CheckNextRunCompletes(harness, server, mail, options);
		}
	}
}

TEST_CASE("Maildir and journal on one full disk: whichever fails first, nothing unsaved "
	  "is deleted and the next run completes" *
	  doctest::skip(MountsUnavailable()))
{
	// The usual layout: both under $HOME on one file system. A failed message's
	// tmp/ file is removed, which frees space the journal may then use again.
	for (const std::uint64_t leave_pages : {1u, 3u, 6u}) {
		for (const std::string pipelining : {"auto", "off"}) {
			CAPTURE(leave_pages);
			CAPTURE(pipelining);
			FakePop3Server server;
			const Mail mail(server, 6, 5000, std::string(40, 'h'));
			CaseHarness harness;
			const auto disk_dir = harness.Home() + "/disk";
			TmpfsMount disk(disk_dir, 512);
			const auto maildir = disk_dir + "/Maildir";
			const auto state = disk_dir + "/state";
			std::filesystem::create_directories(
			    AccountStateDir(state, server));
			std::filesystem::create_directories(state + "/popstream/locks");
			FillUpTo(disk_dir + "/filler", leave_pages * 4096);
			DlOptions options;
			options.args = {"--pipelining", pipelining};
			options.maildir = maildir;
			options.env = {"XDG_STATE_HOME=" + state};
			const auto run = harness.Dl(server, options);
			INFO("full run: ", run.Describe());
			INFO(DescribeCommands(server));
			CheckOrderlyExit(run);
			CHECK(run.ExitCode() == exit_code::io_error);
			// At most one line per file that ran out of space: a message's
			// file in tmp/ and the journal.
			CHECK(CountLinesWith(run.Err(), "No space left on device") <= 2);
			CHECK(LineWithAll(run.Err(),
					  {disk_dir, "No space left on device"}));
			const auto saved = CheckNothingLost(harness, server, mail,
							    mail.crlf, 1, maildir);
			CHECK(saved < mail.crlf.size());
			CHECK(CountVerb(server.AllCommands(), "DELE") == saved);
			MESSAGE("Maildir and journal on one full disk (", leave_pages,
				" pages free, pipelining ", pipelining, "): ", saved,
				" saved and deleted");

			std::filesystem::remove(disk_dir + "/filler");
			CheckNextRunCompletes(harness, server, mail, options);
		}
	}
}

TEST_CASE("a Maildir that cannot be written: nothing is downloaded or deleted" *
	  doctest::skip(MountsUnavailable()))
{
	// The whole Maildir, or only new/ or tmp/, on a read-only mount: root's way of
	// meeting a Maildir it may not write.
	for (const std::string part : {"", "/new", "/tmp"}) {
		CAPTURE(part);
		FakePop3Server server;
		const Mail mail(server, 3, 1000);
		CaseHarness harness;
		for (const char *sub : {"/tmp", "/new", "/cur"})
			std::filesystem::create_directories(harness.Maildir() + sub);
		ReadOnlyBind read_only(harness.Maildir() + part);
		const auto run = harness.Dl(server);
		INFO("run: ", run.Describe());
		INFO(DescribeCommands(server));
		CheckOrderlyExit(run);
		// EX_CANTCREAT: the Maildir cannot be written (ExitCode.hxx).
		CHECK(run.ExitCode() == 73);
		CHECK(
		    LineWithAll(run.Err(), {harness.Maildir(), "Read-only file system"}));
		CHECK(CountVerb(server.AllCommands(), "RETR") == 0);
		CHECK(CountVerb(server.AllCommands(), "DELE") == 0);
		CHECK(server.RemainingUids() == mail.uids);
		CHECK(harness.Names("new").empty());
		CheckNothingLost(harness, server, mail, mail.crlf, 1, {});

		read_only.Release();
		CheckNextRunCompletes(harness, server, mail, {});
	}
}

TEST_CASE("a journal that cannot be written: the run stops before it connects, and the "
	  "next run completes without duplicates" *
	  doctest::skip(MountsUnavailable()))
{
	enum class Fault {
		StateHomeReadOnly,
		AccountDirReadOnly,
		FileForDir,
		JournalReadOnly
	};
	for (const auto fault : {Fault::StateHomeReadOnly, Fault::AccountDirReadOnly,
				 Fault::FileForDir, Fault::JournalReadOnly}) {
		CAPTURE(static_cast<int>(fault));
		FakePop3Server server;
		const Mail mail(server, 4, 1000);
		CaseHarness harness;
		const auto state = harness.Home() + "/state";
		const auto account = AccountStateDir(state, server);
		DlOptions options;
		options.env = {"XDG_STATE_HOME=" + state};

		// A first run with -n leaves a journal that knows every message, so that
		// the last run shows it still counts: it deletes them without RETR.
		DlOptions keep = options;
		keep.args = {"-n"};
		const auto first = harness.Dl(server, keep);
		INFO("first run: ", first.Describe());
		REQUIRE(first.ExitCode() == exit_code::ok);
		REQUIRE(std::filesystem::exists(account + "/journal"));

		std::unique_ptr<ReadOnlyBind> read_only;
		std::string named;
		switch (fault) {
		case Fault::StateHomeReadOnly:
			read_only = std::make_unique<ReadOnlyBind>(state);
			named = state + "/popstream/locks/";
			break;
		case Fault::AccountDirReadOnly:
			read_only = std::make_unique<ReadOnlyBind>(account);
			named = account + "/lock";
			break;
		case Fault::FileForDir:
			std::filesystem::rename(account, account + ".saved");
			WriteFile(account, "not a directory\n");
			named = account;
			break;
		case Fault::JournalReadOnly:
			read_only = std::make_unique<ReadOnlyBind>(account + "/journal");
			named = account + "/journal";
			break;
		}
		const unsigned before = server.ConnectionCount();
		const auto run = harness.Dl(server, options);
		INFO("run: ", run.Describe());
		INFO(DescribeCommands(server));
		CheckOrderlyExit(run);
		CHECK(run.ExitCode() == 73);
		CHECK(LineWithAll(run.Err(), {"state directory", named}));
		CHECK((ContainsNoCase(run.Err(), "Read-only file system") ||
		       ContainsNoCase(run.Err(), "Not a directory")));
		// Without its journal popstream could not tell what it saved before:
		// it does not even connect.
		CHECK(server.ConnectionCount() == before);
		CHECK(server.RemainingUids() == mail.uids);
		CheckNewFiles(harness, mail.Stored());

		if (read_only)
			read_only->Release();
		if (fault == Fault::FileForDir) {
			std::filesystem::remove(account);
			std::filesystem::rename(account + ".saved", account);
		}
		const unsigned last = server.ConnectionCount();
		const auto again = harness.Dl(server, options);
		INFO("next run: ", again.Describe());
		CHECK(again.ExitCode() == exit_code::ok);
		CHECK(server.RemainingUids().empty());
		CheckNewFiles(harness, mail.Stored());
		CHECK(CountVerb(CommandsFrom(server, last + 1), "RETR") == 0);
		CHECK(CountVerb(CommandsFrom(server, last + 1), "DELE") ==
		      mail.crlf.size());
	}
}
