// libFuzzer target: the login exchange of pop3::Session (daemon/core/pop3/Login) with
// every method, fed arbitrary server bytes: greetings with or without APOP timestamps,
// CAPA before and after STLS, SASL continuations. The mechanisms are the tests'
// deterministic FakeAuth, so the target checks the framing and the promises, not the
// crypto:
// - no byte of the password or the token is sent before the TLS handshake when STLS
//   is asked for, and never by a method that reveals it (RevealsSecret()) on a link
//   that is neither TLS, loopback nor allow_plaintext;
// - every command line ends in CRLF and holds no other CR or LF; an AUTH line with an
//   initial response fits 255 octets (RFC 2449 §4);
// - nothing is sent after the session failed, and a session always ends once the
//   connection does;
// - no message the session builds holds the secret unless the server sent it.
//
// Input: 4 bytes of settings (see ReadSettings), then the server's bytes.
#include "FuzzCheck.hxx"

#include "../unit/core/pop3/FakeAuth.hxx"
#include "core/pop3/Session.hxx"

#include <string>
#include <string_view>
#include <variant>

using namespace popstream::pop3;
using popstream::fuzz::Bytes;
using popstream::fuzz::Random;

namespace {

constexpr std::string_view password = "pw-FUZZ-s3cret";
constexpr std::string_view token = "tok-FUZZ-ya29";

struct Settings {
	SessionConfig config;
	std::uint32_t seed = 0;
};

Settings ReadSettings(Bytes &bytes)
{
	Settings s;
	const auto b0 = bytes.Byte();
	const auto b1 = bytes.Byte();
	s.seed = bytes.Word();
	auto &c = s.config;
	c.user = "alice";
	c.auth = static_cast<AuthMethod>(b0 % 11);
	c.secure = b1 & 1;
	c.starttls = b1 & 2;
	c.loopback = b1 & 4;
	c.allow_plaintext = b1 & 8;
	c.client_certificate = b1 & 16;
	c.skip_capa = b1 & 32;
	c.pipelining = b1 & 64 ? Pipelining::On : Pipelining::Auto;
	if (UsesToken(c.auth) || ((b1 & 128) && c.auth == AuthMethod::Auto))
		c.token = std::string(token);
	else
		c.password = std::string(password);
	c.host = "pop.example.com";
	c.port = 995;
	c.auth_provider = popstream::test::MakeFakeAuth();
	return s;
}

class Driver {
public:
	explicit Driver(Settings settings, std::string_view input)
	    : settings_(std::move(settings)), input_(input), session_(settings_.config)
	{
	}

	void Run(Random &random)
	{
		std::string_view rest = input_;
		while (!rest.empty() && !session_.Over()) {
			const std::size_t n = 1 + random.Below(64);
			const auto chunk = rest.substr(0, n);
			rest.remove_prefix(chunk.size());
			session_.Feed(chunk);
			Drain();
		}
		session_.ConnectionClosed();
		Drain();
		FUZZ_CHECK(session_.Over());
	}

private:
	void Drain()
	{
		for (;;) {
			TakeOutput();
			auto e = session_.Next();
			TakeOutput();
			if (std::holds_alternative<NeedDataEvent>(e))
				return;
			if (std::holds_alternative<StartTlsEvent>(e)) {
				FUZZ_CHECK(settings_.config.starttls && !tls_);
				tls_ = true;
				session_.TlsStarted();
			} else if (auto *f = std::get_if<FailedEvent>(&e)) {
				CheckText(f->error.message);
				failed_ = true;
			} else if (auto *w = std::get_if<WarningEvent>(&e)) {
				CheckText(w->text);
			} else if (auto *m = std::get_if<MessageEndEvent>(&e)) {
				session_.NotSaved(m->number);
			}
		}
	}

	bool Private() const
	{
		const auto &c = settings_.config;
		return c.secure || tls_ || c.loopback || c.allow_plaintext;
	}

	void TakeOutput()
	{
		const std::string out = session_.TakeOutput();
		if (out.empty())
			return;
		FUZZ_CHECK(!failed_);
		const auto &c = settings_.config;
		const std::string_view secret = c.token.empty() ? password : token;
		// A server can put the secret's bytes into what the client echoes (the
		// test mechanisms' APOP digest shows the timestamp): only a secret the
		// server never sent proves a leak.
		const bool echoed = input_.find(secret) != std::string_view::npos;
		const bool leaked = !echoed && out.find(secret) != std::string::npos;
		// The secret itself, or its base64 in a PLAIN/XOAUTH2 response, never
		// before TLS when STLS was asked for.
		if (c.starttls && !tls_)
			FUZZ_CHECK(!leaked && out.find("AUTH") == std::string::npos &&
				   out.find("USER") == std::string::npos &&
				   out.find("APOP") == std::string::npos);
		if (!Private())
			FUZZ_CHECK(!leaked &&
				   out.find("AUTH PLAIN") == std::string::npos &&
				   out.find("AUTH LOGIN") == std::string::npos &&
				   out.find("AUTH XOAUTH2") == std::string::npos &&
				   out.find("AUTH OAUTHBEARER") == std::string::npos &&
				   out.find("USER ") == std::string::npos);
		std::string_view rest = out;
		while (!rest.empty()) {
			const auto end = rest.find("\r\n");
			FUZZ_CHECK(end != std::string_view::npos);
			const auto line = rest.substr(0, end);
			FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos);
			if (line.starts_with("AUTH ") &&
			    line.find(' ', 5) != std::string_view::npos)
				FUZZ_CHECK(line.size() + 2 <= 255);
			rest.remove_prefix(end + 2);
		}
	}

	void CheckText(std::string_view text)
	{
		for (const std::string_view secret : {password, token})
			if (text.find(secret) != std::string_view::npos)
				FUZZ_CHECK(input_.find(secret) != std::string_view::npos);
	}

	Settings settings_;
	std::string_view input_;
	Session session_;
	bool tls_ = false;
	bool failed_ = false;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	Bytes bytes(data, size);
	Settings settings = ReadSettings(bytes);
	Random random(settings.seed);
	const std::string_view input(reinterpret_cast<const char *>(bytes.Data()),
				     bytes.Size());
	Driver driver(std::move(settings), input);
	driver.Run(random);
	return 0;
}
