// The reordered (online-softmax) datapath: numerics, full rate with O(1) memory, depth 1, and
// the side-by-side comparison with the naive datapath.
#include <cmath>
#include <nlohmann/json.hpp>
#include <tuple>

#include "sim/npy.h"
#include "tb/cli.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ReorderedNumerics : public testing::TestWithParam<std::tuple<std::size_t, std::size_t>> {};

TEST_P(ReorderedNumerics, MatchesTheFp64Reference) {
  const auto [n, d] = GetParam();
  const AttentionInputs in = random_inputs(1, n, d, 2000 + n * 7 + d);
  const SimulationResult r = simulate(in, {"reordered"}, default_config());
  expect_accurate(in, r.runs.at(0));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ReorderedNumerics,
                         testing::Values(std::tuple{1, 1}, std::tuple{1, 8}, std::tuple{7, 2},
                                         std::tuple{16, 3}, std::tuple{33, 16}, std::tuple{64, 64}),
                         n_d_name);

TEST(Reordered, ScoresNearOneHundredStayFiniteAndAccurate) {
  // exp(100) overflows fp32: only the max subtraction (row or running) keeps the datapaths finite.
  ASSERT_TRUE(std::isinf(std::exp(100.0f)));
  const AttentionInputs in = random_inputs(1, 48, 16, 11, 60.0f);
  const Reference ref = reference_attention(in);
  ASSERT_GT(ref.score_bound, 100.0);
  double max_score = 0;
  for (std::size_t i = 0; i < 48; ++i)
    for (std::size_t j = 0; j < 48; ++j) {
      double s = 0;
      for (std::size_t c = 0; c < 16; ++c) s += double(in.q[i * 16 + c]) * in.k[j * 16 + c];
      max_score = std::max(max_score, std::fabs(s / 4.0));
    }
  ASSERT_GT(max_score, 80.0);
  const SimulationResult r = simulate(in, {"naive", "reordered"}, default_config());
  for (const DatapathResult& run : r.runs) expect_accurate(in, run);
}

class ReorderedTiming : public testing::TestWithParam<std::size_t> {};

TEST_P(ReorderedTiming, FullRateAtAutomaticDepths) {
  const std::size_t n = GetParam();
  const DatapathConfig c = default_config();
  const SimulationResult r = simulate(random_inputs(1, n, 8, n), {"reordered"}, c);
  const DatapathResult& run = r.runs.at(0);
  ASSERT_EQ(run.status, Status::ok);
  EXPECT_EQ(run.cycles, reordered_cycles(1, n, c));
  expect_only_streams_wait_for_slots(run);
}

INSTANTIATE_TEST_SUITE_P(SeqLens, ReorderedTiming, testing::Values(1, 16, 64, 256), n_name);

// The divide takes a row's sum and accumulator together, the later of them L = max(L_rsum,
// L_acc) after the row's last score; with rows of ℓ keys, 1 + ⌊L / ℓ⌋ rows' results arrive in
// that time, so each channel needs that many slots (at least its producer's latency + 1) for
// the closed form to hold: rows of one key, of two and of five, either unit the later.
// The reordered datapath on `shape` with the running sum's and the accumulator's latencies, at
// automatic depths: accurate, on its closed form, and only the streams wait for slots.
DatapathResult run_at_full_rate(const AttentionShape& shape, unsigned l_rsum, unsigned l_acc) {
  DatapathConfig c = default_config();
  c.timings["running_sum"] = {l_rsum, 1};
  c.timings["rescale_accumulate"] = {l_acc, 1};
  const AttentionInputs in = random_inputs(shape, 3);
  DatapathResult run = simulate(in, {"reordered"}, c).runs.at(0);
  expect_accurate(in, run);
  EXPECT_EQ(run.cycles, reordered_cycles(shape, c));
  expect_only_streams_wait_for_slots(run);
  return run;
}

class ReorderedShortRows
    : public testing::TestWithParam<std::tuple<std::size_t, unsigned, unsigned>> {};

