// The naive datapath: numerics against fp64, exact cycle counts, O(N) bypasses, deadlock.
#include <tuple>

#include "tb/harness.h"

namespace sdpa::test {
namespace {

class NaiveNumerics : public testing::TestWithParam<std::tuple<std::size_t, std::size_t>> {};

TEST_P(NaiveNumerics, MatchesTheFp64Reference) {
  const auto [n, d] = GetParam();
  const AttentionInputs in = random_inputs(1, n, d, 1000 + n * 7 + d);
  const SimulationResult r = simulate(in, {"naive"}, default_config());
  expect_accurate(in, r.runs.at(0));
}

INSTANTIATE_TEST_SUITE_P(Shapes, NaiveNumerics,
                         testing::Values(std::tuple{1, 1}, std::tuple{1, 8}, std::tuple{7, 1},
                                         std::tuple{16, 3}, std::tuple{33, 16}, std::tuple{64, 64}),
                         n_d_name);

TEST(Naive, TwoHeadsMatchTheReference) {
  const AttentionInputs in = random_inputs(2, 24, 8, 5);
  const SimulationResult r = simulate(in, {"naive"}, default_config());
  expect_accurate(in, r.runs.at(0));
  EXPECT_EQ(r.runs[0].cycles, naive_cycles(2, 24, default_config()));
}

class NaiveTiming : public testing::TestWithParam<std::size_t> {};

TEST_P(NaiveTiming, CyclesEqualTheClosedFormAndBypassesHoldARow) {
  const std::size_t n = GetParam();
  const DatapathConfig c = default_config();
  const SimulationResult r = simulate(random_inputs(1, n, 4, n), {"naive"}, c);
  const DatapathResult& run = r.runs.at(0);
  ASSERT_EQ(run.status, Status::ok);
  EXPECT_EQ(run.cycles, naive_cycles(1, n, c));
  // At full rate a bypass element waits from its issue until its row's reduction is done, and
  // one is written per cycle; a tiny problem has fewer scores than that in all.
  EXPECT_EQ(channel(run, "score_bypass").high_water,
            std::min(n * n, n + L(c, "naive", "dot_product") + L(c, "naive", "row_max")));
  EXPECT_EQ(channel(run, "exp_bypass").high_water,
            std::min(n * n, n + L(c, "naive", "exp") + L(c, "naive", "row_sum")));
  EXPECT_EQ(channel(run, "score_bypass").producer_stall_cycles, 0u);
}

INSTANTIATE_TEST_SUITE_P(SeqLens, NaiveTiming, testing::Values(1, 2, 16, 64, 100, 256), n_name);

TEST(Naive, BypassOfHalfARowDeadlocksWithAReport) {
  const std::size_t n = 64;
  DatapathConfig c = default_config();
  c.depths["score_bypass"] = n / 2;
  const SimulationResult r = simulate(random_inputs(1, n, 8, 3), {"naive"}, c);
  const DatapathResult& run = r.runs.at(0);
  EXPECT_EQ(run.status, Status::deadlock);
  EXPECT_EQ(run.rows_done, 0u);
  bool names_bypass = false;
  for (const std::string& w : run.waits)
    names_bypass |= w.find("naive.dot_product") == 0 &&
                    w.find("waits to write naive.score_bypass: full 32/32") != std::string::npos;
  EXPECT_TRUE(names_bypass) << testing::PrintToString(run.waits);
  // Elements never read hold their slots: the full bypass's high water is its capacity.
  EXPECT_EQ(channel(run, "score_bypass").high_water, n / 2);
}

// The dot product writes the reduction path first, so N − 1 slots suffice to avoid deadlock; from
// there up to its full-rate depth N + L (L its producer's and its reduction's latencies) a bypass
// C deep makes every m = max(1, ⌊C / N⌋)-th row wait N + L − C cycles for its slots, on top of the
// closed form, unless C ≥ N is a row less one past a multiple of N (docs/timing.md, "Bypasses
// shorter than a row"). Two heads: 2N rows.
class NaiveShortBypass
    : public testing::TestWithParam<std::tuple<std::string, std::size_t, std::size_t>> {};

TEST_P(NaiveShortBypass, DelaysEveryMthRowByItsShortfall) {
  const auto& [bypass, n, depth] = GetParam();
  DatapathConfig c = default_config();
  const Cycle full_rate = naive_cycles(2, n, c);
  const Cycle latency = bypass == "score_bypass"
                            ? L(c, "naive", "dot_product") + L(c, "naive", "row_max")
                            : L(c, "naive", "exp") + L(c, "naive", "row_sum");
  c.depths[bypass] = depth;
  const DatapathResult run = simulate(random_inputs(2, n, 4, 11), {"naive"}, c).runs.at(0);
  ASSERT_EQ(run.status, Status::ok);
  EXPECT_EQ(run.cycles, full_rate + short_bypass_delay(2 * n, n, latency, depth));
  EXPECT_EQ(channel(run, bypass).producer_stall_cycles > 0, depth < n + latency);
}

INSTANTIATE_TEST_SUITE_P(
    Depths, NaiveShortBypass,
    testing::Values(std::tuple{"score_bypass", 16, 15}, std::tuple{"score_bypass", 16, 18},
                    std::tuple{"score_bypass", 16, 20}, std::tuple{"score_bypass", 16, 21},
                    std::tuple{"exp_bypass", 16, 15}, std::tuple{"exp_bypass", 16, 19},
                    std::tuple{"score_bypass", 4, 8}, std::tuple{"exp_bypass", 4, 6}),
    [](const auto& info) {
      return std::get<0>(info.param) + "_n" + std::to_string(std::get<1>(info.param)) + "_depth" +
             std::to_string(std::get<2>(info.param));
    });

}  // namespace
}  // namespace sdpa::test
