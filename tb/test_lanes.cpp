// Parallel lanes: P query rows of a K/V head's group at once, sharing the K and V streams. The
// closed forms with the keys streamed per run of query rows, the traffic divided by P, lane
// names, and the output.
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "tb/cli.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Case {
  const char* name;
  AttentionShape shape;  // batch, heads, kv_heads, seq_len, kv_len, head_dim, causal
  std::size_t lanes;
};

const Case kCases[] = {
    {"square_2", {1, 1, 1, 32, 32, 8, false}, 2},
    {"square_4_two_heads", {1, 2, 2, 24, 24, 4, false}, 4},
    {"queries_not_a_multiple_5", {1, 2, 2, 23, 40, 4, false}, 5},
    {"causal_4", {1, 1, 1, 32, 32, 8, true}, 4},
    {"causal_3_heads", {1, 2, 2, 32, 32, 4, true}, 3},
    {"causal_rectangular_gqa_4", {2, 2, 1, 22, 40, 4, true}, 4},
    {"decode_batched_2", {4, 2, 2, 1, 64, 8, false}, 2},
    // Lanes 2 and 3 have no query; a causal mask once made their empty shape divide by zero.
    {"causal_more_lanes_than_queries_4", {2, 2, 2, 2, 2, 4, true}, 4},
    // GQA: the lanes share out a K/V head's group of query rows, position by position across
    // its query heads. A decode step fills the lanes with the group's heads; with a causal mask
    // the runs of 5 query rows straddle queries and heads (query rows 4·i … 4·i + 3 are query i).
    {"decode_gqa_4", {2, 8, 2, 1, 64, 8, false}, 4},
    {"decode_mqa_3", {1, 4, 1, 1, 40, 4, false}, 3},
    {"causal_gqa_runs_straddle_heads_5", {1, 4, 1, 3, 8, 4, true}, 5},
    {"causal_gqa_more_lanes_than_query_rows_4", {2, 2, 1, 1, 6, 4, true}, 4},
};

class Lanes : public testing::TestWithParam<std::tuple<Case, std::string>> {};

TEST_P(Lanes, MatchTheReferenceAndTheClosedFormWithTheKeysStreamedPerRun) {
  const auto& [c, datapath] = GetParam();
  const AttentionInputs in = random_inputs(c.shape, 11);
  DatapathConfig config = default_config();
  config.lanes = c.lanes;
  const SimulationResult r = simulate(in, {datapath}, config);
  const DatapathResult& run = r.runs.at(0);
  expect_accurate(in, run);
  EXPECT_EQ(run.cycles, closed_form_cycles(datapath, c.shape, config));
  // K and V: each run's keys once, for all its lanes; Q: each query row once.
  const std::uint64_t row = c.shape.head_dim * sizeof(float);
  EXPECT_EQ(run.k_bytes_read, keys_streamed(c.shape, config) * row);
  EXPECT_EQ(run.v_bytes_read, run.k_bytes_read);
  EXPECT_EQ(run.q_bytes_read, c.shape.rows() * row);
  EXPECT_EQ(run.lanes, c.lanes);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Lanes, testing::Combine(testing::ValuesIn(kCases), testing::ValuesIn(datapath_names())),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param);
    });

// A decode step on four lanes: lanes 1 to 3 have no query, so no row results to wait for, and
// their per-row channels get their producers' latency + 1 like any plain edge.
TEST(Lanes, ALaneWithoutQueriesHasThePlainDepths) {
  DatapathConfig c = default_config();
  c.lanes = 4;
  const AttentionShape s{1, 1, 1, 1, 64, 4, true};
  const AttentionInputs in = random_inputs(s, 2);
  const DatapathResult r = simulate(in, {"reordered"}, c).runs.at(0);
  expect_accurate(in, r);
  for (const char* lane : {"lane1.", "lane2.", "lane3."}) {
    EXPECT_EQ(channel(r, std::string(lane) + "sums").capacity,
              L(c, "reordered", "running_sum") + 1);
    EXPECT_EQ(channel(r, std::string(lane) + "acc_rows").capacity,
              L(c, "reordered", "rescale_accumulate") + 1);
  }
}

