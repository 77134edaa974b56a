// make-sample-mail: fills a Maildir with a deterministic, deliberately awkward set of
// messages for integration tests and the demo.
//
//   make-sample-mail --count N [--seed S] [--real-world-dir DIR] OUT_MAILDIR
//
// The set is a fixed catalogue, of which the first N messages are written:
//   1. the 47 real-world messages of Python's email test suite (CRLF folded to LF),
//   2. edge cases: dot lines, 8-bit and invalid UTF-8 bytes, a NUL byte, 100 KB lines,
//      a last line without newline, messages over 1 MiB, many empty lines,
//   3. generated messages of random size (300 bytes to 600 KiB) until N is reached.
// Contents depend only on the seed; file names are fresh each run (Dovecot's index must
// never see a name twice). Each message is written to tmp/ and renamed into new/ with
// mode 0600. OUT_MAILDIR/../manifest gets one line per message, in catalogue order:
//   NAME SIZE SHA256
// where SIZE and SHA256 describe the exact bytes of the file.

#include <mbedtls/sha256.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <getopt.h>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr const char *default_real_world_dir = "/usr/lib/python3.11/test/test_email/data";

/** One message of the catalogue, before it gets a file name. */
struct Sample {
	/** What the message exercises, for error messages. */
	std::string what;
	std::string bytes;
};

/**
 * Deterministic random numbers. std::mt19937_64 is specified bit for bit by the
 * standard; the std::*_distribution classes are not, so ranges are derived by hand to
 * keep a seed's messages identical across standard libraries.
 */
class Random {
	std::mt19937_64 engine_;

public:
	explicit Random(uint64_t seed) : engine_(seed) {}

	/** @return a number in [lo, hi] */
	uint64_t Between(uint64_t lo, uint64_t hi)
	{
		return lo + engine_() % (hi - lo + 1);
	}

	/** @return a number in [lo, hi], log-uniformly distributed (many small ones) */
	size_t LogBetween(size_t lo, size_t hi)
	{
		const double unit = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
		const double v =
		    static_cast<double>(lo) *
		    std::pow(static_cast<double>(hi) / static_cast<double>(lo), unit);
		return std::clamp(static_cast<size_t>(v), lo, hi);
	}

	/** @return true with probability @p percent / 100 */
	bool Percent(unsigned percent) { return Between(0, 99) < percent; }
};

const char *const words[] = {
    "mail",     "server",   "message",    "fetch", "delete", "maildir", "octets",
    "pipeline", "greeting", "capability", "the",   "a",      "of",      "and",
    "to",       "in",       "is",         "that",  "for",    "it",      "with",
    "as",       "was",      "on",         "be",    "at",     "by",      "this",
    "had",      "not",      "are",        "but",   "from",   "or",      "have",
    "an",       "they",     "which",      "one",   "you",    "were",    "her",
    "all",      "she",      "there",      "would", "their",  "we",      "him",
    "been",     "has",      "when",       "who",   "will",   "more",    "no",
    "if",       "out",      "so",         "said",  "what",   "up",      "its",
    "about",    "into",     "than",       "them",  "can",    "only",    "other",
};

/** Appends words until @p line reaches about @p width characters. */
void AppendWords(Random &random, std::string &out, size_t width)
{
	const size_t start = out.size();
	while (out.size() - start < width) {
		if (out.size() != start)
			out += ' ';
		out += words[random.Between(0, std::size(words) - 1)];
	}
}

/** @return RFC 5322 headers (ending with the empty line) for generated message @p n */
std::string Headers(uint64_t seed, size_t n, const std::string &subject,
		    const std::string &extra = {})
{
	// A fixed date per message keeps the bytes a function of the seed alone.
	const unsigned day = 1 + static_cast<unsigned>(n % 28);
	char date[64];
	std::snprintf(date, sizeof(date),
		      "Date: Mon, %02u Feb 2026 %02zu:%02zu:00 +0000\n", day, n % 24,
		      n % 60);
	return "Return-Path: <sender@example.net>\n"
	       "From: Sample Sender <sender@example.net>\n"
	       "To: Alice <alice@example.com>\n"
	       "Subject: " +
	       subject + "\n" + date + "Message-ID: <sample-" + std::to_string(seed) +
	       "-" + std::to_string(n) + "@popstream.test>\n" + "MIME-Version: 1.0\n" +
	       extra + "\n";
}

