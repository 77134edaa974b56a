#include "auth/GsaslProvider.hxx"

#include <doctest/doctest.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include <string>
#include <vector>

using namespace std::string_literals;
using popstream::pop3::AuthMethod;
using popstream::pop3::SaslClient;
using popstream::pop3::SaslParams;

namespace {

SaslParams Params(std::string user, std::string password)
{
	SaslParams p;
	p.user = std::move(user);
	p.secret = std::move(password);
	return p;
}

std::unique_ptr<SaslClient> Start(AuthMethod method, const SaslParams &params)
{
	static const auto provider = popstream::auth::MakeAuthProvider();
	std::string error;
	auto client = provider->Sasl(method, params, error);
	INFO(error);
	REQUIRE(client != nullptr);
	return client;
}

std::string Base64(std::string_view raw)
{
	std::size_t n = 0;
	std::string out(4 * (raw.size() / 3 + 1) + 1, '\0');
	REQUIRE(mbedtls_base64_encode(reinterpret_cast<unsigned char *>(out.data()),
				      out.size(), &n,
				      reinterpret_cast<const unsigned char *>(raw.data()),
				      raw.size()) == 0);
	out.resize(n);
	return out;
}

std::string Unbase64(std::string_view text)
{
	std::size_t n = 0;
	std::string out(text.size(), '\0');
	REQUIRE(mbedtls_base64_decode(
		    reinterpret_cast<unsigned char *>(out.data()), out.size(), &n,
		    reinterpret_cast<const unsigned char *>(text.data()),
		    text.size()) == 0);
	out.resize(n);
	return out;
}

/**
 * The server's side of SCRAM written from the formulas of RFC 5802 §3 with mbedTLS, so
 * that GNU SASL's client is checked against the RFC and not against GNU SASL's server.
 */
struct ScramServer {
	mbedtls_md_type_t hash;
	std::string password, salt_b64;
	unsigned iterations;

	std::string Hmac(std::string_view key, std::string_view text) const
	{
		const auto *info = mbedtls_md_info_from_type(hash);
		std::string out(mbedtls_md_get_size(info), '\0');
		REQUIRE(
		    mbedtls_md_hmac(
			info, reinterpret_cast<const unsigned char *>(key.data()),
			key.size(), reinterpret_cast<const unsigned char *>(text.data()),
			text.size(), reinterpret_cast<unsigned char *>(out.data())) == 0);
		return out;
	}

	std::string Hash(std::string_view text) const
	{
		const auto *info = mbedtls_md_info_from_type(hash);
		std::string out(mbedtls_md_get_size(info), '\0');
		REQUIRE(mbedtls_md(info,
				   reinterpret_cast<const unsigned char *>(text.data()),
				   text.size(),
				   reinterpret_cast<unsigned char *>(out.data())) == 0);
		return out;
	}

	/** SaltedPassword := Hi(Normalize(password), salt, i) */
	std::string SaltedPassword() const
	{
		const auto *info = mbedtls_md_info_from_type(hash);
		const std::string salt = Unbase64(salt_b64);
		mbedtls_md_context_t md;
		mbedtls_md_init(&md);
		REQUIRE(mbedtls_md_setup(&md, info, 1) == 0);
		std::string out(mbedtls_md_get_size(info), '\0');
		const int rc = mbedtls_pkcs5_pbkdf2_hmac(
		    &md, reinterpret_cast<const unsigned char *>(password.data()),
		    password.size(), reinterpret_cast<const unsigned char *>(salt.data()),
		    salt.size(), iterations, static_cast<uint32_t>(out.size()),
		    reinterpret_cast<unsigned char *>(out.data()));
		mbedtls_md_free(&md);
		REQUIRE(rc == 0);
		return out;
	}

