#include "OAuthServer.hxx"

#include <curl/curl.h>

#include <stdexcept>

namespace popstream::test {

namespace {

size_t Append(char *data, size_t size, size_t count, void *user)
{
	static_cast<std::string *>(user)->append(data, size * count);
	return size * count;
}

} // namespace

WebAnswer Fetch(const std::string &url, const std::string &ca_file,
		const std::string &body, const std::string &content_type)
{
	CURL *curl = curl_easy_init();
	if (curl == nullptr)
		throw std::runtime_error("curl_easy_init failed");
	WebAnswer answer;
	curl_slist *headers = nullptr;
	const std::string type = "Content-Type: " + content_type;
	curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	if (!ca_file.empty())
		curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
	if (!body.empty()) {
		headers = curl_slist_append(headers, type.c_str());
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
	const CURLcode result = curl_easy_perform(curl);
	if (result == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
		const char *location = nullptr;
		if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) ==
			CURLE_OK &&
		    location != nullptr)
			answer.location = location;
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (result != CURLE_OK)
		throw std::runtime_error(url + ": " + curl_easy_strerror(result));
	return answer;
}

} // namespace popstream::test
