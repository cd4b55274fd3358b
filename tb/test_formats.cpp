// Number formats: round-to-nearest-even conversions against known bit patterns, exhaustively
// where the format is small (every 8- and 16-bit pattern), and fp16 against the compiler's
// _Float16 conversion.
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "hw/graph.h"
#include "hw/number_format.h"
#include "hw/units/map.h"
#include "sim/reference.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "tb/cli.h"
#include "tb/feeds.h"
#include "tb/harness.h"

using namespace sdpa;
using namespace sdpa::test;

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

// The overflow check's threshold (sim/reference.cpp): below it a value rounds to at most the
// largest finite one, from it past (e4m3's tie goes to its even 448).
TEST(Formats, OverflowThresholdIsWhereRoundingLeavesTheRange) {
  EXPECT_EQ(overflow_threshold(Format::fp16), 65520.0);
  EXPECT_EQ(overflow_threshold(Format::fp8_e4m3), 464.0);
  EXPECT_EQ(overflow_threshold(Format::fp8_e5m2), 61440.0);
  for (Format f : {Format::bf16, Format::fp16, Format::fp8_e4m3, Format::fp8_e5m2}) {
    SCOPED_TRACE(to_string(f));
    const float at = float(overflow_threshold(f));
    ASSERT_EQ(double(at), overflow_threshold(f));  // exact in fp32
    EXPECT_EQ(round_to(f, std::nextafter(at, 0.0f)), float(info(f).max_finite));
    if (f == Format::fp8_e4m3)
      EXPECT_EQ(round_to(f, at), 448.0f);
    else
      EXPECT_TRUE(std::isinf(round_to(f, at)));
  }
  // fp32's from double, as IEEE conversion rounds.
  const double at = overflow_threshold(Format::fp32);
  EXPECT_EQ(at, double(std::numeric_limits<float>::max()) + 0x1p103);
  EXPECT_TRUE(std::isinf(float(at)));
  EXPECT_EQ(float(std::nextafter(at, 0.0)), std::numeric_limits<float>::max());
}

// ---- The dot product's adder tree ----------------------------------------------------------

// The tree as hardware draws it: n = bit_ceil(d) leaves, zeros past d, halves added level by
// level. tree_dot must give exactly its bits for every d.
float padded_tree(const std::vector<float>& q, const std::vector<float>& k) {
  std::vector<float> t(std::bit_ceil(q.size()), 0.0f);
  for (std::size_t c = 0; c < q.size(); ++c) t[c] = q[c] * k[c];
  for (std::size_t w = t.size() / 2; w > 0; w /= 2)
    for (std::size_t c = 0; c < w; ++c) t[c] = t[c] + t[c + w];
  return t[0];
}

TEST(AdderTree, IsTheFixedPaddedTreeBitForBit) {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> draw(-2.0f, 2.0f);
  int differs_from_sequential = 0;
  for (std::size_t d = 1; d <= 300; ++d) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> q(d), k(d), scratch(d);
      for (std::size_t c = 0; c < d; ++c) q[c] = draw(gen), k[c] = draw(gen);
      const float tree = tree_dot(q.data(), k.data(), d, scratch.data());
      ASSERT_EQ(bits_of(tree), bits_of(padded_tree(q, k))) << "d = " << d;
      float sequential = 0;
      for (std::size_t c = 0; c < d; ++c) sequential += q[c] * k[c];
      differs_from_sequential += tree != sequential;
    }
  }
  // The order is part of the result: a sequential sum would differ in the last bits.
  EXPECT_GT(differs_from_sequential, 1000);
  // −0 products padded with +0 zeros add up to +0, as the tree's adders give.
  const float q[3] = {-0.0f, -0.0f, -0.0f}, k[3] = {1.0f, 1.0f, 1.0f};
  float t[2];
  EXPECT_FALSE(std::signbit(tree_dot(q, k, 3, t)));
}

// ---- Runs in a number format ----------------------------------------------------------------

using FloatFeed = Feed<float>;
using FloatCollect = Collect<float>;

