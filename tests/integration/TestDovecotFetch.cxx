// `popstream dl` against a real Dovecot 2.3 (tests/support/dovecot-harness) filled with
// make-sample-mail's awkward messages. Every case starts a server of its own, so the
// cases may run in parallel (meson registers one test per case).

#include "DovecotServer.hxx"
#include "Pop3Probe.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <ifaddrs.h>
#include <iomanip>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace popstream::test;

namespace {

const std::string user = "alice";
const std::string password = "s3cret";

/** A Dovecot holding sample mail for alice, a netrc for it and a place for a Maildir. */
/** A Dovecot offering every mechanism a login test needs, listening on @p listen
 * (empty = 127.0.0.1). */
DovecotOptions AllMechanisms(std::string listen = {})
{
	DovecotOptions options;
	options.auth_mechanisms = all_auth_mechanisms;
	options.listen = std::move(listen);
	return options;
}

struct Setup {
	TempDir tmp{0755};
	std::unique_ptr<DovecotServer> server;
	SampleSet sample;
	std::string netrc = tmp / "netrc";
	std::string maildir = tmp / "Maildir";

	/**
	 * @param count messages in the mailbox
	 * @param netrc_password what the netrc says (the server's is always "s3cret")
	 */
	explicit Setup(unsigned count, unsigned seed = 1,
		       const std::string &netrc_password = password,
		       const DovecotOptions &options = {})
	{
		std::filesystem::create_directory(tmp / "srv");
		server = std::make_unique<DovecotServer>(
		    tmp / "srv", std::vector{user + ":" + password}, options);
		if (count > 0)
			sample = server->Fill(user, count, seed);
		// Written for the address the server listens on.
		std::string text;
		for (const unsigned port : {server->pop3_port, server->pop3s_port})
			text += "machine " + user + "@" + server->host + ":" +
				std::to_string(port) + " login " + user + " password " +
				netrc_password + "\n";
		WriteFile(netrc, text, 0600);
	}

	/** @return the spec for cleartext POP3 */
	std::string Tcp() const
	{
		return "tcp:" + user + "@" + server->host + ":" +
		       std::to_string(server->pop3_port);
	}

	/** @return the spec for STLS on the cleartext port, verified as @p name */
	std::string StartTls(const std::string &name = "pop.example.com") const
	{
		return "starttls:" + user + "@" + server->host + "!" + name + ":" +
		       std::to_string(server->pop3_port);
	}

	/** @return the spec for implicit TLS to 127.0.0.1, verified as @p name */
	std::string Ssl(const std::string &name = "pop.example.com") const
	{
		return user + "@127.0.0.1!" + name + ":" +
		       std::to_string(server->pop3s_port);
	}

	ProcessResult Dl(std::vector<std::string> args) const
	{
		args.insert(args.begin(), "dl");
		return RunPopstream(args, netrc, tmp.Path());
	}

	unsigned OnServer() const { return server->Count(user); }
};

/** @return how often each SHA-256 occurs among the files in @p dir */
std::map<std::string, unsigned> HashesIn(const std::string &dir)
{
	std::map<std::string, unsigned> hashes;
	for (const auto &name : ListDir(dir))
		++hashes[Sha256Hex(ReadFile(dir + "/" + name))];
	return hashes;
}

/** @return how many entries @p dir holds (0 if it does not exist) */
size_t Entries(const std::string &dir)
{
	return ListDir(dir).size();
}

/**
 * Checks that @p maildir holds exactly the sample, byte for byte, as mode 0600 files in
 * new/, with nothing left in tmp/.
 */
void CheckHoldsAll(const std::string &maildir, const SampleSet &sample)
{
	const auto names = ListDir(maildir + "/new");
	CHECK(names.size() == sample.messages.size());
	const auto got = HashesIn(maildir + "/new");
	const auto want = sample.FetchedHashes();
	if (got != want) {
		// Name (some of) the originals that did not arrive intact, to find them
		// in the sample.
		unsigned missing = 0;
		for (const auto &m : sample.messages) {
			if (got.contains(m.fetched_sha256))
				continue;
			if (++missing <= 10)
				MESSAGE("missing or altered: " << m.name << " (" << m.size
							       << " bytes)");
		}
		MESSAGE(missing << " of " << sample.messages.size()
				<< " messages missing or altered");
	}
	CHECK(got == want);
	for (const auto &name : names) {
		struct stat st {};
		REQUIRE(stat((maildir + "/new/" + name).c_str(), &st) == 0);
		CHECK_MESSAGE((st.st_mode & 07777) == 0600, name);
		CHECK(S_ISREG(st.st_mode));
	}
	CHECK(Entries(maildir + "/tmp") == 0);
}

/** @return @p s in lower case */
std::string Lower(std::string s)
{
	std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
		return static_cast<char>(std::tolower(c));
	});
	return s;
}

