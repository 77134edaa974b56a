#include "ServerProbe.hxx"
#include "Reply.hxx"
#include "core/util/Escape.hxx"

#include <utility>

namespace popstream::pop3 {

ServerProbe::Step ServerProbe::Feed(std::string_view bytes)
{
	if (state_ == State::Done || state_ == State::Failed)
		return StepFor();
	if (state_ == State::AwaitTls)
		// The handshake has not started yet: these bytes came in cleartext
		// after +OK, where a man in the middle would put its own replies.
		return Fail("the server sent data after +OK to STLS, before the TLS "
			    "handshake (refused: it could be injected)");
	input_.append(bytes);
	return Advance();
}

ServerProbe::Step ServerProbe::TlsStarted()
{
	if (state_ != State::AwaitTls)
		return StepFor();
	tls_ = true;
	// RFC 2595 §4: what the server said before TLS may have been forged.
	caps_ = Capabilities();
	capa_lines_.clear();
	SendCapa();
	return Advance();
}

ServerProbe::Step ServerProbe::Closed()
{
	if (state_ == State::Done || state_ == State::Failed)
		return StepFor();
	if (quit_sent_) {
		// A server may hang up without answering QUIT; nothing depends on it.
		state_ = State::Done;
		return Step::Done;
	}
	refused_ = true;
	return Fail("the server closed the connection" +
		    std::string(greeting_.empty() ? " before its greeting" : ""));
}

std::string ServerProbe::TakeOutput() noexcept
{
	return std::exchange(output_, std::string());
}

ServerProbe::Step ServerProbe::StepFor() const noexcept
{
	switch (state_) {
	case State::AwaitTls:
		return Step::StartTls;
	case State::Done:
		return Step::Done;
	case State::Failed:
		return Step::Failed;
	default:
		return Step::Wait;
	}
}

ServerProbe::Step ServerProbe::Fail(std::string message)
{
	state_ = State::Failed;
	error_ = std::move(message);
	output_.clear();
	return Step::Failed;
}

void ServerProbe::SendCapa()
{
	output_ += "CAPA\r\n";
	state_ = State::CapaStatus;
}

void ServerProbe::AfterCapa()
{
	if (starttls_ && !tls_) {
		output_ += "STLS\r\n";
		state_ = State::StlsStatus;
		return;
	}
	output_ += "QUIT\r\n";
	quit_sent_ = true;
	state_ = State::QuitStatus;
}

bool ServerProbe::TakeLine(std::string &line)
{
	const auto lf = input_.find('\n');
	if (lf == std::string::npos)
		return false;
	std::size_t end = lf;
	if (end > 0 && input_[end - 1] == '\r')
		--end;
	line.assign(input_, 0, end);
	input_.erase(0, lf + 1);
	return true;
}

ServerProbe::Step ServerProbe::Advance()
{
	std::string line;
	while (state_ != State::Done && state_ != State::Failed) {
		if (state_ == State::CapaBody) {
			const auto result = decoder_.Decode(input_, body_);
			input_.erase(0, result.consumed);
			// Whole lines only, so a line split across reads stays whole.
			std::size_t start = 0;
			for (auto lf = body_.find('\n'); lf != std::string::npos;
			     lf = body_.find('\n', start)) {
				const std::string_view capa(body_.data() + start,
							    lf - start);
				caps_.AddLine(capa);
				if (capa_lines_.size() < kMaxCapaLines)
					capa_lines_.emplace_back(capa.substr(0, 512));
				start = lf + 1;
			}
			body_.erase(0, start);
			if (body_.size() > kMaxLine)
				return Fail("a CAPA line longer than " +
					    std::to_string(kMaxLine) + " octets");
			if (!result.done)
				return StepFor();
			decoder_.Reset();
			body_.clear();
			AfterCapa();
			continue;
		}
		if (state_ == State::AwaitTls) {
			if (!input_.empty())
				return Fail(
				    "the server sent data after +OK to STLS, before "
				    "the TLS handshake (refused: it could be "
				    "injected)");
			return Step::StartTls;
		}
		if (!TakeLine(line)) {
			if (input_.size() > kMaxLine)
				return Fail("a line longer than " +
					    std::to_string(kMaxLine) + " octets");
			return StepFor();
		}
		const auto reply = ParseReply(line);
		if (!reply)
			return Fail("protocol error: expected +OK or -ERR, got \"" +
				    Escape(line, 200) + "\"");
		switch (state_) {
		case State::Greeting:
			greeting_ = line;
			refused_ = !reply->ok;
			if (!reply->ok)
				return Fail("the server refused the connection: " +
					    Escape(line, 300));
			SendCapa();
			break;
		case State::CapaStatus:
			if (reply->ok) {
				caps_.known = true;
				state_ = State::CapaBody;
			} else {
				// An RFC 1939-only server: nothing to list.
				AfterCapa();
			}
			break;
		case State::StlsStatus:
			refused_ = !reply->ok;
			if (!reply->ok)
				return Fail("the server refused STLS: " +
					    Escape(line, 300));
			state_ = State::AwaitTls;
			break;
		case State::QuitStatus:
			state_ = State::Done;
			break;
		default:
			break;
		}
	}
	return StepFor();
}

} // namespace popstream::pop3