struct ExpGraph : Graph {
  ExpGraph(const GraphConfig& config, std::vector<float> xs,
           const sc_core::sc_module_name& name = "g")
      : Graph(name, config, 1),
        feed(unit<FloatFeed>("feed", xs)),
        exp(unit<Exp>("exp", RowShape{1, xs.size()})),
        collect(unit<FloatCollect>("collect", xs.size())) {
    connect(feed.out, exp.in, "xs");
    connect(exp.out, collect.in, "exps");
  }
  FloatFeed& feed;
  Exp& exp;
  FloatCollect& collect;
};

// The memory holds Q, then K, then V, each value rounded to the input format, whatever the caller
// passes (sdpa-sim rounds them first for its references; the image must not rely on it).
TEST(FormatRuns, TheMemoryHoldsTheInputsRoundedToTheInputFormat) {
  const AttentionInputs in = random_inputs(AttentionShape{1, 2, 1, 3, 5, 4, false}, 7);
  for (Format f : {Format::fp32, Format::bf16, Format::fp8_e4m3}) {
    const std::vector<std::uint8_t> image = memory_image(in, f);
    ASSERT_EQ(image.size(), (in.q.size() + in.k.size() + in.v.size()) * sizeof(float));
    std::vector<float> held(image.size() / sizeof(float));
    std::memcpy(held.data(), image.data(), image.size());
    std::size_t i = 0, rounded = 0;
    for (const std::vector<float>* m : {&in.q, &in.k, &in.v})
      for (float x : *m) {
        const float want = round_to(f, x);
        EXPECT_EQ(held[i], want) << to_string(f) << " element " << i;
        rounded += want != x;
        ++i;
      }
    EXPECT_EQ(rounded > 0, f != Format::fp32) << to_string(f);
  }
}

// A unit's result is its fp32 arithmetic rounded to the compute format, so what a channel
// carries is representable in it; and the FIFO's bytes are the format's.
TEST(FormatRuns, AUnitRoundsItsResultsOntoItsChannel) {
  std::vector<float> xs;
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> draw(-8.0f, 2.0f);
  for (int i = 0; i < 200; ++i) xs.push_back(draw(gen));
  GraphConfig c;
  c.compute = Format::bf16;
  ExpGraph g(c, xs);
  sc_core::sc_start();
  ASSERT_EQ(g.collect.values.size(), xs.size());
  int rounded = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const float x = round_to(Format::bf16, xs[i]);  // the feed's own result, rounded
    const float y = g.collect.values[i];
    EXPECT_EQ(y, round_to(Format::bf16, std::exp(x)));
    EXPECT_EQ(round_to(Format::bf16, y), y);
    rounded += y != std::exp(x);
  }
  EXPECT_GT(rounded, 150);  // the rounding did happen
  for (const Graph::Edge& e : g.edges()) EXPECT_EQ(e.channel->stats().element_bytes, 2u);
}

// Every field of every result type a unit writes is rounded, not only scalars: the reordered
// datapath's weight and δ, the two-pass row statistics, rows. (A result left in fp32 only makes a
// run more accurate, which no tolerance notices.)
TEST(FormatRuns, EveryResultTypeIsRoundedWhole) {
  const float x = 1 + 0x1p-10f, y = -3 - 0x1p-9f;  // between bf16's neighbours: 1 and -3
  float scalar = x;
  Rescale rescale{x, y};
  RowStats stats{y, x};
  Row row(3, x);
  row[1] = y;
  round_result(Format::bf16, scalar);
  round_result(Format::bf16, rescale);
  round_result(Format::bf16, stats);
  round_result(Format::bf16, row);
  EXPECT_EQ(scalar, 1.0f);
  EXPECT_EQ(rescale.delta, 1.0f);
  EXPECT_EQ(rescale.weight, -3.0f);
  EXPECT_EQ(stats.max, -3.0f);
  EXPECT_EQ(stats.sum, 1.0f);
  EXPECT_EQ(row[0], 1.0f);
  EXPECT_EQ(row[1], -3.0f);
  EXPECT_EQ(row[2], 1.0f);
}

