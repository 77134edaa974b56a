#include "ProgressLine.hxx"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>

namespace popstream::cli {

namespace {

/** Redraws at most this often: faster only flickers. */
constexpr std::uint64_t tick_ms = 250;

/** @return @p bytes in the largest binary unit that keeps it at 1 or more */
std::string Size(std::uint64_t bytes)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	double value = static_cast<double>(bytes);
	unsigned unit = 0;
	while (value >= 1024 && unit + 1 < std::size(units)) {
		value /= 1024;
		++unit;
	}
	char text[32];
	if (unit == 0)
		std::snprintf(text, sizeof(text), "%llu bytes",
			      static_cast<unsigned long long>(bytes));
	else
		std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
	return text;
}

/** @return "14 s", "3 min 5 s", "2 h 10 min" */
std::string Duration(double seconds)
{
	const auto s = static_cast<std::uint64_t>(std::ceil(seconds));
	if (s < 60)
		return std::to_string(s) + " s";
	if (s < 3600)
		return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
	return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
}

} // namespace

std::string FormatProgress(const fetch::FetchProgress &progress, double seconds,
			   std::size_t width)
{
	std::string line = std::to_string(progress.messages_done) + " of " +
			   std::to_string(progress.messages_total) +
			   (progress.messages_total == 1 ? " message" : " messages");
	if (progress.bytes_total > 0) {
		const std::string total = Size(progress.bytes_total);
		std::string done = Size(progress.bytes_done);
		// "4.1 of 18.2 MiB", not "4.1 MiB of 18.2 MiB", when the units agree.
		const auto unit = total.substr(total.rfind(' '));
		if (done.size() > unit.size() &&
		    done.compare(done.size() - unit.size(), unit.size(), unit) == 0)
			done.resize(done.size() - unit.size());
		line += ", " + done + " of " + total;
	}
	if (seconds >= 1 && progress.bytes_done > 0) {
		const double rate = static_cast<double>(progress.bytes_done) / seconds;
		line += ", " + Size(static_cast<std::uint64_t>(rate)) + "/s";
		if (progress.bytes_total > progress.bytes_done)
			line += ", " +
				Duration(static_cast<double>(progress.bytes_total -
							     progress.bytes_done) /
					 rate) +
				" left";
	}
	if (width > 0 && line.size() >= width)
		line.resize(width - 1);
	return line;
}

ProgressLine::ProgressLine(uv_loop_t &loop, std::FILE *out)
    : out_(out), timer_(new uv_timer_t)
{
	uv_timer_init(&loop, timer_);
	timer_->data = this;
	uv_timer_start(
	    timer_, [](uv_timer_t *t) { static_cast<ProgressLine *>(t->data)->Draw(); },
	    tick_ms, tick_ms);
	// The fetch decides when the loop ends, not the redraws.
	uv_unref(reinterpret_cast<uv_handle_t *>(timer_));
}

ProgressLine::~ProgressLine()
{
	Clear();
	uv_timer_stop(timer_);
	uv_close(reinterpret_cast<uv_handle_t *>(timer_),
		 [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
}

void ProgressLine::Update(const fetch::FetchProgress &progress)
{
	// The rate counts from the listing: connecting and logging in move no mail.
	if (progress_.messages_total == 0 && progress.messages_total > 0)
		started_ms_ = uv_now(timer_->loop);
	progress_ = progress;
	changed_ = true;
}

void ProgressLine::Clear()
{
	if (!drawn_)
		return;
	std::fputs("\r\033[K", out_);
	std::fflush(out_);
	drawn_ = false;
	changed_ = true;
}

void ProgressLine::Draw()
{
	if (!changed_ || progress_.messages_total == 0)
		return;
	changed_ = false;
	winsize size{};
	const std::size_t width =
	    ioctl(fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col
									   : 80;
	const double seconds =
	    static_cast<double>(uv_now(timer_->loop) - started_ms_) / 1000;
	std::fprintf(out_, "\r%s\033[K",
		     FormatProgress(progress_, seconds, width).c_str());
	std::fflush(out_);
	drawn_ = true;
}

} // namespace popstream::cli