TEST_P(ReorderedShortRows, RunAtFullRateWhicheverRowResultIsLater) {
  const auto& [keys, l_rsum, l_acc] = GetParam();
  const DatapathResult run = run_at_full_rate({1, 16, 16, 3, keys, 4, false}, l_rsum, l_acc);
  const std::size_t waiting = 1 + std::max(l_rsum, l_acc) / keys;
  EXPECT_EQ(channel(run, "sums").capacity, std::max<std::size_t>(l_rsum + 1, waiting));
  EXPECT_EQ(channel(run, "acc_rows").capacity, std::max<std::size_t>(l_acc + 1, waiting));
}

// The same with causal rows, of every length from N_kv − N_q + 1 to N_kv, over four heads: the
// first rows of each head are the short ones.
class ReorderedCausalRows
    : public testing::TestWithParam<std::tuple<std::size_t, std::size_t, unsigned, unsigned>> {};

TEST_P(ReorderedCausalRows, RunAtFullRateWhicheverRowResultIsLater) {
  const auto& [queries, keys, l_rsum, l_acc] = GetParam();
  run_at_full_rate({1, 4, 4, queries, keys, 4, true}, l_rsum, l_acc);
}

// docs/timing.md's example: causal rows of 1 to 24 keys, head after head, M = 6. The most row
// results in flight are a head's last row's and the next head's rows of 1, 2 and 3 keys (1 + 2 + 3
// ≤ 6): 4, not the 1 + 6 / 1 = 7 of the shortest row alone.
TEST(ReorderedCausalRows, RowResultsAreAsDeepAsTheMostRowsInFlight) {
  const DatapathResult run = run_at_full_rate({1, 4, 2, 24, 24, 8, true}, 2, 6);
  EXPECT_EQ(channel(run, "sums").capacity, 4u);
  EXPECT_EQ(channel(run, "acc_rows").capacity, 7u);
}

using CausalRows = std::tuple<std::size_t, std::size_t, unsigned, unsigned>;
INSTANTIATE_TEST_SUITE_P(Shapes, ReorderedCausalRows,
                         testing::Values(CausalRows{12, 12, 3, 20}, CausalRows{12, 14, 20, 3},
                                         CausalRows{9, 9, 2, 36}, CausalRows{5, 6, 30, 7}),
                         [](const auto& info) {
                           return fmt::format("q{}_k{}_rsum{}_acc{}", std::get<0>(info.param),
                                              std::get<1>(info.param), std::get<2>(info.param),
                                              std::get<3>(info.param));
                         });

INSTANTIATE_TEST_SUITE_P(KeysAndLatencies, ReorderedShortRows,
                         testing::Combine(testing::Values(1, 2, 5), testing::Values(2u, 36u),
                                          testing::Values(4u, 36u)),
                         [](const auto& info) {
                           return fmt::format("keys{}_rsum{}_acc{}", std::get<0>(info.param),
                                              std::get<1>(info.param), std::get<2>(info.param));
                         });

json run_report(const std::string& args, const fs::path& out) {
  const SimRun r = sim(args + " --out '" + out.string() + "'", out.parent_path());
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(slurp(out / "report.json"));
}

const json& run_of(const json& report, const std::string& datapath) {
  for (const json& run : report["runs"])
    if (run["datapath"] == datapath) return run;
  throw std::out_of_range(datapath);
}