// A bf16 run of every datapath on random data with d > 1 and V not constant is within its derived
// tolerance of the fp64 reference on the rounded inputs, and visibly not fp32. The bound is too
// loose to certify 1% of max|v| (unverified), so the measured error is also held to what bf16's
// rounding (2⁻⁹ relative) of values up to max|v| makes likely: a lost rescale or a wrong max
// lands far above.
TEST(FormatRuns, Bf16RunsAreWithinTheirTolerance) {
  const AttentionInputs in = random_inputs(2, 96, 16, 41);
  DatapathConfig c = default_config();
  c.input = Format::bf16;
  c.compute = Format::bf16;
  const SimulationResult result = simulate(in, datapath_names(), c);
  const AttentionInputs rounded = rounded_inputs(in, Format::bf16);
  const Reference ref = reference_attention(rounded, Format::bf16);
  const Reference fp32_ref = reference_attention(rounded);
  for (const DatapathResult& r : result.runs) {
    SCOPED_TRACE(r.datapath);
    const Check check = check_output(ref, r.output, 96, 16, Format::bf16);
    EXPECT_EQ(check.verdict(), Verdict::unverified)
        << check.max_abs_error << " " << check.tolerance;
    EXPECT_LE(check.max_abs_error, check.tolerance);
    EXPECT_LT(check.max_abs_error, 0.02 * check.v_bound);
    // Larger than fp32's tolerance: the formats are really used.
    EXPECT_GT(check.max_abs_error, error_tolerance(fp32_ref, 96, 16));
    // Every output element went through a bf16 channel (out_rows).
    for (float x : r.output) ASSERT_EQ(round_to(Format::bf16, x), x);
    // The cycle counts are those of fp32: formats change values and bytes, not timing here.
    EXPECT_EQ(r.cycles, closed_form_cycles(r.datapath, in.shape, c));
  }
}

TEST(FormatRuns, Fp16RunsAreWithinTheirTolerance) {
  const AttentionInputs in = random_inputs(1, 80, 8, 42);
  DatapathConfig c = default_config();
  c.input = Format::fp16;
  c.compute = Format::fp16;
  const SimulationResult result = simulate(in, datapath_names(), c);
  const Reference ref = reference_attention(rounded_inputs(in, Format::fp16), Format::fp16);
  for (const DatapathResult& r : result.runs) {
    SCOPED_TRACE(r.datapath);
    const Check check = check_output(ref, r.output, 80, 8, Format::fp16);
    // Within the tolerance, which is above 1% of max|v| (unverified); measured, fp16's rounding
    // (2⁻¹¹ relative) keeps the error several times below bf16's.
    EXPECT_EQ(check.verdict(), Verdict::unverified)
        << check.max_abs_error << " " << check.tolerance;
    EXPECT_LE(check.max_abs_error, check.tolerance);
    EXPECT_LT(check.max_abs_error, 0.005 * check.v_bound);
    for (float x : r.output) ASSERT_EQ(round_to(Format::fp16, x), x);
  }
}

// The command line: fp8 inputs, the two errors in report.json, the status judged against the
// reference on the rounded inputs (the error against the unrounded ones is far larger).
TEST(FormatRuns, Fp8InputsReportBothErrors) {
  const auto dir = scratch();
  const SimRun run =
      sim("--set datapath=all --set problem.seq_len=64 --set problem.head_dim=16 "
          "--set numerics.input=fp8_e4m3 --set numerics.compute=bf16 --out " +
              (dir / "o").string(),
          dir);
  // bf16 compute: within the tolerance, which cannot certify 1% (exit 6, unverified).
  ASSERT_EQ(run.status, 6) << run.out << run.err;
  EXPECT_NE(run.out.find("fp8_e4m3 / bf16"), std::string::npos) << run.out;
  const auto report = nlohmann::json::parse(slurp(dir / "o" / "report.json"));
  for (const auto& r : report["runs"]) {
    const auto& n = r["numerics"];
    EXPECT_EQ(n["input"], "fp8_e4m3");
    EXPECT_EQ(n["compute"], "bf16");
    EXPECT_EQ(r["status"], "unverified");
    EXPECT_EQ(n["max_abs_error_rounded_inputs"], r["max_abs_error"]);
    EXPECT_GT(n["max_abs_error_unrounded_inputs"].get<double>(),
              n["max_abs_error_rounded_inputs"].get<double>());
    EXPECT_EQ(n["certified_fraction"], 0.01);
    EXPECT_EQ(r["memory_traffic"]["footprint_bytes"], 3 * 64 * 16);
  }
  EXPECT_EQ(report["params"]["numerics"]["input"], "fp8_e4m3");
}

