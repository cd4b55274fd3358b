#include "hw/number_format.h"

#include <cmath>
#include <limits>

namespace sdpa {
namespace {

// Sign, exponent and fraction fields; the exponent bias is 2^(E−1) − 1 in every format here
// (OCP FP8 1.0 for e4m3 and e5m2), so the least normal exponent is 2 − 2^(E−1).
int bias(const FormatInfo& i) { return (1 << (i.exponent_bits - 1)) - 1; }
int min_exponent(const FormatInfo& i) { return 1 - bias(i); }
std::uint32_t all_ones(int bits) { return (std::uint32_t(1) << bits) - 1; }

float nan_with_sign(float x) {
  return std::signbit(x) ? -std::numeric_limits<float>::quiet_NaN()
                         : std::numeric_limits<float>::quiet_NaN();
}

// The fp8 formats (fp32, bf16 and fp16 have bit-level paths), in double: |x| / quantum is exact (a
// power of two apart, within double's range), and nearbyint rounds it to nearest even in the
// default rounding mode.
float round_generic(const FormatInfo& i, float x) {
  if (std::isnan(x)) return nan_with_sign(x);
  if (std::isinf(x)) return i.has_infinity ? x : nan_with_sign(x);
  const double a = std::fabs(double(x));
  if (a == 0) return x;
  int e = 0;
  std::frexp(a, &e);                                      // a = m·2^e, m in [0.5, 1)
  const int exponent = std::max(e - 1, min_exponent(i));  // subnormals share the least one
  const double quantum = std::ldexp(1.0, exponent - i.mantissa_bits);
  const double r = std::nearbyint(a / quantum) * quantum;
  if (r > i.max_finite)
    return i.has_infinity ? std::copysign(std::numeric_limits<float>::infinity(), x)
                          : nan_with_sign(x);
  return float(std::copysign(r, double(x)));
}

}  // namespace

const FormatInfo& info(Format f) {
  // max_finite: (2 − 2^−M)·2^emax, but e4m3's S.1111.111 is NaN, so its largest is 1.75·2^8.
  static const FormatInfo formats[] = {
      {"fp32", 4, 8, 23, true, double(std::numeric_limits<float>::max()), 0x1p-149, 0x1p-24},
      {"bf16", 2, 8, 7, true, 0x1.fep127, 0x1p-133, 0x1p-8},
      {"fp16", 2, 5, 10, true, 65504.0, 0x1p-24, 0x1p-11},
      {"fp8_e4m3", 1, 4, 3, false, 448.0, 0x1p-9, 0x1p-4},
      {"fp8_e5m2", 1, 5, 2, true, 57344.0, 0x1p-16, 0x1p-3},
  };
  return formats[static_cast<int>(f)];
}

double overflow_threshold(Format f) {
  const FormatInfo& i = info(f);
  return i.max_finite + std::ldexp(1.0, std::ilogb(i.max_finite) - i.mantissa_bits - 1);
}

std::optional<Format> parse_format(const std::string& name) {
  for (Format f : {Format::fp32, Format::bf16, Format::fp16, Format::fp8_e4m3, Format::fp8_e5m2})
    if (name == info(f).name) return f;
  return std::nullopt;
}

std::vector<std::string> format_names() {
  std::vector<std::string> names;
  for (Format f : {Format::fp32, Format::bf16, Format::fp16, Format::fp8_e4m3, Format::fp8_e5m2})
    names.push_back(info(f).name);
  return names;
}

float round_to(Format f, float x) {
  switch (f) {
    case Format::fp32:
      return x;
    case Format::bf16:
      return round_bf16(x);
    case Format::fp16:
      return round_fp16(x);
    default:
      return round_generic(info(f), x);
  }
}

void round_all(Format f, float* values, std::size_t n) {
  if (f == Format::fp32) return;
  if (f == Format::bf16) {
    for (std::size_t c = 0; c < n; ++c) values[c] = round_bf16(values[c]);
    return;
  }
  if (f == Format::fp16) {
    for (std::size_t c = 0; c < n; ++c) values[c] = round_fp16(values[c]);
    return;
  }
  const FormatInfo& i = info(f);
  for (std::size_t c = 0; c < n; ++c) values[c] = round_generic(i, values[c]);
}

std::uint32_t encode(Format f, float x) {
  if (f == Format::fp32) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
  }
  const FormatInfo& i = info(f);
  const float r = round_to(f, x);
  const int E = i.exponent_bits, M = i.mantissa_bits;
  const std::uint32_t sign = std::signbit(r) ? std::uint32_t(1) << (E + M) : 0;
  if (std::isnan(r)) {
    // IEEE formats: exponent all ones, the fraction's top bit (quiet); e4m3: S.1111.111.
    const std::uint32_t fraction = i.has_infinity ? std::uint32_t(1) << (M - 1) : all_ones(M);
    return sign | all_ones(E) << M | fraction;
  }
  if (std::isinf(r)) return sign | all_ones(E) << M;
  const double a = std::fabs(double(r));
  if (a == 0) return sign;
  int e = 0;
  std::frexp(a, &e);
  const int exponent = e - 1;
  if (exponent < min_exponent(i))  // subnormal: exponent field 0
    return sign | std::uint32_t(std::ldexp(a, M - min_exponent(i)));
  const std::uint32_t fraction = std::uint32_t(std::ldexp(a, M - exponent)) & all_ones(M);
  return sign | std::uint32_t(exponent + bias(i)) << M | fraction;
}

float decode(Format f, std::uint32_t bits) {
  if (f == Format::fp32) {
    float x;
    std::memcpy(&x, &bits, 4);
    return x;
  }
  const FormatInfo& i = info(f);
  const int E = i.exponent_bits, M = i.mantissa_bits;
  const bool negative = (bits >> (E + M)) & 1;
  const std::uint32_t field = (bits >> M) & all_ones(E), fraction = bits & all_ones(M);
  double a;
  if (field == all_ones(E) && i.has_infinity)
    a = fraction == 0 ? std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::quiet_NaN();
  else if (field == all_ones(E) && fraction == all_ones(M))
    a = std::numeric_limits<double>::quiet_NaN();  // e4m3's only NaN
  else if (field == 0)
    a = std::ldexp(double(fraction), min_exponent(i) - M);
  else
    a = std::ldexp(double(fraction | std::uint32_t(1) << M), int(field) - bias(i) - M);
  return float(negative ? -a : a);
}

}  // namespace sdpa