	/** @return the client proof and the server signature, base64 */
	std::pair<std::string, std::string> Proofs(std::string_view auth_message) const
	{
		const std::string salted = SaltedPassword();
		const std::string client_key = Hmac(salted, "Client Key");
		const std::string signature = Hmac(Hash(client_key), auth_message);
		std::string proof = client_key;
		for (std::size_t i = 0; i < proof.size(); ++i)
			proof[i] = static_cast<char>(proof[i] ^ signature[i]);
		const std::string server_key = Hmac(salted, "Server Key");
		return {Base64(proof), Base64(Hmac(server_key, auth_message))};
	}
};

// RFC 5802 §5 and RFC 7677 §3: user "user", password "pencil", 4096 iterations.
const ScramServer RFC5802{MBEDTLS_MD_SHA1, "pencil", "QSXCR+Q6sek8bf92", 4096};
const ScramServer RFC7677{MBEDTLS_MD_SHA256, "pencil", "W22ZaJ0SNY7soEsUEjb6gQ==", 4096};
constexpr std::string_view RFC5802_SERVER_NONCE = "3rfcNHYJY1ZVvWVs7j";
constexpr std::string_view RFC7677_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

/** A SCRAM exchange up to the server's final message, with GNU SASL's client. */
struct ScramExchange {
	std::unique_ptr<SaslClient> client;
	std::string server_signature;
};

ScramExchange RunScram(AuthMethod method, const ScramServer &server,
		       std::string_view server_nonce)
{
	ScramExchange x;
	x.client = Start(method, Params("user", server.password));

	// client-first: gs2 header "n,," (no authzid, no channel binding), then the
	// bare message with GNU SASL's random nonce (RFC 5802 §7).
	const auto first = x.client->Start();
	REQUIRE(first.has_value());
	REQUIRE(first->ok);
	REQUIRE(first->response.starts_with("n,,n=user,r="));
	const std::string client_nonce = first->response.substr(12);
	REQUIRE(client_nonce.size() >= 16);
	REQUIRE(client_nonce.find(',') == std::string::npos);
	CHECK(!x.client->Complete());

	const std::string nonce = client_nonce + std::string(server_nonce);
	const std::string server_first = "r=" + nonce + ",s=" + server.salt_b64 +
					 ",i=" + std::to_string(server.iterations);
	const auto final = x.client->Step(server_first);
	INFO(final.error);
	REQUIRE(final.ok);
	const std::string without_proof = "c=biws,r=" + nonce;
	REQUIRE(final.response.starts_with(without_proof + ",p="));
	const auto [proof, signature] = server.Proofs(first->response.substr(3) + "," +
						      server_first + "," + without_proof);
	CHECK(final.response == without_proof + ",p=" + proof);
	CHECK(!x.client->Complete());
	x.server_signature = signature;
	return x;
}

} // namespace

TEST_CASE("GNU SASL has every mechanism popstream asks it for")
{
	const auto provider = popstream::auth::MakeAuthProvider();
	for (const auto method :
	     {AuthMethod::Plain, AuthMethod::Login, AuthMethod::CramMd5,
	      AuthMethod::ScramSha1, AuthMethod::ScramSha256, AuthMethod::External,
	      AuthMethod::Xoauth2, AuthMethod::Oauthbearer}) {
		INFO(popstream::pop3::AuthMethodName(method));
		CHECK(provider->HasSasl(method));
	}
	for (const auto method : {AuthMethod::Auto, AuthMethod::User, AuthMethod::Apop}) {
		CHECK(!provider->HasSasl(method));
		std::string error;
		CHECK(provider->Sasl(method, Params("u", "p"), error) == nullptr);
		CHECK(error == "login method " +
				   std::string(popstream::pop3::AuthMethodName(method)) +
				   " is not a SASL mechanism");
	}
}

TEST_CASE("PLAIN: authzid, user and password in one initial response (RFC 4616 §2)")
{
	auto client = Start(AuthMethod::Plain, Params("tim", "tanstaaftanstaaf"));
	CHECK(!client->Complete());
	const auto step = client->Start();
	REQUIRE(step.has_value());
	CHECK(step->ok);
	CHECK(step->response == "\0tim\0tanstaaftanstaaf"s);
	CHECK(client->Complete());
	// A challenge after the end is a protocol error, not a second login.
	const auto extra = client->Step("");
	CHECK(!extra.ok);
	CHECK(extra.error == "PLAIN: the server sent a challenge after the exchange was "
			     "complete");
	CHECK(!client->Complete());
}

TEST_CASE("LOGIN: no initial response, then user and password")
{
	auto client = Start(AuthMethod::Login, Params("tim", "tanstaaf"));
	CHECK(!client->Start().has_value());
	auto step = client->Step("Username:");
	CHECK(step.ok);
	CHECK(step.response == "tim");
	CHECK(!client->Complete());
	step = client->Step("Password:");
	CHECK(step.ok);
	CHECK(step.response == "tanstaaf");
	CHECK(client->Complete());
}

TEST_CASE("CRAM-MD5: the example of RFC 2195 §2")
{
	auto client = Start(AuthMethod::CramMd5, Params("tim", "tanstaaftanstaaf"));
	CHECK(!client->Start().has_value());
	const auto step = client->Step("<1896.697170952@postoffice.reston.mci.net>");
	CHECK(step.ok);
	CHECK(step.response == "tim b913a602c7eda7a495b4e6e7334d3890");
	CHECK(client->Complete());
}

TEST_CASE("EXTERNAL: an empty initial response (RFC 4422 Appendix A)")
{
	auto client = Start(AuthMethod::External, Params("tim", ""));
	const auto step = client->Start();
	REQUIRE(step.has_value());
	CHECK(step->ok);
	CHECK(step->response.empty());
	CHECK(client->Complete());
}

