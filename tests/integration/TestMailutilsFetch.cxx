// `popstream dl` against a real GNU mailutils pop3d (MailutilsServer), the server that
// stamps an X-UIDL: header into each message when it first answers UIDL and lists sizes
// without that header until then. Each case starts a server of its own.

#include "MailutilsServer.hxx"
#include "Pop3Probe.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>

using namespace popstream::test;

namespace {

/** A mailutils pop3d holding sample mail, a netrc for it and a place for a Maildir. */
struct Setup {
	TempDir tmp{0755};
	std::unique_ptr<MailutilsServer> server;
	SampleSet sample;
	std::string netrc = tmp / "netrc";
	std::string maildir = tmp / "Maildir";

	Setup(unsigned count, unsigned seed)
	{
		std::filesystem::create_directory(tmp / "srv");
		server = std::make_unique<MailutilsServer>(tmp / "srv");
		sample = server->Fill(count, seed);
		WriteNetrc(netrc, MailutilsServer::kUser, MailutilsServer::kPassword,
			   {server->port});
	}

	std::string Tcp() const
	{
		return std::string("tcp:") + MailutilsServer::kUser +
		       "@127.0.0.1:" + std::to_string(server->port);
	}

	ProcessResult Dl(std::vector<std::string> args) const
	{
		args.insert(args.begin(), "dl");
		return RunPopstream(args, netrc, tmp.Path());
	}
};

/**
 * @return how often each SHA-256 occurs among the files in @p dir, each taken without
 *         the X-UIDL: line mailutils added and with CRLF folded to LF
 */
std::map<std::string, unsigned> HashesWithoutXUidl(const std::string &dir)
{
	std::map<std::string, unsigned> hashes;
	for (const auto &name : ListDir(dir))
		++hashes[Sha256Hex(WithoutXUidl(ReadFile(dir + "/" + name)))];
	return hashes;
}

/**
 * Checks that @p maildir/new holds exactly one file per expected hash (a multiset),
 * naming what is missing or extra.
 */
void CheckHolds(const std::string &maildir, const std::map<std::string, unsigned> &want)
{
	unsigned expected = 0;
	for (const auto &[hash, n] : want)
		expected += n;
	CHECK(ListDir(maildir + "/new").size() == expected);
	const auto got = HashesWithoutXUidl(maildir + "/new");
	for (const auto &[hash, n] : want)
		if (!got.contains(hash) || got.at(hash) != n)
			MESSAGE("expected " << n << " file(s) of " << hash << ", got "
					    << (got.contains(hash) ? got.at(hash) : 0));
	for (const auto &[hash, n] : got)
		if (!want.contains(hash))
			MESSAGE(n << " file(s) that match no message sent: " << hash);
	CHECK(got == want);
	CHECK(ListDir(maildir + "/tmp").empty());
}

/** @return true if @p text contains @p needle, ignoring case */
bool ContainsNoCase(std::string text, const std::string &needle)
{
	std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
		return static_cast<char>(std::tolower(c));
	});
	return text.find(needle) != std::string::npos;
}

/**
 * @return how many RETRs `popstream -v` logged ("C: RETR n") before it logged the first
 *         saved message: more than one means it did not wait for each reply
 */
unsigned RetrsBeforeFirstSave(const std::string &log)
{
	std::istringstream lines(log);
	unsigned retrs = 0;
	for (std::string line; std::getline(lines, line);) {
		if (line.find(" bytes saved as ") != std::string::npos)
			break;
		if (line.find("C: RETR ") != std::string::npos)
			++retrs;
	}
	return retrs;
}

/**
 * @return Describe(@p r) without the per-message lines of -v (RETR, DELE, saved), which
 *         would bury the rest of a failure message
 */
std::string DescribeBriefly(const ProcessResult &r)
{
	std::istringstream lines(Describe(r));
	std::string brief;
	unsigned left_out = 0;
	for (std::string line; std::getline(lines, line);) {
		if (line.find("C: RETR ") != std::string::npos ||
		    line.find("C: DELE ") != std::string::npos ||
		    line.find(" bytes saved as ") != std::string::npos) {
			++left_out;
			continue;
		}
		brief += line + "\n";
	}
	return brief + "(" + std::to_string(left_out) +
	       " RETR, DELE and saved lines left out)";
}

} // namespace

