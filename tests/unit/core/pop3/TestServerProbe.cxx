#include "core/pop3/ServerProbe.hxx"

#include <doctest/doctest.h>

#include <string>

using popstream::pop3::ServerProbe;
using Step = ServerProbe::Step;

TEST_CASE("ServerProbe: greeting, CAPA, QUIT; nothing else is sent")
{
	ServerProbe probe(false);
	CHECK(probe.TakeOutput().empty());
	CHECK(probe.Feed("+OK Dovecot ready. <1.2@host>\r\n") == Step::Wait);
	CHECK(probe.Greeting() == "+OK Dovecot ready. <1.2@host>");
	CHECK(probe.TakeOutput() == "CAPA\r\n");
	// Split anywhere, including inside a line and the terminator.
	CHECK(probe.Feed("+OK\r\nTOP\r\nUI") == Step::Wait);
	CHECK(probe.Feed("DL\r\nSASL PLAIN SCRAM-SHA-256\r\n..STUFFED\r\n.") ==
	      Step::Wait);
	CHECK(probe.TakeOutput().empty());
	CHECK(probe.Feed("\r\n") == Step::Wait);
	CHECK(probe.TakeOutput() == "QUIT\r\n");
	CHECK(probe.Caps().known);
	CHECK(probe.Caps().top);
	CHECK(probe.Caps().uidl);
	CHECK(probe.Caps().sasl == std::vector<std::string>{"PLAIN", "SCRAM-SHA-256"});
	CHECK(probe.CapaLines() == std::vector<std::string>{"TOP", "UIDL",
							    "SASL PLAIN SCRAM-SHA-256",
							    ".STUFFED"});
	CHECK(probe.Feed("+OK Logging out\r\n") == Step::Done);
	CHECK_FALSE(probe.TlsActive());
}

TEST_CASE("ServerProbe: STLS, then CAPA again with the old answer forgotten")
{
	ServerProbe probe(true);
	probe.Feed("+OK hi\r\n");
	CHECK(probe.TakeOutput() == "CAPA\r\n");
	CHECK(probe.Feed("+OK\r\nSTLS\r\nSASL PLAIN\r\nUSER\r\n.\r\n") == Step::Wait);
	CHECK(probe.Caps().stls);
	CHECK(probe.TakeOutput() == "STLS\r\n");
	CHECK(probe.Feed("+OK Begin TLS negotiation now.\r\n") == Step::StartTls);
	CHECK(probe.TakeOutput().empty());
	CHECK(probe.TlsStarted() == Step::Wait);
	CHECK(probe.TlsActive());
	// Forgotten at once, before the new CAPA answers.
	CHECK_FALSE(probe.Caps().known);
	CHECK_FALSE(probe.Caps().stls);
	CHECK(probe.CapaLines().empty());
	CHECK(probe.TakeOutput() == "CAPA\r\n");
	CHECK(probe.Feed("+OK\r\nSASL SCRAM-SHA-256 EXTERNAL\r\n.\r\n") == Step::Wait);
	CHECK(probe.Caps().sasl == std::vector<std::string>{"SCRAM-SHA-256", "EXTERNAL"});
	CHECK_FALSE(probe.Caps().user);
	CHECK(probe.TakeOutput() == "QUIT\r\n");
	// A server that hangs up instead of answering QUIT is still done.
	CHECK(probe.Closed() == Step::Done);
}

TEST_CASE("ServerProbe: bytes after +OK to STLS are refused, in the same read or later")
{
	{
		ServerProbe probe(true);
		probe.Feed("+OK hi\r\n+OK\r\nSTLS\r\n.\r\n");
		CHECK(probe.TakeOutput() == "CAPA\r\nSTLS\r\n");
		CHECK(probe.Feed("+OK go\r\n+OK injected\r\n") == Step::Failed);
		CHECK(probe.Error() ==
		      "the server sent data after +OK to STLS, before the "
		      "TLS handshake (refused: it could be injected)");
		CHECK(probe.TakeOutput().empty());
	}
	{
		ServerProbe probe(true);
		probe.Feed("+OK hi\r\n-ERR no CAPA\r\n");
		CHECK(probe.TakeOutput() == "CAPA\r\nSTLS\r\n");
		CHECK_FALSE(probe.Caps().known);
		CHECK(probe.Feed("+OK go\r\n") == Step::StartTls);
		CHECK(probe.Feed("X") == Step::Failed);
		CHECK(probe.TlsStarted() == Step::Failed);
	}
}

TEST_CASE("ServerProbe: failures are one line with the server's text escaped")
{
	{
		ServerProbe probe(true);
		probe.Feed("+OK hi\r\n-ERR\r\n");
		probe.TakeOutput();
		CHECK(probe.Feed("-ERR [SYS/PERM] TLS not configured\r\n") ==
		      Step::Failed);
		CHECK(probe.Error() ==
		      "the server refused STLS: -ERR [SYS/PERM] TLS not configured");
	}
	{
		ServerProbe probe(false);
		CHECK(probe.Feed("-ERR [IN-USE] go away\r\n") == Step::Failed);
		CHECK(probe.Error() ==
		      "the server refused the connection: -ERR [IN-USE] go away");
		CHECK(probe.Greeting() == "-ERR [IN-USE] go away");
	}
	{
		ServerProbe probe(false);
		CHECK(probe.Feed("* OK IMAP4rev1\r\n") == Step::Failed);
		CHECK(probe.Error() ==
		      "protocol error: expected +OK or -ERR, got \"* OK IMAP4rev1\"");
	}
	{
		ServerProbe probe(false);
		CHECK(probe.Feed(std::string(ServerProbe::kMaxLine + 1, 'x')) ==
		      Step::Failed);
		CHECK(probe.Error() == "a line longer than 8192 octets");
	}
	{
		ServerProbe probe(false);
		CHECK(probe.Closed() == Step::Failed);
		CHECK(probe.Error() ==
		      "the server closed the connection before its greeting");
	}
	{
		// An endless CAPA line is cut off, not buffered.
		ServerProbe probe(false);
		probe.Feed("+OK\r\n+OK\r\n");
		CHECK(probe.Feed(std::string(ServerProbe::kMaxLine + 1, 'y')) ==
		      Step::Failed);
		CHECK(probe.Error() == "a CAPA line longer than 8192 octets");
	}
	{
		// Binary junk in a reply is escaped in the message.
		ServerProbe probe(false);
		CHECK(probe.Feed("\x1b[2J+OK\r\n") == Step::Failed);
		CHECK(probe.Error() ==
		      "protocol error: expected +OK or -ERR, got \"\\x1b[2J+OK\"");
	}
}
