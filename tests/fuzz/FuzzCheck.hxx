// Shared helpers of the libFuzzer targets in tests/fuzz/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

/**
 * Checks an invariant that must hold for every input; on failure prints where and
 * aborts, which libFuzzer (and the corpus replay) report as a crash. Unlike assert(),
 * it stays active whatever NDEBUG says: the check is the point of the target.
 */
#define FUZZ_CHECK(condition)                                                            \
	do {                                                                             \
		if (!(condition)) {                                                      \
			std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,  \
				     __LINE__, #condition);                              \
			std::abort();                                                    \
		}                                                                        \
	} while (false)

namespace popstream::fuzz {

/**
 * Splits the decisions a target takes (chunk sizes, flags) off the fuzz input, so that
 * libFuzzer can mutate them along with the data. Reads past the end give zeros.
 */
class Bytes {
	const std::uint8_t *data_;
	std::size_t size_;

public:
	/**
	 * @param data the fuzz input
	 * @param size its length in bytes
	 */
	Bytes(const std::uint8_t *data, std::size_t size) noexcept
	    : data_(data), size_(size)
	{
	}

	/** @return the next byte, or 0 once the input is used up */
	std::uint8_t Byte() noexcept
	{
		if (size_ == 0)
			return 0;
		--size_;
		return *data_++;
	}

	/** @return the next two bytes as a little-endian number (0 past the end) */
	std::uint16_t Word() noexcept
	{
		const std::uint16_t low = Byte();
		return static_cast<std::uint16_t>(low | (Byte() << 8));
	}

	/** @return the bytes not yet taken */
	const std::uint8_t *Data() const noexcept { return data_; }

	/** @return how many bytes are left */
	std::size_t Size() const noexcept { return size_; }
};

/**
 * A small deterministic generator (xorshift32) for decisions that need not be mutated
 * one by one, such as where reads split: the seed comes from the input, so every run
 * of one input takes the same path.
 */
class Random {
	std::uint32_t state_;

public:
	/** @param seed any value; 0 is replaced, since xorshift would stay at 0 */
	explicit Random(std::uint32_t seed) noexcept : state_(seed ? seed : 0x9e3779b9u)
	{
	}

	/** @return the next value of the sequence */
	std::uint32_t Next() noexcept
	{
		state_ ^= state_ << 13;
		state_ ^= state_ >> 17;
		state_ ^= state_ << 5;
		return state_;
	}

	/**
	 * @param n the number of outcomes, at least 1
	 * @return a value in [0, n)
	 */
	std::uint32_t Below(std::uint32_t n) noexcept { return Next() % n; }
};

} // namespace popstream::fuzz

/** The libFuzzer entry point that every target defines. */
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);