/** Appends plain text lines of 20..78 characters until @p out reaches @p size bytes. */
void AppendText(Random &random, std::string &out, size_t size)
{
	while (out.size() < size) {
		AppendWords(random, out, random.Between(20, 78));
		out += '\n';
	}
}

/** Appends base64-looking lines of 76 characters until @p out reaches @p size bytes. */
void AppendBase64(Random &random, std::string &out, size_t size)
{
	static constexpr char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	while (out.size() < size) {
		for (int i = 0; i < 76; ++i)
			out += alphabet[random.Between(0, 63)];
		out += '\n';
	}
}

std::string DotLines(uint64_t seed, size_t n, Random &random)
{
	// Every line here must be dot-stuffed by the server and unstuffed by the client;
	// the lone "." would end the message early if either forgot.
	std::string m = Headers(seed, n, "lines that begin with dots");
	m += ".\n..\n...\n.leading dot\n..two leading dots\n. dot space\n.\t.tab\n";
	AppendText(random, m, m.size() + 300);
	m += "text\n.\nmore text after a lone dot\n..\n";
	return m;
}

std::string EndsWithDotLine(uint64_t seed, size_t n)
{
	return Headers(seed, n, "the last line is a single dot") + "body\n.\n";
}

std::string Latin1(uint64_t seed, size_t n)
{
	std::string m = Headers(seed, n, "=?iso-8859-1?q?K=E4se?=",
				"Content-Type: text/plain; charset=iso-8859-1\n"
				"Content-Transfer-Encoding: 8bit\n");
	m += "Gr\xfc\xdf"
	     "e aus K\xf6ln, \xe0 bient\xf4t, \xa1se\xf1or!\n";
	// Every byte from 0xa0 to 0xff once, in lines of 16.
	for (int row = 0xa0; row <= 0xff; row += 16) {
		for (int c = row; c < row + 16; ++c)
			m += static_cast<char>(c);
		m += '\n';
	}
	return m;
}

std::string InvalidUtf8AndNul(uint64_t seed, size_t n)
{
	std::string m = Headers(seed, n, "invalid UTF-8 and a NUL byte",
				"Content-Type: text/plain; charset=utf-8\n"
				"Content-Transfer-Encoding: 8bit\n");
	m += "valid: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xac\n";
	m += "truncated sequence: \xc3\n";
	m += "bad continuation: \xc3\x28 \xe2\x28\xa1\n";
	m += "lone continuation bytes: \x80\xbf\n";
	m += "overlong slash: \xc0\xaf, never valid: \xfe\xff\n";
	m += "surrogate: \xed\xa0\x80\n";
	m += "a NUL byte here:";
	m += '\0';
	m += ":and the line goes on\n";
	m += "control bytes: \x01\x02\x1b[0m\x7f\n";
	return m;
}

std::string LongLine(uint64_t seed, size_t n, Random &random, size_t length)
{
	std::string m =
	    Headers(seed, n, "a line of " + std::to_string(length) + " bytes");
	m += "before\n";
	const size_t start = m.size();
	AppendWords(random, m, length);
	m.resize(start + length);
	// A trailing space would be folded by nobody, but keep the line visibly ending.
	m.back() = 'x';
	m += "\nafter\n";
	return m;
}

std::string LongLinesAtBoundaries(uint64_t seed, size_t n, Random &random)
{
	// Line lengths around common buffer sizes, where a CRLF split across two reads
	// happens.
	std::string m = Headers(seed, n, "lines around buffer sizes");
	for (const size_t len :
	     {4095, 4096, 4097, 8191, 8192, 16383, 16384, 65535, 65536, 65537}) {
		const size_t start = m.size();
		AppendWords(random, m, len);
		m.resize(start + len);
		m.back() = '.';
		m += '\n';
	}
	return m;
}