TEST(Lanes, FullAttentionReadsKAndVOncePerRunOfPQueries) {
  // N = 64, P = 4: the K/V traffic is that of one lane divided by 4, and the rate nearly 4.
  const AttentionShape s = AttentionShape::square(1, 64, 8);
  DatapathConfig c = default_config();
  c.lanes = 4;
  const SimulationResult r = simulate(random_inputs(s, 2), {"reordered"}, c);
  const DatapathResult& run = r.runs.at(0);
  EXPECT_EQ(run.k_bytes_read * 4, s.scores() * s.head_dim * sizeof(float));
  EXPECT_GT(double(run.scores) / double(run.cycles), 3.8);
}

json run_report(const std::string& args, const fs::path& out) {
  const SimRun r = sim(args + " --out '" + out.string() + "'", out.parent_path());
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(slurp(out / "report.json"));
}

TEST(Lanes, EachLaneHasItsOwnNamedUnitsWhichSharedKeysConfigure) {
  const fs::path d = scratch();
  const json report = run_report(
      "--set datapath=naive --set problem.seq_len=16 --set problem.head_dim=4 "
      "--set parallel.lanes=3 --set units.row_max.latency=3 "
      "--set channels.depths.score_bypass=30",
      d / "o");
  const json& run = report["runs"][0];
  std::set<std::string> channels;
  for (const json& ch : run["channels"]) channels.insert(ch["name"]);
  for (const char* name : {"naive.lane0.score_bypass", "naive.lane2.score_bypass",
                           "naive.lane1.q_rows", "naive.lane1.k_rows", "naive.lane2.v_rows"})
    EXPECT_EQ(channels.count(name), 1u) << name;
  for (const json& ch : run["channels"])
    if (ch["name"].get<std::string>().find("score_bypass") != std::string::npos) {
      EXPECT_EQ(ch["capacity"], 30);
    }
  // The traffic against the minimum: K and V once per run of 3 query rows (6 runs of 16 keys).
  const json& traffic = run["memory_traffic"];
  EXPECT_EQ(traffic["bytes_read"]["k"], 6 * 16 * 4 * 4);
  EXPECT_EQ(traffic["bytes_read"]["v"], 6 * 16 * 4 * 4);
  EXPECT_EQ(traffic["bytes_read"]["q"], 16 * 4 * 4);
  EXPECT_EQ(traffic["bytes_written"], 16 * 4 * 4);
  EXPECT_EQ(traffic["minimum_bytes"], 4 * 16 * 4 * 4);  // Q, K, V, O
  // Q once, K and V six times, O once: 14 matrices moved against 4.
  EXPECT_DOUBLE_EQ(traffic["relative_to_minimum"].get<double>(), 14.0 / 4);
  // The intensities are over the same bytes moved, O's included: 256 scores, 4d flops each.
  EXPECT_DOUBLE_EQ(traffic["scores_per_byte"].get<double>(), 256.0 / (14 * 16 * 4 * 4));
  EXPECT_DOUBLE_EQ(traffic["flops_per_byte"].get<double>(), 4.0 * 4 * 256 / (14 * 16 * 4 * 4));
  EXPECT_EQ(report["params"]["parallel"]["lanes"], 3);
}

// A GQA decode step on as many lanes as a group has query heads: every lane computes its head's
// scores, and K and V are read once, as the footprint has them (B·H_kv·N_kv rows each), where
// lanes sharing out one head's queries would read them once per query head on one busy lane.
TEST(Lanes, AGqaDecodeStepKeepsEveryLaneBusyAndReadsKAndVOnce) {
  const AttentionShape s{2, 8, 2, 1, 64, 8, false};  // groups of 4 query heads
  DatapathConfig c = default_config();
  c.lanes = 4;
  const AttentionInputs in = random_inputs(s, 5);
  const DatapathResult r = simulate(in, {"reordered"}, c).runs.at(0);
  expect_accurate(in, r);
  const std::uint64_t row = s.head_dim * sizeof(float);
  EXPECT_EQ(r.k_bytes_read, 2u * 2 * 64 * row);
  EXPECT_EQ(r.v_bytes_read, 2u * 2 * 64 * row);
  for (const char* lane : {"lane0.", "lane1.", "lane2.", "lane3."})
    EXPECT_EQ(unit(r, std::string(lane) + "dot_product").firings, 2u * 2 * 64) << lane;
  // The reordered closed form with S_g = 2·2·64 keys streamed: S_g − 1 + Lmem + L_dot + … .
  EXPECT_EQ(r.cycles, closed_form_cycles("reordered", s, c));
  EXPECT_EQ(keys_streamed(s, c), 2u * 2 * 64);
}

