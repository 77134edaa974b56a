#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace popstream::oauth {

/**
 * The loopback redirect listener of a native app (RFC 8252 §7.3): a TCP socket on
 * 127.0.0.1 at a port the kernel picks, which the browser is redirected to after the
 * user signs in. It answers each request with a small page and hands back the first
 * one that carries the authorization response.
 */
class LoopbackListener {
	int fd_ = -1;
	std::uint16_t port_ = 0;

public:
	/** Binds 127.0.0.1:0 and listens. @throws OAuthError (Network) on failure */
	LoopbackListener();
	~LoopbackListener();
	LoopbackListener(const LoopbackListener &) = delete;
	LoopbackListener &operator=(const LoopbackListener &) = delete;

	std::uint16_t Port() const noexcept { return port_; }

	/** @return "http://127.0.0.1:PORT/", the redirect_uri to register and send */
	std::string RedirectUri() const;

	/**
	 * Serves requests until one is a GET whose query has `code` or `error`, and
	 * reads it with ParseRedirect(): the browser gets "Signed in" or the reason
	 * it failed, in plain HTML, and the connection is closed. Other requests
	 * (a favicon) get 404 and waiting goes on. A request is read for at most 10 s
	 * and 8 KiB.
	 *
	 * @param expected_state the request's state
	 * @param timeout how long to wait in all
	 * @return the authorization code
	 * @throws OAuthError as ParseRedirect(); Expired if @p timeout passes; Network
	 *         if accept(2) fails
	 */
	std::string WaitForCode(const std::string &expected_state,
				std::chrono::milliseconds timeout);
};

} // namespace popstream::oauth
