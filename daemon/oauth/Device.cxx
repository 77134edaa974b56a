#include "Device.hxx"
#include "Error.hxx"

#include "core/util/Escape.hxx"

#include <nlohmann/json.hpp>

namespace popstream::oauth {

namespace {

using nlohmann::json;

/** RFC 8628 §3.5: "increase the polling interval by 5 seconds". */
constexpr std::chrono::seconds slow_down_step{5};

/** A cap on the interval after back-offs, so one bad minute does not make the user
 * wait many. */
constexpr std::chrono::seconds max_interval{60};
/** Token requests in a row without an answer after which polling gives up. */
constexpr unsigned max_failures_in_a_row = 3;

std::string Text(const json &object, const char *name)
{
	const auto it = object.find(name);
	return it != object.end() && it->is_string() ? it->get<std::string>()
						     : std::string();
}

/** A positive whole number of seconds, as a number or digits in a string. */
std::optional<long long> Seconds(const json &object, const char *name)
{
	const auto it = object.find(name);
	if (it == object.end())
		return std::nullopt;
	if (it->is_number_integer() && it->get<long long>() > 0)
		return it->get<long long>();
	if (it->is_string()) {
		const auto text = it->get<std::string>();
		if (!text.empty() && text.size() < 10 &&
		    text.find_first_not_of("0123456789") == std::string::npos &&
		    std::stoll(text) > 0)
			return std::stoll(text);
	}
	return std::nullopt;
}

} // namespace

DeviceAuthorization StartDeviceAuthorization(HttpTransport &http,
					     const Settings &settings)
{
	const std::string &url = settings.device_endpoint;
	Form form{{"client_id", settings.client_id}};
	if (!settings.scope.empty())
		form.emplace_back("scope", settings.scope);
	std::vector<std::string> secrets;
	if (!settings.client_secret.empty()) {
		form.emplace_back("client_secret", settings.client_secret);
		secrets.push_back(settings.client_secret);
	}
	const auto response = http.PostForm(url, form);
	const std::string where = Escape(url);

	auto object = json::parse(response.body, nullptr, false);
	if (response.status != 200 || object.is_discarded() || !object.is_object() ||
	    object.contains("error")) {
		// The same error shapes as the token endpoint (RFC 8628 §3.2); let
		// that parser explain it, and insist on an error if it found none.
		ParseTokenResponse(response, url, secrets);
		throw OAuthError(ErrorKind::Protocol,
				 where + ": the answer is not a device authorization");
	}
	DeviceAuthorization a;
	a.device_code = Text(object, "device_code");
	a.user_code = Text(object, "user_code");
	a.verification_uri = Text(object, "verification_uri");
	if (a.verification_uri.empty())
		a.verification_uri = Text(object, "verification_url");
	a.verification_uri_complete = Text(object, "verification_uri_complete");
	const auto expires = Seconds(object, "expires_in");
	const auto interval = Seconds(object, "interval");
	const char *missing = a.device_code.empty()        ? "device_code"
			      : a.user_code.empty()        ? "user_code"
			      : a.verification_uri.empty() ? "verification_uri"
			      : !expires                   ? "expires_in"
							   : nullptr;
	if (missing != nullptr)
		throw OAuthError(ErrorKind::Protocol,
				 where + ": the device authorization has no " + missing);
	a.expires_in = std::chrono::seconds(*expires);
	if (interval)
		a.interval = std::chrono::seconds(*interval);
	return a;
}

TokenResponse PollDeviceToken(HttpTransport &http, const Settings &settings,
			      const DeviceAuthorization &authorization,
			      const Sleeper &sleep, const std::function<void()> &on_poll)
{
	auto interval = authorization.interval;
	std::chrono::seconds waited{0};
	// The real time too: each request may take up to its timeout on top of the
	// sleeps, and the code expires by the clock.
	const auto start = std::chrono::steady_clock::now();
	unsigned failures_in_a_row = 0;
	while (true) {
		if (waited >= authorization.expires_in ||
		    std::chrono::steady_clock::now() - start >= authorization.expires_in)
			throw OAuthError(ErrorKind::Expired,
					 "the code expired before the sign-in was "
					 "finished (after " +
					     std::to_string(waited.count()) + " s)",
					 "expired_token");
		sleep(interval);
		waited += interval;
		if (on_poll)
			on_poll();
		try {
			auto token = RequestToken(
			    http, settings,
			    {{"grant_type",
			      "urn:ietf:params:oauth:grant-type:device_code"},
			     {"device_code", authorization.device_code}},
			    {authorization.device_code});
			return token;
		} catch (const OAuthError &e) {
			if (e.Kind() != ErrorKind::Network)
				failures_in_a_row = 0;
			if (e.Code() == "authorization_pending")
				continue;
			if (e.Code() == "slow_down") {
				// Not capped: the server asked, for every later
				// request (§3.5).
				interval += slow_down_step;
				continue;
			}
			// §3.5 asks for a back-off on a request without an answer;
			// more than a few in a row is an endpoint that is down or
			// mistyped, which the user should hear of now rather than
			// when the code expires minutes later.
			if (e.Kind() == ErrorKind::Network &&
			    ++failures_in_a_row < max_failures_in_a_row) {
				interval = std::max(interval,
						    std::min(interval * 2, max_interval));
				continue;
			}
			throw;
		}
	}
}

} // namespace popstream::oauth