// fp16's range: a running sum of N_kv = 40000 weights (up to N) or an accumulator (up to
// N·max|v|) may pass 65504, so fp16 promises nothing: unverified, saying why.
TEST(FormatRuns, Fp16RangeMakesLongRowsUnverified) {
  const auto dir = scratch();
  const SimRun run =
      sim("--set datapath=reordered --set problem.seq_len=1 --set problem.kv_len=40000 "
          "--set problem.head_dim=8 --set numerics.input=fp16 --set numerics.compute=fp16 --out " +
              (dir / "o").string(),
          dir);
  EXPECT_EQ(run.status, 6) << run.out << run.err;
  EXPECT_NE(run.out.find("can overflow fp16 (largest 65504)"), std::string::npos) << run.out;
  // The same in bf16, whose range is fp32's: no overflow, only bf16's looser bound.
  const SimRun bf16 =
      sim("--set datapath=reordered --set problem.seq_len=1 --set problem.kv_len=40000 "
          "--set problem.head_dim=8 --set numerics.compute=bf16 --out " +
              (dir / "b").string(),
          dir);
  EXPECT_EQ(bf16.status, 6) << bf16.out << bf16.err;
  EXPECT_EQ(bf16.out.find("overflow"), std::string::npos) << bf16.out;
  EXPECT_NE(bf16.out.find("bf16 only guarantees an error of at most"), std::string::npos)
      << bf16.out;
}

// numerics.md's boundaries of fp16's range, where a value rounds past 65504: from 65520. The
// reordered datapath's accumulator (N·max|v| and three roundings a step, e^{3N·2^-24}) reaches it
// first with max|v| = 2, at N = 32570, the running sum (N) with max|v| < 1; normalised rows stay
// within max|v| and the tolerance, so there the running sum comes first for max|v| = 2, and only
// a max|v| within the tolerance of 65520 (0.78% at N = 2) can overflow a row. bf16 has fp32's
// range.
TEST(FormatRuns, Fp16OverflowIsJudgedOnTheRunningSumAndTheRows) {
  Reference ref;
  ref.score_bound = ref.score_max = 4;
  ref.v_bound = 2;
  const bool normalised = true, unnormalised = false;
  const auto overflows = [&](std::size_t n, Format f, bool normalised_rows) {
    return what_overflows(ref, 8, n, f, normalised_rows);
  };
  const auto starts = [](const std::string& s, const char* prefix) {
    return s.starts_with(prefix);
  };
  EXPECT_EQ(overflows(32569, Format::fp16, unnormalised), "");
  EXPECT_PRED2(starts, overflows(32570, Format::fp16, unnormalised),
               "an accumulator row (N·max|v| and ");
  EXPECT_EQ(overflows(65519, Format::fp16, normalised), "");
  EXPECT_EQ(overflows(65520, Format::fp16, normalised),
            "a running sum (N), up to 65520, can overflow fp16 (largest 65504)");
  ref.v_bound = 0.5;
  EXPECT_EQ(overflows(65519, Format::fp16, unnormalised), "");
  EXPECT_PRED2(starts, overflows(65520, Format::fp16, unnormalised), "a running sum (N), ");
  EXPECT_EQ(overflows(65520, Format::bf16, unnormalised), "");
  ref.v_bound = 64000;
  EXPECT_EQ(overflows(2, Format::fp16, normalised), "");
  EXPECT_PRED2(starts, overflows(2, Format::fp16, unnormalised), "an accumulator row ");
  // Below fp16's largest, but not by the tolerance.
  ref.v_bound = 65200;
  EXPECT_PRED2(starts, overflows(2, Format::fp16, normalised),
               "an output row (max|v| and the tolerance), ");
}

