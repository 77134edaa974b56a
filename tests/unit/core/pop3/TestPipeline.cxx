// The pipeline alone: what may be sent when, in commands and in listed RETR octets,
// and that replies are matched to commands in the order sent.
#include "core/pop3/Pipeline.hxx"

#include <doctest/doctest.h>

using namespace popstream::pop3;

namespace {

Capabilities Caps(bool pipelining)
{
	Capabilities caps;
	caps.known = true;
	caps.pipelining = pipelining;
	return caps;
}

} // namespace

TEST_CASE("the window follows --pipelining, lock-step and CAPA (RFC 2449 section 6.6)")
{
	Pipeline auto_mode(Pipelining::Auto, false);
	// No CAPA answer yet, or none at all: an RFC 1939 server may drop what it
	// did not read.
	CHECK(auto_mode.Window() == 1);
	auto_mode.Negotiate(Caps(false));
	CHECK(auto_mode.Window() == limits::guarded_window_commands);
	auto_mode.Negotiate(Caps(true));
	CHECK(auto_mode.Window() == limits::full_window_commands);
	// Forgotten after STLS (RFC 2595 section 4): back to one at a time.
	auto_mode.Negotiate(Capabilities{});
	CHECK(auto_mode.Window() == 1);

	Pipeline on(Pipelining::On, false);
	CHECK(on.Window() == limits::full_window_commands);
	Pipeline off(Pipelining::Off, false);
	off.Negotiate(Caps(true));
	CHECK(off.Window() == 1);
	// The redo after a session out of step is lock-step whatever was asked.
	Pipeline redo(Pipelining::On, true);
	redo.Negotiate(Caps(true));
	CHECK(redo.Window() == 1);
}

TEST_CASE("no more commands in flight than the window")
{
	Pipeline p(Pipelining::Auto, false);
	p.Negotiate(Caps(false));
	for (std::uint32_t i = 0; i < limits::guarded_window_commands; ++i) {
		REQUIRE(p.CanSubmit(Command::Dele));
		p.Submit(Command::Dele, "DELE " + std::to_string(i + 1), i);
	}
	CHECK_FALSE(p.CanSubmit(Command::Dele));
	CHECK_FALSE(p.CanSubmit(Command::Noop));
	CHECK_FALSE(p.CanSubmit(Command::Quit));
	p.Pop();
	CHECK(p.CanSubmit(Command::Dele));
	CHECK(p.MostInFlight() == limits::guarded_window_commands);
	CHECK(p.Pipelined());

	Pipeline lock_step(Pipelining::Off, false);
	CHECK(lock_step.CanSubmit(Command::Stat));
	lock_step.Submit(Command::Stat, "STAT");
	CHECK_FALSE(lock_step.CanSubmit(Command::Uidl));
	CHECK_FALSE(lock_step.Pipelined());
}

TEST_CASE("listed octets of RETRs in flight stay within the window in octets")
{
	constexpr std::uint64_t mib = 1u << 20;
	Pipeline p(Pipelining::On, false);
	CHECK(p.WindowBytes() == limits::initial_window_bytes);
	p.SetWindowBytes(8 * mib);
	// One RETR may always go, even for a message larger than the window and behind
	// other commands: otherwise it would never be fetched.
	p.Submit(Command::Dele, "DELE 9", 8);
	CHECK(p.CanSubmit(Command::Retr, 20 * mib));
	p.Submit(Command::Retr, "RETR 1", 0, 5 * mib);
	CHECK(p.RetrBytes() == 5 * mib);
	CHECK(p.CanSubmit(Command::Retr, 3 * mib)); // exactly 8 MiB in flight
	CHECK_FALSE(p.CanSubmit(Command::Retr, 3 * mib + 1));
	// The bound is on RETR octets only: small commands still go.
	CHECK(p.CanSubmit(Command::Noop));
	p.Submit(Command::Retr, "RETR 2", 1, 3 * mib);
	CHECK_FALSE(p.CanSubmit(Command::Retr, 1));

	// Answered in order: the DELE first, then each RETR gives its octets back.
	CHECK(p.Front().command == Command::Dele);
	p.Pop();
	CHECK(p.RetrBytes() == 8 * mib);
	CHECK(p.Front().command == Command::Retr);
	CHECK(p.Front().index == 0);
	p.Pop();
	CHECK(p.RetrBytes() == 3 * mib);
	CHECK(p.CanSubmit(Command::Retr, 5 * mib));
	p.Pop();
	CHECK(p.RetrBytes() == 0);
	CHECK(p.Empty());
}

