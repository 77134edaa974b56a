// latency-proxy: a TCP forwarder that makes 127.0.0.1 look like a long, thin link, for
// the benchmark in bench/run (this kernel has no sch_netem).
//
//   latency-proxy --listen PORT --target HOST:PORT --rtt MS [--rate BYTES_PER_S]
//                 [--drop-after-bytes K] [--drop-after-ms T]
//                 [--trace FILE [--trace-data N]]
//
// Listens on 127.0.0.1:PORT (0 = any free port) and prints "LISTENING <port>" on stdout
// once it accepts connections. Every accepted client gets its own connection to TARGET,
// and each direction of the pair behaves like one half of the emulated link:
//
//   - every chunk read is stamped on arrival and written out RTT/2 later, in order;
//   - with --rate, a chunk first waits until the bottleneck has sent the chunks before
//     it, then takes size / rate seconds to send, then propagates for RTT/2;
//   - the connection to TARGET is opened 1.5 RTT after the accept, when the final ACK
//     of a three-way handshake over the link would reach the server, so the greeting
//     reaches the client 2 RTT after its connect(), as on a real link;
//   - EOF is delayed like data and passed on (shutdown) after the data queued before it,
//     so half-closed connections work; a reset or error on either side closes both.
//
// With --drop-after-bytes or --drop-after-ms, the first connection (only that one) is
// reset in both directions once K bytes from the server have been handed to the client
// or T ms have passed since its accept, whichever is first: an RST to each side
// (SO_LINGER 0, then close), with whatever was still on the emulated link lost, as when
// a NAT or a mobile link drops a connection. Bytes are counted as delivered, not as read
// from the server: at 600 ms and 20 Mbit/s some 750 KB are on the link at any time, so
// "after K bytes" means what the client has seen. One line on stderr says when. Later
// connections are left alone, so a fetcher that reconnects can finish.
//
// Flow control: a direction stops reading its source while more than high_water bytes
// are queued or being written, and resumes below low_water. The sender then sees the
// ordinary TCP back-pressure of a full window.
//
// With --trace FILE, every event of every connection is written to FILE, one line each,
// as it happens (flushed at once, so a killed proxy leaves a complete trace). Times are
// microseconds since the proxy started (monotonic clock); CONN counts connections from 1;
// DIR is c2s (client to server) or s2c (server to client):
//
//   # latency-proxy trace v1 rtt_ms=MS rate=BYTES_PER_S
//   accept CONN T                     the client's connection was accepted
//   connect CONN T                    the connection to the server is up (1.5 RTT later)
//   data CONN DIR READ DELIVER SIZE "BYTES"
//                                     SIZE bytes read from DIR's source at READ and
//                                     written to its sink at DELIVER (one line per write,
//                                     in the order of the writes)
//   eof CONN DIR READ DELIVER         the source's EOF, passed on at DELIVER
//   lost CONN DIR READ SIZE           read, never delivered (the pair closed first)
//   close CONN T                      both connections closed
//
// BYTES are the data as a C string: printable ASCII as is, \\ \" \r \n \t and \xHH
// for the rest; with --trace-data N only the first N bytes of each chunk (SIZE is always
// the whole). bench/round-trips reads these traces.
//
// One process, one libuv loop; runs until killed.

#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <getopt.h>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace {

/** Stop reading a direction's source above this many queued bytes. */
constexpr std::size_t high_water = 4 * 1024 * 1024;
/** Resume reading a paused direction once its queue drains below this. */
constexpr std::size_t low_water = 1024 * 1024;
/** Size of one read; also the granularity of the bandwidth emulation. */
constexpr std::size_t read_size = 64 * 1024;

constexpr std::uint64_t ns_per_ms = 1'000'000;
constexpr std::uint64_t ns_per_s = 1'000'000'000;