// Scores of ±40000 fit fp16, their difference, −80000, does not: the naive datapath's `shifted`
// channel holds −Inf (two_pass and reordered subtract in fp32, where it is finite). A difference
// is never positive, and exp(−Inf) = 0 is the weight correct arithmetic gives it (e^{−80000} is 0
// in every format): every datapath's output is exact, and nothing is said to overflow (the runs
// are unverified only by fp16's loose bound on such scores). Scores of 66000 do overflow.
TEST(FormatRuns, Fp16ScoreDifferencesThatOverflowAreHarmless) {
  const auto dir = scratch();
  const AttentionInputs in{AttentionShape::square(1, 2, 1), {1}, {40000, -40000}, {1.5f, -1}};
  const SimRun run = sim(write_inputs(dir, in, {1, 1}, {2, 1}) +
                             "--set datapath=all --set numerics.compute=fp16" + out_arg(dir / "o"),
                         dir);
  EXPECT_EQ(run.status, 6) << run.out << run.err;
  EXPECT_EQ(run.out.find("overflow"), std::string::npos) << run.out;
  const auto report = nlohmann::json::parse(slurp(dir / "o" / "report.json"));
  ASSERT_EQ(report["runs"].size(), datapath_names().size());
  for (const auto& r : report["runs"]) {
    EXPECT_EQ(r["status"], "unverified") << r["datapath"];
    EXPECT_EQ(r["max_abs_error"], 0.0) << r["datapath"];
  }
  Reference ref;
  ref.score_bound = ref.score_max = 66000;
  ref.v_bound = 1;
  EXPECT_TRUE(what_overflows(ref, 1, 2, Format::fp16).starts_with("a score (max|s|), up to 66"));
}

// An fp16 row sum of 65 600 weights (one of them 1, the others just below) rounds to Inf in
// correct arithmetic, and every weight divided by it is 0: the naive and two-pass outputs are
// finite zeros where the reference's are 1, the reordered one's Inf / Inf. Each is unverified,
// naming the sum, not a mismatch: an overflow voids the tolerance, whatever the output.
TEST(FormatRuns, AnFp16SumThatOverflowsToFiniteZerosIsUnverified) {
  const auto dir = scratch();
  const std::size_t n = 65600;
  AttentionInputs in{
      AttentionShape::square(1, n, 1), {1}, std::vector<float>(n, 0), std::vector<float>(n, 1)};
  in.k[0] = 1e-3f;
  const SimRun run = sim(write_inputs(dir, in, {1, 1}, {n, 1}) +
                             "--set datapath=all --set numerics.compute=fp16" + out_arg(dir / "o"),
                         dir);
  EXPECT_EQ(run.status, 6) << run.out << run.err;
  for (const char* name : {"naive", "two_pass", "reordered"})
    EXPECT_NE(run.out.find(std::string(name) +
                           ": UNVERIFIED: a running sum (N), up to 65600, can overflow fp16 "
                           "(largest 65504) for these inputs, so nothing is guaranteed about the "
                           "output."),
              std::string::npos)
        << name << "\n"
        << run.out;
  const auto report = nlohmann::json::parse(slurp(dir / "o" / "report.json"));
  for (const auto& r : report["runs"]) {
    EXPECT_EQ(r["status"], "unverified") << r["datapath"];
    if (r["datapath"] != "reordered") {
      EXPECT_TRUE(r["finite"].get<bool>()) << r["datapath"];
      EXPECT_GT(r["max_abs_error"].get<double>(), r["tolerance"].get<double>()) << r["datapath"];
    }
  }
}

// The smallest problems have an fp16 bound below 1% of max|v| and are ok (params.md: N = 3, d = 8,
// 0.75%): `ok` certifies the same in every format.
TEST(FormatRuns, Fp16IsOkWhereItsBoundIsBelowOnePercent) {
  const auto dir = scratch();
  const SimRun run =
      sim("--set datapath=all --set problem.seq_len=3 --set problem.head_dim=8 "
          "--set numerics.compute=fp16 --out " +
              (dir / "o").string(),
          dir);
  EXPECT_EQ(run.status, 0) << run.out << run.err;
  const auto report = nlohmann::json::parse(slurp(dir / "o" / "report.json"));
  for (const auto& r : report["runs"]) {
    EXPECT_EQ(r["status"], "ok") << r["datapath"];
    const double fraction = r["tolerance"].get<double>() / r["numerics"]["max_abs_v"].get<double>();
    EXPECT_NEAR(fraction, 0.0075, 0.00005) << r["datapath"];
  }
}

