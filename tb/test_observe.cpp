// Where the cycles go: per-unit accounting (busy + starved + blocked + idle = span), its closed
// forms on small configurations, and the bottleneck for each kind of limit.
#include <string>

#include "sim/observe.h"
#include "sim/report.h"
#include "tb/cli.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

constexpr std::size_t kN = 32;

DatapathResult run(const std::string& datapath, const DatapathConfig& config,
                   std::size_t head_dim = 8) {
  return simulate(random_inputs(1, kN, head_dim, 5), {datapath}, config).runs.at(0);
}

// The accounting's identities, whatever the run: each unit's local cycle is II per firing plus
// its stalls, its channels' stalls are all of them, and the span is the latest unit's end.
void expect_accounted(const DatapathResult& r) {
  Cycle span = 0, starved = 0, blocked = 0, waits = 0, stalls = 0;
  for (const UnitStats& u : r.units) {
    EXPECT_EQ(u.busy, u.firings * u.timing.ii) << u.name;
    EXPECT_EQ(u.busy + u.starved + u.blocked, u.end) << u.name;
    span = std::max(span, u.end);
    starved += u.starved;
    blocked += u.blocked;
  }
  for (const ChannelStats& c : r.channels) {
    waits += c.consumer_stall_cycles;
    stalls += c.producer_stall_cycles;
  }
  EXPECT_EQ(r.span, span);
  EXPECT_EQ(starved, waits);
  EXPECT_EQ(blocked, stalls);
  const nlohmann::json units = units_json(r);
  ASSERT_EQ(units.size(), r.units.size());
  for (const nlohmann::json& u : units)
    EXPECT_EQ(u["busy_cycles"].get<Cycle>() + u["starved_cycles"].get<Cycle>() +
                  u["blocked_cycles"].get<Cycle>() + u["idle_cycles"].get<Cycle>(),
              r.span)
        << u["name"];
}

std::string bottleneck_unit(const DatapathResult& r) {
  return r.units.at(r.bottleneck.unit).name.substr(r.datapath.size() + 1);
}
std::string bottleneck_channel(const DatapathResult& r) {
  if (r.bottleneck.channel < 0) return "-";
  return r.channels.at(std::size_t(r.bottleneck.channel)).name.substr(r.datapath.size() + 1);
}

TEST(Observe, EveryUnitsCyclesAddUpToTheSpanInEveryDatapath) {
  // One simulation per process: the three datapaths side by side.
  const DatapathConfig c = default_config();
  for (const DatapathResult& r : simulate(random_inputs(1, kN, 8, 5), datapath_names(), c).runs) {
    expect_accounted(r);
    // The sink takes the last row at the run's cycle count and fires once more.
    EXPECT_EQ(r.span, r.cycles + 1) << r.datapath;
  }
}

// Reordered at full rate: every per-score unit fires once per score, so each one's utilisation
// is scores / cycles, and it is busy from its first input to the end (none: nothing limits).
TEST(Observe, ReorderedAtFullRateEveryUnitsUtilisationIsScoresPerCycle) {
  const DatapathConfig c = default_config();
  const DatapathResult r = run("reordered", c);
  expect_accounted(r);
  const double rate = double(r.scores) / double(r.cycles);
  const nlohmann::json units = units_json(r);
  for (std::size_t i = 0; i < r.units.size(); ++i) {
    const std::string name = r.units[i].name.substr(r.datapath.size() + 1);
    if (name == "q_reader" || name == "row_divide" || name == "sink") continue;  // per row
    EXPECT_EQ(r.units[i].firings, r.scores) << name;
    EXPECT_DOUBLE_EQ(units[i]["utilisation"].get<double>(), rate) << name;
    EXPECT_EQ(r.units[i].blocked, name == "v_reader" ? r.units[i].blocked : 0) << name;
  }
  // The dot product waits only for the first K row: the memory's latency.
  EXPECT_EQ(unit(r, "dot_product").starved, reader_latency(c));
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
  EXPECT_EQ(r.bottleneck.channel, -1);
}

// A slow II on the running max: it sets the rate, and the dot product before it is blocked by
// (II − 1) cycles per score, less the scores its channel (L + 1 deep) takes before the first
// stall: (II − 1)·(F − L − 2) (docs/timing.md, "Where the cycles go").
TEST(Observe, SlowIIBlocksTheUnitsUpstreamByTheDerivedAmount) {
  DatapathConfig c = default_config();
  const unsigned ii = 3;
  c.timings["running_max"] = {6, ii};
  const DatapathResult r = run("reordered", c);
  expect_accounted(r);
  const Cycle F = r.scores, l = L(c, "reordered", "dot_product");
  EXPECT_EQ(unit(r, "running_max").busy, ii * F);
  EXPECT_EQ(unit(r, "dot_product").blocked, (ii - 1) * (F - l - 2));
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "running_max");
  EXPECT_NE(r.bottleneck.reason.find("II 3"), std::string::npos) << r.bottleneck.reason;
}