std::string NoFinalNewline(uint64_t seed, size_t n, Random &random)
{
	std::string m = Headers(seed, n, "the last line has no newline");
	AppendText(random, m, m.size() + 200);
	m += "this last line ends without a newline";
	return m;
}

std::string DotWithoutNewline(uint64_t seed, size_t n)
{
	// The server must stuff this dot and add the CRLF; a client that sees ".CRLF"
	// first would stop one line short.
	return Headers(seed, n, "ends with a dot and no newline") + "body\n.";
}

std::string HeadersOnly(uint64_t seed, size_t n)
{
	std::string m = Headers(seed, n, "headers only");
	m.pop_back(); // no empty line, no body
	return m;
}

std::string EmptyLines(uint64_t seed, size_t n)
{
	// 150000 empty lines double in size on the wire (LF -> CRLF).
	return Headers(seed, n, "many empty lines") + std::string(150000, '\n') + "end\n";
}

std::string Big(uint64_t seed, size_t n, Random &random, size_t size, bool base64)
{
	std::string m;
	if (base64) {
		m = Headers(seed, n, "a big attachment",
			    "Content-Type: multipart/mixed; boundary=\"b1\"\n");
		m += "--b1\nContent-Type: text/plain\n\nsee attachment\n--b1\n"
		     "Content-Type: application/octet-stream\n"
		     "Content-Transfer-Encoding: base64\n\n";
		AppendBase64(random, m, size - 6);
		m += "--b1--\n";
	} else {
		m = Headers(seed, n, "a big text");
		AppendText(random, m, size);
	}
	return m;
}

std::string Generated(uint64_t seed, size_t n, Random &random)
{
	// Mostly small messages, as in real mailboxes, with a tail of large ones.
	size_t size;
	if (random.Percent(75))
		size = random.LogBetween(300, 8192);
	else if (random.Percent(80))
		size = random.LogBetween(8192, 128 * 1024);
	else
		size = random.LogBetween(128 * 1024, 600 * 1024);

	const bool attachment = size > 16384 && random.Percent(50);
	std::string m;
	if (attachment) {
		m = Headers(seed, n,
			    "generated message " + std::to_string(n) + " (attachment)",
			    "Content-Type: multipart/mixed; boundary=\"gen\"\n");
		m += "--gen\nContent-Type: text/plain\n\n";
		AppendText(random, m, m.size() + 200);
		m += "--gen\nContent-Type: application/octet-stream\n"
		     "Content-Transfer-Encoding: base64\n\n";
		AppendBase64(random, m, size);
		m += "--gen--\n";
		return m;
	}
	m = Headers(seed, n, "generated message " + std::to_string(n));
	while (m.size() < size) {
		// Sprinkle the awkward cases over ordinary text too.
		if (random.Percent(3))
			m += ".\n";
		else if (random.Percent(3))
			m += "..stuffed\n";
		else if (random.Percent(2))
			m += "8-bit \xe9\xe8\xff\n";
		AppendWords(random, m, random.Between(20, 78));
		m += '\n';
	}
	return m;
}

