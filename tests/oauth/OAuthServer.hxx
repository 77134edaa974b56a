#pragma once

#include "FakeOAuth2Server.hxx"
#include "TempDir.hxx"

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
 * GETs or POSTs @p url without following redirects, trusting @p ca_file for https:
 * the browser of the authorization code grant.
 * @param body empty: GET; else POSTed as is with @p content_type
 * @throws std::runtime_error if no HTTP answer came
 */
WebAnswer Fetch(const std::string &url, const std::string &ca_file = {},
		const std::string &body = {},
		const std::string &content_type = "application/json");

namespace detail {
/** Constructed before the server, which lives in it. */
struct OwnDir {
	TempDir dir;
};
} // namespace detail

/**
 * Helper C's FakeOAuth2Server (tests/support; the script's header lists the endpoints
 * and the control keys) in a temporary directory of its own, started by the
 * constructor, stopped by the destructor.
 */
class OAuthServer : private detail::OwnDir, public FakeOAuth2Server {
	static FakeOAuth2Options Options(const std::string &client_secret)
	{
		FakeOAuth2Options options;
		options.client_secret = client_secret;
		return options;
	}

public:
	/** @param client_secret when not empty, the server demands it */
	explicit OAuthServer(const std::string &client_secret = {})
	    : FakeOAuth2Server(dir.Path(), Options(client_secret))
	{
		Start();
	}
};

} // namespace popstream::test