// The keys streamed and each lane's scores, counted by hand from docs/timing.md, "Parallel
// lanes" (not from the shapes the code builds): query row q of a group is query ⌊q / g⌋, which
// sees ⌊q / g⌋ + N_kv − N_q + 1 keys; a run streams the keys of its last query row.
struct Counted {
  const char* name;
  AttentionShape shape;
  std::size_t lanes;
  std::uint64_t keys_streamed;
  std::vector<Cycle> lane_scores;
};

const Counted kCounted[] = {
    // g = 4, keys(i) = i + 6: runs {0 … 4} (query 1: 7 keys), {5 … 9} and {10, 11} (query 2: 8);
    // lane 0 takes query rows 0, 5, 10 (queries 0, 1, 2), lane 2 rows 2, 7 (queries 0, 1).
    {"g4_p5", {1, 4, 1, 3, 8, 4, true}, 5, 7 + 8 + 8, {6 + 7 + 8, 6 + 7 + 8, 6 + 7, 6 + 8, 7 + 8}},
    // g = 3, keys(i) = i + 3: runs {0, 1} (query 0), {2, 3}, {4, 5} (query 1), {6, 7}, {8};
    // lane 0 takes query rows 0, 2, 4, 6, 8 (queries 0, 0, 1, 2, 2), lane 1 rows 1, 3, 5, 7.
    {"g3_p2", {1, 3, 1, 3, 5, 4, true}, 2, 3 + 4 + 4 + 5 + 5, {3 + 3 + 4 + 5 + 5, 3 + 4 + 4 + 5}},
};

class CountedRuns : public testing::TestWithParam<Counted> {};

TEST_P(CountedRuns, StraddlingQueriesAndHeadsStreamTheKeysOfTheirLastQuery) {
  const Counted& c = GetParam();
  DatapathConfig config = default_config();
  config.lanes = c.lanes;
  const AttentionInputs in = random_inputs(c.shape, 4);
  const DatapathResult r = simulate(in, {"reordered"}, config).runs.at(0);
  expect_accurate(in, r);
  EXPECT_EQ(keys_streamed(c.shape, config), c.keys_streamed);
  EXPECT_EQ(r.k_bytes_read, c.keys_streamed * c.shape.head_dim * sizeof(float));
  for (std::size_t p = 0; p < c.lane_scores.size(); ++p)
    EXPECT_EQ(unit(r, "lane" + std::to_string(p) + ".dot_product").firings, c.lane_scores[p])
        << "lane " << p;
  EXPECT_EQ(r.cycles, closed_form_cycles("reordered", c.shape, config));
}

INSTANTIATE_TEST_SUITE_P(Lanes, CountedRuns, testing::ValuesIn(kCounted),
                         [](const auto& info) { return std::string(info.param.name); });

// One lane takes a group's query rows head after head, the paper's order: a causal GQA run's
// rows come as those of the same heads each with a K/V head of its own, and so do its per-row
// channels' depths and high water (position by position, a group would start with g rows of
// each length and hold more of them).
TEST(Lanes, OneLaneTakesAGroupsHeadsOneAfterAnother) {
  const fs::path d = scratch();
  const std::string shape =
      "--set datapath=naive --set problem.heads=4 --set problem.seq_len=64 "
      "--set problem.head_dim=4 --set problem.causal=true ";
  const json gqa = run_report(shape + "--set problem.kv_heads=1", d / "gqa")["runs"][0];
  const json mha = run_report(shape + "--set problem.kv_heads=4", d / "mha")["runs"][0];
  EXPECT_EQ(gqa["status"], "ok");
  EXPECT_EQ(gqa["cycles"], mha["cycles"]);
  std::map<std::string, std::pair<json, json>> per_row;
  for (const json& ch : gqa["channels"]) per_row[ch["name"]].first = ch;
  for (const json& ch : mha["channels"]) per_row[ch["name"]].second = ch;
  for (const char* name : {"naive.maxima", "naive.sums"}) {
    const auto& [g, m] = per_row.at(name);
    EXPECT_EQ(g["capacity"], m["capacity"]) << name;
    EXPECT_EQ(g["high_water"], m["high_water"]) << name;
    EXPECT_GT(g["capacity"].get<int>(), 5) << name << ": more than a full row's L + 1";
  }
}

