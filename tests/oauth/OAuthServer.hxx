#pragma once

#include "Process.hxx"
#include "TempDir.hxx"

#include <memory>
#include <string>

namespace popstream::test {

/** What a plain HTTP GET or POST got (the test's own client, libcurl). */
struct WebAnswer {
	long status = 0;
	std::string body;
	/** The Location header of a redirect, or empty. */
	std::string location;
};

/**
 * GETs or POSTs @p url without following redirects, trusting @p ca_file for https.
 * @param body empty: GET; else POSTed as is with @p content_type
 * @throws std::runtime_error if no HTTP answer came
 */
WebAnswer Fetch(const std::string &url, const std::string &ca_file = {},
		const std::string &body = {},
		const std::string &content_type = "application/json");

/**
 * tests/support/fake-oauth2-server (helper C's; its header lists the endpoints and the
 * control keys) in a directory of its own, with a test CA made there: TLS on
 * 127.0.0.1 for the grants, a plain port for /control and /log. Killed by the
 * destructor.
 */
class OAuthServer {
	TempDir dir_;
	std::unique_ptr<Child> child_;
	unsigned port_ = 0, plain_port_ = 0;

public:
	/**
	 * Starts the server and waits until it has written its port files.
	 * @param client_secret when not empty, the server demands it (passed in a
	 *        0600 file)
	 */
	explicit OAuthServer(const std::string &client_secret = {});

	/** @return the CA that signed the server's certificate (for localhost) */
	std::string CaFile() const { return dir_ / "pki/ca.crt"; }

	/** @return "https://localhost:PORT" + @p path */
	std::string Url(const std::string &path) const;

	/** POSTs @p json to /control. @throws std::runtime_error unless 200 */
	void Control(const std::string &json) const;

	/** @return GET /log, JSON text with the secrets replaced by their length */
	std::string Log() const;
};

} // namespace popstream::test
