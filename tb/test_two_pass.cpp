// The two-pass datapath: numerics against fp64, the closed-form cycle count, one O(N) bypass
// and where it deadlocks.
#include <tuple>

#include "tb/harness.h"

namespace sdpa::test {
namespace {

class TwoPassNumerics : public testing::TestWithParam<std::tuple<std::size_t, std::size_t>> {};

TEST_P(TwoPassNumerics, MatchesTheFp64Reference) {
  const auto [n, d] = GetParam();
  const AttentionInputs in = random_inputs(1, n, d, 3000 + n * 7 + d);
  const SimulationResult r = simulate(in, {"two_pass"}, default_config());
  expect_accurate(in, r.runs.at(0));
}

INSTANTIATE_TEST_SUITE_P(Shapes, TwoPassNumerics,
                         testing::Values(std::tuple{1, 1}, std::tuple{1, 8}, std::tuple{7, 2},
                                         std::tuple{16, 3}, std::tuple{33, 16}, std::tuple{64, 64}),
                         n_d_name);

TEST(TwoPass, LargeScoresStayFiniteAndAccurate) {
  // exp of the raw scores would overflow fp32: the first pass's running max keeps them finite.
  const AttentionInputs in = random_inputs(1, 48, 16, 11, 60.0f);
  ASSERT_GT(reference_attention(in).score_bound, 100.0);
  const SimulationResult r = simulate(in, {"two_pass"}, default_config());
  expect_accurate(in, r.runs.at(0));
}

TEST(TwoPass, TwoHeadsMatchTheReferenceAndTheClosedForm) {
  const AttentionInputs in = random_inputs(2, 24, 8, 5);
  const SimulationResult r = simulate(in, {"two_pass"}, default_config());
  expect_accurate(in, r.runs.at(0));
  EXPECT_EQ(r.runs[0].cycles, two_pass_cycles(2, 24, default_config()));
}

class TwoPassTiming : public testing::TestWithParam<std::size_t> {};

TEST_P(TwoPassTiming, CyclesEqualTheClosedFormAndTheBypassHoldsARow) {
  const std::size_t n = GetParam();
  const DatapathConfig c = default_config();
  const SimulationResult r = simulate(random_inputs(1, n, 4, n), {"two_pass"}, c);
  const DatapathResult& run = r.runs.at(0);
  ASSERT_EQ(run.status, Status::ok);
  EXPECT_EQ(run.cycles, two_pass_cycles(1, n, c));
  // docs/timing.md: a bypass element waits from its issue until its row's first pass is done.
  EXPECT_EQ(
      channel(run, "score_bypass").high_water,
      std::min(n * n, n + L(c, "two_pass", "dot_product") + L(c, "two_pass", "online_normalizer")));
  EXPECT_EQ(channel(run, "score_bypass").producer_stall_cycles, 0u);
}

INSTANTIATE_TEST_SUITE_P(SeqLens, TwoPassTiming, testing::Values(1, 2, 16, 64, 100, 256), n_name);

TEST(TwoPass, ChangedLatenciesMoveTheClosedFormByThem) {
  DatapathConfig c = default_config();
  c.timings["online_normalizer"] = {11, 1};
  c.timings["normalize"] = {3, 1};
  c.timings["weighted_sum"] = {7, 1};
  c.memory.read_latency = 17;
  const SimulationResult r = simulate(random_inputs(1, 40, 8, 2), {"two_pass"}, c);
  ASSERT_EQ(r.runs.at(0).status, Status::ok);
  EXPECT_EQ(unit(r.runs[0], "online_normalizer").timing, (Timing{11, 1}));
  EXPECT_EQ(r.runs[0].cycles, two_pass_cycles(1, 40, c));
}

// The dot product writes the first pass first, so with C < N − 1 the normalizer has seen C + 1 < N
// scores of the row when the bypass is full and nothing can move; from N − 1 up to the full-rate
// depth the datapath runs, each row after the first later by what the bypass lacks
// (docs/timing.md). One simulation per case, in both modes.
class TwoPassBypass : public testing::TestWithParam<std::tuple<Mode, std::size_t>> {};

TEST_P(TwoPassBypass, DeadlocksBelowNMinusOneAndStallsBelowTheFullRateDepth) {
  const auto [mode, shortfall] = GetParam();
  const std::size_t n = 32;
  DatapathConfig c = default_config(mode);
  c.depths["score_bypass"] = n - shortfall;
  const SimulationResult r = simulate(random_inputs(1, n, 4, 9), {"two_pass"}, c);
  const DatapathResult& run = r.runs.at(0);
  if (shortfall == 2) {
    EXPECT_EQ(run.status, Status::deadlock);
    EXPECT_EQ(channel(run, "score_bypass").high_water, n - 2);
  } else {
    ASSERT_EQ(run.status, Status::ok);
    // Every row after the first waits N + L − C for its slots, L the dot product's and the
    // normalizer's latencies (docs/timing.md, "Bypasses shorter than a row").
    const Cycle latency = L(c, "two_pass", "dot_product") + L(c, "two_pass", "online_normalizer");
    EXPECT_EQ(run.cycles, two_pass_cycles(1, n, c) + short_bypass_delay(n, n, latency, n - 1));
    EXPECT_GT(channel(run, "score_bypass").producer_stall_cycles, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(ModesAndDepths, TwoPassBypass,
                         testing::Combine(testing::Values(Mode::synchronized, Mode::decoupled),
                                          testing::Values(2, 1)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == Mode::synchronized
                                                  ? "synchronized"
                                                  : "decoupled") +
                                  "_N_minus_" + std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace sdpa::test
