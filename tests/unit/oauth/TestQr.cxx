#include "oauth/Qr.hxx"

#include <doctest/doctest.h>

#include <qrencode.h>

#include <sstream>
#include <vector>

using popstream::oauth::RenderQr;

namespace {

/** Reads RenderQr()'s picture back into modules: true = light. */
std::vector<std::vector<bool>> ReadBack(const std::string &picture)
{
	std::vector<std::vector<bool>> rows;
	std::istringstream lines(picture);
	std::string line;
	while (std::getline(lines, line)) {
		std::vector<bool> top, bottom;
		for (std::size_t i = 0; i < line.size();) {
			if (line[i] == ' ') {
				top.push_back(false);
				bottom.push_back(false);
				++i;
				continue;
			}
			const auto glyph = line.substr(i, 3);
			REQUIRE((glyph == "\u2588" || glyph == "\u2580" ||
				 glyph == "\u2584"));
			top.push_back(glyph != "\u2584");
			bottom.push_back(glyph != "\u2580");
			i += 3;
		}
		rows.push_back(top);
		rows.push_back(bottom);
	}
	return rows;
}

} // namespace

TEST_CASE("QR code: the half blocks show libqrencode's modules, in a light quiet zone")
{
	const std::string url = "https://microsoft.com/devicelogin";
	const auto picture = RenderQr(url);
	REQUIRE(!picture.empty());
	const auto modules = ReadBack(picture);

	QRcode *code = QRcode_encodeString8bit(url.c_str(), 0, QR_ECLEVEL_L);
	REQUIRE(code != nullptr);
	const int width = code->width;
	const int size = width + 4;
	// Two module rows per line; the last line's lower half is below the picture.
	REQUIRE(static_cast<int>(modules.size()) == (size + 1) / 2 * 2);
	for (int y = 0; y < size; ++y) {
		REQUIRE(static_cast<int>(modules[y].size()) == size);
		for (int x = 0; x < size; ++x) {
			const bool inside =
			    x >= 2 && y >= 2 && x < width + 2 && y < width + 2;
			const bool light =
			    !inside || (code->data[(y - 2) * width + (x - 2)] & 1) == 0;
			CAPTURE(x);
			CAPTURE(y);
			CHECK(modules[y][x] == light);
		}
	}
	QRcode_free(code);

	// The finder pattern's top-left corner: dark from module (2,2).
	CHECK(picture.substr(0, 3) == "\u2588");
}

TEST_CASE("QR code: too long to encode gives nothing")
{
	CHECK(RenderQr(std::string(5000, 'x')).empty());
}
