#include "Transcript.hxx"

#include "FakeAuth.hxx"

#include "core/util/Escape.hxx"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace popstream::test {

std::string Unescape(std::string_view text)
{
	std::string out;
	for (std::size_t i = 0; i < text.size(); ++i) {
		if (text[i] != '\\' || i + 1 == text.size()) {
			out.push_back(text[i]);
			continue;
		}
		const char c = text[++i];
		switch (c) {
		case 'r':
			out.push_back('\r');
			break;
		case 'n':
			out.push_back('\n');
			break;
		case 't':
			out.push_back('\t');
			break;
		case 'x':
			out.push_back(static_cast<char>(
			    std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
			i += 2;
			break;
		default:
			out.push_back(c);
		}
	}
	return out;
}

Transcript LoadTranscript(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	Transcript t;
	t.name = path.substr(path.rfind('/') + 1);
	std::string line, section;
	bool fenced = false;
	int number = 0;
	while (std::getline(in, line)) {
		++number;
		if (line.rfind("```", 0) == 0) {
			fenced = !fenced;
			continue;
		}
		if (!fenced) {
			if (line.rfind("## ", 0) == 0)
				section = line.substr(3);
			continue;
		}
		if (section == "config") {
			std::istringstream words(line);
			std::string word;
			while (words >> word) {
				const auto eq = word.find('=');
				if (eq == std::string::npos)
					throw std::runtime_error(path + ":" +
								 std::to_string(number) +
								 ": expected key=value");
				t.config[word.substr(0, eq)] = word.substr(eq + 1);
			}
		} else if (section == "server") {
			if (line.rfind("  ", 0) == 0 && !t.replies.empty())
				t.replies.back() += Unescape(line.substr(2));
			else
				t.replies.push_back(Unescape(line));
		} else if (section == "client") {
			t.client += Unescape(line);
		} else if (section == "events") {
			if (!line.empty())
				t.events.push_back(line);
		} else {
			throw std::runtime_error(path + ":" + std::to_string(number) +
						 ": block outside a known section");
		}
	}
	// Hostile endless streams are generated rather than written out.
	if (const auto it = t.config.find("big-greeting"); it != t.config.end())
		t.replies.back().append(std::stoul(it->second), 'A');
	if (const auto it = t.config.find("runaway"); it != t.config.end())
		t.replies.back().append(std::stoul(it->second), 'C');
	for (const auto &r : t.replies)
		t.server += r;
	return t;
}

namespace {

std::set<std::string> SplitCommas(const std::string &s)
{
	std::set<std::string> out;
	std::istringstream in(s);
	std::string item;
	while (std::getline(in, item, ','))
		if (!item.empty())
			out.insert(item);
	return out;
}

std::string KindName(pop3::ErrorKind kind)
{
	using pop3::ErrorKind;
	switch (kind) {
	case ErrorKind::Greeting:
		return "greeting";
	case ErrorKind::StartTls:
		return "starttls";
	case ErrorKind::Auth:
		return "auth";
	case ErrorKind::AuthTemporary:
		return "auth-temporary";
	case ErrorKind::AuthMethod:
		return "auth-method";
	case ErrorKind::Protocol:
		return "protocol";
	case ErrorKind::Desync:
		return "desync";
	case ErrorKind::ConnectionLost:
		return "connection-lost";
	case ErrorKind::Timeout:
		return "timeout";
	case ErrorKind::QuitFailed:
		return "quit-failed";
	}
	return "?";
}

std::string RetryName(pop3::Retry retry)
{
	switch (retry) {
	case pop3::Retry::None:
		return "none";
	case pop3::Retry::LockStep:
		return "lock-step";
	case pop3::Retry::Reconnect:
		return "reconnect";
	case pop3::Retry::Resume:
		return "resume";
	}
	return "?";
}

} // namespace

RunResult RunTranscript(const Transcript &t, const std::vector<std::string> &chunks)
{
	const auto get = [&](const char *key, const char *def) {
		const auto it = t.config.find(key);
		return it == t.config.end() ? std::string(def) : it->second;
	};
	pop3::SessionConfig config;
	config.user = get("user", "alice");
	config.password = get("password", "s3cret");
	const auto mode = get("pipelining", "auto");
	config.pipelining = mode == "on"    ? pop3::Pipelining::On
			    : mode == "off" ? pop3::Pipelining::Off
					    : pop3::Pipelining::Auto;
	config.keep = get("keep", "false") == "true";
	config.dry_run = get("dry-run", "false") == "true";
	config.lock_step = get("lock-step", "false") == "true";
	config.skip_capa = get("skip-capa", "false") == "true";
	config.capa_before_greeting = get("capa-before-greeting", "false") == "true";
	config.starttls = get("starttls", "false") == "true";
	config.secure = get("secure", "false") == "true";
	// As if over loopback unless a transcript says otherwise: nothing on the path
	// can read the password, so USER goes out (refused on an open cleartext link).
	config.loopback = get("loopback", "true") == "true";
	config.allow_plaintext = get("allow-plaintext", "false") == "true";
	config.client_certificate = get("client-cert", "false") == "true";
	config.token = get("token", "");
	if (config.token.size() > 2 && config.token.starts_with("x*")) {
		// "x*N" stands for a token of N 'x's, too long to write out.
		config.token = std::string(std::stoul(config.token.substr(2)), 'x');
	}
	if (!config.token.empty())
		config.password.clear();
	const auto auth = pop3::ParseAuthMethod(get("auth", "auto"));
	if (!auth)
		throw std::runtime_error("bad auth= in a transcript's config");
	config.auth = *auth;
	config.auth_provider = MakeFakeAuth();
	if (t.config.count("limit"))
		config.limit = static_cast<std::uint32_t>(std::stoul(get("limit", "0")));
	const auto already = SplitCommas(get("already", ""));
	const auto known = SplitCommas(get("known", ""));
	if (!already.empty() || !known.empty())
		config.already_saved =
		    [already, known](std::string_view uidl,
				     std::uint64_t) -> std::optional<pop3::SavedCopy> {
			if (already.count(std::string(uidl)))
				return pop3::SavedCopy{};
			if (known.count(std::string(uidl)))
				return pop3::SavedCopy{true, false};
			return std::nullopt;
		};
	const auto not_saved = SplitCommas(get("not-saved", ""));

	pop3::Session session(config);
	RunResult r;
	std::uint32_t data_for = 0;
	const auto drain = [&] {
		for (;;) {
			auto e = session.Next();
			if (std::holds_alternative<pop3::NeedDataEvent>(e))
				break;
			if (auto *d = std::get_if<pop3::MessageDataEvent>(&e)) {
				// How much of a runaway body is reported before the cut
				// depends on the read sizes; only the failure itself is
				// compared.
				if (t.config.count("runaway"))
					continue;
				if (data_for == d->number && !r.events.empty()) {
					auto &last = r.events.back();
					last.pop_back(); // the closing quote
					last += Escape(d->bytes, SIZE_MAX) + "\"";
				} else {
					r.events.push_back(
					    "data " + std::to_string(d->number) + " \"" +
					    Escape(d->bytes, SIZE_MAX) + "\"");
				}
				data_for = d->number;
				continue;
			}
			data_for = 0;
			if (auto *l = std::get_if<pop3::ListedEvent>(&e)) {
				r.events.push_back("listed " + std::to_string(l->count) +
						   " " + std::to_string(l->bytes) +
						   (l->have_uidl ? " uidl" : " no-uidl"));
			} else if (auto *b = std::get_if<pop3::MessageBeginEvent>(&e)) {
				r.events.push_back(
				    "begin " + std::to_string(b->number) + " " +
				    std::to_string(b->size) + " " +
				    (b->uidl.empty() ? "-" : std::string(b->uidl)));
			} else if (auto *m = std::get_if<pop3::MessageEndEvent>(&e)) {
				r.events.push_back(
				    "end " + std::to_string(m->number) +
				    (m->size_matches ? "" : " size-mismatch"));
				if (not_saved.count(std::to_string(m->number)))
					session.NotSaved(m->number);
				else
					session.Saved(m->number);
			} else if (auto *f = std::get_if<pop3::MessageFailedEvent>(&e)) {
				r.events.push_back("not-retrieved " +
						   std::to_string(f->number) + " " +
						   Escape(f->reply.line));
			} else if (auto *d =
				       std::get_if<pop3::MessageDiscardedEvent>(&e)) {
				r.events.push_back("discarded " +
						   std::to_string(d->number) + " " +
						   d->text);
			} else if (auto *w = std::get_if<pop3::WarningEvent>(&e)) {
				r.events.push_back("warning " + w->text);
			} else if (auto *fin = std::get_if<pop3::FinishedEvent>(&e)) {
				r.events.push_back(fin->committed ? "finished committed"
								  : "finished");
			} else if (std::holds_alternative<pop3::StartTlsEvent>(e)) {
				// The handshake is the adapter's business; here it
				// succeeds.
				r.events.push_back("starttls");
				r.client += session.TakeOutput();
				session.TlsStarted();
			} else if (auto *fail = std::get_if<pop3::FailedEvent>(&e)) {
				r.events.push_back(
				    "failed " + KindName(fail->error.kind) +
				    " retry=" + RetryName(fail->error.retry) + " " +
				    fail->error.message);
			}
		}
		r.client += session.TakeOutput();
	};

	// Where each reply ends in t.server; reply n may be fed once n commands are out.
	std::vector<std::size_t> reply_end;
	std::size_t total = 0;
	for (const auto &reply : t.replies)
		reply_end.push_back(total += reply.size());
	const auto commands_sent = [&] {
		return static_cast<std::size_t>(
		    std::count(r.client.begin(), r.client.end(), '\n'));
	};

	drain(); // nothing to send before the greeting but an early CAPA: check that
	std::size_t fed = 0;
	for (const auto &chunk : chunks) {
		std::size_t done = 0;
		while (done < chunk.size() && !session.Over()) {
			const std::size_t sent = commands_sent();
			const std::size_t limit =
			    sent < reply_end.size() ? reply_end[sent] : total;
			const std::size_t n = std::min(chunk.size() - done, limit - fed);
			if (n == 0)
				break; // the session waits for input that needs a command
				       // it never sent
			session.Feed(std::string_view(chunk).substr(done, n));
			done += n;
			fed += n;
			drain();
		}
	}
	if (!session.Over()) {
		if (session.AwaitingClose() && get("eof", "false") != "true" &&
		    get("timeout", "false") != "true") {
			// After +OK to QUIT the server closes the connection.
			session.ConnectionClosed();
			drain();
		} else if (get("eof", "false") == "true") {
			session.ConnectionClosed();
			drain();
		} else if (get("reset", "false") == "true") {
			session.ConnectionClosed("connection reset by peer", false);
			drain();
		} else if (get("timeout", "false") == "true") {
			session.TimedOut();
			drain();
		}
	}
	const auto &s = session.Stats();
	r.events.push_back("stats retrieved=" + std::to_string(s.retrieved) +
			   " saved=" + std::to_string(s.saved) +
			   " marked=" + std::to_string(s.marked) +
			   " deleted=" + std::to_string(s.deleted) +
			   " already=" + std::to_string(s.already_saved) +
			   " max-in-flight=" + std::to_string(s.max_in_flight));
	return r;
}

} // namespace popstream::test
