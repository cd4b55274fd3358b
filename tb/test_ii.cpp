// Units slower than one per cycle: every datapath on its closed form (docs/timing.md, "Units
// slower than one per cycle") with units of II > 1: one per-score unit at a time, per-row units,
// several slow units at once, latencies and shapes; and the configurations without one refused.
#include <tuple>

#include "tb/harness.h"

namespace sdpa::test {
namespace {

using Iis = std::map<std::string, unsigned>;

DatapathConfig with_iis(const Iis& iis, const DatapathConfig& base = default_config()) {
  DatapathConfig c = base;
  for (const auto& [unit, ii] : iis) {
    const bool known = c.timings.contains(unit);
    Timing t = known ? c.timings.at(unit) : Timing{};
    if (!known)
      for (const std::string& dp : datapath_names())
        if (const auto& d = datapath_parts(dp).default_timings; d.contains(unit)) t = d.at(unit);
    t.ii = ii;
    c.timings[unit] = t;
  }
  return c;
}

// Simulates the three datapaths and checks each against its closed form; a unit with II > 1 alone
// in its datapath hardly waits: never for a slot, and for input only before its first firing.
void expect_closed_forms(const AttentionShape& shape, const DatapathConfig& c) {
  const SimulationResult r = simulate(random_inputs(shape, 23), datapath_names(), c);
  for (const DatapathResult& run : r.runs) {
    SCOPED_TRACE(run.datapath);
    ASSERT_EQ(run.status, Status::ok);
    EXPECT_EQ(run.cycles, closed_form_cycles(run.datapath, shape, c));
    const std::vector<std::string> slow = slow_units(run.datapath, c);
    if (slow.size() == 1 && slow[0] != "sink") {
      EXPECT_EQ(unit(run, slow[0]).blocked, 0u) << slow[0];
    }
  }
}

// One per-score unit (or the K reader) at II = k: N across the sizes where rows are shorter than
// the latencies, 1 to 3 heads.
const char* const kScoreUnits[] = {
    "k_reader",    "dot_product", "row_max",           "subtract",          "exp",
    "row_sum",     "divide",      "weighted_sum",      "online_normalizer", "normalize",
    "running_max", "running_sum", "rescale_accumulate"};

struct Size {
  unsigned ii;
  std::size_t n, heads;
};
const Size kSizes[] = {{2, 1, 2},  {6, 2, 1},  {3, 7, 3},  {8, 13, 1},
                       {4, 20, 3}, {7, 33, 1}, {5, 40, 2}, {2, 64, 1}};

class OneSlowUnit : public testing::TestWithParam<std::tuple<const char*, Size>> {};

TEST_P(OneSlowUnit, CyclesEqualTheClosedForm) {
  const auto [unit, size] = GetParam();
  expect_closed_forms(AttentionShape::square(size.heads, size.n, 4), with_iis({{unit, size.ii}}));
}

INSTANTIATE_TEST_SUITE_P(
    II, OneSlowUnit, testing::Combine(testing::ValuesIn(kScoreUnits), testing::ValuesIn(kSizes)),
    [](const auto& info) {
      const Size& s = std::get<1>(info.param);
      return fmt::format("{}_ii{}_N{}_H{}", std::get<0>(info.param), s.ii, s.n, s.heads);
    });

// Memory and unit latencies: each changes where a slow unit's throttling starts and how far the
// reordered datapath's other branch runs ahead.
const LatencySet kLatencies[] = {
    {"read_latency_1", 1, {}},
    {"read_latency_25_readers",
     25,
     {{"k_reader", {3, 1}}, {"q_reader", {2, 1}}, {"v_reader", {2, 1}}}},
    {"units_1",
     10,
     {{"dot_product", {1, 1}},
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
      {"running_sum", {1, 1}},
      {"rescale_accumulate", {17, 1}},
      {"row_divide", {7, 1}}}},
};

class Latencies : public testing::TestWithParam<std::tuple<const char*, unsigned, LatencySet>> {};

TEST_P(Latencies, CyclesEqualTheClosedForm) {
  const auto& [unit, ii, t] = GetParam();
  expect_closed_forms(AttentionShape::square(2, 21, 4),
                      with_iis({{unit, ii}}, with_latencies(default_config(), t)));
}

INSTANTIATE_TEST_SUITE_P(II, Latencies,
                         testing::Combine(testing::Values("k_reader", "row_max", "divide",
                                                          "normalize", "running_sum",
                                                          "rescale_accumulate"),
                                          testing::Values(3u), testing::ValuesIn(kLatencies)),
                         [](const auto& info) {
                           return fmt::format("{}_ii{}_{}", std::get<0>(info.param),
                                              std::get<1>(info.param),
                                              std::get<2>(info.param).name);
                         });

// Per-row units: hidden while their II is at most a row of N keys, then one row per II.
struct RowCase {
  const char* unit;
  unsigned ii;
  std::size_t n, heads;
};
const RowCase kRowCases[] = {
    {"row_divide", 2, 1, 3},   {"row_divide", 17, 16, 2},  {"row_divide", 17, 17, 2},
    {"row_divide", 64, 40, 1}, {"row_divide", 64, 100, 1}, {"sink", 2, 1, 3},
    {"sink", 3, 2, 3},         {"sink", 8, 5, 2},          {"sink", 40, 20, 1},
    {"sink", 64, 70, 1},       {"q_reader", 5, 3, 3},      {"q_reader", 30, 20, 2},
    {"q_reader", 30, 40, 1},
};

class PerRowUnit : public testing::TestWithParam<RowCase> {};

TEST_P(PerRowUnit, CyclesEqualTheClosedForm) {
  const RowCase& r = GetParam();
  expect_closed_forms(AttentionShape::square(r.heads, r.n, 4), with_iis({{r.unit, r.ii}}));
}

INSTANTIATE_TEST_SUITE_P(II, PerRowUnit, testing::ValuesIn(kRowCases), [](const auto& info) {
  return fmt::format("{}_ii{}_N{}_H{}", info.param.unit, info.param.ii, info.param.n,
                     info.param.heads);
});

// docs/cost.md: `units.row_divide.ii: 64` gives the same cycles as II = 1 from N = 64 on; below,
// the run takes (rows − 1)·(64 − N) more.
TEST(II, RowDivideOf64IsHiddenFromN64) {
  const DatapathConfig slow = with_iis({{"row_divide", 64}}), fast = default_config();
  for (std::size_t n : {64, 65, 200, 1024})
    EXPECT_EQ(reordered_cycles(1, n, slow), reordered_cycles(1, n, fast)) << n;
  EXPECT_EQ(reordered_cycles(1, 63, slow), reordered_cycles(1, 63, fast) + 62);
  expect_closed_forms(AttentionShape::square(1, 64, 4), slow);
}

// Several slow units: the segments between joins each pass a row at their slowest II.
const Iis kSeveral[] = {
    {{"dot_product", 2}, {"divide", 3}},
    {{"row_max", 4}, {"weighted_sum", 4}},
    {{"subtract", 5}, {"row_sum", 2}, {"divide", 3}},
    {{"k_reader", 2}, {"exp", 6}, {"normalize", 3}},
    {{"online_normalizer", 3}, {"normalize", 2}, {"running_max", 3}},
    {{"k_reader", 3}, {"dot_product", 2}, {"running_max", 5}, {"row_sum", 4}},
};

class SeveralSlowUnits : public testing::TestWithParam<std::tuple<std::size_t, std::size_t>> {};

TEST_P(SeveralSlowUnits, CyclesEqualTheClosedForm) {
  const auto [which, n] = GetParam();
  expect_closed_forms(AttentionShape::square(1 + n % 2, n, 4), with_iis(kSeveral[which]));
}

INSTANTIATE_TEST_SUITE_P(II, SeveralSlowUnits,
                         testing::Combine(testing::Range<std::size_t>(0, std::size(kSeveral)),
                                          testing::Values(3, 30)),
                         [](const auto& info) {
                           return fmt::format("units{}_n{}", std::get<0>(info.param),
                                              std::get<1>(info.param));
                         });

// Full rows of other shapes: N_kv keys per row, rows = B·H·N_q: batched with grouped heads,
// rectangular.
TEST(II, BatchedGroupedHeads) {
  expect_closed_forms({2, 4, 2, 9, 14, 4, false},
                      with_iis({{"exp", 3}, {"normalize", 4}, {"running_max", 2}}));
}

TEST(II, RectangularMoreKeys) {
  expect_closed_forms({1, 1, 1, 12, 30, 4, false}, with_iis({{"subtract", 3}, {"running_sum", 4}}));
}

TEST(II, RectangularMoreQueries) {
  expect_closed_forms({1, 1, 1, 30, 12, 4, false},
                      with_iis({{"divide", 2}, {"rescale_accumulate", 3}}));
}

// Where docs/timing.md gives no closed form, the harness refuses rather than guess.
TEST(II, NoClosedFormIsRefused) {
  const AttentionShape shape = AttentionShape::square(1, 16, 4);
  auto refused = [&](const DatapathConfig& c,
                     const AttentionShape& s = AttentionShape::square(1, 16, 4)) {
    for (const std::string& dp : datapath_names())
      EXPECT_THROW(closed_form_cycles(dp, s, c), std::invalid_argument) << dp;
  };
  refused(with_iis({{"v_reader", 2}}));
  refused(with_iis({{"sink", 3}, {"dot_product", 2}}));
  refused(with_iis({{"q_reader", 30}, {"dot_product", 2}}));
  DatapathConfig beats = with_iis({{"dot_product", 2}});
  beats.memory.bytes_per_cycle = 8;
  refused(beats);
  DatapathConfig lanes = with_iis({{"dot_product", 2}});
  lanes.lanes = 2;
  refused(lanes);
  refused(with_iis({{"dot_product", 2}}), AttentionShape{1, 1, 1, 16, 16, 4, true});
  DatapathConfig deeper = with_iis({{"dot_product", 2}});
  deeper.depths["scores"] = 8;
  refused(deeper);
  DatapathConfig late_q = with_iis({{"k_reader", 2}});
  late_q.timings["q_reader"] = {3, 1};
  refused(late_q);
  EXPECT_THROW(reordered_cycles(shape, with_iis({{"running_sum", 2}, {"rescale_accumulate", 3}})),
               std::invalid_argument);
  DatapathConfig late_v = with_iis({{"running_max", 2}});
  late_v.timings["v_reader"] = {20, 1};
  EXPECT_THROW(reordered_cycles(shape, late_v), std::invalid_argument);
  // Naive and two-pass: a V reader slower than the K reader makes the weighted sum hold a slow
  // unit's results back (e.g. N = 8, divide at II 2, V reader latency 100: 233 cycles, where the
  // II > 1 form would say 169).
  for (const auto& [dp, unit] :
       {std::pair{"naive", "divide"}, std::pair{"two_pass", "normalize"}}) {
    DatapathConfig slow_v = with_iis({{unit, 2}});
    slow_v.timings["v_reader"] = {2, 1};
    EXPECT_THROW(closed_form_cycles(dp, shape, slow_v), std::invalid_argument) << dp;
  }
  // II = 1 everywhere is not refused: the one-per-cycle forms.
  EXPECT_NO_THROW(naive_cycles(shape, default_config()));
}

}  // namespace
}  // namespace sdpa::test
