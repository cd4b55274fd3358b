// Number formats: the element formats of Q, K, V in memory and of the values on the channels,
// with bit-accurate round-to-nearest-even conversions from fp32 (docs/numerics.md).
//
// A value in a format is held in a float (every format here is a subset of fp32), rounded: the
// model computes with floats, and a value on a channel is exactly representable in its format.
// encode()/decode() give the format's bit patterns, for tests and for anyone who wants them.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace sdpa {

enum class Format { fp32, bf16, fp16, fp8_e4m3, fp8_e5m2 };

struct FormatInfo {
  const char* name;
  unsigned bytes;        // per element in memory and in a FIFO
  int exponent_bits;     // E
  int mantissa_bits;     // M: fraction bits, p = M + 1
  bool has_infinity;     // e4m3 (OCP FP8) has none: its only specials are NaNs
  double max_finite;     // largest finite magnitude
  double min_subnormal;  // smallest positive value
  double unit_roundoff;  // u = 2^-(M + 1): the relative error of one rounding (normal range)
};

const FormatInfo& info(Format f);
// The least magnitude that rounds past max_finite (to ±inf, or NaN in e4m3): max_finite plus half
// the spacing of the values just below it, 65520 for fp16. Rounding to nearest, anything smaller
// stays finite; at it exactly, ties to even go past (e4m3's 464 is the exception: 448 is even).
double overflow_threshold(Format f);
inline const char* to_string(Format f) { return info(f).name; }
inline unsigned bytes_of(Format f) { return info(f).bytes; }
std::optional<Format> parse_format(const std::string& name);
// Every format's name, in enum order.
std::vector<std::string> format_names();

// x rounded to nearest, ties to even, into `f`, as a float. Overflow: to ±inf where the format
// has infinities (IEEE 754 rounding; fp16, bf16, e5m2), to NaN for e4m3 (OCP FP8's
// non-saturating conversion: its largest finite value is 448, and anything that rounds beyond
// it, including ±inf, is NaN). NaN stays NaN (quiet, sign kept).
float round_to(Format f, float x);

// The bit pattern of round_to(f, x) in `f` (the low 8, 16 or 32 bits); NaN encodes as the
// format's canonical quiet NaN with x's sign.
std::uint32_t encode(Format f, float x);
// The value of a bit pattern of `f` (exact: every format here widens exactly into fp32).
float decode(Format f, std::uint32_t bits);

// Rounds a run of values in place (no-op for fp32).
void round_all(Format f, float* values, std::size_t n);

// bf16's rounding inline: it is on the hot path of a bf16 run.
inline float round_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    u |= 0x00400000u;  // NaN: quiet, sign and payload kept as far as they fit
    u &= 0xffff0000u;
  } else {
    // Adds half an ulp of bf16, less one unless the kept part is odd: ties go to even; a carry
    // into the exponent is the next binade, and past the largest finite value, inf.
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
  }
  std::memcpy(&x, &u, 4);
  return x;
}

// fp16's likewise, on the bits: the same results as the general rounding (bit for bit, a NaN's
// payload aside), much faster.
inline float round_fp16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  const std::uint32_t sign = u & 0x80000000u;
  std::uint32_t a = u ^ sign;
  if (a > 0x7f800000u) {
    a |= 0x00400000u;  // NaN, quiet
  } else if (a >= 0x477ff000u) {
    a = 0x7f800000u;  // from 65520 (the largest finite, 65504, plus half its ulp): inf
  } else if (a < 0x38800000u) {
    // Below 2^-14, fp16's subnormals, multiples of 2^-24: adding 0.5 (whose ulp is 2^-24) rounds
    // to one, ties to even, and taking it away again is exact.
    float f;
    std::memcpy(&f, &a, 4);
    f = (f + 0.5f) - 0.5f;
    std::memcpy(&a, &f, 4);
  } else {
    a += 0xfffu + ((a >> 13) & 1u);  // 10 fraction bits kept: as round_bf16, 13 bits dropped
    a &= 0xffffe000u;
  }
  u = a | sign;
  std::memcpy(&x, &u, 4);
  return x;
}

}  // namespace sdpa