// fp16 outputs of |v| ≈ 10⁻⁶ are subnormal (fp16's least normal is 6.1·10⁻⁵): rounding an output
// row onto its channel, and the reordered accumulator row on acc_rows, errs by up to half a least
// subnormal (2⁻²⁵) whatever the relative error. Correct runs were a mismatch (error 3.0·10⁻⁸
// against a tolerance of 2.0·10⁻⁸) before the tolerance counted it.
TEST(FormatRuns, Fp16SubnormalOutputsAreWithinTheTolerance) {
  AttentionInputs in = random_inputs(1, 8, 4, 7);
  for (float& v : in.v) v *= 1e-6f;
  DatapathConfig c = default_config();
  c.compute = Format::fp16;
  const SimulationResult result = simulate(in, datapath_names(), c);
  const Reference ref = reference_attention(in, Format::fp16);
  double largest = 0;
  for (const DatapathResult& r : result.runs) {
    SCOPED_TRACE(r.datapath);
    const Check check = check_output(ref, r.output, 8, 4, Format::fp16);
    // Within the tolerance, which λ alone puts above 1% of max|v| ≈ 2·10⁻⁶.
    EXPECT_EQ(check.verdict(), Verdict::unverified)
        << check.max_abs_error << " " << check.tolerance;
    EXPECT_LE(check.max_abs_error, check.tolerance);
    largest = std::max(largest, check.max_abs_error);
  }
  // The case the term is for: an error of about half a least subnormal, past the old tolerance.
  EXPECT_GT(largest, 0x1p-26);
}

// The reordered datapath's accumulators are fp32 in every format and reach N·max|v|: two values
// of 3·10³⁸ add to Inf in correct fp32 arithmetic, so fp32 promises nothing there: unverified,
// saying why, not a mismatch. The naive and two-pass datapaths weigh the rows by probabilities:
// their outputs, 3·10³⁸, cannot overflow, and are certified.
TEST(FormatRuns, AnAccumulatorThatCanOverflowFp32IsUnverified) {
  const auto dir = scratch();
  const AttentionInputs in{AttentionShape::square(1, 2, 1), {0, 0}, {0, 0}, {3e38f, 3e38f}};
  const SimRun run =
      sim(write_inputs(dir, in, {2, 1}, {2, 1}) + "--set datapath=all" + out_arg(dir / "o"), dir);
  EXPECT_EQ(run.status, 6) << run.out << run.err;
  EXPECT_NE(run.out.find("reordered: UNVERIFIED: an accumulator row (N·max|v| and its roundings), "
                         "up to 6e+38, can overflow fp32 (largest 3.40282e+38) for these inputs, "
                         "so nothing is guaranteed about the output."),
            std::string::npos)
      << run.out;
  EXPECT_EQ(run.out.find("naive: UNVERIFIED"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("two_pass: UNVERIFIED"), std::string::npos) << run.out;
  const auto report = nlohmann::json::parse(slurp(dir / "o" / "report.json"));
  for (const auto& r : report["runs"]) {
    const bool reordered = r["datapath"] == "reordered";
    EXPECT_EQ(r["status"], reordered ? "unverified" : "ok") << r["datapath"];
    EXPECT_EQ(r["finite"], !reordered) << r["datapath"];
  }
}

// The fp32 accumulator can pass N·max|v| by its roundings: 32 777 values of t = 2 − 2⁻⁹ + 2⁻²⁰,
// each add just past a tie and rounded up, sum to 65521.97 in fp32 and Inf in fp16, although
// N·t = 65490.01 is below 65504. That is correct arithmetic: unverified, not a mismatch.
TEST(FormatRuns, AnAccumulatorItsRoundingsCarryPastFp16sLargestIsUnverified) {
  const auto dir = scratch();
  const std::size_t n = 32777;
  const float t = 2 - 0x1p-9f + 0x1p-20f;
  const AttentionInputs in{AttentionShape{1, 1, 1, 1, n, 1, false},
                           {0.0f},
                           std::vector<float>(n, 0.0f),
                           std::vector<float>(n, t)};
  const SimRun run =
      sim(write_inputs(dir, in, {1, 1}, {n, 1}) +
              "--set datapath=reordered --set numerics.compute=fp16" + out_arg(dir / "o"),
          dir);
  EXPECT_EQ(run.status, 6) << run.out << run.err;
  EXPECT_NE(run.out.find("reordered: UNVERIFIED: an accumulator row (N·max|v| and its roundings), "
                         "up to 65"),
            std::string::npos)
      << run.out;
  const auto report = nlohmann::json::parse(slurp(dir / "o" / "report.json"));
  EXPECT_EQ(report["runs"][0]["finite"], false);
}

TEST(FormatRuns, BadFormatsAreExitTwoNamingKeyAndLine) {
  const auto dir = scratch();
  const auto file = write(dir / "p.yaml", "numerics:\n  input: fp32\n  compute: fp8_e5m2\n");
  const SimRun run = sim(file.string() + " --out " + (dir / "o").string(), dir);
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("p.yaml:3:12: numerics.compute: expected one of: fp32, bf16, fp16, got "
                         "'fp8_e5m2'"),
            std::string::npos)
      << run.err;
  const SimRun set = sim("--set numerics.input=int8 --out " + (dir / "o").string(), dir);
  EXPECT_EQ(set.status, 2);
  EXPECT_NE(set.err.find("--set numerics.input=int8: numerics.input: expected one of: fp32, bf16, "
                         "fp16, fp8_e4m3, fp8_e5m2, got 'int8'"),
            std::string::npos)
      << set.err;
}