// A channel shallower than its producer's latency + 1: the producer waits for slots and its
// consumer for elements, on that channel.
TEST(Observe, SmallFifoNamesTheChannelAndItsProducer) {
  DatapathConfig c = default_config();
  c.depths["scores"] = 1;
  const DatapathResult r = run("reordered", c);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::small_fifo) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "dot_product");
  EXPECT_EQ(bottleneck_channel(r), "scores");
  EXPECT_GT(unit(r, "dot_product").blocked, r.scores / 2);
  EXPECT_GT(unit(r, "running_max").starved, r.scores / 2);
}

// k_rows 4 deep with a memory latency of 10: at most 4 rows in flight per 11 cycles.
TEST(Observe, MemoryLatencyWithAShallowStreamBuffer) {
  DatapathConfig c = default_config();
  c.depths["k_rows"] = 4;
  const DatapathResult r = run("naive", c);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_latency) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "k_reader");
  EXPECT_EQ(bottleneck_channel(r), "k_rows");
  EXPECT_NE(r.bottleneck.reason.find("memory latency 10 with k_rows depth 4"), std::string::npos)
      << r.bottleneck.reason;
  EXPECT_GT(double(r.cycles) / double(r.scores), 2.0);
}

// A link of 8 bytes per cycle takes 4 cycles per row of d = 8 floats: 4 cycles per score.
TEST(Observe, MemoryBandwidth) {
  DatapathConfig c = default_config();
  c.memory.bytes_per_cycle = 8;
  const DatapathResult r = run("reordered", c);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth) << r.bottleneck.reason;
  EXPECT_TRUE(bottleneck_unit(r) == "k_reader" || bottleneck_unit(r) == "v_reader")
      << bottleneck_unit(r);
  EXPECT_NEAR(double(r.cycles) / double(r.scores), 4.0, 0.1);
}

TEST(Observe, DeadlockIsAStopAtTheFullChannel) {
  DatapathConfig c = default_config();
  c.depths["score_bypass"] = kN / 2;
  const DatapathResult r = run("naive", c);
  ASSERT_EQ(r.status, Status::deadlock);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::stopped);
  EXPECT_EQ(bottleneck_channel(r), "score_bypass");
}

// The accounting reads only stamps, so both modes count the same, stalls included (each mode
// in its own sdpa-sim process; tb/test_modes.cpp compares whole reports on random configs).
TEST(Observe, BothModesCountTheSame) {
  const std::filesystem::path d = scratch();
  nlohmann::json reports[2];
  const char* modes[2] = {"synchronized", "decoupled"};
  for (int m = 0; m < 2; ++m) {
    const SimRun r = sim(fmt::format("--set datapath=all --set problem.seq_len=24 "
                                     "--set channels.depths.k_rows=3 "
                                     "--set units.dot_product.ii=2 --set sim.mode={} --out '{}'",
                                     modes[m], (d / modes[m]).string()),
                         d);
    ASSERT_EQ(r.status, 0) << r.err;
    reports[m] = nlohmann::json::parse(slurp(d / modes[m] / "report.json"));
  }
  for (std::size_t i = 0; i < 3; ++i) {
    const nlohmann::json& run = reports[0]["runs"][i];
    EXPECT_EQ(run["units"], reports[1]["runs"][i]["units"]) << run["datapath"];
    EXPECT_EQ(run["bottleneck"], reports[1]["runs"][i]["bottleneck"]) << run["datapath"];
    EXPECT_GT(run["units"][0]["blocked_cycles"].get<Cycle>(), 0u) << run["units"][0];
  }
}

TEST(Observe, SummaryShowsTheBottleneckAndTheUnits) {
  DatapathConfig c = default_config();
  c.depths["k_rows"] = 4;
  SimulationResult result;
  result.runs.push_back(run("naive", c));
  const std::string text = summary(result, {Check{}});
  EXPECT_NE(text.find("naive: bottleneck: k_reader: memory latency 10 with k_rows depth 4"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("starved"), std::string::npos) << text;
  EXPECT_NE(text.find("weighted_sum"), std::string::npos) << text;
}

}  // namespace
}  // namespace sdpa::test