// The idle lanes are in report.json and the summary too, which said "of 4" alone: a sweep or a
// reader of the summary saw four lanes' peak. A decode step of 2 query heads per K/V head keeps 2
// of 4 lanes busy; 2 queries each, all 4.
TEST(Lanes, IdleLanesAreInTheReportAndTheSummary) {
  const fs::path d = scratch();
  const std::string args =
      "--set problem.kv_len=16 --set problem.head_dim=4 --set problem.heads=4 "
      "--set problem.kv_heads=2 --set parallel.lanes=4 --set datapath=reordered ";
  const json decode = run_report(args + "--set problem.seq_len=1", d / "decode");
  EXPECT_EQ(decode["runs"][0]["lanes_idle"], 2);
  EXPECT_NE(slurp(d / "stdout").find(" of 4 (2 idle)\n"), std::string::npos) << slurp(d / "stdout");
  const json prefill = run_report(args + "--set problem.seq_len=2", d / "prefill");
  EXPECT_EQ(prefill["runs"][0]["lanes_idle"], 0);
  EXPECT_EQ(slurp(d / "stdout").find("idle)"), std::string::npos) << slurp(d / "stdout");
}

// More lanes than a group's query rows leave some without work, which the run says; enough
// lanes, and it says nothing.
TEST(Lanes, MoreLanesThanAGroupsQueryRowsAreNamedIdle) {
  const fs::path d = scratch();
  const std::string args =
      "--set problem.kv_len=16 --set problem.head_dim=4 --set problem.heads=4 "
      "--check --out '" +
      (d / "o").string() + "' ";
  SimRun r =
      sim(args + "--set problem.kv_heads=4 --set problem.seq_len=1 --set parallel.lanes=4", d);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("sdpa-sim: note: parallel.lanes is 4 but a head has 1 query: lanes 1 … 3 "
                       "stay idle"),
            std::string::npos)
      << r.err;
  r = sim(args + "--set problem.kv_heads=2 --set problem.seq_len=1 --set parallel.lanes=4", d);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("sdpa-sim: note: parallel.lanes is 4 but a K/V head's 2 query heads have 2 "
                       "query rows: lanes 2 … 3 stay idle"),
            std::string::npos)
      << r.err;
  for (const char* enough : {"--set problem.kv_heads=1 --set problem.seq_len=1",
                             "--set problem.kv_heads=2 --set problem.seq_len=2"}) {
    r = sim(args + enough + " --set parallel.lanes=4", d);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err.find("note:"), std::string::npos) << enough << ": " << r.err;
  }
}

// Lanes that do not cut the number of runs stream no fewer keys, and at II 1 on private links add
// no speed: 4 query rows on 3 lanes take 2 runs, as on 2, and every key streams once a run
// without a mask, so the cycles are the same; the run says so, and with 4 lanes does not. Under a
// causal mask 2 lanes are faster: their runs end at rows no later, which see no more keys (k(1) +
// k(3) against 3 lanes' k(2) + k(3)); it said nothing.
TEST(Lanes, LanesThatTakeAsManyRunsAsFewerAreNamed) {
  const fs::path d = scratch();
  const std::string out = "--out '" + (d / "o").string() + "' ";
  // Each datapath's cycles, and whether the run named the third lane, at each lane count.
  const auto runs = [&](const std::string& args) {
    std::map<int, std::pair<json, bool>> at;
    for (int lanes : {2, 3, 4}) {
      const SimRun r = sim(args + out + "--set parallel.lanes=" + std::to_string(lanes), d);
      EXPECT_EQ(r.status, 0) << r.err;
      const json report = json::parse(slurp(d / "o" / "report.json"));
      for (const json& run : report["runs"])
        at[lanes].first[run["datapath"].get<std::string>()] = run["cycles"];
      at[lanes].second = r.err.find("note: parallel.lanes is 3 but ") != std::string::npos &&
                         r.err.find(
                             " shared out in 2 runs, as on 2 lanes: a lane more than the "
                             "runs need") != std::string::npos;
    }
    return at;
  };
  auto full = runs(
      "--set problem.kv_len=16 --set problem.head_dim=4 --set problem.heads=4 "
      "--set problem.kv_heads=1 --set problem.seq_len=1 ");
  auto causal = runs("--set problem.seq_len=4 --set problem.head_dim=4 --set problem.causal=true ");
  for (auto* at : {&full, &causal}) {
    EXPECT_FALSE((*at)[2].second);
    EXPECT_TRUE((*at)[3].second);
    EXPECT_FALSE((*at)[4].second);
    for (const auto& [datapath, c] : (*at)[3].first.items())
      EXPECT_LT((*at)[4].first[datapath], c) << datapath << ": 4 lanes take 1 run";
  }
  EXPECT_EQ(full[3].first, full[2].first);
  for (const auto& [datapath, c] : causal[3].first.items())
    EXPECT_LT(causal[2].first[datapath], c) << datapath;
}

