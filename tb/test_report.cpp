// The summary's and report.json's limiting channel: the channel that limited the run, and why;
// the summary's energy figures.
#include <string>

#include "sim/child_run.h"
#include "sim/observe.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "sim/verify_bottleneck.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

constexpr std::size_t kN = 64;

DatapathResult run(const std::string& datapath, const DatapathConfig& config,
                   std::size_t head_dim = 8) {
  return simulate(random_inputs(1, kN, head_dim, 7), {datapath}, config).runs.at(0);
}

const ChannelStats& limiting(const DatapathResult& r) { return r.channels.at(r.limiting.channel); }

// The summary's "limiting channel" row, cells separated by runs of spaces.
std::string summary_row(const DatapathResult& r) {
  SimulationResult result;
  result.runs.push_back(r);
  const std::string text = summary(result, {Check{}});
  const std::string label = "limiting channel (high water/capacity)";
  const std::size_t at = text.find(label);
  if (at == std::string::npos) return "no row: " + text;
  const std::size_t begin = text.find_first_not_of(' ', at + label.size());
  return text.substr(begin, text.find('\n', begin) - begin);
}

nlohmann::json json_entry(const DatapathResult& r) {
  SimulationResult result;
  result.runs.push_back(r);
  Params params;
  params.mode = "decoupled";
  return report_json(params, result, {Check{}})["runs"][0]["limiting_channel"];
}

bool waits_to_write_full(const DatapathResult& r, const std::string& channel) {
  for (const std::string& w : r.waits)
    if (w.find("waits to write " + r.datapath + "." + channel + ": full") != std::string::npos)
      return true;
  return false;
}

TEST(Limiting, ADeadlockNamesTheFullBypassNotTheLargestChannel) {
  // exp_bypass (69 slots, empty) is larger than the 40-slot score_bypass the deadlock is on.
  DatapathConfig c = default_config();
  c.depths["score_bypass"] = 40;
  const DatapathResult r = run("naive", c);
  ASSERT_EQ(r.status, Status::deadlock);
  EXPECT_EQ(limiting(r).name, "naive.score_bypass");
  EXPECT_EQ(r.limiting.reason, LimitReason::deadlock);
  EXPECT_EQ(summary_row(r), "score_bypass (40/40), full");
  EXPECT_EQ(json_entry(r), (nlohmann::json{{"name", "naive.score_bypass"},
                                           {"reason", "deadlock"},
                                           {"stall_cycles", nullptr}}));
}

TEST(Limiting, ADeadlockNamesTheFullChannelWhereTheWaitsTurn) {
  // A short exp_bypass: exp waits on it, and the full shifted and score_bypass behind it wait
  // because of it.
  DatapathConfig c = default_config();
  c.depths["exp_bypass"] = 40;
  const DatapathResult r = run("naive", c);
  ASSERT_EQ(r.status, Status::deadlock);
  ASSERT_TRUE(waits_to_write_full(r, "score_bypass"));
  ASSERT_TRUE(waits_to_write_full(r, "shifted"));
  EXPECT_EQ(limiting(r).name, "naive.exp_bypass");
  EXPECT_EQ(summary_row(r), "exp_bypass (40/40), full");
}

// A faulty unit, as a contributor's first try might be: it takes every output row and passes on
// all but the last, so the sink waits for a row that never comes.
class DropsTheLastRow : public Unit {
 public:
  static constexpr Timing default_timing{1, 1};
  In<Row> rows{"rows"};
  Out<Row> passed{"passed"};
  DropsTheLastRow(const sc_core::sc_module_name& name, Timing timing, RowShape shape)
      : Unit(name, timing, shape), last_(shape.rows - 1) {}

 private:
  Task body() override {
    for (const Firing& f : firings()) {
      Row row = co_await read(rows);
      if (f.row != last_) co_await write(passed, std::move(row));
    }
  }

  std::size_t last_;
};

Out<Row>& build_two_pass_dropping_a_row(AttentionDatapath& dp) {
  auto& drop = dp.unit<DropsTheLastRow>("drops_the_last_row", dp.per_row());
  dp.connect(find_datapath("two_pass")->build(dp), drop.rows, "all_rows");
  return drop.passed;
}

