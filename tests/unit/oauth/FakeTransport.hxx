#pragma once

#include "oauth/Error.hxx"
#include "oauth/Http.hxx"

#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace popstream::oauth::test {

/** A scripted HttpTransport: answers requests in order from a queue and records each
 * request, so that a test checks both what was sent and what was made of the answer. */
class FakeTransport final : public HttpTransport {
public:
	struct Request {
		std::string url;
		Form form;

		/** @return the field's value, or "(absent)" */
		std::string Field(const std::string &name) const
		{
			return FindField(form, name).value_or("(absent)");
		}
	};

	std::vector<Request> requests;
	std::deque<std::function<HttpResponse()>> answers;

	/** Queues an answer with @p status and the JSON @p body. */
	void Answer(long status, std::string body,
		    std::string content_type = "application/json")
	{
		answers.emplace_back([=] {
			return HttpResponse{status, content_type, body};
		});
	}

	/** Queues a request that gets no HTTP answer (a timeout). */
	void Fail(std::string message = "https://token.example: Timeout was reached")
	{
		answers.emplace_back([=]() -> HttpResponse {
			throw OAuthError(ErrorKind::Network, message);
		});
	}

	HttpResponse PostForm(const std::string &url, const Form &form) override
	{
		requests.push_back({url, form});
		if (answers.empty())
			throw std::logic_error("FakeTransport: unexpected request to " +
					       url);
		auto answer = std::move(answers.front());
		answers.pop_front();
		return answer();
	}
};

} // namespace popstream::oauth::test
