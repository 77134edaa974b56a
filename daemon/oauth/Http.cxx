#include "Http.hxx"
#include "Error.hxx"

#include "config.h"
#include "core/util/Escape.hxx"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

namespace popstream::oauth {

namespace {

struct Sink {
	std::string body;
	bool too_large = false;
};

size_t OnBody(char *data, size_t size, size_t count, void *user) noexcept
{
	auto *sink = static_cast<Sink *>(user);
	const size_t n = size * count;
	if (sink->body.size() + n > MAX_HTTP_BODY) {
		sink->too_large = true;
		return 0; // makes curl fail with CURLE_WRITE_ERROR
	}
	try {
		sink->body.append(data, n);
	} catch (...) {
		return 0;
	}
	return n;
}

/** Wipes the encoded body, which holds the secrets of the request. */
struct WipedString {
	std::string text;
	~WipedString()
	{
		std::fill(text.begin(), text.end(), '\0');
		text.clear();
	}
};

} // namespace

CurlTransport::CurlTransport(HttpOptions options) : options_(std::move(options))
{
	// curl_global_init is not thread-safe before 7.84; do it once.
	static std::once_flag once;
	std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
	curl_ = curl_easy_init();
	if (curl_ == nullptr)
		throw OAuthError(ErrorKind::Network, "cannot initialise libcurl");
}

CurlTransport::~CurlTransport()
{
	curl_easy_cleanup(static_cast<CURL *>(curl_));
}

HttpResponse CurlTransport::PostForm(const std::string &url, const Form &form)
{
	auto *curl = static_cast<CURL *>(curl_);
	curl_easy_reset(curl);
	WipedString body{EncodeForm(form)};
	Sink sink;
	char error[CURL_ERROR_SIZE] = "";
	const std::string ca_file =
	    options_.ca_file.empty() ? POPSTREAM_SYSTEM_CA_FILE : options_.ca_file;

	curl_slist *headers = nullptr;
	headers = curl_slist_append(headers, "Accept: application/json");
	// No "Expect: 100-continue" round trip for a small body.
	headers = curl_slist_append(headers, "Expect:");

	curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
			 static_cast<long>(options_.timeout.count()));
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "popstream/" POPSTREAM_VERSION);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.text.c_str());
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
			 static_cast<long>(body.text.size()));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);

	const CURLcode result = curl_easy_perform(curl);
	curl_slist_free_all(headers);

	// The URL is no secret (the secrets travel in the body); curl's error text
	// names the host, the CA file or the timeout, never the body.
	if (sink.too_large)
		throw OAuthError(ErrorKind::Network,
				 Escape(url) + ": the answer is larger than " +
				     std::to_string(MAX_HTTP_BODY / 1024) + " KiB");
	if (result != CURLE_OK) {
		const std::string why =
		    error[0] != '\0' ? error : curl_easy_strerror(result);
		throw OAuthError(ErrorKind::Network, Escape(url) + ": " + Escape(why));
	}

	HttpResponse response;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
	const char *type = nullptr;
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK &&
	    type != nullptr)
		response.content_type = type;
	response.body = std::move(sink.body);
	return response;
}

} // namespace popstream::oauth