/** The settings every connection shares, from the command line. */
struct Config {
	/** Where to connect each client to. */
	sockaddr_storage target{};
	/** One-way delay, in nanoseconds (RTT/2). */
	std::uint64_t one_way_ns = 0;
	/** Delay from accept to connecting to the target, in milliseconds (1.5 RTT). */
	std::uint64_t connect_delay_ms = 0;
	/** Bottleneck bandwidth per direction in bytes per second; 0 = unlimited. */
	std::uint64_t rate = 0;
	/** Reset the first connection once this many bytes came from the server; 0 = no.
	 */
	std::uint64_t drop_after_bytes = 0;
	/** Reset the first connection this long after its accept, in ms; 0 = no. */
	std::uint64_t drop_after_ms = 0;
};

Config config;

/** The --trace file, or null. */
std::FILE *trace = nullptr;
/** How many bytes of each chunk the trace shows (--trace-data). */
std::size_t trace_data = SIZE_MAX;
/** uv_hrtime() at start-up: the trace's times count from here. */
std::uint64_t start_ns = 0;

/** @return @p ns (a uv_hrtime() value) as microseconds since start-up */
unsigned long long TraceTime(std::uint64_t ns) noexcept
{
	return static_cast<unsigned long long>((ns - start_ns) / 1000);
}

/** Writes one data line to the trace (see the top of this file). */
void TraceData(unsigned long connection, const char *dir, std::uint64_t read_ns,
	       std::uint64_t deliver_ns, const std::vector<char> &bytes) noexcept
{
	std::string line;
	line.reserve(64 + std::min(bytes.size(), trace_data) * 2);
	char head[128];
	std::snprintf(head, sizeof(head), "data %lu %s %llu %llu %zu \"", connection, dir,
		      TraceTime(read_ns), TraceTime(deliver_ns), bytes.size());
	line += head;
	const std::size_t shown = std::min(bytes.size(), trace_data);
	for (std::size_t i = 0; i < shown; ++i) {
		const auto c = static_cast<unsigned char>(bytes[i]);
		switch (c) {
		case '\\':
			line += "\\\\";
			break;
		case '"':
			line += "\\\"";
			break;
		case '\r':
			line += "\\r";
			break;
		case '\n':
			line += "\\n";
			break;
		case '\t':
			line += "\\t";
			break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				line += static_cast<char>(c);
			} else {
				char hex[8];
				std::snprintf(hex, sizeof(hex), "\\x%02x", c);
				line += hex;
			}
		}
	}
	line += "\"\n";
	std::fwrite(line.data(), 1, line.size(), trace);
	std::fflush(trace);
}

/** Writes one event line (printf-style) to the trace, if there is one. */
[[gnu::format(printf, 1, 2)]] void TraceEvent(const char *format, ...) noexcept
{
	if (trace == nullptr)
		return;
	va_list args;
	va_start(args, format);
	std::vfprintf(trace, format, args);
	va_end(args);
	std::fputc('\n', trace);
	std::fflush(trace);
}

/** Connections accepted so far: the drop applies to the first one only. */
unsigned long accepted = 0;

/** A piece of one direction's byte stream, waiting for its release time. */
struct Chunk {
	/** uv_hrtime() value from which the chunk may be written to the sink. */
	std::uint64_t due_ns = 0;
	/** uv_hrtime() value at which the chunk was read from the source (for --trace).
	 */
	std::uint64_t read_ns = 0;
	/** The bytes; empty for the end-of-stream marker. */
	std::vector<char> bytes;
	/** True for the marker that stands for the source's EOF. */
	bool eof = false;
};

/** A uv_write in progress; owns the bytes until libuv is done with them. */
struct WriteRequest {
	uv_write_t request;
	std::vector<char> bytes;
};

class Pair;

/**
 * One direction of a pair: reads from its source, holds what it read for the emulated
 * delay and writes it to its sink. The timer releases the head of the queue.
 */
class Direction {
	Pair &pair;
	uv_stream_t *const source;
	uv_stream_t *const sink;

	/** Chunks not yet released, oldest first; due_ns never decreases along it. */
	std::deque<Chunk> queue;
	/** Bytes in the queue plus bytes handed to uv_write and not yet completed. */
	std::size_t queued_bytes = 0;
	/** When the emulated bottleneck has sent everything given to it (uv_hrtime). */
	std::uint64_t link_free_ns = 0;
	/** One reusable read buffer: libuv hands it back before it asks for another. */
	std::unique_ptr<char[]> read_buffer{new char[read_size]};