TEST_SUITE("mailutils")
{

	TEST_CASE(
	    "mailutils: 48 messages fetched with deletion arrive pipelined and once each")
	{
		// The first 53 of the catalogue, of which mailutils keeps 48 intact.
		Setup s(53, 11);
		REQUIRE(s.sample.messages.size() == 48);
		const auto r = s.Dl({"-v", s.Tcp(), s.maildir});
		INFO(DescribeBriefly(r));
		INFO("pop3d log:\n" << s.server->Log());
		CHECK(r.exit_code == 0);
		// pop3d lists every size exactly once UIDL has been answered: nothing may
		// look out of step, so no lock-step redo.
		CHECK(!ContainsNoCase(r.out + r.err, "one command at a time"));
		CHECK(!ContainsNoCase(r.out + r.err, "redoing"));
		CHECK(RetrsBeforeFirstSave(r.err) > 1);
		CheckHolds(s.maildir, s.sample.FetchedHashes());
		CHECK(s.server->Count() == 0);
	}

	TEST_CASE("mailutils: dl -n twice, one new message, dl -n again: one file each")
	{
		Setup s(53, 12);
		REQUIRE(s.sample.messages.size() == 48);
		auto want = s.sample.FetchedHashes();
		for (int run = 1; run <= 2; ++run) {
			const auto r = s.Dl({"-n", s.Tcp(), s.maildir});
			INFO("run " << run << ": " << Describe(r));
			REQUIRE(r.exit_code == 0);
			CheckHolds(s.maildir, want);
		}

		const std::string added =
		    "From: sender@example.org\n"
		    "To: popstream-test-mu@example.org\n"
		    "Subject: added after two runs\n"
		    "Message-ID: <added-after-two-runs@example.org>\n"
		    "\n"
		    "The only message the third run has not seen.\n";
		s.server->Add("1800000000.M1P1.added", added);
		++want[Sha256Hex(added)];

		const auto r = s.Dl({"-n", s.Tcp(), s.maildir});
		INFO(Describe(r));
		INFO("pop3d log:\n" << s.server->Log());
		CHECK(r.exit_code == 0);
		CheckHolds(s.maildir, want);
		CHECK(s.server->Count() == 49);
		const auto listing = ProbeListing(s.server->port, MailutilsServer::kUser,
						  MailutilsServer::kPassword);
		INFO(Describe(listing));
		CHECK(listing.size() == 49);
		std::set<std::string> ids;
		for (const auto &m : listing)
			ids.insert(m.uidl);
		CHECK(ids.size() == 49);
	}

	TEST_CASE("mailutils: starttls: STLS, CAPA again, the login and 20 messages over "
		  "TLS")
	{
		// Issue 11: the second real server for STARTTLS. pop3d's certificate is
		// self-signed for CN=localhost; the spec names it after '!'.
		Setup s(22, 13);
		const std::string spec =
		    std::string("starttls:") + MailutilsServer::kUser +
		    "@127.0.0.1!localhost:" + std::to_string(s.server->port);
		const auto r =
		    s.Dl({"-v", "--ca-file", s.tmp / "srv/cert.pem", spec, s.maildir});
		INFO(DescribeBriefly(r));
		INFO("pop3d log:\n" << s.server->Log());
		CHECK(r.exit_code == 0);
		// STLS comes before anything else, and CAPA is asked again over TLS.
		const auto stls = r.err.find("C: STLS");
		const auto user = r.err.find("C: USER");
		REQUIRE(stls != std::string::npos);
		REQUIRE(user != std::string::npos);
		CHECK(stls < user);
		CHECK(r.err.find("C: CAPA", stls) < user);
		CHECK(r.err.find(MailutilsServer::kPassword) == std::string::npos);
		CheckHolds(s.maildir, s.sample.FetchedHashes());
		CHECK(s.server->Count() == 0);
	}

	// Issue 11: pop3d offers STLS with a self-signed certificate (MailutilsServer),
	// so serverinfo must show it as untrusted, and its pasted fingerprint must let
	// `dl starttls:` fetch.
	TEST_CASE(
	    "mailutils: serverinfo over STLS, then dl starttls: with the pasted pin")
	{
		Setup s(20, 13);
		const std::string spec =
		    std::string("starttls:") + MailutilsServer::kUser +
		    "@127.0.0.1!localhost:" + std::to_string(s.server->port);
		const auto info =
		    RunPopstream({"serverinfo", spec}, s.netrc, s.tmp.Path());
		INFO(Describe(info));
		INFO("pop3d log:\n" << s.server->Log());
		REQUIRE(info.exit_code == 0);
		CHECK(info.out.find("\nbefore STLS, CAPA said (forgotten): ") !=
		      std::string::npos);
		CHECK(info.out.find(
			  "\ncertificate NOT trusted: unknown CA (not signed by a "
			  "trusted authority)\n") != std::string::npos);
		CHECK(info.out.find("  subject: CN=localhost\n") != std::string::npos);
		CHECK(info.out.find("\n  UIDL:           yes\n") != std::string::npos);
		CHECK(info.out.find(MailutilsServer::kPassword) == std::string::npos);

		// The certificate's SHA-256 line, as printed.
		const std::string marker = "  tls_fingerprint: ";
		const auto at = info.out.find(marker);
		REQUIRE(at != std::string::npos);
		const auto from = at + marker.size();
		const std::string fingerprint =
		    info.out.substr(from, info.out.find('\n', from) - from);
		CHECK(fingerprint.size() == 95);

		const auto r = s.Dl({"--tls-fingerprint", fingerprint, spec, s.maildir});
		INFO(Describe(r));
		REQUIRE(r.exit_code == 0);
		CheckHolds(s.maildir, s.sample.FetchedHashes());
		CHECK(s.server->Count() == 0);
	}

} // TEST_SUITE
