#include "fetch/FetchOptions.hxx"
#include "fetch/TlsSessionCache.hxx"

#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

using namespace popstream;
using namespace std::chrono_literals;
using popstream::fetch::TlsSessionCache;
using popstream::test::ReadFile;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

const std::chrono::system_clock::time_point t0{std::chrono::seconds(1'800'000'000)};

/** Bytes as mbedtls_ssl_session_save() might give them: binary, with NUL and LF. */
const std::string session_a("sess\0ion-A\n\xff master", 19);
const std::string session_b = "session-B";

bool Exists(const std::string &path)
{
	struct stat st {};
	return lstat(path.c_str(), &st) == 0;
}

unsigned Mode(const std::string &path)
{
	struct stat st {};
	REQUIRE(stat(path.c_str(), &st) == 0);
	return st.st_mode & 07777;
}

fetch::FetchOptions TlsAccount(const std::string &ca_file)
{
	fetch::FetchOptions options;
	options.account.host = "pop.example.com";
	options.account.port = 995;
	options.account.tls = true;
	options.tls.ca_file = ca_file;
	return options;
}

} // namespace

TEST_CASE("a remembered session is found under its key only, for 24 hours")
{
	TlsSessionCache cache;
	CHECK(cache.Find("k", t0).empty());
	CHECK(cache.Remember("k", session_a, false, t0));
	CHECK(cache.Find("k", t0 + 1h) == session_a);
	CHECK(cache.Find("k", t0 + 23h + 59min) == session_a);
	CHECK(cache.Find("k", t0 + 24h).empty());
	// Dropped, not only hidden.
	CHECK(cache.Empty());
	CHECK(cache.Find("k", t0 + 1h).empty());
}

TEST_CASE("another key (changed trust settings) drops the session")
{
	TlsSessionCache cache;
	cache.Remember("ca=old", session_a, false, t0);
	CHECK(cache.Find("ca=new", t0).empty());
	CHECK(cache.Empty());
	// Even going back to the old settings finds nothing: it was dropped.
	CHECK(cache.Find("ca=old", t0).empty());
}

TEST_CASE("a resumed session keeps the age of its last full handshake")
{
	TlsSessionCache cache;
	cache.Remember("k", session_a, false, t0);
	CHECK(cache.Find("k", t0 + 23h) == session_a);
	// The server resumed and sent a new ticket: kept, but not made younger, so
	// that the certificate is verified again at least every 24 hours.
	cache.Remember("k", session_b, true, t0 + 23h);
	CHECK(cache.Find("k", t0 + 23h + 30min) == session_b);
	CHECK(cache.Find("k", t0 + 24h).empty());

	// A full handshake (the server refused to resume) starts the count again.
	cache.Remember("k", session_a, false, t0 + 30h);
	cache.Remember("k", session_b, false, t0 + 31h);
	CHECK(cache.Find("k", t0 + 31h + 23h) == session_b);
}

TEST_CASE("what cannot be trusted is dropped")
{
	TlsSessionCache cache;
	SUBCASE("a clock that went back")
	{
		cache.Remember("k", session_a, false, t0);
		CHECK(cache.Find("k", t0 - 1s).empty());
	}
	SUBCASE("a server that offers nothing to resume")
	{
		cache.Remember("k", session_a, false, t0);
		cache.Remember("k", "", false, t0 + 1s);
		CHECK(cache.Find("k", t0 + 2s).empty());
	}
	SUBCASE("a resumption of a session this cache did not offer")
	{
		cache.Remember("k", session_b, true, t0);
		CHECK(cache.Find("k", t0).empty());
		cache.Remember("k", session_a, false, t0);
		cache.Remember("other", session_b, true, t0);
		CHECK(cache.Find("k", t0).empty());
	}
	SUBCASE("a failed handshake")
	{
		cache.Remember("k", session_a, false, t0);
		cache.Forget();
		CHECK(cache.Find("k", t0).empty());
	}
	CHECK(cache.Empty());
}

TEST_CASE("dl's file: private, written whole, read back by the next run")
{
	TempDir dir;
	const std::string path = dir / "tls-session";
	{
		TlsSessionCache cache(path);
		CHECK(cache.Find("k", t0).empty());
		CHECK_FALSE(Exists(path));
		CHECK(cache.Remember("k", session_a, false, t0));
	}
	CHECK(Mode(path) == 0600);
	CHECK_FALSE(Exists(path + ".tmp"));
	// Not in the clear (base64), and the key holds no secret.
	CHECK(ReadFile(path).find("master") == std::string::npos);
	CHECK(ReadFile(path).rfind("popstream tls-session 1\n", 0) == 0);
	{
		TlsSessionCache next(path);
		CHECK(next.Find("k", t0 + 1h) == session_a);
		// A resumption keeps the first verification time across runs too.
		CHECK(next.Remember("k", session_b, true, t0 + 2h));
	}
	{
		TlsSessionCache next(path);
		CHECK(next.Find("k", t0 + 23h) == session_b);
	}
	{
		TlsSessionCache next(path);
		CHECK(next.Find("k", t0 + 24h).empty());
		CHECK_FALSE(Exists(path));
	}
	{
		TlsSessionCache cache(path);
		cache.Remember("k", session_a, false, t0);
		CHECK(Exists(path));
		// Trust settings changed: the file goes too.
		CHECK(cache.Find("changed", t0).empty());
		CHECK_FALSE(Exists(path));
		cache.Remember("k", session_a, false, t0);
		cache.Forget();
		CHECK_FALSE(Exists(path));
	}
}

TEST_CASE("dl's file: one others can read, a symlink or garbage is refused and removed")
{
	TempDir dir;
	const std::string path = dir / "tls-session";
	{
		TlsSessionCache cache(path);
		cache.Remember("k", session_a, false, t0);
	}
	const std::string good = ReadFile(path);
	SUBCASE("group-readable")
	{
		REQUIRE(chmod(path.c_str(), 0640) == 0);
		TlsSessionCache cache(path);
		CHECK(cache.Find("k", t0).empty());
		CHECK_FALSE(Exists(path));
	}
	SUBCASE("a symlink")
	{
		const std::string target = dir / "elsewhere";
		WriteFile(target, good, 0600);
		REQUIRE(unlink(path.c_str()) == 0);
		REQUIRE(symlink(target.c_str(), path.c_str()) == 0);
		TlsSessionCache cache(path);
		CHECK(cache.Find("k", t0).empty());
		CHECK_FALSE(Exists(path));
		CHECK(Exists(target));
	}
	SUBCASE("garbage")
	{
		for (const std::string &text :
		     {std::string(), std::string("popstream tls-session 1\n"),
		      good.substr(0, good.size() - 1), good + "extra\n",
		      std::string("popstream tls-session 2\n") + good.substr(24)}) {
			CAPTURE(text);
			WriteFile(path, text, 0600);
			TlsSessionCache cache(path);
			CHECK(cache.Find("k", t0).empty());
			CHECK_FALSE(Exists(path));
		}
	}
}

TEST_CASE("the key changes with everything that decides trust")
{
	TempDir dir;
	const std::string ca = dir / "ca.pem";
	WriteFile(ca, "first CA\n", 0644);
	const auto base = TlsAccount(ca);
	const std::string key = fetch::TlsSessionKey(base);
	CHECK(fetch::TlsSessionKey(TlsAccount(ca)) == key);
	CHECK(key.find(ca) != std::string::npos);

	auto changed = base;
	SUBCASE("the host")
	{
		changed.account.host = "pop2.example.com";
	}
	SUBCASE("the port")
	{
		changed.account.port = 1995;
	}
	SUBCASE("the name checked (SNI)")
	{
		changed.account.tls_name = "other.example";
	}
	SUBCASE("STLS instead of implicit TLS")
	{
		changed.account.tls = false;
		changed.starttls = true;
	}
	SUBCASE("another CA file")
	{
		changed.tls.ca_file = dir / "other.pem";
	}
	SUBCASE("the system store")
	{
		changed.tls.ca_file.clear();
	}
	SUBCASE("the CA file rewritten in place")
	{
		WriteFile(ca, "second CA, longer\n", 0644);
	}
	SUBCASE("a pin")
	{
		changed.tls.fingerprints.push_back(ParseTlsFingerprint(
		    "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	}
	SUBCASE("the oldest version")
	{
		changed.tls.min_version = TlsVersion::Tls1_0;
	}
	SUBCASE("a client certificate")
	{
		changed.tls.cert_file = dir / "client.crt";
		changed.tls.key_file = dir / "client.key";
	}
	CHECK(fetch::TlsSessionKey(changed) != key);
}