	/** The source's connection is established (reads may start). */
	bool source_up = false;
	/** uv_read_start is in effect on the source. */
	bool reading = false;
	/** The sink's connection is established (writes may start). */
	bool sink_up = false;
	/** The source sent EOF; nothing more will be read from it. */
	bool eof_read = false;
	/** Passes the EOF on once the writes queued before it are done. */
	uv_shutdown_t shutdown_request;

public:
	/** Releases the head of the queue when it is due. */
	uv_timer_t timer;
	/** Set once the EOF has been passed on to the sink. */
	bool done = false;

	/**
	 * @param _pair the pair this direction belongs to
	 * @param _source the stream read from (initialised by the pair)
	 * @param _sink the stream written to (initialised by the pair)
	 */
	Direction(Pair &_pair, uv_stream_t *_source, uv_stream_t *_sink) noexcept
	    : pair(_pair), source(_source), sink(_sink)
	{
	}

	Direction(const Direction &) = delete;
	Direction &operator=(const Direction &) = delete;

	/** The source is connected: reads from it (within the flow-control limits). */
	void SourceUp() noexcept;

	/** The sink is connected: chunks may be written to it once they are due. */
	void SinkUp() noexcept
	{
		sink_up = true;
		Schedule();
	}

	/** Handles one read result for this direction's source (libuv read callback). */
	void OnRead(ssize_t nread) noexcept;

	/** Traces the chunks still queued as lost (the pair is closing). */
	void TraceLost() const noexcept;

	/** @return "c2s" or "s2c", for the trace */
	const char *Name() const noexcept;

	/** Writes every chunk that is due, then re-arms the timer (timer callback). */
	void Release() noexcept;

	/** @return the buffer libuv should read into next */
	uv_buf_t ReadBuffer() noexcept
	{
		return uv_buf_init(read_buffer.get(), static_cast<unsigned>(read_size));
	}

private:
	/** Starts or stops reading the source, as flow control and EOF allow. */
	void UpdateReading() noexcept;
	/** Arms the timer for the queue's head, if there is one and the sink is up. */
	void Schedule() noexcept;
	/** Stamps a chunk with its release time and queues it. */
	void Enqueue(std::vector<char> &&bytes, bool eof) noexcept;

	/** Accounts for a finished write; a failed one ends the pair. */
	static void OnWritten(uv_write_t *request, int status) noexcept;
	/** Marks the direction done once the sink has been shut down. */
	static void OnShutdown(uv_shutdown_t *request, int status) noexcept;
};

/**
 * A client connection and its connection to the target. Deletes itself once every
 * handle it owns has been closed. Every handle's data points at the pair.
 */
class Pair {
public:
	/** The accepted connection, from the fetcher. */
	uv_tcp_t client;
	/** The connection to the target (the real server). */
	uv_tcp_t server;
	/** Waits out the emulated handshake before connecting to the target. */
	uv_timer_t connect_timer;
	/** Resets the pair after --drop-after-ms (first connection only). */
	uv_timer_t drop_timer;
	/** The uv_tcp_connect to the target. */
	uv_connect_t connect_request;
	/** Client to server. */
	Direction up{*this, reinterpret_cast<uv_stream_t *>(&client),
		     reinterpret_cast<uv_stream_t *>(&server)};
	/** Server to client. */
	Direction down{*this, reinterpret_cast<uv_stream_t *>(&server),
		       reinterpret_cast<uv_stream_t *>(&client)};

private:
	/** Handles initialised and not yet closed. */
	int open_handles = 0;
	bool closing = false;
	/** Which connection this is, from 1, for the log. */
	unsigned long number = 0;
	/** This pair is the one to reset (the first accepted, with a drop configured). */
	bool drop_armed = false;
	/** Bytes from the server written to the client so far. */
	std::uint64_t to_client = 0;
	/** Bytes from the server handed to uv_write for the client so far. */
	std::uint64_t handed_to_client = 0;
	/** uv_hrtime() at the accept. */
	std::uint64_t accepted_ns = 0;

public:
	/** Initialises every handle; the caller accepts into @c client, then Start(). */
	explicit Pair(uv_loop_t *loop) noexcept
	{
		uv_tcp_init(loop, &client);
		uv_tcp_init(loop, &server);
		uv_timer_init(loop, &connect_timer);
		uv_timer_init(loop, &drop_timer);
		uv_timer_init(loop, &up.timer);
		uv_timer_init(loop, &down.timer);
		for (uv_handle_t *h : Handles())
			h->data = this;
		open_handles = 6;
		number = ++accepted;
		drop_armed = number == 1 &&
			     (config.drop_after_bytes != 0 || config.drop_after_ms != 0);
		accepted_ns = uv_hrtime();
	}

