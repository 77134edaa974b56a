#include "Http.hxx"
#include "Error.hxx"

#include "config.h"
#include "core/util/Escape.hxx"

#include <curl/curl.h>

#include <algorithm>
#include <dlfcn.h>
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

/**
 * libcurl, loaded on first use. Only an account with `oauth:` (or `oauth login`)
 * needs it, and linked in, libcurl brings 27 libraries of its own (OpenSSL, GnuTLS,
 * Kerberos, LDAP...) whose pages cost every `dl` and every daemon about 4.5 MiB of
 * RSS before any OAuth request. The names are those of <curl/curl.h>, which gives
 * the types; the soname is libcurl's ABI 4, the one the headers describe.
 */
struct Curl {
	decltype(&::curl_global_init) global_init;
	decltype(&::curl_easy_init) easy_init;
	decltype(&::curl_easy_cleanup) easy_cleanup;
	decltype(&::curl_easy_reset) easy_reset;
	decltype(&::curl_easy_setopt) easy_setopt;
	decltype(&::curl_easy_perform) easy_perform;
	decltype(&::curl_easy_getinfo) easy_getinfo;
	decltype(&::curl_easy_strerror) easy_strerror;
	decltype(&::curl_slist_append) slist_append;
	decltype(&::curl_slist_free_all) slist_free_all;
};

template <typename F>
void Resolve(void *library, const char *name, F &function)
{
	function = reinterpret_cast<F>(dlsym(library, name));
	if (function == nullptr)
		throw OAuthError(ErrorKind::Network,
				 std::string("libcurl.so.4 has no ") + name +
				     " (a libcurl older than the one popstream was built "
				     "with?)");
}

/** @return libcurl, loaded and initialised once (curl_global_init is not
 *          thread-safe before 7.84); @throws OAuthError if it cannot be loaded */
const Curl &LoadCurl()
{
	static std::once_flag once;
	static Curl curl;
	static std::string failure;
	std::call_once(once, [] {
		// Never closed: curl's global state lives as long as the process.
		void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
		if (library == nullptr) {
			const char *why = dlerror();
			failure =
			    std::string("cannot load libcurl.so.4, which OAuth 2.0 "
					"needs (Debian: apt-get install libcurl4): ") +
			    (why != nullptr ? why : "unknown error");
			return;
		}
		try {
			Resolve(library, "curl_global_init", curl.global_init);
			Resolve(library, "curl_easy_init", curl.easy_init);
			Resolve(library, "curl_easy_cleanup", curl.easy_cleanup);
			Resolve(library, "curl_easy_reset", curl.easy_reset);
			Resolve(library, "curl_easy_setopt", curl.easy_setopt);
			Resolve(library, "curl_easy_perform", curl.easy_perform);
			Resolve(library, "curl_easy_getinfo", curl.easy_getinfo);
			Resolve(library, "curl_easy_strerror", curl.easy_strerror);
			Resolve(library, "curl_slist_append", curl.slist_append);
			Resolve(library, "curl_slist_free_all", curl.slist_free_all);
		} catch (const OAuthError &e) {
			failure = e.what();
			return;
		}
		curl.global_init(CURL_GLOBAL_DEFAULT);
	});
	if (!failure.empty())
		throw OAuthError(ErrorKind::Network, failure);
	return curl;
}

} // namespace

CurlTransport::CurlTransport(HttpOptions options) : options_(std::move(options))
{
	curl_ = LoadCurl().easy_init();
	if (curl_ == nullptr)
		throw OAuthError(ErrorKind::Network, "cannot initialise libcurl");
}

CurlTransport::~CurlTransport()
{
	// Made only once LoadCurl() succeeded.
	LoadCurl().easy_cleanup(static_cast<CURL *>(curl_));
}

HttpResponse CurlTransport::PostForm(const std::string &url, const Form &form)
{
	const Curl &api = LoadCurl();
	auto *curl = static_cast<CURL *>(curl_);
	api.easy_reset(curl);
	WipedString body{EncodeForm(form)};
	Sink sink;
	char error[CURL_ERROR_SIZE] = "";
	const std::string ca_file =
	    options_.ca_file.empty() ? POPSTREAM_SYSTEM_CA_FILE : options_.ca_file;

	curl_slist *headers = nullptr;
	headers = api.slist_append(headers, "Accept: application/json");
	// No "Expect: 100-continue" round trip for a small body.
	headers = api.slist_append(headers, "Expect:");

	api.easy_setopt(curl, CURLOPT_URL, url.c_str());
	api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	api.easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	api.easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	api.easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
	api.easy_setopt(curl, CURLOPT_TIMEOUT_MS,
			static_cast<long>(options_.timeout.count()));
	api.easy_setopt(curl, CURLOPT_USERAGENT, "popstream/" POPSTREAM_VERSION);
	api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	api.easy_setopt(curl, CURLOPT_POSTFIELDS, body.text.c_str());
	api.easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.text.size()));
	api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
	api.easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
	api.easy_setopt(curl, CURLOPT_ERRORBUFFER, error);

	const CURLcode result = api.easy_perform(curl);
	api.slist_free_all(headers);

	// The URL is no secret (the secrets travel in the body); curl's error text
	// names the host, the CA file or the timeout, never the body.
	if (sink.too_large)
		throw OAuthError(ErrorKind::Network,
				 Escape(url) + ": the answer is larger than " +
				     std::to_string(MAX_HTTP_BODY / 1024) + " KiB");
	if (result != CURLE_OK) {
		const std::string why =
		    error[0] != '\0' ? error : api.easy_strerror(result);
		throw OAuthError(ErrorKind::Network, Escape(url) + ": " + Escape(why));
	}

	HttpResponse response;
	api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
	const char *type = nullptr;
	if (api.easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK &&
	    type != nullptr)
		response.content_type = type;
	response.body = std::move(sink.body);
	return response;
}

} // namespace popstream::oauth
