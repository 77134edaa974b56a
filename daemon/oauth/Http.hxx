#pragma once

#include "Form.hxx"

#include <chrono>
#include <cstddef>
#include <string>

namespace popstream::oauth {

/** What an endpoint answered. */
struct HttpResponse {
	/** The HTTP status code (200, 400, ...). */
	long status = 0;
	/** The Content-Type header's value, as sent (may be empty). */
	std::string content_type;
	/** The body, at most MAX_HTTP_BODY bytes. */
	std::string body;
};

/** The largest body read from an endpoint: token answers are a few KiB; this stops a
 * wrong URL (a download) from filling memory. */
inline constexpr std::size_t MAX_HTTP_BODY = 256 * 1024;

/**
 * How the OAuth 2.0 client reaches the token, device and introspection endpoints: one
 * blocking request at a time. The interface lets the grants be tested with a scripted
 * transport, and the daemon run them on a worker thread.
 */
class HttpTransport {
public:
	virtual ~HttpTransport() = default;

	/**
	 * POSTs @p form as `application/x-www-form-urlencoded` (RFC 6749 §4.1.3,
	 * §6; RFC 8628 §3.1, §3.4) with `Accept: application/json`.
	 *
	 * @param url an https URL (or http to loopback)
	 * @param form the parameters; may hold secrets, which never appear in an error
	 * @return the answer, whatever its status
	 * @throws OAuthError (ErrorKind::Network) naming @p url if no HTTP answer came
	 *         (DNS, connection, TLS verification, timeout, a body over
	 *         MAX_HTTP_BODY)
	 */
	virtual HttpResponse PostForm(const std::string &url, const Form &form) = 0;
};

/** Settings of CurlTransport. */
struct HttpOptions {
	/** PEM file of the CAs to trust; empty = the system store
	 * (POPSTREAM_SYSTEM_CA_FILE). */
	std::string ca_file;
	/** The longest one request may take, connecting included. */
	std::chrono::milliseconds timeout = std::chrono::seconds(30);
};

/**
 * HttpTransport over libcurl's easy interface. TLS is always verified (peer and host
 * name), redirects are not followed (a token request must not be re-sent elsewhere),
 * only http and https are allowed, and nothing is logged. Not thread-safe: one per
 * thread.
 */
class CurlTransport final : public HttpTransport {
	HttpOptions options_;
	void *curl_;

public:
	/** @throws OAuthError (Network) if libcurl cannot be initialised */
	explicit CurlTransport(HttpOptions options = {});
	~CurlTransport() override;
	CurlTransport(const CurlTransport &) = delete;
	CurlTransport &operator=(const CurlTransport &) = delete;

	HttpResponse PostForm(const std::string &url, const Form &form) override;
};

} // namespace popstream::oauth