	Pair(const Pair &) = delete;
	Pair &operator=(const Pair &) = delete;

	/** Starts relaying the accepted client: reads it, and connects to the target
	 * once the emulated handshake is over. */
	void Start() noexcept
	{
		uv_tcp_nodelay(&client, 1);
		TraceEvent("accept %lu %llu", number, TraceTime(accepted_ns));
		up.SourceUp();
		uv_timer_start(&connect_timer, OnConnectTimer, config.connect_delay_ms,
			       0);
		if (drop_armed && config.drop_after_ms != 0)
			uv_timer_start(
			    &drop_timer,
			    [](uv_timer_t *t) { static_cast<Pair *>(t->data)->Reset(); },
			    config.drop_after_ms, 0);
	}

	/**
	 * Counts @p n bytes written to the client; resets the pair once they reach
	 * --drop-after-bytes.
	 */
	void ToClient(std::size_t n) noexcept
	{
		to_client += n;
		if (drop_armed && config.drop_after_bytes != 0 &&
		    to_client >= config.drop_after_bytes)
			Reset();
	}

	/** Counts @p n bytes passed to uv_write for the client. */
	void HandToClient(std::size_t n) noexcept { handed_to_client += n; }

	/** @return how many more bytes may go to the client before the drop */
	std::size_t ClientAllowance() const noexcept
	{
		if (!drop_armed || config.drop_after_bytes == 0)
			return SIZE_MAX;
		if (handed_to_client >= config.drop_after_bytes)
			return 0;
		return static_cast<std::size_t>(config.drop_after_bytes -
						handed_to_client);
	}

