// Number formats: round-to-nearest-even conversions against known bit patterns, exhaustively
// where the format is small (every 8- and 16-bit pattern), and fp16 against the compiler's
// _Float16 conversion.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "hw/number_format.h"

using namespace sdpa;

namespace {

std::uint32_t bits_of(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

unsigned width(Format f) { return 8 * bytes_of(f); }

const Format kSmall[] = {Format::bf16, Format::fp16, Format::fp8_e4m3, Format::fp8_e5m2};

// Every bit pattern of the format: decoding then rounding changes nothing, and encoding gives
// the pattern back; NaNs stay NaNs.
TEST(Formats, EveryPatternRoundTrips) {
  for (Format f : kSmall) {
    SCOPED_TRACE(to_string(f));
    for (std::uint32_t b = 0; b < (std::uint32_t(1) << width(f)); ++b) {
      const float x = decode(f, b);
      if (std::isnan(x)) {
        EXPECT_TRUE(std::isnan(round_to(f, x))) << b;
        EXPECT_TRUE(std::isnan(decode(f, encode(f, x)))) << b;
        continue;
      }
      ASSERT_EQ(bits_of(round_to(f, x)), bits_of(x)) << "pattern " << b;
      ASSERT_EQ(encode(f, x), b) << "value " << x;
    }
  }
}

// Between every two neighbouring finite values a < b: the midpoint goes to the one whose last
// fraction bit is 0, and anything off the midpoint to the nearer (midpoints are exact in fp32).
TEST(Formats, TiesToEvenBetweenEveryNeighbours) {
  for (Format f : kSmall) {
    SCOPED_TRACE(to_string(f));
    const std::uint32_t sign = std::uint32_t(1) << (width(f) - 1);
    for (std::uint32_t b = 0; b + 1 < sign; ++b) {
      const float lo = decode(f, b), hi = decode(f, b + 1);
      if (!std::isfinite(hi) || std::isnan(hi)) break;
      const float mid = lo + (hi - lo) / 2;  // not (lo + hi) / 2: that overflows at the top
      ASSERT_NE(mid, lo);
      const float even = (b & 1) == 0 ? lo : hi;
      ASSERT_EQ(round_to(f, mid), even) << lo << " " << hi;
      ASSERT_EQ(round_to(f, -mid), -even);
      ASSERT_EQ(round_to(f, std::nextafter(mid, 0.0f)), lo);
      ASSERT_EQ(round_to(f, std::nextafter(mid, INFINITY)), hi);
    }
  }
}

struct Known {
  Format format;
  float value;
  std::uint32_t bits;
};

TEST(Formats, KnownBitPatterns) {
  const Known known[] = {
      // bf16: fp32's upper half, rounded.
      {Format::bf16, 1.0f, 0x3f80},
      {Format::bf16, -2.0f, 0xc000},
      {Format::bf16, 3.14159265f, 0x4049},      // 3.140625
      {Format::bf16, 0x1.fep127f, 0x7f7f},      // max normal
      {Format::bf16, 0x1p-126f, 0x0080},        // min normal
      {Format::bf16, 0x1p-133f, 0x0001},        // min subnormal
      {Format::bf16, 0x1p-134f, 0x0000},        // half of it: a tie, to even (0)
      {Format::bf16, 0x1.8p-133f, 0x0002},      // 1.5 of it: a tie, to even (2)
      {Format::bf16, 1.00390625f, 0x3f80},      // 1 + 2^-8: a tie, to even (1)
      {Format::bf16, 1.01171875f, 0x3f82},      // 1 + 3·2^-8: a tie, to even (1 + 2^-6)
      {Format::bf16, FLT_MAX, 0x7f80},          // beyond max + half an ulp: inf
      {Format::bf16, 0x1.fefffep127f, 0x7f7f},  // just below that: max
      {Format::bf16, -INFINITY, 0xff80},
      // fp16 (IEEE 754 binary16).
      {Format::fp16, 1.0f, 0x3c00},
      {Format::fp16, -2.0f, 0xc000},
      {Format::fp16, 65504.0f, 0x7bff},  // max normal
      {Format::fp16, 65519.0f, 0x7bff},  // below max + half an ulp (65520)
      {Format::fp16, 65520.0f, 0x7c00},  // the tie goes to even: 2^16, which is inf
      {Format::fp16, 1e6f, 0x7c00},      // overflow: inf
      {Format::fp16, -1e6f, 0xfc00},
      {Format::fp16, 0x1p-14f, 0x0400},  // min normal
      {Format::fp16, 0x1p-24f, 0x0001},  // min subnormal
      {Format::fp16, 0x1p-25f, 0x0000},  // a tie, to even: 0
      {Format::fp16, 0x1.000002p-25f, 0x0001},
      {Format::fp16, 0x1.8p-24f, 0x0002},  // a tie between 1 and 2 quanta: 2
      {Format::fp16, 1e-10f, 0x0000},      // underflow to 0
      {Format::fp16, -1e-10f, 0x8000},     // keeping the sign
      {Format::fp16, 0.1f, 0x2e66},
      // fp8 e4m3 (OCP 8-bit Floating Point Specification 1.0): bias 7, no inf, NaN S.1111.111.
      {Format::fp8_e4m3, 1.0f, 0x38},
      {Format::fp8_e4m3, 448.0f, 0x7e},  // max normal, S.1111.110
      {Format::fp8_e4m3, -448.0f, 0xfe},
      {Format::fp8_e4m3, 464.0f, 0x7e},    // a tie between 448 and 480 (not a value): 448
      {Format::fp8_e4m3, 465.0f, 0x7f},    // beyond: NaN (non-saturating)
      {Format::fp8_e4m3, INFINITY, 0x7f},  // no inf: NaN
      {Format::fp8_e4m3, -INFINITY, 0xff},
      {Format::fp8_e4m3, 0x1p-6f, 0x08},    // min normal
      {Format::fp8_e4m3, 0x1p-9f, 0x01},    // min subnormal
      {Format::fp8_e4m3, 0x1p-10f, 0x00},   // a tie, to even: 0
      {Format::fp8_e4m3, 0x1.8p-9f, 0x02},  // a tie, to even: 2 quanta
      {Format::fp8_e4m3, 0.3f, 0x2a},       // 0.3125 = 1.25·2^-2
      // fp8 e5m2 (OCP FP8 1.0): IEEE-like, bias 15, with inf.
      {Format::fp8_e5m2, 1.0f, 0x3c},
      {Format::fp8_e5m2, 57344.0f, 0x7b},  // max normal
      {Format::fp8_e5m2, 61439.0f, 0x7b},
      {Format::fp8_e5m2, 61440.0f, 0x7c},  // the tie goes to even: 2^16, inf
      {Format::fp8_e5m2, INFINITY, 0x7c},
      {Format::fp8_e5m2, -INFINITY, 0xfc},
      {Format::fp8_e5m2, 0x1p-14f, 0x04},  // min normal
      {Format::fp8_e5m2, 0x1p-16f, 0x01},  // min subnormal
      {Format::fp8_e5m2, 0x1p-17f, 0x00},  // a tie, to even: 0
      {Format::fp8_e5m2, 0.3f, 0x35},      // 0.3125 = 1.25·2^-2
  };
  for (const Known& k : known) {
    SCOPED_TRACE(std::string(to_string(k.format)) + " " + std::to_string(k.value));
    EXPECT_EQ(encode(k.format, k.value), k.bits);
    const float r = round_to(k.format, k.value);
    const float d = decode(k.format, k.bits);
    if (std::isnan(d))
      EXPECT_TRUE(std::isnan(r));
    else
      EXPECT_EQ(bits_of(r), bits_of(d));
  }
}

TEST(Formats, NaNPropagates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float snan = std::numeric_limits<float>::signaling_NaN();
  for (Format f : kSmall) {
    SCOPED_TRACE(to_string(f));
    for (float x : {nan, -nan, snan, -snan}) {
      const float r = round_to(f, x);
      EXPECT_TRUE(std::isnan(r));
      EXPECT_EQ(std::signbit(r), std::signbit(x));
      EXPECT_TRUE(std::isnan(decode(f, encode(f, x))));
    }
  }
  // The canonical patterns: quiet NaN for the IEEE-like formats, S.1111.111 for e4m3.
  EXPECT_EQ(encode(Format::bf16, nan), 0x7fc0u);
  EXPECT_EQ(encode(Format::fp16, nan), 0x7e00u);
  EXPECT_EQ(encode(Format::fp8_e5m2, nan), 0x7eu);
  EXPECT_EQ(encode(Format::fp8_e4m3, nan), 0x7fu);
  EXPECT_EQ(encode(Format::fp8_e4m3, -nan), 0xffu);
}

// fp16 against the compiler's IEEE conversion on random fp32 patterns of every magnitude.
TEST(Formats, Fp16MatchesFloat16) {
  std::mt19937 gen(16);
  for (int i = 0; i < 4'000'000; ++i) {
    std::uint32_t u = gen();
    if (i % 2 == 0) u = (u & 0x807fffffu) | ((100 + u % 56) << 23);  // around fp16's range
    float x;
    std::memcpy(&x, &u, 4);
    if (std::isnan(x)) continue;
    const float expected = float(static_cast<_Float16>(x));
    ASSERT_EQ(bits_of(round_to(Format::fp16, x)), bits_of(expected)) << x;
  }
}

// bf16 by a formula of its own: the nearer of the two neighbours by truncation, ties to even.
TEST(Formats, Bf16MatchesNearestTruncation) {
  std::mt19937 gen(8);
  for (int i = 0; i < 4'000'000; ++i) {
    const std::uint32_t u = gen();
    float x;
    std::memcpy(&x, &u, 4);
    if (!std::isfinite(x)) continue;
    const std::uint32_t down = u & 0xffff0000u, rest = u & 0xffffu;
    const std::uint32_t up = down + 0x10000u;  // may carry into the exponent, or to inf
    const std::uint32_t pick =
        rest < 0x8000u || (rest == 0x8000u && (down & 0x10000u) == 0) ? down : up;
    ASSERT_EQ(bits_of(round_to(Format::bf16, x)), pick) << x;
  }
}

TEST(Formats, BytesAndNames) {
  EXPECT_EQ(bytes_of(Format::fp32), 4u);
  EXPECT_EQ(bytes_of(Format::bf16), 2u);
  EXPECT_EQ(bytes_of(Format::fp16), 2u);
  EXPECT_EQ(bytes_of(Format::fp8_e4m3), 1u);
  EXPECT_EQ(bytes_of(Format::fp8_e5m2), 1u);
  for (const std::string& name : format_names()) EXPECT_EQ(to_string(*parse_format(name)), name);
  EXPECT_FALSE(parse_format("fp8"));
  // fp32 is the identity, bit for bit, NaN payloads too.
  for (std::uint32_t u : {0x00000001u, 0x7f7fffffu, 0x80000000u, 0x7fc00001u})
    EXPECT_EQ(encode(Format::fp32, decode(Format::fp32, u)), u);
}

}  // namespace
