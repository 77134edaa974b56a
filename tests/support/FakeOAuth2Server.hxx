#pragma once

#include "Process.hxx"

#include <memory>
#include <string>
#include <vector>

namespace popstream::test {

/** How a FakeOAuth2Server differs from the script's defaults. */
struct FakeOAuth2Options {
	/** The username its introspection reports for every token (--user). */
	std::string user = "alice";
	/** When not empty, /device and /token demand this client_secret (in the form or
	 * HTTP Basic); it reaches the server through a 0600 file, never argv. */
	std::string client_secret;
	/** Where the test CA and the server's certificate live (make-test-ca runs there
	 * and keeps what it finds); empty = DIR/pki. Give a DovecotServer's future
	 * DIR/pki so that Dovecot trusts the server for https introspection. */
	std::string pki_dir;
};

/**
 * tests/support/fake-oauth2-server (read its header for the endpoints and the control
 * keys) started in a directory of its own: TLS on 127.0.0.1 with a test CA made there
 * by make-test-ca, plus the plain-HTTP port for introspection, /control and /log.
 * Stopped (SIGTERM, then waited for) by the destructor.
 *
 *     FakeOAuth2Server oauth(tmp / "oauth");
 *     oauth.Start();
 *     oauth.Control(R"({"pending": 2, "rotate": true})");
 *     // popstream --ca-file oauth.CaFile(), token endpoint oauth.Url("/token")
 *     const auto log = oauth.Log(); // JSON text
 *
 * Needs POPSTREAM_SOURCE_ROOT (meson's test_env) and python3.
 */
class FakeOAuth2Server {
	std::string dir_;
	FakeOAuth2Options options_;
	std::string pki_;
	std::unique_ptr<Child> child_;
	unsigned port_ = 0, introspect_port_ = 0;

public:
	/**
	 * @param dir an existing directory for the port files, the server's stderr
	 *        (DIR/server.log) and (by default) the test CA; nothing is started yet
	 */
	explicit FakeOAuth2Server(std::string dir, FakeOAuth2Options options = {});
	/** Stops the server if it runs. */
	~FakeOAuth2Server();
	FakeOAuth2Server(const FakeOAuth2Server &) = delete;
	FakeOAuth2Server &operator=(const FakeOAuth2Server &) = delete;

	/**
	 * Makes the test CA (FakeOAuth2Options::pki_dir), starts the server and waits (up
	 * to 60 s) until it has written both port files.
	 * @throws std::runtime_error naming the server's stderr if it exits or stays
	 *         silent
	 */
	void Start();

	/** @return the TLS port (127.0.0.1; its certificate names localhost) */
	unsigned Port() const noexcept { return port_; }
	/** @return the plain-HTTP port: /introspect, /control, /log */
	unsigned IntrospectPort() const noexcept { return introspect_port_; }
	/** @return the test CA that signed the server's certificate */
	std::string CaFile() const { return pki_ + "/ca.crt"; }
	/** @return "https://localhost:PORT" + @p path, e.g. Url("/token") */
	std::string Url(const std::string &path) const;
	/**
	 * @return the introspection URL for DovecotOptions: plain HTTP on
	 *         IntrospectPort(), or with @p tls https://localhost on Port() (Dovecot
	 *         then verifies the certificate with its DIR/pki/ca.crt)
	 */
	std::string IntrospectionUrl(bool tls = false) const;

	/**
	 * POSTs @p json to /control (over the plain port).
	 * @return the whole script after the change, as JSON text
	 * @throws std::runtime_error with the server's answer unless it is 200
	 */
	std::string Control(const std::string &json) const;

	/** @return GET /log as JSON text: "requests" and "tokens", secrets as lengths */
	std::string Log() const;

	/** @return what the server printed on stderr so far (method, path, status) */
	std::string Stderr() const;

	/**
	 * Runs the device grant with tests/support/fake-oauth2-client and stores the
	 * refresh token in @p refresh_token_file (0600). Script pending/slow_down/deny
	 * with Control() first.
	 * @throws std::runtime_error with the client's error line if it fails
	 */
	void DeviceLogin(const std::string &refresh_token_file) const;

	/**
	 * @return an argv that prints a fresh access token (refresh grant with the token
	 *         in @p refresh_token_file, which a rotation updates), for dl
	 *         --token-command or `oauth_token_command`; no secret in it
	 */
	std::vector<std::string>
	TokenCommand(const std::string &refresh_token_file) const;
};

/** @return @p argv joined by blanks, for dl --token-command (paths without blanks) */
std::string JoinCommand(const std::vector<std::string> &argv);

} // namespace popstream::test
