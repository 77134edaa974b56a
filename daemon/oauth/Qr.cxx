#include "Qr.hxx"

#include <qrencode.h>

#include <memory>

namespace popstream::oauth {

namespace {

constexpr int quiet_zone = 2;

struct QrFree {
	void operator()(QRcode *code) const noexcept { QRcode_free(code); }
};

} // namespace

std::string RenderQr(std::string_view text)
{
	const std::string input(text);
	// 8-bit mode keeps a URL's case (its path and query are case-sensitive);
	// version 0 lets libqrencode pick the smallest that fits.
	std::unique_ptr<QRcode, QrFree> code(
	    QRcode_encodeString8bit(input.c_str(), 0, QR_ECLEVEL_L));
	if (!code)
		return {};
	const int width = code->width;
	const int size = width + 2 * quiet_zone;
	// Is the module at (x, y) of the padded picture light? libqrencode sets bit 0
	// of each byte for a dark module.
	const auto light = [&](int x, int y) {
		x -= quiet_zone;
		y -= quiet_zone;
		if (x < 0 || y < 0 || x >= width || y >= width)
			return true;
		return (code->data[y * width + x] & 1) == 0;
	};
	std::string out;
	for (int y = 0; y < size; y += 2) {
		for (int x = 0; x < size; ++x) {
			const bool top = light(x, y);
			// Below the picture (an odd height) nothing is drawn.
			const bool bottom = y + 1 < size && light(x, y + 1);
			out += top && bottom ? "\u2588"
			       : top         ? "\u2580"
			       : bottom      ? "\u2584"
					     : " ";
		}
		out += '\n';
	}
	return out;
}

} // namespace popstream::oauth
