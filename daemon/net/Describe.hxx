#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct sockaddr;

namespace popstream::net {

/**
 * Formats a peer for error messages.
 * @param host DNS name or IP literal as the user gave it (escaped here, since it may come
 *        from a configuration file)
 * @param port TCP port
 * @return "host:port", or "[host]:port" when @p host is an IPv6 literal (RFC 3986 §3.2.2)
 */
std::string FormatPeer(std::string_view host, std::uint16_t port);

/**
 * Formats a duration for error messages.
 * @param ms duration in milliseconds
 * @return seconds with a unit: "30 s", "0.25 s"
 */
std::string FormatSeconds(std::uint64_t ms);

/**
 * @param status a negative libuv error code (UV_ECONNREFUSED...)
 * @return libuv's lower-case description, e.g. "connection refused"
 */
std::string DescribeUvError(int status);

/**
 * Describes a failed uv_getaddrinfo() in the resolver's own words.
 * @param status a negative libuv error code, usually one of UV_EAI_*
 * @return the gai_strerror(3) text for the matching EAI_* code (e.g. "Name or service not
 *         known"), or libuv's text for codes that have no EAI_* equivalent
 */
std::string DescribeResolveError(int status);

/**
 * @param address an AF_INET or AF_INET6 socket address
 * @return the numeric address without port ("127.0.0.1", "::1"), or "?" for another
 *         family
 */
std::string FormatAddress(const sockaddr &address);

} // namespace popstream::net