// Memory holds Q, K and V in the input format: bytes read, footprint and stream buffers halve
// in bf16 and quarter in fp8; intermediate FIFOs follow the compute format.
TEST(FormatRuns, MemoryAndFifoBytesFollowTheFormats) {
  const AttentionInputs in = random_inputs(1, 32, 8, 7);
  DatapathConfig c = default_config();
  c.input = Format::fp8_e4m3;
  c.compute = Format::bf16;
  const SimulationResult result = simulate(in, {"reordered"}, c);
  const DatapathResult& r = result.runs.at(0);
  const std::uint64_t scores = 32 * 32, d = 8;
  EXPECT_EQ(r.k_bytes_read, scores * d * 1);
  EXPECT_EQ(r.v_bytes_read, scores * d * 1);
  EXPECT_EQ(r.q_bytes_read, 32 * d * 1);
  EXPECT_EQ(r.footprint_bytes, 3 * 32 * d * 1);
  EXPECT_EQ(r.o_bytes_written, 32 * d * 2);
  // report.json's memory bytes: the channels' capacities and high-water marks in their formats,
  // summed (the intermediate ones without the stream buffers).
  std::uint64_t capacity = 0, high_water = 0, intermediate_high_water = 0;
  for (const ChannelStats& ch : r.channels) {
    SCOPED_TRACE(ch.name);
    EXPECT_EQ(ch.element_bytes, ch.input_stream ? 1u : 2u);
    EXPECT_EQ(ch.capacity_bytes(), ch.capacity * ch.width * ch.element_bytes);
    capacity += ch.capacity * ch.width * ch.element_bytes;
    high_water += ch.high_water * ch.width * ch.element_bytes;
    if (!ch.input_stream) intermediate_high_water += ch.high_water * ch.width * ch.element_bytes;
  }
  const MemoryUse all = memory_use(r.channels), intermediate = memory_use(r.channels, true);
  EXPECT_EQ(all.capacity_bytes, capacity);
  EXPECT_EQ(all.high_water_bytes, high_water);
  EXPECT_EQ(intermediate.high_water_bytes, intermediate_high_water);
  EXPECT_LT(high_water, capacity);  // some channel never filled: the two sums differ
}

// Beats follow the input format: a link of 16 bytes per cycle takes two cycles for a d = 8 row in
// fp32 (32 bytes), one in bf16; so at bf16 the run is the one-beat closed form, at full rate.
TEST(FormatRuns, ANarrowerInputFormatTakesFewerBeats) {
  const AttentionInputs in = random_inputs(1, 40, 8, 9);
  DatapathConfig c = default_config();
  c.memory.bytes_per_cycle = 16;
  c.input = Format::bf16;
  const SimulationResult result = simulate(in, {"reordered"}, c);
  const DatapathResult& r = result.runs.at(0);
  EXPECT_EQ(r.cycles, reordered_cycles(in.shape, c));
  EXPECT_EQ(r.k_bytes_read, 40u * 40 * 8 * 2);
}

}  // namespace
