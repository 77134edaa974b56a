#include "LinkEstimate.hxx"

#include <algorithm>
#include <iterator>

namespace popstream::pop3 {

void LinkEstimate::RttSample(std::uint64_t rtt_us) noexcept
{
	// A zero sample (a coarse clock, a reply already buffered) says nothing.
	if (rtt_us > 0 && (rtt_us_ == 0 || rtt_us < rtt_us_))
		rtt_us_ = rtt_us;
}

void LinkEstimate::Received(std::uint64_t now_us, std::uint64_t bytes) noexcept
{
	if (interval_start_us_ == 0 || now_us < interval_start_us_) {
		// The first bytes open an interval; they arrived during the time before
		// it, so they are not counted in it.
		interval_start_us_ = std::max<std::uint64_t>(now_us, 1);
		interval_bytes_ = 0;
		return;
	}
	interval_bytes_ += bytes;
	const std::uint64_t elapsed = now_us - interval_start_us_;
	if (elapsed < std::max(rtt_us_ / 2, limits::min_rate_interval_us))
		return;
	// Bytes per second without overflow for any realistic count.
	rates_[next_rate_] = interval_bytes_ * 1'000'000 / elapsed;
	next_rate_ = (next_rate_ + 1) % rate_samples;
	interval_start_us_ = now_us;
	interval_bytes_ = 0;
}

std::uint64_t LinkEstimate::BytesPerSecond() const noexcept
{
	return *std::max_element(rates_.begin(), rates_.end());
}

std::uint64_t LinkEstimate::WindowBytes() const noexcept
{
	const std::uint64_t rate = BytesPerSecond();
	if (rtt_us_ == 0 || rate == 0)
		return limits::initial_window_bytes;
	// rate * rtt / 1e6 without overflow: with the RTT in milliseconds the product
	// stays below 2^64 for rates up to 2^40 B/s and RTTs up to two minutes.
	const std::uint64_t bdp = rate * (rtt_us_ / 1000) / 1000;
	return std::clamp(bdp * limits::window_bdp_factor, limits::min_window_bytes,
			  limits::max_window_bytes);
}

} // namespace popstream::pop3