	/**
	 * Resets both connections: SO_LINGER 0 makes close() send an RST instead of a
	 * FIN, so each peer sees "connection reset", not an orderly end of stream.
	 */
	void Reset() noexcept
	{
		if (closing)
			return;
		drop_armed = false;
		for (uv_tcp_t *tcp : {&client, &server}) {
			uv_os_fd_t fd;
			if (uv_fileno(reinterpret_cast<uv_handle_t *>(tcp), &fd) != 0)
				continue; // the server side is not connected yet
			const linger hard{1, 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
		}
		std::fprintf(stderr,
			     "latency-proxy: connection %lu: reset both directions after "
			     "%llu bytes to the client, %.3f s after the accept\n",
			     number, static_cast<unsigned long long>(to_client),
			     static_cast<double>(uv_hrtime() - accepted_ns) / ns_per_s);
		Close();
	}

	/** Closes both connections at once, dropping whatever is still queued. */
	void Close() noexcept
	{
		if (closing)
			return;
		closing = true;
		if (trace != nullptr) {
			up.TraceLost();
			down.TraceLost();
			TraceEvent("close %lu %llu", number, TraceTime(uv_hrtime()));
		}
		for (uv_handle_t *h : Handles())
			uv_close(h, OnHandleClosed);
	}

	/** A direction passed its EOF on: once both have, the pair is finished. */
	void DirectionDone() noexcept
	{
		if (up.done && down.done)
			Close();
	}

	/** @return true once Close() has been called */
	bool IsClosing() const noexcept { return closing; }

	/** @return which connection this is, from 1 */
	unsigned long Number() const noexcept { return number; }

	/** @return the direction whose source is @p stream */
	Direction &ReadingFrom(const uv_stream_t *stream) noexcept
	{
		return stream == reinterpret_cast<uv_stream_t *>(&client) ? up : down;
	}

	/** @return the direction whose release timer is @p timer */
	Direction &TimedBy(const uv_timer_t *timer) noexcept
	{
		return timer == &up.timer ? up : down;
	}

private:
	std::vector<uv_handle_t *> Handles() noexcept
	{
		return {reinterpret_cast<uv_handle_t *>(&client),
			reinterpret_cast<uv_handle_t *>(&server),
			reinterpret_cast<uv_handle_t *>(&connect_timer),
			reinterpret_cast<uv_handle_t *>(&drop_timer),
			reinterpret_cast<uv_handle_t *>(&up.timer),
			reinterpret_cast<uv_handle_t *>(&down.timer)};
	}

	static void OnConnectTimer(uv_timer_t *timer) noexcept
	{
		auto &pair = *static_cast<Pair *>(timer->data);
		const int error = uv_tcp_connect(
		    &pair.connect_request, &pair.server,
		    reinterpret_cast<const sockaddr *>(&config.target), OnConnected);
		if (error != 0) {
			std::fprintf(stderr,
				     "latency-proxy: cannot connect to the target: %s\n",
				     uv_strerror(error));
			pair.Close();
		}
	}

	static void OnConnected(uv_connect_t *request, int status) noexcept
	{
		auto &pair = *static_cast<Pair *>(request->handle->data);
		if (pair.closing)
			return;
		if (status != 0) {
			std::fprintf(stderr,
				     "latency-proxy: cannot connect to the target: %s\n",
				     uv_strerror(status));
			pair.Close();
			return;
		}
		uv_tcp_nodelay(&pair.server, 1);
		TraceEvent("connect %lu %llu", pair.number, TraceTime(uv_hrtime()));
		pair.up.SinkUp();
		pair.down.SinkUp();
		pair.down.SourceUp();
	}

	static void OnHandleClosed(uv_handle_t *handle) noexcept
	{
		auto *pair = static_cast<Pair *>(handle->data);
		if (--pair->open_handles == 0)
			delete pair;
	}
};

void Direction::SourceUp() noexcept
{
	source_up = true;
	UpdateReading();
}

void Direction::UpdateReading() noexcept
{
	if (pair.IsClosing() || !source_up)
		return;
	const bool want = !eof_read && (queued_bytes < low_water ||
					(reading && queued_bytes <= high_water));
	if (want == reading)
		return;
	reading = want;
	if (!want) {
		uv_read_stop(source);
		return;
	}
	const int error = uv_read_start(
	    source,
	    [](uv_handle_t *handle, std::size_t, uv_buf_t *buf) {
		    auto &self =
			static_cast<Pair *>(handle->data)
			    ->ReadingFrom(reinterpret_cast<uv_stream_t *>(handle));
		    *buf = self.ReadBuffer();
	    },
	    [](uv_stream_t *stream, ssize_t nread, const uv_buf_t *) {
		    static_cast<Pair *>(stream->data)->ReadingFrom(stream).OnRead(nread);
	    });
	if (error != 0) {
		std::fprintf(stderr, "latency-proxy: read: %s\n", uv_strerror(error));
		pair.Close();
	}
}

void Direction::OnRead(ssize_t nread) noexcept
{
	if (nread == 0)
		return;
	if (nread == UV_EOF) {
		eof_read = true;
		UpdateReading();
		Enqueue({}, true);
		return;
	}
	if (nread < 0) {
		// A reset loses the data in flight on a real link too: drop both sides.
		pair.Close();
		return;
	}
	const char *data = read_buffer.get();
	Enqueue(std::vector<char>(data, data + nread), false);
	UpdateReading();
}

void Direction::Enqueue(std::vector<char> &&bytes, bool eof) noexcept
{
	const std::uint64_t now = uv_hrtime();
	std::uint64_t sent = now;
	if (config.rate != 0) {
		// The bottleneck sends one chunk at a time, in arrival order.
		const std::uint64_t start = link_free_ns > now ? link_free_ns : now;
		link_free_ns = start + bytes.size() * ns_per_s / config.rate;
		sent = link_free_ns;
	}
	Chunk chunk;
	chunk.read_ns = now;
	chunk.due_ns = sent + config.one_way_ns;
	if (!queue.empty() && queue.back().due_ns > chunk.due_ns)
		chunk.due_ns = queue.back().due_ns;
	queued_bytes += bytes.size();
	chunk.bytes = std::move(bytes);
	chunk.eof = eof;
	const bool was_empty = queue.empty();
	queue.push_back(std::move(chunk));
	if (was_empty)
		Schedule();
}

void Direction::Schedule() noexcept
{
	if (pair.IsClosing() || !sink_up || queue.empty())
		return;
	const std::uint64_t now = uv_hrtime();
	const std::uint64_t due = queue.front().due_ns;
	// Round up: a timer that fires early would only have to be armed again. A chunk
	// already due (no delay, or the sink just came up) goes out on the next turn.
	const std::uint64_t wait_ms =
	    due <= now ? 0 : (due - now + ns_per_ms - 1) / ns_per_ms;
	uv_timer_start(
	    &timer,
	    [](uv_timer_t *t) { static_cast<Pair *>(t->data)->TimedBy(t).Release(); },
	    wait_ms, 0);
}

void Direction::Release() noexcept
{
	// libuv's timers count whole milliseconds from a cached clock: accept up to 1 ms
	// early rather than spin on a zero-length timer.
	const std::uint64_t now = uv_hrtime() + ns_per_ms;
	while (!pair.IsClosing() && !queue.empty() && queue.front().due_ns <= now) {
		if (this == &pair.down && !queue.front().eof) {
			// A drop after K bytes hands the client exactly K: a read is up
			// to 64 KiB, far coarser than a small message.
			const std::size_t allowed = pair.ClientAllowance();
			if (allowed == 0)
				return; // the write in progress ends in the reset
			auto &bytes = queue.front().bytes;
			if (bytes.size() > allowed) {
				Chunk head;
				head.due_ns = queue.front().due_ns;
				head.read_ns = queue.front().read_ns;
				head.bytes.assign(
				    bytes.begin(),
				    bytes.begin() + static_cast<std::ptrdiff_t>(allowed));
				bytes.erase(bytes.begin(),
					    bytes.begin() +
						static_cast<std::ptrdiff_t>(allowed));
				queue.push_front(std::move(head));
			}
			pair.HandToClient(queue.front().bytes.size());
		}
		Chunk chunk = std::move(queue.front());
		queue.pop_front();
		if (trace != nullptr) {
			const std::uint64_t written_ns = uv_hrtime();
			if (chunk.eof)
				TraceEvent("eof %lu %s %llu %llu", pair.Number(), Name(),
					   TraceTime(chunk.read_ns),
					   TraceTime(written_ns));
			else
				TraceData(pair.Number(), Name(), chunk.read_ns,
					  written_ns, chunk.bytes);
		}
		if (chunk.eof) {
			// uv_shutdown waits for the writes queued before it.
			const int error =
			    uv_shutdown(&shutdown_request, sink, OnShutdown);
			if (error != 0)
				pair.Close();
			continue;
		}
		auto *request = new WriteRequest;
		request->request.data = this;
		request->bytes = std::move(chunk.bytes);
		const uv_buf_t buf = uv_buf_init(
		    request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
		const int error = uv_write(&request->request, sink, &buf, 1, OnWritten);
		if (error != 0) {
			queued_bytes -= request->bytes.size();
			delete request;
			pair.Close();
		}
	}
	Schedule();
}

void Direction::TraceLost() const noexcept
{
	for (const Chunk &chunk : queue)
		if (!chunk.eof)
			TraceEvent("lost %lu %s %llu %zu", pair.Number(), Name(),
				   TraceTime(chunk.read_ns), chunk.bytes.size());
}

const char *Direction::Name() const noexcept
{
	return this == &pair.up ? "c2s" : "s2c";
}

void Direction::OnWritten(uv_write_t *request, int status) noexcept
{
	auto *write = reinterpret_cast<WriteRequest *>(request);
	auto &self = *static_cast<Direction *>(request->data);
	const std::size_t written = write->bytes.size();
	self.queued_bytes -= written;
	delete write;
	if (status == UV_ECANCELED)
		return;
	if (status != 0) {
		self.pair.Close();
		return;
	}
	// Counted once written: what the kernel has taken on loopback, the client has.
	if (&self == &self.pair.down) {
		self.pair.ToClient(written);
		if (self.pair.IsClosing())
			return;
	}
	self.UpdateReading();
}

void Direction::OnShutdown(uv_shutdown_t *request, int status) noexcept
{
	auto &pair = *static_cast<Pair *>(request->handle->data);
	if (status == UV_ECANCELED)
		return;
	Direction &self = request == &pair.up.shutdown_request ? pair.up : pair.down;
	if (status != 0) {
		pair.Close();
		return;
	}
	self.done = true;
	pair.DirectionDone();
}

/** Accepts a client and starts its pair (listening socket's connection callback). */
void OnConnection(uv_stream_t *listener, int status) noexcept
{
	if (status != 0) {
		std::fprintf(stderr, "latency-proxy: accept: %s\n", uv_strerror(status));
		return;
	}
	auto *pair = new Pair(listener->loop);
	if (uv_accept(listener, reinterpret_cast<uv_stream_t *>(&pair->client)) != 0) {
		pair->Close();
		return;
	}
	pair->Start();
}

[[noreturn]] void Usage()
{
	std::fputs("usage: latency-proxy --listen PORT --target HOST:PORT --rtt MS "
		   "[--rate BYTES_PER_S]\n"
		   "                     [--drop-after-bytes K] [--drop-after-ms T]\n"
		   "                     [--trace FILE [--trace-data N]]\n",
		   stderr);
	std::exit(64);
}

/** @return @p text as a non-negative integer no greater than @p max, or exits */
std::uint64_t ParseNumber(const char *what, const char *text, std::uint64_t max)
{
	char *end = nullptr;
	errno = 0;
	const unsigned long long value = std::strtoull(text, &end, 10);
	if (*text < '0' || *text > '9' || *end != '\0' || errno != 0 || value > max) {
		std::fprintf(stderr, "latency-proxy: bad %s '%s'\n", what, text);
		Usage();
	}
	return value;
}

/** Resolves HOST:PORT (HOST may be a bracketed IPv6 literal) into config.target. */
void ResolveTarget(uv_loop_t *loop, const std::string &target)
{
	const auto colon = target.rfind(':');
	if (colon == std::string::npos || colon == 0)
		Usage();
	std::string host = target.substr(0, colon);
	const std::string port = target.substr(colon + 1);
	ParseNumber("target port", port.c_str(), 65535);
	if (host.size() > 2 && host.front() == '[' && host.back() == ']')
		host = host.substr(1, host.size() - 2);

	addrinfo hints{};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	uv_getaddrinfo_t request;
	// No callback: libuv resolves synchronously, which is what start-up wants.
	const int error =
	    uv_getaddrinfo(loop, &request, nullptr, host.c_str(), port.c_str(), &hints);
	if (error != 0) {
		std::fprintf(stderr, "latency-proxy: cannot resolve '%s': %s\n",
			     host.c_str(), uv_strerror(error));
		std::exit(1);
	}
	std::memcpy(&config.target, request.addrinfo->ai_addr,
		    request.addrinfo->ai_addrlen);
	uv_freeaddrinfo(request.addrinfo);
}

} // namespace

int main(int argc, char **argv)
{
	static const option long_options[] = {
	    {"listen", required_argument, nullptr, 'l'},
	    {"target", required_argument, nullptr, 't'},
	    {"rtt", required_argument, nullptr, 'r'},
	    {"rate", required_argument, nullptr, 'b'},
	    {"drop-after-bytes", required_argument, nullptr, 'k'},
	    {"drop-after-ms", required_argument, nullptr, 'T'},
	    {"trace", required_argument, nullptr, 'x'},
	    {"trace-data", required_argument, nullptr, 'X'},
	    {"help", no_argument, nullptr, 'h'},
	    {nullptr, 0, nullptr, 0},
	};
	std::uint64_t listen_port = 0;
	bool have_listen = false, have_rtt = false;
	std::uint64_t rtt_ms = 0;
	std::string target;
	const char *trace_path = nullptr;
	int c;
	while ((c = getopt_long(argc, argv, "", long_options, nullptr)) != -1) {
		switch (c) {
		case 'l':
			listen_port = ParseNumber("port", optarg, 65535);
			have_listen = true;
			break;
		case 't':
			target = optarg;
			break;
		case 'r':
			// An hour is far beyond any link; the bound keeps the arithmetic
			// safe.
			rtt_ms = ParseNumber("RTT", optarg, 3'600'000);
			have_rtt = true;
			break;
		case 'b':
			// Up to 1 TB/s: keeps size * 1e9 / rate from overflowing for any
			// chunk.
			config.rate = ParseNumber("rate", optarg, 1'000'000'000'000);
			break;
		case 'k':
			config.drop_after_bytes =
			    ParseNumber("byte count", optarg, UINT64_MAX);
			break;
		case 'T':
			// A day: any run the bench makes ends long before.
			config.drop_after_ms = ParseNumber("delay", optarg, 86'400'000);
			break;
		case 'x':
			trace_path = optarg;
			break;
		case 'X':
			trace_data = ParseNumber("byte count", optarg, SIZE_MAX);
			break;
		default:
			Usage();
		}
	}
	if (optind != argc || !have_listen || !have_rtt || target.empty())
		Usage();

	// A peer that closes while we write must be an error code, not a signal.
	std::signal(SIGPIPE, SIG_IGN);

	uv_loop_t *loop = uv_default_loop();
	ResolveTarget(loop, target);
	config.one_way_ns = rtt_ms * ns_per_ms / 2;
	config.connect_delay_ms = rtt_ms * 3 / 2;
	start_ns = uv_hrtime();
	if (trace_path != nullptr) {
		// The trace holds what the client sent, passwords included: private.
		const int fd =
		    open(trace_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		trace = fd < 0 ? nullptr : fdopen(fd, "w");
		if (trace == nullptr) {
			std::fprintf(stderr, "latency-proxy: cannot write %s: %s\n",
				     trace_path, std::strerror(errno));
			return 1;
		}
		std::fprintf(trace, "# latency-proxy trace v1 rtt_ms=%llu rate=%llu\n",
			     static_cast<unsigned long long>(rtt_ms),
			     static_cast<unsigned long long>(config.rate));
		std::fflush(trace);
	}

	uv_tcp_t listener;
	uv_tcp_init(loop, &listener);
	sockaddr_in address;
	uv_ip4_addr("127.0.0.1", static_cast<int>(listen_port), &address);
	int error =
	    uv_tcp_bind(&listener, reinterpret_cast<const sockaddr *>(&address), 0);
	if (error == 0)
		error = uv_listen(reinterpret_cast<uv_stream_t *>(&listener), 128,
				  OnConnection);
	if (error != 0) {
		std::fprintf(stderr, "latency-proxy: cannot listen on 127.0.0.1:%u: %s\n",
			     static_cast<unsigned>(listen_port), uv_strerror(error));
		return 1;
	}
	sockaddr_storage bound{};
	int length = sizeof(bound);
	uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr *>(&bound), &length);
	std::printf("LISTENING %u\n",
		    static_cast<unsigned>(
			ntohs(reinterpret_cast<sockaddr_in *>(&bound)->sin_port)));
	std::fflush(stdout);

	return uv_run(loop, UV_RUN_DEFAULT);
}
