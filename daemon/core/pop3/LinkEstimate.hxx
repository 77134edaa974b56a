#pragma once

#include <array>
#include <cstdint>

namespace popstream::pop3 {

namespace limits {
/** Listed octets of RETRs in flight before the link has been measured: enough that a
 * mailbox of a few tens of MB goes out in the first round trip on a fast long link
 * (200 mixed messages are 8.4 MB), small enough that a slow link drains it within
 * seconds once the estimate shrinks it. Costs no memory of ours: bodies stream to
 * disk, the octets wait in the server and on the wire. */
inline constexpr std::uint64_t initial_window_bytes = 32u << 20;
/** The window never shrinks below this: a link whose bandwidth-delay product is
 * smaller (20 Mbit/s at 600 ms is 1.5 MB) is covered twice over. */
inline constexpr std::uint64_t min_window_bytes = 4u << 20;
/** Nor grows beyond this: 1.6 Gbit/s at 600 ms. What it bounds is what an abandoned or
 * stopped session has asked for and must read or waste, not memory. */
inline constexpr std::uint64_t max_window_bytes = 128u << 20;
/** The window is twice the bandwidth-delay product: room for the estimate to be low
 * by half, and for the next round of RETRs to be sent before the last drains. */
inline constexpr std::uint64_t window_bdp_factor = 2;
/** Throughput is sampled over intervals no shorter than this, in microseconds (and no
 * shorter than half the RTT): shorter ones see a burst of buffered bytes as a rate. */
inline constexpr std::uint64_t min_rate_interval_us = 20'000;
} // namespace limits

/**
 * An estimate of the link's bandwidth-delay product, from which the session sizes its
 * window of listed RETR octets in flight (Pipeline::SetWindowBytes()), so that the
 * window covers the link without being the bottleneck (issue 13). I/O-free: the caller
 * passes times in microseconds from any monotonic clock.
 *
 * The round-trip time is the smallest sample seen (queueing only ever adds to a
 * sample, as in TCP's min RTT); the throughput is the largest rate over recent
 * intervals of at least max(RTT / 2, limits::min_rate_interval_us), since a rate
 * measured while the window was the limit is too low and the window then grows by
 * limits::window_bdp_factor per interval, as TCP's slow start does.
 */
class LinkEstimate {
public:
	/** A reply to a command sent when nothing else was in flight arrived
	 * @p rtt_us microseconds after it was sent. */
	void RttSample(std::uint64_t rtt_us) noexcept;

	/** @p bytes arrived at @p now_us while RETR bodies were due, so that a quiet
	 * link counts only when nothing was asked of it. */
	void Received(std::uint64_t now_us, std::uint64_t bytes) noexcept;

	/** Forgets the rate interval in progress: the link was idle (nothing due). */
	void Idle() noexcept { interval_start_us_ = 0; }

	/** @return the smallest RTT sample in microseconds, 0 before the first */
	std::uint64_t RttUs() const noexcept { return rtt_us_; }

	/** @return the throughput estimate in bytes per second, 0 before the first
	 *          complete interval */
	std::uint64_t BytesPerSecond() const noexcept;

	/**
	 * @return the window of listed RETR octets for this link:
	 *         limits::initial_window_bytes until both RTT and throughput are known,
	 *         then limits::window_bdp_factor x their product, within
	 *         [limits::min_window_bytes, limits::max_window_bytes]
	 */
	std::uint64_t WindowBytes() const noexcept;

private:
	/** How many recent intervals the largest rate is taken over. */
	static constexpr unsigned rate_samples = 8;

	std::uint64_t rtt_us_ = 0;
	/** The interval in progress: its start (0 = none) and bytes so far. */
	std::uint64_t interval_start_us_ = 0;
	std::uint64_t interval_bytes_ = 0;
	/** Rates of the last rate_samples intervals, bytes per second. */
	std::array<std::uint64_t, rate_samples> rates_{};
	unsigned next_rate_ = 0;
};

} // namespace popstream::pop3