// Lanes alike stall alike: the limiting channel, as the bottleneck's unit, is the first lane's
// (the channel's tie went to the last lane, so the summary's two lines named different lanes).
TEST(Lanes, AlikeLanesNameTheirFirstInEveryStatement) {
  const fs::path d = scratch();
  const json report = run_report(
      "--set problem.seq_len=48 --set problem.head_dim=16 --set problem.heads=2 "
      "--set parallel.lanes=2 --set units.running_max.ii=3 --set units.exp.ii=2 "
      "--set units.normalize.ii=2 --set datapath=all",
      d / "o");
  for (const json& run : report["runs"]) {
    const std::string dp = run["datapath"];
    const std::string limiting = run["limiting_channel"]["name"];
    std::map<std::string, json> stalls;
    for (const json& ch : run["channels"]) stalls[ch["name"]] = ch["producer_stall_cycles"];
    const std::string other = dp + ".lane1." + limiting.substr(limiting.rfind('.') + 1);
    EXPECT_EQ(limiting.substr(0, dp.size() + 7), dp + ".lane0.") << limiting;
    EXPECT_EQ(stalls.at(other), run["limiting_channel"]["stall_cycles"]) << other << ": a tie";
    EXPECT_EQ(run["bottleneck"]["unit"].get<std::string>().substr(0, dp.size() + 7),
              dp + ".lane0.");
  }
}

// The tie rule itself, on channels two lanes alike with two channels each alike: the later
// channel in a lane (where a stall starts), of the first lane. Compared one pair at a time, the
// rule took lane 1's channel after lane 0's later one.
TEST(Lanes, ATieGoesDownstreamInALaneAndToTheFirstLane) {
  std::vector<ChannelStats> channels;
  for (const char* name : {"naive.lane0.scores", "naive.lane0.score_bypass", "naive.lane1.scores",
                           "naive.lane1.score_bypass"}) {
    channels.push_back({.name = name, .capacity = 4});
    channels.back().producer_stall_cycles = 37;
  }
  const std::vector<bool> none(channels.size(), false);
  const std::vector<Cycle> first_row(channels.size(), 0);
  auto limiting = [&] {
    return channels.at(limiting_channel(channels, none, none, false, first_row).channel).name;
  };
  EXPECT_EQ(limiting(), "naive.lane0.score_bypass");
  channels[2].producer_stall_cycles = 38;
  EXPECT_EQ(limiting(), "naive.lane1.scores");
}

// A deadlock of lanes alike names the first lane's channel, as a run that ends does: it named
// the last lane's, where every lane was stuck alike.
TEST(Lanes, ADeadlockOfAlikeLanesNamesTheFirst) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=naive --set problem.seq_len=8 --set problem.head_dim=4 "
          "--set channels.depths.score_bypass=2 --set parallel.lanes=2" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 3) << r.err;
  const json run = json::parse(slurp(d / "o" / "report.json"))["runs"][0];
  EXPECT_EQ(run["limiting_channel"]["name"], "naive.lane0.score_bypass");
  EXPECT_EQ(run["bottleneck"]["unit"], "naive.lane0.dot_product");
}

}  // namespace
}  // namespace sdpa::test
