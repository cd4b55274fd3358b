// Rows of several beats on private links: every datapath on its closed form (docs/timing.md,
// "Rows of several beats") over a grid of sequence lengths, beats, latencies, heads and shapes.
#include <tuple>

#include "tb/harness.h"

namespace sdpa::test {
namespace {

// A link and a row width: d floats on `bytes_per_cycle` bytes per cycle take `beats` cycles.
struct Link {
  std::size_t head_dim;
  unsigned bytes_per_cycle;
  Cycle beats;
};

std::string link_name(const Link& l) {
  return fmt::format("d{}_B{}_b{}", l.head_dim, l.bytes_per_cycle, l.beats);
}

const Link kLinks[] = {{16, 64, 1}, {16, 32, 2}, {64, 100, 3}, {16, 16, 4},
                       {8, 5, 7},   {16, 8, 8},  {16, 5, 13},  {16, 4, 16}};

// Simulates all three datapaths on `shape` and checks each against its closed form, and the
// derivation's premise: the scores stream at the K link's rate, no dot product ever waits for a
// slot (a weighted sum that waits for V rows holds its probabilities back, but the bypasses
// absorb that), unless the V reader is the slower one, which then sets the pace at the end.
void expect_closed_forms(const AttentionShape& shape, const DatapathConfig& c) {
  ASSERT_EQ(c.memory.beats(shape.head_dim * sizeof(float)), row_beats(shape, c));
  const SimulationResult r = simulate(random_inputs(shape, 17), datapath_names(), c);
  for (const DatapathResult& run : r.runs) {
    SCOPED_TRACE(run.datapath);
    ASSERT_EQ(run.status, Status::ok);
    EXPECT_EQ(run.cycles, closed_form_cycles(run.datapath, shape, c));
    if (lmem(run.datapath, "v_reader", shape, c) > lmem(run.datapath, "k_reader", shape, c))
      continue;
    for (const UnitStats& u : run.units)
      if (u.name.ends_with("dot_product")) {
        EXPECT_EQ(u.blocked, 0u) << u.name;
      }
  }
}

DatapathConfig with_link(const Link& l) {
  DatapathConfig c = default_config();
  c.memory.bytes_per_cycle = l.bytes_per_cycle;
  return c;
}

// N from 1 to 100 across the kink at N = Lmem + 3 (14 … 28 here: Lmem = 9 + b), 1 to 3 heads,
// the shipped latencies.
class SquareGrid : public testing::TestWithParam<std::tuple<std::size_t, Link>> {};

TEST_P(SquareGrid, CyclesEqualTheClosedForm) {
  const auto [n, link] = GetParam();
  expect_closed_forms(AttentionShape::square(1 + n % 3, n, link.head_dim), with_link(link));
}

INSTANTIATE_TEST_SUITE_P(Beats, SquareGrid,
                         testing::Combine(testing::Values(1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 14, 15,
                                                          16, 17, 18, 19, 20, 23, 24, 27, 28, 29,
                                                          31, 32, 40, 47, 64, 80, 100),
                                          testing::ValuesIn(kLinks)),
                         [](const auto& info) {
                           return fmt::format("N{}_{}", std::get<0>(info.param),
                                              link_name(std::get<1>(info.param)));
                         });

// Memory and unit latencies: each variant changes the kink (Lmem) or the paths' latencies.
const LatencySet kLatencies[] = {
    {"read_latency_1", 1, {}},
    {"read_latency_25", 25, {}},
    {"readers_3", 10, {{"q_reader", {3, 1}}, {"k_reader", {3, 1}}, {"v_reader", {3, 1}}}},
    {"v_reader_9", 10, {{"v_reader", {9, 1}}}},
    {"v_reader_60", 4, {{"v_reader", {60, 1}}}},  // the V stream alone sets the end
    {"units_1",
     10,
     {{"dot_product", {1, 1}},
      {"row_max", {1, 1}},
      {"exp", {1, 1}},
      {"divide", {1, 1}},
      {"weighted_sum", {1, 1}},
      {"online_normalizer", {1, 1}},
      {"normalize", {1, 1}},
      {"running_max", {1, 1}},
      {"running_sum", {1, 1}},
      {"rescale_accumulate", {1, 1}},
      {"row_divide", {1, 1}}}},
    {"units_slow",
     7,
     {{"dot_product", {9, 1}},
      {"row_max", {5, 1}},
      {"subtract", {3, 1}},
      {"exp", {13, 1}},
      {"row_sum", {6, 1}},
      {"divide", {11, 1}},
      {"weighted_sum", {8, 1}},
      {"online_normalizer", {17, 1}},
      {"normalize", {2, 1}},
      {"running_max", {12, 1}},
      {"running_sum", {9, 1}},
      {"rescale_accumulate", {3, 1}},
      {"row_divide", {7, 1}}}},
};

class LatencyGrid
    : public testing::TestWithParam<std::tuple<std::size_t, std::size_t, LatencySet>> {};

TEST_P(LatencyGrid, CyclesEqualTheClosedForm) {
  const auto& [n, link, t] = GetParam();
  const DatapathConfig c = with_latencies(with_link(kLinks[link]), t);
  expect_closed_forms(AttentionShape::square(1 + n % 2, n, kLinks[link].head_dim), c);
}

INSTANTIATE_TEST_SUITE_P(Beats, LatencyGrid,
                         testing::Combine(testing::Values(1, 6, 13, 21, 33, 70),
                                          testing::Values(1, 4, 7), testing::ValuesIn(kLatencies)),
                         [](const auto& info) {
                           return fmt::format("N{}_{}_{}", std::get<0>(info.param),
                                              link_name(kLinks[std::get<1>(info.param)]),
                                              std::get<2>(info.param).name);
                         });

// Rectangular, batched, grouped, causal and decode shapes, and lanes: S_g keys streamed, rows of
// at most N_kv keys.
struct ShapeCase {
  const char* name;
  AttentionShape shape;  // batch, heads, kv_heads, seq_len, kv_len, head_dim, causal
  std::size_t lanes;
};

const ShapeCase kShapes[] = {
    {"rectangular_more_keys", {1, 1, 1, 12, 40, 16, false}, 1},
    {"rectangular_more_queries", {1, 1, 1, 40, 12, 16, false}, 1},
    {"batched_gqa", {2, 4, 2, 16, 24, 16, false}, 1},
    {"causal_square", {1, 1, 1, 32, 32, 16, true}, 1},
    {"causal_heads", {1, 3, 3, 24, 24, 16, true}, 1},
    {"causal_batched_gqa", {2, 4, 2, 20, 28, 16, true}, 1},
    {"decode", {1, 2, 2, 1, 96, 16, false}, 1},
    {"lanes_square_4", {1, 2, 2, 24, 24, 16, false}, 4},
    {"lanes_causal_rectangular_3", {2, 2, 1, 22, 40, 16, true}, 3},
};

class Shapes : public testing::TestWithParam<std::tuple<ShapeCase, unsigned>> {};

TEST_P(Shapes, CyclesEqualTheClosedForm) {
  const auto& [s, bytes_per_cycle] = GetParam();
  DatapathConfig c = default_config();
  c.memory.bytes_per_cycle = bytes_per_cycle;
  c.lanes = s.lanes;
  expect_closed_forms(s.shape, c);
}

INSTANTIATE_TEST_SUITE_P(Beats, Shapes,
                         testing::Combine(testing::ValuesIn(kShapes), testing::Values(16u, 5u)),
                         [](const auto& info) {
                           return fmt::format("{}_B{}", std::get<0>(info.param).name,
                                              std::get<1>(info.param));
                         });

// A V buffer deeper than automatic prefetches more rows: the excess shrinks by b per slot, to 0.
class DeeperVBuffer : public testing::TestWithParam<std::tuple<std::size_t, std::size_t>> {};

TEST_P(DeeperVBuffer, CyclesEqualTheClosedForm) {
  const auto [link, extra] = GetParam();
  const AttentionShape shape = AttentionShape::square(2, 48, kLinks[link].head_dim);
  DatapathConfig c = with_link(kLinks[link]);
  c.depths["v_rows"] = lmem("naive", "v_reader", shape, c) + 1 + extra;
  expect_closed_forms(shape, c);
}

INSTANTIATE_TEST_SUITE_P(Beats, DeeperVBuffer,
                         testing::Combine(testing::Values(1, 3, 6),
                                          testing::Values(1, 4, 9, 20, 40)),
                         [](const auto& info) {
                           return fmt::format("link{}_extra{}", std::get<0>(info.param),
                                              std::get<1>(info.param));
                         });

// docs/results.md, "Memory bandwidth": N = 256, d = 64, cycles − b·N² at 16 … 256 bytes per cycle.
TEST(Beats, TheBandwidthTableOfResults) {
  const AttentionShape shape = AttentionShape::square(1, 256, 64);
  const std::tuple<unsigned, Cycle, Cycle, Cycle> rows[] = {
      {16, 3958, 3707, 27}, {32, 2190, 1939, 27}, {64, 1258, 1007, 27}, {128, 780, 529, 27}};
  for (const auto& [bytes_per_cycle, naive, two_pass, reordered] : rows) {
    DatapathConfig c = default_config();
    c.memory.bytes_per_cycle = bytes_per_cycle;
    const Cycle base = row_beats(shape, c) * 256 * 256;
    EXPECT_EQ(naive_cycles(shape, c), base + naive) << bytes_per_cycle;
    EXPECT_EQ(two_pass_cycles(shape, c), base + two_pass) << bytes_per_cycle;
    EXPECT_EQ(reordered_cycles(shape, c), base + reordered) << bytes_per_cycle;
  }
  // The excess over one beat, (b − 1)(N − Lmem − 3) with Lmem = 9 + b, simulated at 16 beats.
  DatapathConfig c = default_config();
  c.memory.bytes_per_cycle = 16;
  expect_closed_forms(shape, c);
}

// What the forms do not cover is refused, not computed wrong (at N = 30, b = 4: a V or K buffer of
// 2 gives 4670 and 4625 cycles, a shared link 7333, against the form's 3776 and 3728).
TEST(Beats, OutsideTheFormsIsRefused) {
  const AttentionShape shape = AttentionShape::square(1, 30, 64);
  const DatapathConfig base = with_link({64, 64, 4});
  for (const std::string& dp : datapath_names()) {
    for (const char* buffer : {"q_rows", "k_rows", "v_rows"}) {
      DatapathConfig shallow = base;
      shallow.depths[buffer] = 2;
      EXPECT_THROW(closed_form_cycles(dp, shape, shallow), std::invalid_argument) << buffer;
    }
    DatapathConfig shared = base;
    shared.memory.shared = true;
    EXPECT_THROW(closed_form_cycles(dp, shape, shared), std::invalid_argument) << dp;
    DatapathConfig every = base;
    every.default_depth = 64;
    EXPECT_THROW(closed_form_cycles(dp, shape, every), std::invalid_argument) << dp;
    EXPECT_NO_THROW(closed_form_cycles(dp, shape, base)) << dp;
  }
  // Reordered, N_q = 2, N_kv = 1, b = 16, a V reader of latency 20 and a running sum (2) slower
  // than the accumulator (1): 56 cycles, not the form's 57.
  DatapathConfig late_v = with_link({16, 4, 16});
  late_v.memory.read_latency = 1;
  late_v.timings["v_reader"] = {20, 1};
  late_v.timings["rescale_accumulate"] = {1, 1};
  EXPECT_THROW(reordered_cycles(AttentionShape{1, 1, 1, 2, 1, 16, false}, late_v),
               std::invalid_argument);
}

}  // namespace
}  // namespace sdpa::test
