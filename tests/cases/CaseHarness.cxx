#include "CaseHarness.hxx"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <tuple>

#ifndef POPSTREAM_RUSAGE_RUN
#error "POPSTREAM_RUSAGE_RUN must name the rusage-run helper (see meson.build)"
#endif

namespace popstream::test {

namespace {

std::string Trimmed(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
		s.remove_suffix(1);
	return std::string(s);
}

std::string UpperVerb(std::string_view command, std::string &args)
{
	const std::string line = Trimmed(command);
	const auto space = line.find(' ');
	std::string verb = line.substr(0, space);
	for (auto &ch : verb)
		if (ch >= 'a' && ch <= 'z')
			ch = static_cast<char>(ch - 'a' + 'A');
	args =
	    space == std::string::npos ? std::string() : Trimmed(line.substr(space + 1));
	return verb;
}

std::uint64_t Fnv1a(std::string_view data)
{
	std::uint64_t hash = 0xcbf29ce484222325ULL;
	for (const char ch : data) {
		hash ^= static_cast<unsigned char>(ch);
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

} // namespace

std::string StandardMessage(unsigned n)
{
	const auto number = std::to_string(n);
	return "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: msg " +
	       number + "\r\n\r\nbody " + number + "\r\n";
}

std::string CrlfToLf(std::string_view text)
{
	std::string out;
	out.reserve(text.size());
	for (std::size_t i = 0; i < text.size(); ++i)
		if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n'))
			out += text[i];
	return out;
}

std::string Escape(std::string_view text)
{
	static constexpr char hex[] = "0123456789abcdef";
	std::string out;
	for (const char ch : text) {
		const auto byte = static_cast<unsigned char>(ch);
		if (ch == '\\')
			out += "\\\\";
		else if (ch == '\r')
			out += "\\r";
		else if (ch == '\n')
			out += "\\n";
		else if (ch == '\t')
			out += "\\t";
		else if (byte < 0x20 || byte >= 0x7f) {
			out += "\\x";
			out += hex[byte >> 4];
			out += hex[byte & 0xf];
		} else
			out += ch;
	}
	return out;
}

std::string DescribeContents(std::vector<std::string> contents)
{
	std::sort(contents.begin(), contents.end());
	std::string out = std::to_string(contents.size()) + " file(s)";
	for (const auto &c : contents) {
		out += "\n  ";
		if (c.size() <= 512)
			out += "\"" + Escape(c) + "\"";
		else {
			char hash[32];
			std::snprintf(hash, sizeof(hash), "%016llx",
				      static_cast<unsigned long long>(Fnv1a(c)));
			out += "<" + std::to_string(c.size()) + " bytes, fnv1a " + hash +
			       ">";
		}
	}
	return out;
}

std::string Join(const std::vector<std::string> &commands)
{
	std::string out;
	for (const auto &c : commands) {
		if (!out.empty())
			out += " | ";
		out += Escape(c);
	}
	return out;
}

bool HasCommand(const std::vector<std::string> &commands, std::string_view command)
{
	std::string want_args;
	const auto want_verb = UpperVerb(command, want_args);
	return std::any_of(commands.begin(), commands.end(), [&](const std::string &c) {
		std::string args;
		return UpperVerb(c, args) == want_verb && args == want_args;
	});
}

std::size_t CountVerb(const std::vector<std::string> &commands, std::string_view verb)
{
	std::string ignored;
	const auto want = UpperVerb(verb, ignored);
	return static_cast<std::size_t>(
	    std::count_if(commands.begin(), commands.end(), [&](const std::string &c) {
		    std::string args;
		    return UpperVerb(c, args) == want;
	    }));
}

std::size_t FindRawControlByte(std::string_view text)
{
	for (std::size_t i = 0; i < text.size(); ++i) {
		const auto byte = static_cast<unsigned char>(text[i]);
		if ((byte < 0x20 && byte != '\n' && byte != '\t') || byte == 0x7f)
			return i;
	}
	return std::string::npos;
}

bool IsValidUtf8(std::string_view text)
{
	std::size_t i = 0;
	while (i < text.size()) {
		const auto lead = static_cast<unsigned char>(text[i]);
		std::size_t length;
		unsigned min_second = 0x80, max_second = 0xbf;
		if (lead < 0x80)
			length = 1;
		else if (lead >= 0xc2 && lead <= 0xdf)
			length = 2;
		else if (lead >= 0xe0 && lead <= 0xef) {
			length = 3;
			if (lead == 0xe0)
				min_second = 0xa0; // overlong
			if (lead == 0xed)
				max_second = 0x9f; // surrogates
		} else if (lead >= 0xf0 && lead <= 0xf4) {
			length = 4;
			if (lead == 0xf0)
				min_second = 0x90; // overlong
			if (lead == 0xf4)
				max_second = 0x8f; // above U+10FFFF
		} else
			return false;
		if (i + length > text.size())
			return false;
		for (std::size_t k = 1; k < length; ++k) {
			const auto byte = static_cast<unsigned char>(text[i + k]);
			const unsigned low = k == 1 ? min_second : 0x80;
			const unsigned high = k == 1 ? max_second : 0xbf;
			if (byte < low || byte > high)
				return false;
		}
		i += length;
	}
	return true;
}

const std::string &TestCaDirectory()
{
	static std::once_flag once;
	static std::unique_ptr<TempDir> dir;
	std::call_once(once, [] {
		auto d = std::make_unique<TempDir>();
		const auto script =
		    RequireEnv("POPSTREAM_SOURCE_ROOT") + "/tests/support/make-test-ca";
		const auto result = Run(
		    {{"sh", script, d->Path()}, {}, {}, {}, std::chrono::seconds(60)});
		if (result.exit_code != 0)
			throw std::runtime_error("make-test-ca failed: " + result.err);
		dir = std::move(d);
	});
	if (!dir)
		throw std::runtime_error("make-test-ca failed earlier");
	return dir->Path();
}

std::string DlRun::Describe() const
{
	std::string text = "exit " + std::to_string(process.exit_code);
	if (process.signal != 0)
		text += ", killed by signal " + std::to_string(process.signal);
	if (process.timed_out)
		text += ", TIMED OUT";
	text += "; peak RSS " + std::to_string(max_rss_kib) + " KiB; CPU " +
		std::to_string(cpu_seconds) + " s; wall " + std::to_string(wall_seconds) +
		" s\nstdout: " + Escape(process.out) + "\nstderr: " + Escape(process.err);
	return text;
}

CaseHarness::CaseHarness() = default;

void CaseHarness::WriteNetrc(std::uint16_t port)
{
	if (std::find(ports_.begin(), ports_.end(), port) != ports_.end())
		return;
	ports_.push_back(port);
	std::string netrc;
	for (const auto p : ports_)
		netrc +=
		    "machine alice@127.0.0.1:" + std::to_string(p) + " password s3cret\n";
	WriteFile(home_ / ".netrc", netrc, 0600);
}

ProcessOptions CaseHarness::DlProcess(FakePop3Server &server, const DlOptions &options)
{
	WriteNetrc(server.Port());
	const auto port = std::to_string(server.Port());
	const auto maildir = options.maildir.empty() ? Maildir() : options.maildir;
	const auto rusage_file = home_ / "rusage";
	std::remove(rusage_file.c_str());

	std::vector<std::string> argv = {POPSTREAM_RUSAGE_RUN, rusage_file,
					 RequireEnv("POPSTREAM_BIN"), "dl"};
	argv.insert(argv.end(), options.args.begin(), options.args.end());
	argv.insert(argv.end(), {"--timeout", std::to_string(options.timeout_seconds)});
	if (options.tls || options.starttls) {
		argv.insert(argv.end(),
			    {"--ca-file", TestCaDirectory() + "/ca.crt",
			     std::string(options.starttls ? "starttls:" : "") +
				 "alice@127.0.0.1!pop.example.com:" + port});
	} else
		argv.push_back("tcp:alice@127.0.0.1:" + port);
	argv.push_back(maildir);

	ProcessOptions process;
	process.argv = std::move(argv);
	process.env = {"HOME=" + Home(), "NETRC", "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
	process.env.insert(process.env.end(), options.env.begin(), options.env.end());
	process.timeout = options.process_timeout;
	return process;
}

DlRun CaseHarness::Dl(FakePop3Server &server, const DlOptions &options)
{
	const ProcessOptions process = DlProcess(server, options);
	const auto rusage_file = home_ / "rusage";

	DlRun run;
	const auto start = std::chrono::steady_clock::now();
	{
		Child child(process);
		if (options.signal != 0) {
			std::this_thread::sleep_for(options.signal_after);
			child.Signal(options.signal);
		}
		run.process = child.Wait();
	}
	run.wall_seconds =
	    std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
		.count();
	// popstream has exited, but the server may still be reading what it sent last.
	server.WaitIdle();

	try {
		const auto text = ReadFile(rusage_file);
		long rss = -1;
		double cpu = -1;
		if (std::sscanf(text.c_str(), "%ld %lf", &rss, &cpu) == 2) {
			run.max_rss_kib = rss;
			run.cpu_seconds = cpu;
		}
	} catch (const std::exception &) {
		// Killed before it could write: leave the figures unknown.
	}
	return run;
}

namespace {

/** The numbers of a unique name `SECONDS.MMICROSP{PID}Q{N}...` (the Maildir spec's
 * form, core/maildir/UniqueName), for ordering; zeros where a part is missing. */
std::tuple<unsigned long long, unsigned long long, unsigned long long>
DeliveryKey(const std::string &name)
{
	const auto number_after = [&](const char *tag) -> unsigned long long {
		const auto at = name.find(tag);
		return at == std::string::npos
			   ? 0
			   : std::strtoull(name.c_str() + at + 1, nullptr, 10);
	};
	return {std::strtoull(name.c_str(), nullptr, 10), number_after(".M"),
		number_after("Q")};
}

} // namespace

std::vector<std::string> CaseHarness::Files(const std::string &subdir,
					    const std::string &maildir) const
{
	// Delivery order, not name order: ".M99999" sorts after ".M100000" by name,
	// which made tests of two messages saved in one second flaky.
	const auto dir = (maildir.empty() ? Maildir() : maildir) + "/" + subdir;
	auto names = ListDir(dir);
	std::stable_sort(names.begin(), names.end(),
			 [](const std::string &a, const std::string &b) {
				 return DeliveryKey(a) < DeliveryKey(b);
			 });
	std::vector<std::string> contents;
	for (const auto &name : names)
		contents.push_back(ReadFile(dir + "/" + name));
	return contents;
}

std::vector<std::string> CaseHarness::Names(const std::string &subdir,
					    const std::string &maildir) const
{
	return ListDir((maildir.empty() ? Maildir() : maildir) + "/" + subdir);
}

long BaselineRssKib()
{
	static std::once_flag once;
	static long baseline = -1;
	std::call_once(once, [] {
		FakePop3Server server;
		server.AddMessage(StandardMessage(1), "base-1");
		CaseHarness harness;
		const auto run = harness.Dl(server);
		if (run.ExitCode() == 0)
			baseline = run.max_rss_kib;
	});
	return baseline;
}

} // namespace popstream::test