/** Checks that stderr is one line (or more) of "popstream: ..." and nothing else. */
void CheckErrorLines(const ProcessResult &r, bool exactly_one)
{
	INFO(Describe(r));
	CHECK(r.err.starts_with("popstream: "));
	CHECK(!r.err.empty());
	CHECK(r.err.back() == '\n');
	if (exactly_one)
		CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

/** Fetches everything with @p spec and checks the result and a second, empty run. */
void FetchAllAndCheck(const Setup &s, const std::vector<std::string> &spec_args)
{
	auto args = spec_args;
	args.push_back(s.maildir);
	const auto r = s.Dl(args);
	INFO(Describe(r));
	REQUIRE(r.exit_code == 0);
	// A well-behaved server gets a clean run: no warning, no lock-step redo.
	CHECK(r.err.empty());
	CHECK(SaysMessages(r.out, s.sample.messages.size()));
	CheckHoldsAll(s.maildir, s.sample);
	CHECK(s.OnServer() == 0);

	const auto again = s.Dl(args);
	INFO(Describe(again));
	CHECK(again.exit_code == 0);
	CHECK(SaysMessages(again.out, 0));
	CHECK(Entries(s.maildir + "/new") == s.sample.messages.size());
}

/** @return @p bytes with every ASCII letter rotated by 13: other text, same size and
 * lines */
std::string Rot13(std::string bytes)
{
	for (char &c : bytes) {
		if (c >= 'a' && c <= 'z')
			c = static_cast<char>('a' + (c - 'a' + 13) % 26);
		else if (c >= 'A' && c <= 'Z')
			c = static_cast<char>('A' + (c - 'A' + 13) % 26);
	}
	return bytes;
}

/** @return the UIDVALIDITY in the header of a Dovecot Maildir's dovecot-uidlist */
uint32_t UidValidity(const std::string &maildir)
{
	std::istringstream header(ReadFile(maildir + "/dovecot-uidlist"));
	std::string field;
	while (header >> field)
		if (field.size() > 1 && field[0] == 'V')
			return static_cast<uint32_t>(std::stoul(field.substr(1)));
	throw std::runtime_error("no UIDVALIDITY in " + maildir + "/dovecot-uidlist");
}

/**
 * Makes Dovecot forget the mailbox in @p maildir and give it UIDVALIDITY @p uidvalidity
 * again when it rebuilds its index, as it does when the index is rebuilt within the
 * second it was created in: without an index it hands out the value in
 * dovecot-uidvalidity plus one, or the current time if that file is missing too.
 */
void ForgetIndex(const std::string &maildir, uint32_t uidvalidity)
{
	for (const auto &name : ListDir(maildir))
		if (name.starts_with("dovecot"))
			std::filesystem::remove(maildir + "/" + name);
	std::ostringstream hex;
	hex << std::hex << std::setw(8) << std::setfill('0') << (uidvalidity - 1);
	WriteFile(maildir + "/dovecot-uidvalidity", hex.str(), 0600);
	WriteFile(maildir + "/dovecot-uidvalidity." + hex.str(), "", 0444);
}

/** @return an IPv4 address of this machine outside 127.0.0.0/8 (a peer that is not
 * loopback without leaving the machine), or empty if it has none */
std::string NonLoopbackAddress()
{
	ifaddrs *list = nullptr;
	if (getifaddrs(&list) != 0)
		return {};
	std::string found;
	for (auto *a = list; a != nullptr && found.empty(); a = a->ifa_next) {
		if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET)
			continue;
		const auto &in =
		    reinterpret_cast<const sockaddr_in *>(a->ifa_addr)->sin_addr;
		if ((ntohl(in.s_addr) >> 24) == 127)
			continue;
		char text[INET_ADDRSTRLEN];
		if (inet_ntop(AF_INET, &in, text, sizeof(text)) != nullptr)
			found = text;
	}
	freeifaddrs(list);
	return found;
}

