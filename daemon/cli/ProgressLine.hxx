#pragma once

#include "fetch/FetchResult.hxx"

#include <uv.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace popstream::cli {

/**
 * @param progress the fetch's figures so far
 * @param seconds how long the download has run, for the rate and the time left
 * @param width the terminal's columns; the line is cut to fit, since a line that wraps
 *        cannot be redrawn in place
 * @return e.g. "312 of 1500 messages, 4.1 of 18.2 MiB, 1.2 MiB/s, 14 s left"; the
 *         rate and time left only once a second's worth has been measured
 */
std::string FormatProgress(const fetch::FetchProgress &progress, double seconds,
			   std::size_t width);

/**
 * dl's progress on a terminal: one line, redrawn in place (CR, then erase to the end of
 * the line) at most four times a second, so that 1500 messages over a 600 ms link are
 * not 18 s of a blank screen. Made only when standard output is a terminal; anything
 * else printed meanwhile must Clear() it first.
 */
class ProgressLine {
public:
	/** @param out a terminal (isatty) */
	ProgressLine(uv_loop_t &loop, std::FILE *out);
	~ProgressLine();
	ProgressLine(const ProgressLine &) = delete;
	ProgressLine &operator=(const ProgressLine &) = delete;

	/** Takes the latest figures; they are drawn at the next tick. */
	void Update(const fetch::FetchProgress &progress);

	/** Erases the line if it is drawn; the next tick draws it again. */
	void Clear();

private:
	void Draw();

	std::FILE *out_;
	/** Heap-allocated: libuv holds it until its close callback. */
	uv_timer_t *timer_;
	fetch::FetchProgress progress_;
	/** When the listing came (uv_now, ms): the rate counts from there. */
	std::uint64_t started_ms_ = 0;
	bool changed_ = false, drawn_ = false;
};

} // namespace popstream::cli
