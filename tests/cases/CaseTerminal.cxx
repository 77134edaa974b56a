// dl on a terminal (issue 15): a progress line redrawn in place while the mail comes,
// cut to the terminal's width and erased before the summary; nothing of it when
// standard output is not a terminal; -q prints errors only; an empty mailbox says
// "no new mail" in one line, and nothing with -q. Run with the real binary on a
// pseudo-terminal (forkpty) against a scripted server that sends one byte at a time.

#include "CaseChecks.hxx"

#include <algorithm>
#include <sstream>

using namespace popstream::test;

namespace {

/** Three messages of about 600 bytes, sent a byte every 2 ms: about 4 s of download,
 * long enough for several redraws at four a second. */
void SlowServer(FakePop3Server &server)
{
	for (int i = 1; i <= 3; ++i)
		server.AddMessage("Subject: slow " + std::to_string(i) + "\r\n\r\n" +
				      std::string(580, 'a' + i) + "\r\n",
				  "slow-" + std::to_string(i));
	server.SetWriteSchedule(WriteSchedule::OneByte);
}

/** @return the pieces of @p screen between carriage returns and line feeds */
std::vector<std::string> Pieces(const std::string &screen)
{
	std::vector<std::string> pieces;
	std::string piece;
	for (const char c : screen) {
		if (c == '\r' || c == '\n') {
			if (!piece.empty())
				pieces.push_back(piece);
			piece.clear();
		} else {
			piece += c;
		}
	}
	if (!piece.empty())
		pieces.push_back(piece);
	return pieces;
}

} // namespace

TEST_CASE("dl on a terminal: a progress line, redrawn in place within the width, then "
	  "erased for the summary")
{
	FakePop3Server server;
	SlowServer(server);
	CaseHarness harness;
	DlOptions options;
	options.timeout_seconds = 20;
	const auto screen = RunOnTerminal(harness.DlProcess(server, options), 60);
	INFO(Escape(screen.out));
	REQUIRE(screen.exit_code == 0);
	CHECK(harness.Files().size() == 3);
	CHECK(server.RemainingUids().empty());

	const auto pieces = Pieces(screen.out);
	std::size_t drawn = 0;
	for (const auto &piece : pieces) {
		if (piece.find(" of 3 messages") == std::string::npos)
			continue;
		++drawn;
		// Each redraw erases what a longer one left, and never wraps.
		CHECK(piece.ends_with("\033[K"));
		CHECK(piece.size() - 3 < 60);
	}
	CHECK(drawn >= 2);
	// The figures move: a count below the total was shown before the end.
	CHECK((screen.out.find("\r0 of 3 messages") != std::string::npos ||
	       screen.out.find("\r1 of 3 messages") != std::string::npos ||
	       screen.out.find("\r2 of 3 messages") != std::string::npos));
	// The last thing on the screen is the summary, on a line the progress left clean.
	REQUIRE_FALSE(pieces.empty());
	CHECK(pieces.back().starts_with("\033[Kalice@127.0.0.1:"));
	CHECK(pieces.back().find(": 3 messages, ") != std::string::npos);
	CHECK(pieces.back().find("3 deleted on the server") != std::string::npos);
}

TEST_CASE("dl on a terminal with -q: nothing at all when all went well")
{
	FakePop3Server server;
	SlowServer(server);
	CaseHarness harness;
	DlOptions options;
	options.timeout_seconds = 20;
	options.args = {"-q"};
	const auto screen = RunOnTerminal(harness.DlProcess(server, options), 60);
	INFO(Escape(screen.out));
	CHECK(screen.exit_code == 0);
	CHECK(screen.out.empty());
	CHECK(harness.Files().size() == 3);
	CHECK(server.RemainingUids().empty());
}

TEST_CASE("dl into a pipe: no progress, no escape sequences; the summary alone")
{
	FakePop3Server server;
	SlowServer(server);
	CaseHarness harness;
	DlOptions options;
	options.timeout_seconds = 20;
	const auto run = harness.Dl(server, options);
	INFO(run.Describe());
	CHECK(run.ExitCode() == 0);
	CHECK(run.Out().find('\r') == std::string::npos);
	CHECK(run.Out().find('\033') == std::string::npos);
	CHECK(std::count(run.Out().begin(), run.Out().end(), '\n') == 1);
	CHECK(run.Out().find(": 3 messages, ") != std::string::npos);
}

TEST_CASE("dl of an empty mailbox: one line, \"no new mail\"; nothing with -q; the "
	  "errors still with -q")
{
	FakePop3Server server;
	CaseHarness harness;
	const auto run = harness.Dl(server);
	INFO(run.Describe());
	CHECK(run.ExitCode() == 0);
	CHECK(run.Out() ==
	      "alice@127.0.0.1:" + std::to_string(server.Port()) + ": no new mail\n");
	CHECK(run.Err().empty());

	DlOptions quiet;
	quiet.args = {"-q"};
	const auto silent = harness.Dl(server, quiet);
	INFO(silent.Describe());
	CHECK(silent.ExitCode() == 0);
	CHECK(silent.Out().empty());
	CHECK(silent.Err().empty());

	// A wrong password is an error: -q does not hide it.
	FakePop3Server refusing;
	refusing.Reply("PASS", "-ERR [AUTH] wrong password\r\n");
	const auto refused = harness.Dl(refusing, quiet);
	INFO(refused.Describe());
	CHECK(refused.ExitCode() == 77);
	CHECK(refused.Out().empty());
	CHECK(refused.Err().find("wrong password") != std::string::npos);
}