// A unit that writes fewer elements than its reader takes deadlocks with no channel full: every
// waiting unit waits to read. No depth relieves that, so no full channel is named nor deepened;
// the first channel waited on is, where the waits begin. (No registered datapath does this: the
// faulty one is built here, unregistered.)
TEST(Limiting, ADeadlockWithNoChannelFullNamesTheFirstEmptyChannelWaitedOn) {
  const DatapathKind kind{"faulty", "two_pass without its last output row",
                          &build_two_pass_dropping_a_row};
  const AttentionInputs inputs = random_inputs(1, kN, 8, 7);
  Simulation simulation(inputs.shape, {{kind.name, default_config()}}, {kind});
  SimulationResult result = simulation.run(inputs);
  DatapathResult& r = result.runs.at(0);
  ASSERT_EQ(r.status, Status::deadlock);
  // The sink alone waits, to read; every other unit finished.
  ASSERT_EQ(r.waits.size(), 1u);
  EXPECT_TRUE(r.waits[0].starts_with("faulty.sink at cycle ")) << r.waits[0];
  EXPECT_TRUE(r.waits[0].ends_with(
      fmt::format(" waits to read faulty.out_rows: empty 0/{}", limiting(r).capacity)))
      << r.waits[0];
  EXPECT_EQ(limiting(r).name, "faulty.out_rows");
  EXPECT_EQ(r.limiting.reason, LimitReason::starved);
  EXPECT_EQ(summary_row(r), fmt::format("out_rows (1/{}), empty", limiting(r).capacity));
  EXPECT_EQ(json_entry(r),
            (nlohmann::json{
                {"name", "faulty.out_rows"}, {"reason", "starved"}, {"stall_cycles", nullptr}}));
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::stopped);
  EXPECT_EQ(r.bottleneck.reason,
            "sink: deadlock, waits on out_rows, empty, and no channel is full");
  // --verify-bottleneck runs nothing: deepening an empty channel changes nothing.
  ChildRuns children("--verify-bottleneck");
  verify_bottlenecks(Params{}, result, children);
  EXPECT_EQ(children.count(), 0);
  ASSERT_TRUE(r.bottleneck_check);
  EXPECT_FALSE(r.bottleneck_check->confirmed);
  EXPECT_NE(units_summary(r).find("check (--verify-bottleneck): not done, a deadlock with no "
                                  "channel full: no depth relieves it"),
            std::string::npos)
      << units_summary(r);
}

class BypassStalls : public testing::TestWithParam<const char*> {};

TEST_P(BypassStalls, AShortBypassIsNamedWithItsStalls) {
  // Three slots short of N + 5: each missing slot costs one cycle per row boundary
  // (docs/results.md), stalls that spread upstream to the channels before it.
  const std::string bypass = GetParam();
  DatapathConfig c = default_config();
  c.depths[bypass] = kN + 2;
  const DatapathResult r = run("naive", c);
  ASSERT_EQ(r.status, Status::ok);
  EXPECT_EQ(limiting(r).name, "naive." + bypass);
  EXPECT_EQ(r.limiting.reason, LimitReason::producer_stalls);
  EXPECT_EQ(r.limiting.stall_cycles, 3 * (kN - 1));
  EXPECT_EQ(r.cycles, naive_cycles(1, kN, c) + 3 * (kN - 1));
  EXPECT_EQ(summary_row(r), bypass + " (66/66), 189 stalls");
  EXPECT_EQ(json_entry(r), (nlohmann::json{{"name", "naive." + bypass},
                                           {"reason", "producer_stalls"},
                                           {"stall_cycles", 189}}));
}

INSTANTIATE_TEST_SUITE_P(Naive, BypassStalls, testing::Values("score_bypass", "exp_bypass"),
                         [](const auto& info) { return std::string(info.param); });

TEST(Limiting, AShallowStreamBufferIsNamedByItsReadersWaits) {
  // Four slots cannot cover the memory latency of 10: the dot product waits for K rows.
  DatapathConfig c = default_config();
  c.depths["k_rows"] = 4;
  const DatapathResult r = run("reordered", c);
  ASSERT_EQ(r.status, Status::ok);
  ASSERT_GT(r.cycles, 2 * reordered_cycles(1, kN, default_config()));  // twice the full rate
  EXPECT_EQ(limiting(r).name, "reordered.k_rows");
  EXPECT_EQ(r.limiting.reason, LimitReason::consumer_stalls);
  // All of the reader's waits but that for the first row, which here is none: the dot product
  // reads its Q row first and waits for it, meanwhile the first K row arrives.
  EXPECT_GT(channel(r, "q_rows").first_read_stall, 0u);
  EXPECT_EQ(channel(r, "k_rows").first_read_stall, 0u);
  EXPECT_EQ(r.limiting.stall_cycles, channel(r, "k_rows").consumer_stall_cycles);
  EXPECT_EQ(json_entry(r)["reason"], "consumer_stalls");
}