/** @return the command lines `dl -v` showed (after "C: "), in order */
std::vector<std::string> ShownCommands(const std::string &err)
{
	std::vector<std::string> commands;
	std::istringstream lines(err);
	std::string line;
	while (std::getline(lines, line))
		if (const auto at = line.find(": C: "); at != std::string::npos)
			commands.push_back(line.substr(at + 5));
	return commands;
}

/** @return whether a shown command starts with @p prefix */
bool Showed(const std::string &err, const std::string &prefix)
{
	const auto commands = ShownCommands(err);
	return std::any_of(commands.begin(), commands.end(),
			   [&](const std::string &c) { return c.starts_with(prefix); });
}

/** What each method's login looks like in `dl -v`. */
struct MethodCase {
	std::string method;
	/** The first command of its login as -v shows it. */
	std::string shown;
};

const std::vector<MethodCase> password_methods = {
    {"user", "USER alice"},
    {"apop", "APOP alice "},
    {"plain", "AUTH PLAIN"},
    {"login", "AUTH LOGIN"},
    {"cram-md5", "AUTH CRAM-MD5"},
    {"scram-sha-1", "AUTH SCRAM-SHA-1"},
    {"scram-sha-256", "AUTH SCRAM-SHA-256"},
};

} // namespace

TEST_SUITE("dovecot")
{

	TEST_CASE("520 messages over cleartext POP3 arrive intact and leave the server")
	{
		Setup s(520);
		FetchAllAndCheck(s, {s.Tcp()});
	}

	TEST_CASE("520 messages over implicit TLS arrive intact and leave the server")
	{
		Setup s(520, 2);
		FetchAllAndCheck(s, {"--ca-file", s.server->ca_file, s.Ssl()});
	}

	TEST_CASE("-n keeps every message on the server")
	{
		Setup s(120, 3);
		const auto r =
		    s.Dl({"-n", "--ca-file", s.server->ca_file, s.Ssl(), s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CheckHoldsAll(s.maildir, s.sample);
		CHECK(s.OnServer() == 120);
	}

	TEST_CASE("--limit 10 fetches and deletes ten messages")
	{
		Setup s(120, 4);
		const auto r = s.Dl({"--limit", "10", s.Tcp(), s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(SaysMessages(r.out, 10));
		const auto got = HashesIn(s.maildir + "/new");
		auto want = s.sample.FetchedHashes();
		unsigned n = 0;
		for (const auto &[hash, count] : got) {
			CHECK_MESSAGE(want[hash] >= count,
				      "not from the sample: " << hash);
			n += count;
		}
		CHECK(n == 10);
		CHECK(Entries(s.maildir + "/tmp") == 0);
		CHECK(s.OnServer() == 110);
	}

	TEST_CASE("--dry-run saves nothing and reports count and bytes")
	{
		Setup s(120, 5);
		const auto r = s.Dl({"--dry-run", s.Tcp(), s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(SaysMessages(r.out, 120));
		// Either the server's octet count (STAT) or the bytes a fetch would save.
		const bool octets =
		    r.out.find(std::to_string(s.sample.Octets())) != std::string::npos;
		const bool bytes =
		    r.out.find(std::to_string(s.sample.Bytes())) != std::string::npos;
		CHECK((octets || bytes));
		CHECK(Entries(s.maildir + "/new") == 0);
		CHECK(Entries(s.maildir + "/tmp") == 0);
		CHECK(s.OnServer() == 120);
	}

	TEST_CASE("a wrong password fails with 77 and creates no Maildir")
	{
		Setup s(60, 6, "not-the-password");
		const auto r = s.Dl({s.Tcp(), s.maildir});
		INFO(Describe(r));
		CHECK(r.exit_code == 77);
		CheckErrorLines(r, false);
		CHECK(!std::filesystem::exists(s.maildir));
		CHECK(s.OnServer() == 60);
	}

	TEST_CASE("a closed port fails with 69 and one line of error")
	{
		TempDir tmp(0755);
		const unsigned port = ClosedPort();
		WriteNetrc(tmp / "netrc", user, password, {port});
		const auto r = RunPopstream(
		    {"dl", "tcp:" + user + "@127.0.0.1:" + std::to_string(port),
		     tmp / "Maildir"},
		    tmp / "netrc", tmp.Path());
		INFO(Describe(r));
		CHECK(r.exit_code == 69);
		CheckErrorLines(r, true);
		CHECK(Entries(tmp / "Maildir/new") == 0);
	}

	TEST_CASE("a certificate for another name is refused with 69")
	{
		Setup s(60, 7);
		const auto r = s.Dl({"--ca-file", s.server->ca_file,
				     s.Ssl("wrong.example.org"), s.maildir});
		INFO(Describe(r));
		CHECK(r.exit_code == 69);
		CheckErrorLines(r, false);
		// The message must say why: the name asked for and that it does not match
		// ("name mismatch", "does not match").
		CHECK(r.err.find("wrong.example.org") != std::string::npos);
		CHECK(Lower(r.err).find("match") != std::string::npos);
		CHECK(Entries(s.maildir + "/new") == 0);
		CHECK(s.OnServer() == 60);
	}

	TEST_CASE("a Maildir whose tmp is a file: nothing is deleted on the server")
	{
		Setup s(60, 8);
		// A regular file where tmp/ should be stops root as well as anybody else.
		std::filesystem::create_directories(s.maildir + "/new");
		std::filesystem::create_directories(s.maildir + "/cur");
		WriteFile(s.maildir + "/tmp", "not a directory\n", 0600);
		const auto r = s.Dl({s.Tcp(), s.maildir});
		INFO(Describe(r));
		CHECK(r.exit_code != 0);
		CHECK(r.exit_code != -1);
		CheckErrorLines(r, false);
		CHECK(Entries(s.maildir + "/new") == 0);
		CHECK(s.OnServer() == 60);
	}

	TEST_CASE("a Maildir the user cannot write: nothing is deleted on the server")
	{
		Setup s(60, 9);
		for (const char *sub : {"/tmp", "/new", "/cur"})
			std::filesystem::create_directories(s.maildir + sub);

		std::vector<std::string> prefix;
		std::string bin = RequireEnv("POPSTREAM_BIN");
		std::string netrc = s.netrc;
		std::string home = s.tmp.Path();
		if (geteuid() == 0) {
			// Root ignores permission bits: run popstream as nobody, with a
			// netrc of its own and a copy of the binary (the build tree may
			// be out of nobody's reach). The Maildir stays root's, 0755.
			home = s.tmp / "nobody";
			std::filesystem::create_directory(home);
			netrc = home + "/netrc";
			WriteNetrc(netrc, user, password, {s.server->pop3_port});
			std::filesystem::copy_file(bin, home + "/popstream");
			bin = home + "/popstream";
			REQUIRE(chown(home.c_str(), 65534, 65534) == 0);
			REQUIRE(chown(netrc.c_str(), 65534, 65534) == 0);
			REQUIRE(chown(bin.c_str(), 65534, 65534) == 0);
			prefix = {"setpriv", "--reuid=nobody", "--regid=nogroup",
				  "--clear-groups"};
		} else {
			for (const char *sub : {"/tmp", "/new", "/cur", ""})
				std::filesystem::permissions(
				    s.maildir + sub, std::filesystem::perms(0555));
		}
		ProcessOptions o;
		o.argv = prefix;
		o.argv.insert(o.argv.end(), {bin, "dl", s.Tcp(), s.maildir});
		o.env = {"NETRC=" + netrc, "HOME=" + home, "XDG_STATE_HOME"};
		const auto r = Run(o);
		INFO(Describe(r));
		CHECK(r.exit_code != 0);
		CHECK(r.exit_code != -1);
		CheckErrorLines(r, false);
		CHECK(Entries(s.maildir + "/new") == 0);
		CHECK(s.OnServer() == 60);
	}

	TEST_CASE(
	    "unique-ids Dovecot hands out again after its index is rebuilt: new mail "
	    "is fetched")
	{
		Setup s(50, 10);
		const auto maildir = s.server->Maildir(user);
		// What the second round replaces, kept before the fetch takes it away.
		std::vector<std::pair<std::string, std::string>> originals;
		for (const auto &m : s.sample.messages)
			originals.emplace_back(m.name,
					       ReadFile(maildir + "/new/" + m.name));
		const auto listed = ProbeListing(s.server->pop3_port, user, password);
		REQUIRE(listed.size() == 50);

		const auto first = s.Dl({s.Tcp(), s.maildir});
		INFO("first run: " << Describe(first));
		REQUIRE(first.exit_code == 0);
		CheckHoldsAll(s.maildir, s.sample);
		REQUIRE(s.OnServer() == 0);

		// Other messages of the same sizes and line counts under the same names,
		// so that the rebuilt index numbers and sizes them as before.
		s.server->WaitForSessions();
		const auto uidvalidity = UidValidity(maildir);
		ForgetIndex(maildir, uidvalidity);
		auto want = s.sample.FetchedHashes();
		for (const auto &[name, bytes] : originals) {
			auto other = Rot13(bytes);
			REQUIRE(other != bytes);
			WriteFile(maildir + "/tmp/" + name, other, 0600);
			std::filesystem::rename(maildir + "/tmp/" + name,
						maildir + "/new/" + name);
			if (other.back() != '\n')
				other += '\n';
			++want[Sha256Hex(other)];
		}
		s.server->Own(user);

		// The precondition of the whole test: the server really says the same
		// unique-ids, with the same sizes, for different messages.
		const auto relisted = ProbeListing(s.server->pop3_port, user, password);
		if (relisted != listed)
			FAIL("precondition failed: Dovecot did not hand out the same "
			     "unique-ids "
			     "and sizes again (UIDVALIDITY was "
			     << uidvalidity << ")\nlisted before the first run:\n"
			     << Describe(listed) << "listed after the rebuild:\n"
			     << Describe(relisted));

		const auto second = s.Dl({s.Tcp(), s.maildir});
		INFO("second run: " << Describe(second));
		CHECK(second.exit_code == 0);
		CHECK(Entries(s.maildir + "/new") == 100);
		const auto got = HashesIn(s.maildir + "/new");
		unsigned missing = 0;
		for (const auto &[hash, n] : want)
			if (!got.contains(hash) || got.at(hash) != n)
				++missing;
		if (missing > 0)
			MESSAGE(missing
				<< " of 100 messages missing, altered or saved twice");
		CHECK(got == want);
		CHECK(Entries(s.maildir + "/tmp") == 0);
		CHECK(s.OnServer() == 0);
	}

	TEST_CASE("login: every password method fetches the mailbox byte for byte")
	{
		// One Dovecot offering every mechanism; each method empties the mailbox
		// over implicit TLS, STLS and loopback cleartext, a fresh sample each
		// time.
		Setup s(0, 1, password, AllMechanisms());
		unsigned seed = 100;
		for (const auto &m : password_methods) {
			for (const auto &transport : {"ssl", "starttls", "tcp"}) {
				const std::string how = std::string(transport);
				INFO("--auth " << m.method << " over " << how);
				const auto sample = s.server->Fill(user, 12, ++seed);
				const std::string maildir =
				    s.tmp / ("Maildir-" + m.method + "-" + how);
				const std::string spec = how == "ssl" ? s.Ssl()
							 : how == "starttls"
							     ? s.StartTls()
							     : s.Tcp();
				std::vector<std::string> args{"-v", "--auth", m.method};
				if (how != "tcp")
					args.insert(args.end(),
						    {"--ca-file", s.server->ca_file});
				// The password from a command once, from netrc otherwise.
				if (m.method == "scram-sha-256" && how == "ssl")
					args.insert(args.end(), {"--password-command",
								 "echo s3cret"});
				args.insert(args.end(), {spec, maildir});
				const auto r = s.Dl(args);
				INFO(Describe(r));
				REQUIRE(r.exit_code == 0);
				CHECK(Showed(r.err, m.shown));
				CheckHoldsAll(maildir, sample);
				s.server->WaitForSessions();
				CHECK(s.OnServer() == 0);
				// The password never shows, whatever the method sent.
				CHECK(r.err.find(password) == std::string::npos);
				CHECK(r.out.find(password) == std::string::npos);
			}
		}
	}

	TEST_CASE("login: auto picks SCRAM-SHA-256")
	{
		Setup s(15, 120, password, AllMechanisms());
		const auto r =
		    s.Dl({"-v", "--ca-file", s.server->ca_file, s.Ssl(), s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(Showed(r.err, "AUTH SCRAM-SHA-256"));
		CHECK_FALSE(Showed(r.err, "USER"));
		CheckHoldsAll(s.maildir, s.sample);
		CHECK(s.OnServer() == 0);
	}

	TEST_CASE("login: a wrong password fails SCRAM with 77 and the server's reply")
	{
		Setup s(10, 121, "not-the-password", AllMechanisms());
		const auto r = s.Dl({"--auth", "scram-sha-256", "--ca-file",
				     s.server->ca_file, s.Ssl(), s.maildir});
		INFO(Describe(r));
		CHECK(r.exit_code == 77);
		CheckErrorLines(r, true);
		// Dovecot's own words, quoted.
		CHECK(r.err.find("-ERR [AUTH] Authentication failed.") !=
		      std::string::npos);
		CHECK(r.err.find("not-the-password") == std::string::npos);
		CHECK(!std::filesystem::exists(s.maildir));
		CHECK(s.OnServer() == 10);
	}

	TEST_CASE("login: methods that reveal the password are refused over cleartext to "
		  "a host that is not loopback, before anything is sent")
	{
		const auto address = NonLoopbackAddress();
		REQUIRE_MESSAGE(!address.empty(),
				"this machine has no IPv4 address outside 127.0.0.0/8");
		Setup s(10, 122, password, AllMechanisms(address));
		const std::string log = s.tmp / "srv/dovecot.log";
		for (const auto *method : {"plain", "user", "login"}) {
			INFO("--auth " << method);
			const auto r = s.Dl({"-v", "--auth", method, s.Tcp(), s.maildir});
			INFO(Describe(r));
			CHECK(r.exit_code == 78);
			// Nothing of the login went out: no USER, no AUTH, no PASS.
			CHECK_FALSE(Showed(r.err, "USER"));
			CHECK_FALSE(Showed(r.err, "AUTH"));
			CHECK_FALSE(Showed(r.err, "PASS"));
			CHECK(r.err.find("--allow-plaintext") != std::string::npos);
			CHECK(!std::filesystem::exists(s.maildir));
		}
		s.server->WaitForSessions();
		// Dovecot saw no login attempt at all.
		CHECK(ReadFile(log).find("user=<alice>") == std::string::npos);
		CHECK(s.OnServer() == 10);

		// auto there picks SCRAM, which reveals nothing, and fetches.
		const auto r = s.Dl({"-v", s.Tcp(), s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CHECK(Showed(r.err, "AUTH SCRAM-SHA-256"));
		CheckHoldsAll(s.maildir, s.sample);
		CHECK(s.OnServer() == 0);

		// --allow-plaintext says the path is trusted.
		const auto more = s.server->Fill(user, 5, 123);
		const std::string plain_maildir = s.tmp / "Maildir-plain";
		const auto p = s.Dl(
		    {"--auth", "plain", "--allow-plaintext", s.Tcp(), plain_maildir});
		INFO(Describe(p));
		REQUIRE(p.exit_code == 0);
		CheckHoldsAll(plain_maildir, more);
		CHECK(s.OnServer() == 0);
	}

} // TEST_SUITE