/** @return @p bytes with every CRLF replaced by LF */
std::string FoldCrlf(const std::string &bytes)
{
	std::string out;
	out.reserve(bytes.size());
	for (size_t i = 0; i < bytes.size(); ++i)
		if (!(bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n'))
			out += bytes[i];
	return out;
}

std::string ReadWhole(const fs::path &path)
{
	std::ifstream in(path, std::ios::binary);
	std::string bytes(fs::file_size(path), '\0');
	if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
		throw std::system_error(errno, std::generic_category(),
					"read " + path.string());
	return bytes;
}

std::vector<Sample> RealWorld(const fs::path &dir)
{
	std::vector<fs::path> files;
	for (const auto &entry : fs::directory_iterator(dir)) {
		const auto name = entry.path().filename().string();
		if (name.starts_with("msg_") && name.ends_with(".txt"))
			files.push_back(entry.path());
	}
	std::sort(files.begin(), files.end());
	if (files.size() != 47)
		throw std::runtime_error(
		    dir.string() + " holds " + std::to_string(files.size()) +
		    " msg_*.txt files, expected 47 (libpython3.11-testsuite)");
	std::vector<Sample> samples;
	for (const auto &f : files)
		samples.push_back({f.filename().string(), FoldCrlf(ReadWhole(f))});
	return samples;
}

/** @return the first @p count messages of the catalogue for @p seed */
std::vector<Sample> Catalogue(size_t count, uint64_t seed, const fs::path &real_world_dir)
{
	std::vector<Sample> all = RealWorld(real_world_dir);
	Random random(seed);
	auto add = [&](const char *what, std::string bytes) {
		all.push_back({what, std::move(bytes)});
	};
	// Each special message's number is its catalogue index, so Message-IDs are
	// unique.
	add("dot lines", DotLines(seed, all.size(), random));
	add("last line is a dot", EndsWithDotLine(seed, all.size()));
	add("Latin-1", Latin1(seed, all.size()));
	add("invalid UTF-8 and NUL", InvalidUtf8AndNul(seed, all.size()));
	add("100 KB line", LongLine(seed, all.size(), random, 100 * 1000));
	add("lines at buffer sizes", LongLinesAtBoundaries(seed, all.size(), random));
	add("no final newline", NoFinalNewline(seed, all.size(), random));
	add("dot without newline", DotWithoutNewline(seed, all.size()));
	add("headers only", HeadersOnly(seed, all.size()));
	add("empty lines", EmptyLines(seed, all.size()));
	add("1.2 MiB attachment", Big(seed, all.size(), random, 1200 * 1024, true));
	add("1.6 MiB text", Big(seed, all.size(), random, 1600 * 1024, false));
	while (all.size() < count)
		add("generated", Generated(seed, all.size(), random));
	all.resize(std::min(all.size(), count));
	return all;
}

std::string Sha256Hex(const std::string &bytes)
{
	unsigned char digest[32];
	if (mbedtls_sha256_ret(reinterpret_cast<const unsigned char *>(bytes.data()),
			       bytes.size(), digest, 0) != 0)
		throw std::runtime_error("SHA-256 failed");
	static constexpr char hex[] = "0123456789abcdef";
	std::string out;
	for (const unsigned char b : digest) {
		out += hex[b >> 4];
		out += hex[b & 15];
	}
	return out;
}

/** The host part of Maildir names: '/' and ':' are not allowed there. */
std::string MaildirHost()
{
	char host[256] = {};
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		return "localhost";
	std::string h = host;
	std::replace(h.begin(), h.end(), '/', '_');
	std::replace(h.begin(), h.end(), ':', '_');
	return h;
}

void WriteAll(int fd, const std::string &bytes, const fs::path &path)
{
	size_t done = 0;
	while (done < bytes.size()) {
		const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			throw std::system_error(errno, std::generic_category(),
						"write " + path.string());
		done += static_cast<size_t>(n);
	}
}

/**
 * Writes @p bytes to tmp/ and renames it into new/ under a name no earlier run used:
 * seconds, microseconds, pid, sequence number and 64 random bits (RFC-less Maildir
 * convention, as written by qmail and Dovecot).
 * @return the file name
 */
std::string Deliver(const fs::path &maildir, const std::string &bytes, size_t seq,
		    uint64_t salt, const std::string &host)
{
	const auto now = std::chrono::system_clock::now().time_since_epoch();
	const auto sec = std::chrono::duration_cast<std::chrono::seconds>(now);
	const auto usec =
	    std::chrono::duration_cast<std::chrono::microseconds>(now - sec);
	char name[160];
	std::snprintf(name, sizeof(name), "%lld.M%lldP%ldQ%zuR%016llx.%s",
		      static_cast<long long>(sec.count()),
		      static_cast<long long>(usec.count()), static_cast<long>(getpid()),
		      seq, static_cast<unsigned long long>(salt), host.c_str());
	const fs::path tmp = maildir / "tmp" / name;
	const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		throw std::system_error(errno, std::generic_category(),
					"create " + tmp.string());
	try {
		// The umask can only take bits away; say 0600 explicitly anyway.
		if (fchmod(fd, 0600) != 0)
			throw std::system_error(errno, std::generic_category(),
						"chmod " + tmp.string());
		WriteAll(fd, bytes, tmp);
	} catch (...) {
		close(fd);
		unlink(tmp.c_str());
		throw;
	}
	if (close(fd) != 0)
		throw std::system_error(errno, std::generic_category(),
					"close " + tmp.string());
	const fs::path dest = maildir / "new" / name;
	if (rename(tmp.c_str(), dest.c_str()) != 0)
		throw std::system_error(errno, std::generic_category(),
					"rename to " + dest.string());
	return name;
}

uint64_t RandomSalt()
{
	std::ifstream urandom("/dev/urandom", std::ios::binary);
	uint64_t v = 0;
	if (!urandom.read(reinterpret_cast<char *>(&v), sizeof(v)))
		throw std::runtime_error("cannot read /dev/urandom");
	return v;
}

uint64_t ParseNumber(const char *text, const char *option)
{
	char *end = nullptr;
	errno = 0;
	const unsigned long long v = std::strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || *text == '-')
		throw std::invalid_argument(std::string("bad number for ") + option +
					    ": " + text);
	return v;
}

[[noreturn]] void Usage()
{
	std::fputs("usage: make-sample-mail --count N [--seed S] [--real-world-dir DIR] "
		   "OUT_MAILDIR\n",
		   stderr);
	std::exit(64);
}

int Main(int argc, char **argv)
{
	static const option long_options[] = {
	    {"count", required_argument, nullptr, 'c'},
	    {"seed", required_argument, nullptr, 's'},
	    {"real-world-dir", required_argument, nullptr, 'r'},
	    {"help", no_argument, nullptr, 'h'},
	    {nullptr, 0, nullptr, 0},
	};
	std::optional<uint64_t> count;
	uint64_t seed = 1;
	fs::path real_world_dir = default_real_world_dir;
	int opt;
	while ((opt = getopt_long(argc, argv, "", long_options, nullptr)) != -1) {
		switch (opt) {
		case 'c':
			count = ParseNumber(optarg, "--count");
			break;
		case 's':
			seed = ParseNumber(optarg, "--seed");
			break;
		case 'r':
			real_world_dir = optarg;
			break;
		default:
			Usage();
		}
	}
	if (!count || optind + 1 != argc)
		Usage();

	// Normalise first: the manifest goes next to the Maildir even for "dir/" or
	// "dir".
	fs::path maildir = fs::absolute(argv[optind]).lexically_normal();
	if (maildir.filename().empty())
		maildir = maildir.parent_path();
	for (const char *sub : {"tmp", "new", "cur"})
		fs::create_directories(maildir / sub);

	const auto samples = Catalogue(*count, seed, real_world_dir);
	const std::string host = MaildirHost();
	const uint64_t salt = RandomSalt();
	std::string manifest;
	for (size_t i = 0; i < samples.size(); ++i) {
		// Names differ by sequence number; the salt makes them differ across runs
		// started within the same microsecond too.
		const std::string name =
		    Deliver(maildir, samples[i].bytes, i, salt, host);
		manifest += name + " " + std::to_string(samples[i].bytes.size()) + " " +
			    Sha256Hex(samples[i].bytes) + "\n";
	}
	const fs::path manifest_path = maildir.parent_path() / "manifest";
	std::ofstream out(manifest_path, std::ios::binary | std::ios::trunc);
	out << manifest;
	out.close();
	if (!out)
		throw std::runtime_error("cannot write " + manifest_path.string());
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	try {
		return Main(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "make-sample-mail: %s\n", e.what());
		return 1;
	}
}