TEST(Comparison, ReorderedPeakOccupancyIsFlatNaiveGrowsWithN) {
  const fs::path d = scratch();
  std::vector<json> reports;
  const std::vector<std::size_t> ns{16, 64, 256};
  for (std::size_t n : ns)
    reports.push_back(
        run_report("--set problem.head_dim=8 --set problem.seq_len=" + std::to_string(n),
                   d / std::to_string(n)));
  for (std::size_t i = 1; i < ns.size(); ++i) {
    const json& r0 = run_of(reports[0], "reordered");
    const json& ri = run_of(reports[i], "reordered");
    EXPECT_EQ(ri["memory"]["high_water_elements"], r0["memory"]["high_water_elements"]);
    EXPECT_EQ(ri["memory"]["capacity_elements"], r0["memory"]["capacity_elements"]);
    EXPECT_EQ(ri["cycles"].get<Cycle>() - ns[i] * ns[i], r0["cycles"].get<Cycle>() - ns[0] * ns[0]);
    // Each of the two bypasses holds one more element per unit of N.
    const json& n0 = run_of(reports[0], "naive");
    const json& ni = run_of(reports[i], "naive");
    EXPECT_EQ(ni["memory"]["high_water_elements"].get<Cycle>() -
                  n0["memory"]["high_water_elements"].get<Cycle>(),
              2 * (ns[i] - ns[0]));
  }
}

TEST(Comparison, DepthOneSlowsTheReorderedDatapathToTheSlowestEdgeButNeverDeadlocks) {
  // docs/timing.md: at capacity 1 an edge whose producer has latency L passes one element every
  // max(2, (L + 2) / 2) cycles; the slowest edge is the K stream (L = read latency).
  const fs::path d = scratch();
  for (unsigned read_latency : {10u, 7u}) {
    std::vector<Cycle> cycles;
    for (std::size_t n : {16, 64}) {
      const json report = run_report(
          "--set datapath=reordered --set problem.head_dim=8 --set channels.default_depth=1 "
          "--set memory.read_latency=" +
              std::to_string(read_latency) + " --set problem.seq_len=" + std::to_string(n),
          d / fmt::format("{}-{}", read_latency, n));
      ASSERT_EQ(run_of(report, "reordered")["status"], "ok");
      cycles.push_back(run_of(report, "reordered")["cycles"]);
    }
    const double period = std::max(2.0, (read_latency + 2) / 2.0);
    EXPECT_EQ(double(cycles[1] - cycles[0]), period * (64 * 64 - 16 * 16)) << read_latency;
  }
}

TEST(Comparison, BothTogetherGiveExactlyWhatEachGivesAlone) {
  const fs::path d = scratch();
  const std::string common = "--set problem.seq_len=40 --set problem.head_dim=6 ";
  const json both = run_report(common + "--set datapath=both", d / "both");
  for (const std::string dp : {"naive", "reordered"}) {
    const json alone = run_report(common + "--set datapath=" + dp, d / dp);
    EXPECT_EQ(run_of(both, dp)["cycles"], run_of(alone, dp)["cycles"]) << dp;
    EXPECT_EQ(run_of(both, dp)["channels"], run_of(alone, dp)["channels"]) << dp;
    EXPECT_EQ(run_of(both, dp)["memory"], run_of(alone, dp)["memory"]) << dp;
    EXPECT_EQ(read_npy((d / "both" / ("o_" + dp + ".npy")).string()).data,
              read_npy((d / dp / ("o_" + dp + ".npy")).string()).data)
        << dp;
  }
}

TEST(Comparison, DefaultRunReportsBothDatapaths) {
  const fs::path d = scratch();
  const SimRun r = sim("--out '" + (d / "o").string() + "'", d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json report = json::parse(slurp(d / "o" / "report.json"));
  ASSERT_EQ(report["runs"].size(), 2u);
  EXPECT_EQ(run_of(report, "naive")["status"], "ok");
  EXPECT_EQ(run_of(report, "reordered")["status"], "ok");
  // The paper's point at a glance: the naive datapath provisions a row per bypass.
  EXPECT_GT(
      run_of(report, "naive")["memory"]["intermediate"]["capacity_elements"].get<Cycle>(),
      2 * run_of(report, "reordered")["memory"]["intermediate"]["capacity_elements"].get<Cycle>());
  for (const char* line : {"naive", "reordered", "scores per cycle", "intermediate memory"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line;
}

}  // namespace
}  // namespace sdpa::test