TEST_CASE(
    "The test's SCRAM server reproduces the examples of RFC 5802 §5 and RFC 7677 §3")
{
	// Proof that the independent computation the next cases use is right.
	const std::string nonce1 =
	    "fyko+d2lbbFgONRv9qkxdawL" + std::string(RFC5802_SERVER_NONCE);
	const auto [proof1, signature1] =
	    RFC5802.Proofs("n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=" + nonce1 +
			   ",s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=" + nonce1);
	CHECK(proof1 == "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
	CHECK(signature1 == "rmF9pqV8S7suAoZWja4dJRkFsKQ=");

	const std::string nonce256 =
	    "rOprNGfwEbeRWgbNEkqO" + std::string(RFC7677_SERVER_NONCE);
	const auto [proof256, signature256] =
	    RFC7677.Proofs("n=user,r=rOprNGfwEbeRWgbNEkqO,r=" + nonce256 +
			   ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=" + nonce256);
	CHECK(proof256 == "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	CHECK(signature256 == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST_CASE("SCRAM-SHA-1 and SCRAM-SHA-256: complete only once the server proved itself")
{
	// GNU SASL picks the client nonce itself and offers no way to fix it, so the
	// RFC examples are replayed with its nonce and the RFCs' salt, count and
	// server nonce, the proofs computed as RFC 5802 §3 says.
	struct Case {
		AuthMethod method;
		const ScramServer &server;
		std::string_view server_nonce;
	};
	for (const Case &c :
	     {Case{AuthMethod::ScramSha1, RFC5802, RFC5802_SERVER_NONCE},
	      Case{AuthMethod::ScramSha256, RFC7677, RFC7677_SERVER_NONCE}}) {
		const std::string name(popstream::pop3::SaslMechanismName(c.method));
		INFO(name);
		auto good = RunScram(c.method, c.server, c.server_nonce);
		auto step = good.client->Step("v=" + good.server_signature);
		INFO(step.error);
		CHECK(step.ok);
		CHECK(step.response.empty());
		CHECK(good.client->Complete());

		// A server that does not know the password cannot sign.
		auto tampered = RunScram(c.method, c.server, c.server_nonce);
		std::string bad = tampered.server_signature;
		bad[0] = bad[0] == 'A' ? 'B' : 'A';
		step = tampered.client->Step("v=" + bad);
		CHECK(!step.ok);
		CHECK(step.error == name + ": the server's signature does not match: it "
					   "may not know the password");
		CHECK(!tampered.client->Complete());

		// +OK with no final message leaves the client incomplete: the login
		// must fail on Complete() alone.
		auto silent = RunScram(c.method, c.server, c.server_nonce);
		CHECK(!silent.client->Complete());

		// The server's own error (RFC 5802 §7 server-error), shown escaped.
		auto refused = RunScram(c.method, c.server, c.server_nonce);
		step = refused.client->Step("e=invalid-proof\x01");
		CHECK(!step.ok);
		CHECK(step.error ==
		      name + ": the server refused the login: invalid-proof\\x01");
		CHECK(!refused.client->Complete());
	}
}

TEST_CASE("SCRAM: a hostile server-first message ends the exchange with one line")
{
	auto client = Start(AuthMethod::ScramSha256, Params("user", "pencil"));
	const auto first = client->Start();
	REQUIRE(first.has_value());
	const std::string client_nonce = first->response.substr(12);

	// A nonce that does not extend ours (RFC 5802 §5.1).
	auto step =
	    client->Step("r=someone-elses-nonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
	CHECK(!step.ok);
	CHECK(step.error == "SCRAM-SHA-256: the server's nonce does not begin with ours "
			    "(RFC 5802 §5.1)");
	CHECK(!client->Complete());
	step = client->Step("v=x");
	CHECK(!step.ok);
	CHECK(step.error == "SCRAM-SHA-256: the exchange has already failed");

	client = Start(AuthMethod::ScramSha1, Params("user", "pencil"));
	REQUIRE(client->Start().has_value());
	step = client->Step("not scram at all");
	CHECK(!step.ok);
	CHECK(step.error == "SCRAM-SHA-1: the server's first message is malformed "
			    "(RFC 5802 §7)");

	client = Start(AuthMethod::ScramSha1, Params("user", "pencil"));
	REQUIRE(client->Start().has_value());
	step = client->Step("r=abc\0def"s);
	CHECK(!step.ok);
	CHECK(step.error == "SCRAM-SHA-1: the server's challenge holds a NUL octet");
}

TEST_CASE("Errors name the mechanism and never the password")
{
	const auto provider = popstream::auth::MakeAuthProvider();
	std::string error;
	CHECK(provider->Sasl(AuthMethod::Plain, Params("tim", "sec\0ret"s), error) ==
	      nullptr);
	CHECK(error == "PLAIN: the user name or password holds a NUL octet");

	auto client = Start(AuthMethod::CramMd5, Params("tim", "hunter2"));
	REQUIRE(!client->Start().has_value());
	REQUIRE(client->Step("<1@x>").ok);
	const auto step = client->Step("<2@x>");
	CHECK(!step.ok);
	CHECK(step.error.starts_with("CRAM-MD5: "));
	CHECK(step.error.find("hunter2") == std::string::npos);
}
