#include "OAuthServer.hxx"

#include <curl/curl.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>

namespace popstream::test {

namespace {

size_t Append(char *data, size_t size, size_t count, void *user)
{
	static_cast<std::string *>(user)->append(data, size * count);
	return size * count;
}

/** @return the port in @p path, or 0 while it is not written */
unsigned ReadPort(const std::string &path)
{
	std::ifstream in(path);
	unsigned port = 0;
	in >> port;
	return port;
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

OAuthServer::OAuthServer(const std::string &client_secret)
{
	const auto root = RequireEnv("POPSTREAM_SOURCE_ROOT");
	ProcessOptions ca;
	ca.argv = {"sh", root + "/tests/support/make-test-ca", dir_ / "pki"};
	const auto made = Run(ca);
	if (made.exit_code != 0)
		throw std::runtime_error("make-test-ca failed: " + made.err);

	ProcessOptions server;
	server.argv = {"python3",
		       root + "/tests/support/fake-oauth2-server",
		       "--cert",
		       dir_ / "pki/server.crt",
		       "--key",
		       dir_ / "pki/server.key",
		       "--port-file",
		       dir_ / "port",
		       "--introspect-port-file",
		       dir_ / "plain-port"};
	if (!client_secret.empty()) {
		WriteFile(dir_ / "client-secret", client_secret + "\n", 0600);
		server.argv.push_back("--client-secret-file");
		server.argv.push_back(dir_ / "client-secret");
	}
	server.timeout = std::chrono::minutes(10);
	child_ = std::make_unique<Child>(server);
	// The port file is written last, atomically; a backstop, not a timing.
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
	while ((port_ = ReadPort(dir_ / "port")) == 0) {
		if (std::chrono::steady_clock::now() > deadline)
			throw std::runtime_error("fake-oauth2-server did not start: " +
						 child_->Wait().err);
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	plain_port_ = ReadPort(dir_ / "plain-port");
}

std::string OAuthServer::Url(const std::string &path) const
{
	return "https://localhost:" + std::to_string(port_) + path;
}

void OAuthServer::Control(const std::string &json) const
{
	const auto answer = Fetch(
	    "http://127.0.0.1:" + std::to_string(plain_port_) + "/control", {}, json);
	if (answer.status != 200)
		throw std::runtime_error("/control: " + answer.body);
}

std::string OAuthServer::Log() const
{
	return Fetch("http://127.0.0.1:" + std::to_string(plain_port_) + "/log").body;
}

} // namespace popstream::test