// report.json gives a stream buffer's first wait apart, so its summary's waits re-derive: the
// rescale accumulate waits for its first V row (the V reader's latency 40, Lmem = 10 + 40 − 1),
// a wait that does not count, then for every later one, 4 slots being too few for the latency.
TEST(Limiting, TheReportGivesTheFirstWaitThatAStreamBuffersWaitsLeaveOut) {
  DatapathConfig c = default_config();
  c.timings["v_reader"] = {40, 1};
  c.depths["v_rows"] = 4;
  const DatapathResult r = run("reordered", c);
  ASSERT_EQ(limiting(r).name, "reordered.v_rows");
  SimulationResult result;
  result.runs.push_back(r);
  Params params;
  params.mode = "decoupled";
  const nlohmann::json report = report_json(params, result, {Check{}})["runs"][0];
  nlohmann::json v_rows;
  for (const nlohmann::json& ch : report["channels"])
    if (ch["name"] == "reordered.v_rows") v_rows = ch;
  const Cycle first = v_rows["first_read_stall_cycles"];
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, 10u + 40u - 1u);
  EXPECT_EQ(Cycle(v_rows["consumer_stall_cycles"]) - first,
            Cycle(report["limiting_channel"]["stall_cycles"]));
  EXPECT_EQ(summary_row(r), fmt::format("v_rows (4/4), {} waits", r.limiting.stall_cycles));
}

TEST(Limiting, AtFullRateTheLargestIntermediateChannelByHighWater) {
  // The Q stream reader waits for slots most of the run (a Q row is held for a whole row of
  // scores): by design, not a limit.
  const DatapathResult naive = run("naive", default_config(), 64);
  ASSERT_EQ(naive.cycles, naive_cycles(1, kN, default_config()));
  ASSERT_GT(channel(naive, "q_rows").producer_stall_cycles, 0u);
  EXPECT_EQ(limiting(naive).name, "naive.score_bypass");
  EXPECT_EQ(naive.limiting.reason, LimitReason::high_water);
  EXPECT_EQ(summary_row(naive), "none; largest: score_bypass (69/69)");
  EXPECT_EQ(json_entry(naive), (nlohmann::json{{"name", "naive.score_bypass"},
                                               {"reason", "high_water"},
                                               {"stall_cycles", nullptr}}));
}

TEST(Limiting, AtFullRateTheReorderedDatapathsLargestIsARow) {
  // acc_rows and out_rows each hold one row of d = 64; the earlier is named.
  const DatapathResult r = run("reordered", default_config(), 64);
  ASSERT_EQ(r.cycles, reordered_cycles(1, kN, default_config()));
  EXPECT_EQ(limiting(r).name, "reordered.acc_rows");
  EXPECT_EQ(summary_row(r), "none; largest: acc_rows (1/5)");
}

// One decimal, the unit chosen after rounding: a size just under a MiB reads 1.0 MiB, never
// 1024.0 KiB; GiB is the largest unit.
TEST(Summary, BytesHaveOneDecimalInTheUnitTheyRoundTo) {
  EXPECT_EQ(bytes_text(0), "0 B");
  EXPECT_EQ(bytes_text(1023), "1023 B");
  EXPECT_EQ(bytes_text(1024), "1.0 KiB");
  EXPECT_EQ(bytes_text(2660), "2.6 KiB");
  EXPECT_EQ(bytes_text(1'048'524), "1023.9 KiB");
  EXPECT_EQ(bytes_text(1'048'525), "1.0 MiB");
  EXPECT_EQ(bytes_text(1'048'576), "1.0 MiB");
  EXPECT_EQ(bytes_text(134'283'264), "128.1 MiB");
  EXPECT_EQ(bytes_text((std::uint64_t(1) << 30) - 1), "1.0 GiB");
  EXPECT_EQ(bytes_text(std::uint64_t(1) << 40), "1024.0 GiB");
}

// Three significant digits, the unit chosen after rounding: a value just under a thousand of one
// unit is one of the next, never 1e+03.
TEST(Summary, EnergyHasThreeDigitsInTheUnitItRoundsTo) {
  EXPECT_EQ(energy_text(0.0), "0 pJ");
  EXPECT_EQ(energy_text(46.34), "46.3 pJ");
  EXPECT_EQ(energy_text(999.4), "999 pJ");
  EXPECT_EQ(energy_text(999.575), "1 nJ");
  EXPECT_EQ(energy_text(1234.0), "1.23 nJ");
  EXPECT_EQ(energy_text(999'600.0), "1 µJ");
  EXPECT_EQ(energy_text(2.5e9), "2.5 mJ");
  EXPECT_EQ(energy_text(3.6e13), "36 J");
  EXPECT_EQ(energy_text(3.6e16), "3.6e+04 J");  // past J: three digits in J
  EXPECT_EQ(energy_text(1e-310), "1e-310 pJ");  // subnormal: a cost table may give such values
}

}  // namespace
}  // namespace sdpa::test