TEST_CASE("QUIT goes out only behind DELEs, within the window (RFC 1939 section 6)")
{
	Pipeline p(Pipelining::On, false);
	CHECK(p.CanSubmit(Command::Quit)); // nothing in flight
	p.Submit(Command::Dele, "DELE 1", 0);
	p.Submit(Command::Dele, "DELE 2", 1);
	// Each DELE is for a durable message: committing them can lose nothing.
	CHECK(p.CanSubmit(Command::Quit));
	p.Submit(Command::Retr, "RETR 3", 2, 10);
	// A body still due must be proven (and saved) before the session may end.
	CHECK_FALSE(p.CanSubmit(Command::Quit));
	CHECK(p.Has(Command::Retr));
	CHECK_FALSE(p.Has(Command::Noop));

	Pipeline lock_step(Pipelining::Off, false);
	lock_step.Submit(Command::Dele, "DELE 1", 0);
	CHECK_FALSE(lock_step.CanSubmit(Command::Quit));
	lock_step.Pop();
	CHECK(lock_step.CanSubmit(Command::Quit));
}

TEST_CASE("every byte of output has its entry in flight, in the order sent")
{
	Pipeline p(Pipelining::On, false);
	p.Await(Command::Greeting); // unasked: no bytes
	CHECK(p.TakeOutput().empty());
	CHECK(p.MostInFlight() == 1);
	p.Pop();
	p.Submit(Command::Stat, "STAT");
	p.Submit(Command::Uidl, "UIDL");
	p.Submit(Command::List, "LIST");
	CHECK(p.Size() == 3);
	CHECK(p.Back().command == Command::List);
	CHECK(p.TakeOutput() == "STAT\r\nUIDL\r\nLIST\r\n");
	CHECK(p.TakeOutput().empty()); // taken once
	CHECK(p.Front().command == Command::Stat);
	p.Pop();
	CHECK(p.Front().command == Command::Uidl);

	// After a failure nothing queued may reach the server; what was in flight is
	// still known, for the error message.
	p.Submit(Command::Quit, "QUIT");
	p.DropOutput();
	CHECK(p.TakeOutput().empty());
	CHECK(p.Back().command == Command::Quit);
}

TEST_CASE("DELEs and QUIT count when taken, not when queued or dropped")
{
	Pipeline p(Pipelining::On, false);
	p.Submit(Command::Dele, "DELE 1", 0);
	p.Submit(Command::Dele, "DELE 2", 1);
	CHECK(p.DelesTaken() == 0); // queued only
	CHECK(p.TakeOutput() == "DELE 1\r\nDELE 2\r\n");
	CHECK(p.DelesTaken() == 2);
	CHECK(!p.QuitTaken());

	// Dropped after a failure: they never reached the server.
	p.Submit(Command::Dele, "DELE 3", 2);
	p.Submit(Command::Quit, "QUIT");
	p.DropOutput();
	CHECK(p.TakeOutput().empty());
	CHECK(p.DelesTaken() == 2);
	CHECK(!p.QuitTaken());

	p.Submit(Command::Quit, "QUIT");
	CHECK(p.TakeOutput() == "QUIT\r\n");
	CHECK(p.QuitTaken());
}
