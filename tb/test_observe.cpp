// Where the cycles go: per-unit accounting (busy + starved + blocked + idle = span), its closed
// forms on small configurations, and the bottleneck for each kind of limit.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "sim/observe.h"
#include "sim/report.h"
#include "tb/cli.h"
#include "tb/elaboration_error.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

constexpr std::size_t kN = 32;

DatapathResult run(const std::string& datapath, const DatapathConfig& config,
                   std::size_t head_dim = 8) {
  return simulate(random_inputs(1, kN, head_dim, 5), {datapath}, config).runs.at(0);
}

// The accounting's identities, whatever the run. The one the timing contract could break: each
// unit's local cycle at its end is II per firing plus the stalls its channels counted (a cycle
// moved without a stall would show). The rest check the bookkeeping: every channel's stalls are
// one unit's, the span is the latest end, and the report's four counts are the unit's (they add up
// to the span by idle's definition). The counts themselves are checked against a second
// implementation of the contract, tb/timing_model.py (test_timing_model).
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

// The bottleneck's reason says `text`.
testing::AssertionResult reason_has(const DatapathResult& r, const std::string& text) {
  if (r.bottleneck.reason.find(text) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "no \"" << text << "\" in: " << r.bottleneck.reason;
}

// A run of `cycles` whose limiting channel, `channel`, its consumer waited for a single cycle
// (beyond its first row): too little to name a limit.
testing::AssertionResult one_wait_on(const DatapathResult& r, Cycle cycles,
                                     const std::string& channel) {
  const std::string& limiting = r.channels.at(r.limiting.channel).name;
  if (r.cycles != cycles)
    return testing::AssertionFailure() << r.cycles << " cycles, expected " << cycles;
  if (limiting != channel)
    return testing::AssertionFailure()
           << "limiting channel " << limiting << ", expected " << channel;
  if (r.limiting.stall_cycles != 1)
    return testing::AssertionFailure() << r.limiting.stall_cycles << " stall cycles, expected 1";
  return testing::AssertionSuccess();
}

// The shared link, of `bytes_per_cycle`, is the one limit named at the bottleneck's rate.
void expect_shared_link_at_the_same_rate(const DatapathResult& r, int bytes_per_cycle) {
  ASSERT_EQ(r.bottleneck.also.size(), 1u) << r.bottleneck.reason;
  EXPECT_EQ(r.bottleneck.also[0].kind, BottleneckKind::memory_bandwidth);
  EXPECT_TRUE(reason_has(r, fmt::format("; at the same rate: the shared link, {} bytes "
                                        "per cycle: ",
                                        bytes_per_cycle)));
}

// An elaboration error thrown by sc_start while the progress reporter runs reaches the caller
// (the reporter's thread, left joinable, once terminated the process: exit 134, no message).
TEST(Observe, AnElaborationErrorWithProgressReportingIsThrownNotATermination) {
  struct Unbound : sc_core::sc_module {
    sc_core::sc_port<sc_core::sc_signal_in_if<int>> p{"p"};
    explicit Unbound(const sc_core::sc_module_name& name) : sc_module(name) {}
  } unbound{"unbound"};
  const ProgressReporter progress{0.001, [](const std::vector<Progress>&, double) {}};
  const std::string error = elaboration_error(
      [&] { simulate(random_inputs(1, 4, 2, 5), {"naive"}, default_config(), progress); });
  EXPECT_NE(error.find("port not bound"), std::string::npos) << error;
}

// A unit's loop that writes an element no one reads, or fires without firings(), completes and
// would pass for a result (a review's new unit did both, exit 0); a completed run must show
// neither. Each datapath's real runs hold it across the suite (result_of checks every one).
TEST(Observe, ACompletedRunWithAnElementLeftOrFiringsAmissIsAnInternalError) {
  DatapathResult r;
  for (const char* name : {"naive.clamp", "naive.exp"}) {
    UnitStats& u = r.units.emplace_back();
    u.name = name;
    u.firings = u.planned_firings = 64;
  }
  ChannelStats& clamped = r.channels.emplace_back();
  clamped.name = "naive.clamped";
  clamped.writes = 65;
  clamped.reads = 64;
  r.channel_ends = {{0, 1}};
  // The check's message, or "" if it passes.
  const auto refusal = [&r]() -> std::string {
    try {
      require_drained(r);
    } catch (const std::logic_error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(refusal(),
            "naive.clamped holds 1 element at the end of a completed run: clamp wrote more than "
            "exp read (a unit's loop; docs/extending.md)");
  r.channels[0].writes = 64;
  r.units[0].firings = 0;
  EXPECT_EQ(refusal(),
            "naive.clamp fired 0 times in a completed run where its shape plans 64: a unit's body "
            "takes its firings from firings() (docs/extending.md)");
  r.units[0].firings = 64;
  EXPECT_EQ(refusal(), "");
}

TEST(Observe, EveryUnitsCyclesAddUpToTheSpanInEveryDatapath) {
  // One simulation per process: the three datapaths side by side.
  const DatapathConfig c = default_config();
  for (const DatapathResult& r : simulate(random_inputs(1, kN, 8, 5), datapath_names(), c).runs) {
    expect_accounted(r);
    // The sink takes the last row at the run's cycle count and fires once more.
    EXPECT_EQ(r.span, r.cycles + 1) << r.datapath;
    // The cycle count is the last output row's ready stamp.
    EXPECT_EQ(channel(r, "out_rows").last_ready, r.cycles) << r.datapath;
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
    // Nothing waits for space; the stream readers fetch ahead, by design.
    if (name != "k_reader" && name != "v_reader") {
      EXPECT_EQ(r.units[i].blocked, 0u) << name;
    }
  }
  // Each unit waits only for the pipeline to fill: the first K row (the memory's latency), then
  // the latencies of the units before it.
  const Cycle mem = reader_latency(c), dot = L(c, "reordered", "dot_product"),
              rmax = L(c, "reordered", "running_max");
  EXPECT_EQ(unit(r, "dot_product").starved, mem);
  EXPECT_EQ(unit(r, "running_max").starved, mem + dot);
  EXPECT_EQ(unit(r, "running_sum").starved, mem + dot + rmax);
  EXPECT_EQ(unit(r, "rescale_accumulate").starved, mem + dot + rmax);
  // The first elements' ready stamps are that fill: a row's results come after its kN scores.
  EXPECT_EQ(channel(r, "k_rows").first_ready, mem);
  EXPECT_EQ(channel(r, "scores").first_ready, mem + dot);
  EXPECT_EQ(channel(r, "acc_rescale").first_ready, mem + dot + rmax);
  EXPECT_EQ(channel(r, "sums").first_ready,
            mem + dot + rmax + kN - 1 + L(c, "reordered", "running_sum"));
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
  EXPECT_TRUE(reason_has(r, "II 3"));
}

// A short run behind a long latency: the dot product at II 2 is busy 512 of 568 cycles (90%),
// most of the rest the wait for its first Q and K rows (read latency 40), the pipeline's fill,
// which does not count against setting the rate (it was "none: every unit keeps up").
TEST(Observe, ASlowUnitInAShortRunSetsTheRateAfterItsFirstRows) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 40;
  set_ii(c, "reordered", "dot_product", 2);
  const DatapathResult r = simulate(random_inputs(1, 16, 8, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  const UnitStats& dot = unit(r, "dot_product");
  EXPECT_EQ(dot.busy, 2 * r.scores);
  EXPECT_LT(100 * dot.busy, 95 * dot.end);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "dot_product");
}

// One score per query: every unit fires once, all fill, and none sets a rate (the dot product
// at II 3, busy 3 of 29 cycles, was named slow_ii once its wait for its rows was left out).
TEST(Observe, ARunOfOneScoreHasNoRateToSet) {
  DatapathConfig c = default_config();
  set_ii(c, "naive", "dot_product", 3);
  const DatapathResult r = simulate(random_inputs(1, 1, 8, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(unit(r, "dot_product").firings, 1u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
}

// A sink slower than the rows arrive is busy past the cycle count, which ends at the last row's
// ready stamp (docs/timing.md, "Where the cycles go"): nothing limited the count, and the reason
// says why the sink's utilisation passes 100% instead of that every unit kept up.
TEST(Observe, ASinkSlowerThanTheRowsIsNamedBusyPastTheCycleCount) {
  DatapathConfig c = default_config();
  c.timings["sink"] = {1, 20};
  const DatapathResult r = simulate(random_inputs(1, 5, 8, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(unit(r, "sink").busy, 5u * 20u);
  EXPECT_GT(unit(r, "sink").busy, r.cycles);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "sink");
  const std::string busy = fmt::format("sink busy {:.1f}% of the cycles, past the last result's",
                                       100.0 * 100.0 / double(r.cycles));
  EXPECT_TRUE(reason_has(r, busy));
  EXPECT_EQ(r.bottleneck.reason.find("keeps up"), std::string::npos) << r.bottleneck.reason;
}

// A sink at II 100 behind 32 rows sets the rate (the row divide waits for it) and is busy past
// the cycle count: the reason says so, as `none`'s does.
TEST(Observe, ASlowSinkBusyPastTheCycleCountSaysSo) {
  DatapathConfig c = default_config();
  c.timings["sink"] = {1, 100};
  const DatapathResult r = run("reordered", c);
  expect_accounted(r);
  EXPECT_EQ(unit(r, "sink").busy, 100u * kN);
  EXPECT_GT(unit(r, "sink").busy, r.cycles);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "sink");
  const std::string busy = fmt::format(
      "sink: II 100, busy {:.1f}% of the cycles, past the last result's ready cycle, where the "
      "count ends, row_divide blocked {} cycles on out_rows: ",
      100.0 * 100.0 * kN / double(r.cycles), channel(r, "out_rows").producer_stall_cycles);
  EXPECT_TRUE(reason_has(r, busy));
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

// A reader at II 3 behind a full channel, busy 3·256 of 823 cycles (93%, under the 95% that
// sets the rate: the rest is the fill behind a read latency of 40): the writer waited for it,
// not for a small channel (scores was named; 4× as deep changes nothing).
TEST(Observe, ASlowReaderBehindAFullChannelIsNamedNotTheChannel) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 40;
  set_ii(c, "reordered", "running_max", 3);
  const DatapathResult r = simulate(random_inputs(1, 16, 8, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  const UnitStats& slow = unit(r, "running_max");
  EXPECT_LT(100 * slow.busy, 95 * slow.end);
  EXPECT_GE(slow.busy, slow.starved + slow.blocked);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "running_max");
  EXPECT_TRUE(reason_has(
      r,
      fmt::format("running_max: II 3, busy {:.1f}% of the cycles, dot_product blocked "
                  "{} cycles on scores: ",
                  100.0 * double(slow.busy) / double(r.cycles), unit(r, "dot_product").blocked)));
}

// probs 2 deep behind the normalize's latency of 9 passes 3 probabilities per 11 cycles, 3.67
// per score, against the weighted sum's II 2: the weighted sum, busy more than it waited, is
// slower than a firing per cycle but faster than its input channel, which is named (the weighted
// sum was; its II 1 changes nothing, probs 4× as deep runs 1.8× as fast).
TEST(Observe, AChannelShallowerThanItsRoundTripIsNamedNotItsSlowReader) {
  DatapathConfig c = default_config();
  c.depths["probs"] = 2;
  set_ii(c, "two_pass", "weighted_sum", 2);
  const DatapathResult r = run("two_pass", c);
  expect_accounted(r);
  const Cycle latency = L(c, "two_pass", "normalize");
  ASSERT_EQ(latency, 9u);
  const UnitStats& reader = unit(r, "weighted_sum");
  EXPECT_GE(reader.busy, reader.starved + reader.blocked);
  EXPECT_GE(3 * r.cycles, (latency + 2) * r.scores);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::small_fifo) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "normalize");
  EXPECT_EQ(bottleneck_channel(r), "probs");
}

// The same channel behind a latency of 10 passes 3 per 12 cycles, 4 per score, the weighted
// sum's rate at II 4: relieving either alone leaves the other, so the reason names both.
TEST(Observe, AShallowChannelAtItsReadersRateIsNamedWithIt) {
  DatapathConfig c = default_config();
  c.depths["probs"] = 2;
  c.timings["normalize"] = {10, 1};
  set_ii(c, "two_pass", "weighted_sum", 4);
  const DatapathResult r = run("two_pass", c);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "weighted_sum");
  ASSERT_EQ(r.bottleneck.also.size(), 1u) << r.bottleneck.reason;
  EXPECT_EQ(r.bottleneck.also[0].kind, BottleneckKind::small_fifo);
  EXPECT_EQ(r.channels[std::size_t(r.bottleneck.also[0].channel)].name, "two_pass.probs");
  EXPECT_TRUE(reason_has(r, "; at the same rate: probs depth 2 for latency 10: "));
}

// scores 3 deep behind the dot product's latency of 12 passes 4 scores per 14 cycles (3.5 per
// score), slower than the running max's II 3, but the running max was also blocked 2048 cycles
// on sum_rescale, 1 deep, which passes 2 elements per 6 + 1 + 3 cycles from a writer at latency
// 6 and II 3: busy or blocked, it took 5 cycles per score, so it is named, with both channels
// listed at its rate (scores was named alone; 4× as deep it changed nothing).
TEST(Observe, AReaderBlockedOnItsOutputsIsNamedNotTheChannelBehindIt) {
  DatapathConfig c = default_config();
  c.depths["sum_rescale"] = 1;
  c.depths["scores"] = 3;
  set_ii(c, "reordered", "running_max", 3);
  c.timings["dot_product"] = {12, 1};
  const DatapathResult r = run("reordered", c);
  expect_accounted(r);
  const UnitStats& reader = unit(r, "running_max");
  const Cycle trip = (r.scores * 14 + 3) / 4;  // scores' round trips
  EXPECT_GT(100 * trip, 105 * reader.busy);
  EXPECT_GE(100 * (reader.busy + reader.blocked), 95 * trip);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "running_max");
  EXPECT_TRUE(
      reason_has(r,
                 "; at the same rate: sum_rescale depth 1 for latency 6 at II 3, scores depth 3 "
                 "for latency 12: "));
}

// Capacity 1 passes at most one element per 2 cycles, whatever the latency (docs/timing.md):
// shifted, 1 deep behind the subtract's latency of 1, at the exp's II 2, is at its rate (it was
// not listed: ⌈3/2 · n⌉ was its bound; either relieved alone changes nothing).
TEST(Observe, CapacityOnePassesOneElementPerTwoCycles) {
  DatapathConfig c = default_config();
  c.depths["shifted"] = 1;
  set_ii(c, "naive", "exp", 2);
  ASSERT_EQ(L(c, "naive", "subtract"), 1u);
  const DatapathResult r = simulate(random_inputs(1, 64, 8, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_GE(r.cycles, 2 * channel(r, "shifted").writes);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "exp");
  EXPECT_TRUE(reason_has(r, "; at the same rate: shifted depth 1 for latency 1: "));
}

// A small FIFO lists the limits at its rate: scores, 1 deep behind the dot product's latency 4,
// passes a score per 3 cycles, as the K link of 16 bytes per cycle carries a row of 11 floats
// (either relieved alone changes nothing; both, 1.35× as fast).
TEST(Observe, ASmallFifoNamesTheLimitsAtItsRate) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 12;
  c.memory.bytes_per_cycle = 16;
  c.depths["scores"] = 1;
  c.depths["probs"] = 4;
  set_ii(c, "two_pass", "online_normalizer", 2);
  c.timings["weighted_sum"] = {14, 1};
  const DatapathResult r = simulate(random_inputs(1, 40, 11, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::small_fifo) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_channel(r), "scores");
  ASSERT_EQ(r.bottleneck.also.size(), 1u) << r.bottleneck.reason;
  EXPECT_EQ(r.bottleneck.also[0].kind, BottleneckKind::memory_bandwidth);
  EXPECT_TRUE(reason_has(r, "; at the same rate: k_rows's link, 3 cycles per row: "));
}

// The walk goes downstream: subtract waits most on shifted (2 deep), but exp, which reads it,
// waited for slots on exps (7 deep) more than it was busy or starved, behind the row sum at II 3
// busy 91% of the cycles. The row sum is named (shifted was; 4× as deep changes nothing).
TEST(Observe, AReaderThatWaitedForSlotsPassesOnTheChannelItWaitedOn) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 32;
  c.depths["exps"] = 7;
  set_ii(c, "naive", "row_sum", 3);
  const DatapathResult r = simulate(random_inputs(1, 16, 8, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.channels[r.limiting.channel].name, "naive.shifted");
  const UnitStats& exp = unit(r, "exp");
  EXPECT_GT(exp.blocked, exp.busy);
  EXPECT_GT(exp.blocked, exp.starved);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "row_sum");
  EXPECT_TRUE(reason_has(
      r, fmt::format("exp blocked {} cycles on exps: ", channel(r, "exps").producer_stall_cycles)));
}

// V rows 12 deep behind a latency of 18 pass 13 rows per 20 cycles; the unit that reads them
// with the rescale factors (or the probabilities) waits for the rows, and the writer of those
// waits for it: the V buffer is named, not the channel behind it (acc_rescale and probs were).
TEST(Observe, AShallowVBufferIsNamedNotTheChannelBehindIt) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 18;
  c.depths["v_rows"] = 12;
  for (const DatapathResult& r :
       simulate(random_inputs(1, kN, 8, 5), {"naive", "reordered"}, c).runs) {
    expect_accounted(r);
    EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_latency) << r.bottleneck.reason;
    EXPECT_EQ(bottleneck_channel(r), "v_rows") << r.bottleneck.reason;
    EXPECT_TRUE(r.bottleneck.also.empty()) << r.bottleneck.reason;
    // The rows at 13 per 20 cycles, then the tail (the naive datapath's 2N and latencies).
    EXPECT_GE(13 * r.cycles, 20 * r.scores) << r.datapath;
    EXPECT_LE(13 * r.cycles, 20 * r.scores + 13 * (2 * kN + 40)) << r.datapath;
  }
}

// A reader busy to its end sets no rate when it ended early behind a slower limit: the K reader of
// a short run reads all 32 rows into its buffer by cycle 32, busier than any unit, while the V
// rows, 2 deep behind a latency of 20 and shared by 2 lanes, pass 3 per 22 cycles, a bound of 235
// cycles. Named "none: every unit keeps up" before, at 12% of the cycles; a V buffer 4 times as
// deep ran 2.4 times as fast.
TEST(Observe, AReaderThatEndedEarlySetsNoRate) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 20;
  c.lanes = 2;
  c.depths["v_rows"] = 2;
  const DatapathResult r = simulate(random_inputs(1, 8, 8, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_LT(2 * unit(r, "k_reader").end, r.cycles);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_latency) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "v_reader") << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "memory latency 20 with lane"));
  // 32 rows at 3 per 22 cycles.
  EXPECT_GE(3 * r.cycles, 22 * 32u);
}

// A unit that ended early but behind no slower limit sets the rate: reordered, N = 8, causal, the
// dot product at II 2 and the latencies after it 40 each. The dot product ends before half the
// run, the rest the pipeline's drain behind it (named "none: every unit keeps up" when a unit
// that ended before half the run set no rate; relieved, 161 cycles for 196, 1.21× as fast).
TEST(Observe, AUnitThatEndedEarlyBeforeTheDrainSetsTheRate) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 2;
  c.timings["running_max"] = {40, 1};
  c.timings["row_divide"] = {40, 1};
  c.timings["dot_product"] = {40, 2};
  const AttentionShape shape{1, 1, 1, 8, 8, 8, true};
  const DatapathResult r = simulate(random_inputs(shape, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_LT(2 * unit(r, "dot_product").end, r.cycles);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "dot_product");
}

// A unit busy to its end sets no rate when a limit's bound exceeds its busy cycles by 5% of the
// run: naive, 3 lanes, rows of 16, `exp_bypass` 17 deep. The K reader, busiest, streams the 96
// rows of each lane's run in 96 cycles, but lane 0's exp bypass makes each of its 6 rows but the
// first wait 4 cycles: 96 + 5 · 4 = 116, 20 cycles more in a run of 176. Named "none: every unit
// keeps up" before; the bypass 4 times as deep runs 1.12 times as fast.
TEST(Observe, ALimitSlowerThanTheBusiestUnitByAShareOfTheRunIsNamed) {
  DatapathConfig c = default_config();
  c.lanes = 3;
  c.depths["score_bypass"] = 28;
  c.depths["exp_bypass"] = 17;
  c.timings["subtract"] = {3, 1};
  const DatapathResult r = simulate(random_inputs(1, 16, 8, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(bottleneck_unit(r), "lane0.exp") << r.bottleneck.reason;
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::small_fifo) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_channel(r), "lane0.exp_bypass") << r.bottleneck.reason;
  EXPECT_EQ(unit(r, "k_reader").busy, 96u);
  EXPECT_GE(r.cycles, 116u);
}

// Naive, N = 8, causal, 3 lanes, the dot product at II 3, the weighted sum at II 2, `k_rows` 12
// deep, the row max's and the subtract's latencies 40: the walk ends at lane 1's `probs`, whose
// writer waited 2 cycles and which no closed form finds too shallow (5 deep), while the slowest
// limit in closed form is lane 1's dot product at II 3: that unit is named (`probs` was named, and
// 4× as deep changes nothing, 170 cycles; the dot product at II 1, 1.18× as fast).
TEST(Observe, AChannelNoClosedFormFindsTooShallowPassesToTheSlowestUnit) {
  DatapathConfig c = default_config();
  c.lanes = 3;
  set_ii(c, "naive", "dot_product", 3);
  set_ii(c, "naive", "weighted_sum", 2);
  c.depths["k_rows"] = 12;
  c.timings["row_max"] = {40, 1};
  c.timings["subtract"] = {40, 1};
  const AttentionShape shape{1, 1, 1, 8, 8, 16, true};
  const DatapathResult r = simulate(random_inputs(shape, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.channels.at(r.limiting.channel).name, "naive.lane1.probs");
  EXPECT_EQ(channel(r, "lane1.probs").capacity, 5u);
  EXPECT_GT(channel(r, "lane1.probs").producer_stall_cycles, 0u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "lane1.dot_product") << r.bottleneck.reason;
  EXPECT_TRUE(r.bottleneck.also.empty()) << r.bottleneck.reason;
}

// Two-pass, N = 64, `probs` 2 deep behind the normalize's latency 9 at II 2: 3 elements per 12
// cycles, 4 cycles a score. The dot product waits most, on `score_bypass` at its full-rate depth;
// the normalize, its reader, was blocked on `probs` 2 cycles less than it was busy, so the walk
// stops there, at a channel no closed form finds too shallow: the slowest limit one finds is
// named instead, `probs` (`score_bypass` was; relieved, `probs` 1.98× as fast).
TEST(Observe, AWalkEndingAtAChannelAtFullRateDepthNamesTheSlowestBound) {
  DatapathConfig c = default_config();
  set_ii(c, "two_pass", "normalize", 2);
  c.depths["probs"] = 2;
  const DatapathResult r = simulate(random_inputs(1, 64, 8, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.channels[r.limiting.channel].name, "two_pass.score_bypass");
  EXPECT_EQ(channel(r, "score_bypass").capacity, 64u + 4 + 6);
  const UnitStats& normalize = unit(r, "normalize");
  EXPECT_LE(normalize.blocked, normalize.busy);
  EXPECT_GE(r.cycles, 4 * 4096u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::small_fifo) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_channel(r), "probs");
}

// Reordered, N = 8, the dot product's and the running sum's latencies 80, the running max at
// II 2: the running max's first score comes 90 cycles in, and from then on it is busy every
// cycle, yet only 42% of the run's, which drains for 80 cycles more. Its fill is its inputs' first
// ready stamp, not only the memory's latency: it sets the rate (it was "none: every unit keeps
// up"; relieved, 1.25× as fast).
TEST(Observe, ASlowUnitBusyFromItsFirstInputOnSetsTheRateHoweverLongTheFill) {
  DatapathConfig c = default_config();
  c.timings["dot_product"] = {80, 1};
  c.timings["running_sum"] = {80, 1};
  set_ii(c, "reordered", "running_max", 2);
  const DatapathResult r = simulate(random_inputs(1, 8, 4, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  const UnitStats& slow = unit(r, "running_max");
  EXPECT_EQ(channel(r, "scores").first_ready, 90u);
  EXPECT_EQ(slow.busy, slow.end - channel(r, "scores").first_ready);
  EXPECT_LT(2 * slow.busy, r.cycles);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "running_max");
}

// Two-pass, causal, 2 lanes, `probs` 3 deep behind the normalize's latency of 9: each lane's
// passes 4 elements per 11 cycles, 2352 of them in lane 1: at least 6468 cycles, of the run's
// 6495. The stalls' walk ends at a V buffer deep enough for the latency (lane 1's weighted sum,
// held back, keeps the shared V reader from lane 0's), which would name the busiest unit, "none:
// every unit keeps up"; a bound that takes nearly all of the run's cycles names its limit.
TEST(Observe, ABoundThatTakesNearlyTheWholeRunIsNamedNotNone) {
  DatapathConfig c = default_config();
  c.lanes = 2;
  c.depths["probs"] = 3;
  c.timings["weighted_sum"] = {3, 1};
  const AttentionShape shape{1, 1, 1, 96, 96, 8, true};
  const DatapathResult r = simulate(random_inputs(shape, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::small_fifo) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_channel(r), "lane1.probs") << r.bottleneck.reason;
  EXPECT_EQ(channel(r, "lane1.probs").writes, 2352u);
  // At least ⌈2352 · 11 / 4⌉ = 6468 cycles, and those are at least 95% of the run's.
  EXPECT_GE(4 * r.cycles, 11 * 2352u);
  EXPECT_GE(100 * 6468u, 95 * r.cycles);
}

// Both naive bypasses 17 deep, 4 short of the 21 a row of 16 and its latencies need (the dot
// product's 4 and the row max's 1; the exp's 4 and the row sum's 1): each row after the first
// waits 21 − 17 cycles for its slots, so 16 rows take at least 16 · 16 + 15 · 4 = 316 cycles for
// each bypass (docs/timing.md, "Bypasses shorter than a row"). Relieving one leaves the other:
// the reason names both.
TEST(Observe, TwoShortBypassesAreNamedTogether) {
  DatapathConfig c = default_config();
  c.depths["score_bypass"] = 17;
  c.depths["exp_bypass"] = 17;
  const DatapathResult r = simulate(random_inputs(1, 16, 8, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::small_fifo) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_channel(r), "score_bypass") << r.bottleneck.reason;
  ASSERT_EQ(r.bottleneck.also.size(), 1u) << r.bottleneck.reason;
  EXPECT_EQ(r.bottleneck.also[0].kind, BottleneckKind::small_fifo);
  EXPECT_EQ(r.channels[std::size_t(r.bottleneck.also[0].channel)].name, "naive.exp_bypass");
  EXPECT_TRUE(reason_has(r,
                         "; at the same rate: exp_bypass depth 17 for a row of 16 and "
                         "latency 5: "));
  EXPECT_GE(r.cycles, 316u);
}

// Two limits at one rate: relieving either alone leaves the other, so the reason names both.
// Two units at II 3, each busy 3 cycles per score.
TEST(Observe, UnitsAtTheSameRateAreNamedTogether) {
  DatapathConfig c = default_config();
  set_ii(c, "reordered", "running_max", 3);
  set_ii(c, "reordered", "running_sum", 3);
  const DatapathResult r = run("reordered", c);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "running_max");
  EXPECT_EQ(unit(r, "running_sum").busy, unit(r, "running_max").busy);
  ASSERT_EQ(r.bottleneck.also.size(), 1u) << r.bottleneck.reason;
  EXPECT_EQ(r.bottleneck.also[0].kind, BottleneckKind::slow_ii);
  EXPECT_EQ(r.units[r.bottleneck.also[0].unit].name, "reordered.running_sum");
  EXPECT_TRUE(
      reason_has(r, fmt::format("of the cycles, dot_product blocked {} cycles on scores; at "
                                "the same rate: running_sum II 3: ",
                                channel(r, "scores").producer_stall_cycles)));
}

// The running max at II 2 (2048 busy cycles) on a shared link of 34 bytes per cycle that
// carries ⌈66560 / 34⌉ = 1958 cycles, 95.6% of them: relieving the II alone leaves the link.
TEST(Observe, ASharedLinkAtTheRateOfASlowUnitIsNamedWithIt) {
  DatapathConfig c = default_config();
  c.memory.shared = true;
  c.memory.bytes_per_cycle = 34;
  set_ii(c, "reordered", "running_max", 2);
  const DatapathResult r = run("reordered", c);
  EXPECT_EQ((r.bytes_read() + 33) / 34, 1958u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  expect_shared_link_at_the_same_rate(r, 34);
}

// K and V buffers each 12 deep behind a latency of 18: each passes 13 rows per 20 cycles.
TEST(Observe, StreamBuffersAtTheSameRateAreNamedTogether) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 18;
  c.depths["k_rows"] = 12;
  c.depths["v_rows"] = 12;
  const DatapathResult r = run("reordered", c);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_latency) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_channel(r), "k_rows");
  ASSERT_EQ(r.bottleneck.also.size(), 1u) << r.bottleneck.reason;
  EXPECT_EQ(r.bottleneck.also[0].kind, BottleneckKind::memory_latency);
  EXPECT_EQ(r.channels[std::size_t(r.bottleneck.also[0].channel)].name, "reordered.v_rows");
  EXPECT_TRUE(reason_has(r,
                         "memory latency 18 with k_rows depth 12; at the same rate: "
                         "v_rows depth 12 for latency 18: "));
}

// k_rows 4 deep with a memory latency of 10: 4 rows in flight and one in the reader's output
// register per 12 cycles (docs/timing.md, "Where the cycles go"), 2.4 cycles per score.
TEST(Observe, MemoryLatencyWithAShallowStreamBuffer) {
  DatapathConfig c = default_config();
  c.depths["k_rows"] = 4;
  const DatapathResult r = run("naive", c);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_latency) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "k_reader");
  EXPECT_EQ(bottleneck_channel(r), "k_rows");
  EXPECT_TRUE(reason_has(r, "memory latency 10 with k_rows depth 4"));
  // The K rows at 5 per 12 cycles, then the naive datapath's tail (2N and its latencies).
  EXPECT_GE(5 * r.cycles, 12 * r.scores);
  EXPECT_LE(5 * r.cycles, 12 * r.scores + 5 * (2 * kN + 30));
}

// A stream reader's own latency is part of its first row's: at full rate its consumer's wait for
// that row is no stall, and nothing limits the run.
TEST(Observe, AReadersOwnLatencyIsNoStall) {
  DatapathConfig c = default_config();
  for (const char* reader : {"q_reader", "k_reader", "v_reader"}) c.timings[reader] = {3, 1};
  const SimulationResult all = simulate(random_inputs(1, kN, 8, 5), datapath_names(), c);
  for (const DatapathResult& r : all.runs) {
    const std::string& dp = r.datapath;
    expect_accounted(r);
    // Lmem = read latency + beats − 1 + the readers' latency − 1: 2 more than at latency 1.
    EXPECT_EQ(r.cycles, closed_form_cycles(dp, AttentionShape::square(1, kN, 8), c)) << dp;
    EXPECT_EQ(r.cycles,
              closed_form_cycles(dp, AttentionShape::square(1, kN, 8), default_config()) + 2)
        << dp;
    EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << dp << ": " << r.bottleneck.reason;
    EXPECT_FALSE(r.channels.at(r.limiting.channel).input_stream) << dp;
  }
}

// Lanes with a causal mask on their closed form: a lane waits by design while its group's longer
// rows stream (its K and V channels count those waits), but the K reader never waited, so
// nothing limits the run.
TEST(Observe, CausalLanesOnTheirClosedFormHaveNoBottleneck) {
  DatapathConfig c = default_config();
  c.lanes = 3;
  const AttentionShape shape{1, 3, 3, 20, 24, 8, true};
  const SimulationResult all = simulate(random_inputs(shape, 5), datapath_names(), c);
  for (const DatapathResult& r : all.runs) {
    expect_accounted(r);
    EXPECT_EQ(r.cycles, closed_form_cycles(r.datapath, shape, c)) << r.datapath;
    EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.datapath << ": " << r.bottleneck.reason;
  }
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

// Fewer K rows than the stream buffer holds, 16 cycles each on a 4-byte link: the reader never
// waits for a slot and looks busy to its end (row 16, cycle 16), but its rows leave at the link's
// pace and the dot product waits for each. The pipeline's fill keeps the link under 95% of the
// run's cycles (256 of 283), and it is still the limit.
TEST(Observe, MemoryBandwidthInARunShorterThanTheStreamBuffer) {
  DatapathConfig c = default_config();
  c.memory.bytes_per_cycle = 4;
  const DatapathResult r = simulate(random_inputs(1, 4, 16, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(unit(r, "k_reader").blocked, 0u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "k_reader");
  EXPECT_EQ(bottleneck_channel(r), "k_rows");
  EXPECT_TRUE(reason_has(r, "4 bytes per cycle, 16 cycles per row"));
}

// A per-row unit at II 5, the busiest unit of a run of 4 keys per row (20 busy cycles against
// 16), with room to wait in: no one waits for it, but from its first row on it is busy every
// cycle, so its pace is the last results': it is named (relieved, 1.06× as fast), though busy
// 44% of the cycles. (A sink as slow is not: ASinkSlowerThanTheRowsIsNamedBusyPastTheCycleCount.)
TEST(Observe, ASlowUnitThatNobodyWaitsForSetsTheRateFromItsFirstInput) {
  DatapathConfig c = default_config();
  c.timings["row_divide"] = {4, 5};
  c.depths["sums"] = 100;
  c.depths["acc_rows"] = 100;
  const DatapathResult r = simulate(random_inputs(1, 4, 4, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  const UnitStats& slow = unit(r, "row_divide");
  ASSERT_GT(slow.busy, unit(r, "dot_product").busy);
  for (const ChannelStats& ch : r.channels)  // the stream readers fetch ahead, by design
    if (!ch.input_stream) {
      EXPECT_EQ(ch.producer_stall_cycles, 0u) << ch.name;
    }
  EXPECT_LT(2 * slow.busy, r.cycles);
  EXPECT_EQ(slow.busy, slow.end - channel(r, "acc_rows").first_ready);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::slow_ii) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(r), "row_divide");
}

// One link of 16 bytes per cycle for Q, K and V: a score needs a K and a V row of 32 bytes each,
// 4 cycles per score, though each stream alone would fit in 2.
TEST(Observe, SharedMemoryLinkBandwidth) {
  DatapathConfig c = default_config();
  c.memory.shared = true;
  c.memory.bytes_per_cycle = 16;
  const DatapathResult r = run("reordered", c);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "shared memory link, 16 bytes per cycle"));
  EXPECT_NEAR(double(r.cycles) / double(r.scores), 4.0, 0.1);
}

// A short run behind a shared link of 16 bytes per cycle and a read latency of 40: the link
// carries 272 cycles of rows without an idle cycle, more than any unit has firings, but the
// latency and the pipeline's drain after its last byte are over 5% of the run's cycles. The link
// is still the limit (it was named "memory latency 40 with k_rows depth 42": a depth past
// latency + 1, no shortage of rows in flight).
// One link of 16 bytes per cycle with a read latency of 40.
DatapathConfig slow_shared_link() {
  DatapathConfig c = default_config();
  c.memory.shared = true;
  c.memory.bytes_per_cycle = 16;
  c.memory.read_latency = 40;
  return c;
}

TEST(Observe, ASharedLinkThatNeverIdlesInAShortRunIsTheLimit) {
  const DatapathConfig c = slow_shared_link();
  for (const DatapathResult& r : simulate(random_inputs(1, 8, 8, 5), datapath_names(), c).runs) {
    const std::string& dp = r.datapath;
    expect_accounted(r);
    const Cycle link_cycles = r.bytes_read() / 16;
    ASSERT_EQ(link_cycles, 272u);
    ASSERT_EQ(r.link_idle_cycles(), 0u);
    ASSERT_LT(link_cycles * 100, r.cycles * 95) << dp;
    EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth)
        << dp << ": " << r.bottleneck.reason;
    EXPECT_TRUE(reason_has(r, "shared memory link, 16 bytes per cycle"));
  }
}

// K and V rows of 16 bytes on one link of 32 bytes per cycle: a score per cycle, the units' peak.
// The link carries ⌈(1024·32 + 32·16) / 32⌉ = 1040 cycles, the K reader is busy 1024 of them:
// every unit keeps up and the link just keeps up with them (4× the link runs 1.02× as fast, under
// the 5% that names a limit; it was named the limit).
TEST(Observe, ASharedLinkAtTheUnitsPeakIsAtTheSameRateNotTheLimit) {
  DatapathConfig c = default_config();
  c.memory.shared = true;
  c.memory.bytes_per_cycle = 32;
  const DatapathResult r = run("reordered", c, 4);
  expect_accounted(r);
  EXPECT_EQ((r.bytes_read() + 31) / 32, 1040u);
  EXPECT_EQ(unit(r, "k_reader").busy, 1024u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
  expect_shared_link_at_the_same_rate(r, 32);
}

// The same link with K and V buffers of 200: the readers fetch every row ahead and never wait for
// a slot, so each looks busy to its early end. It was named "none: every unit keeps up".
TEST(Observe, ASharedLinkIsTheLimitWhateverTheStreamBuffersHold) {
  DatapathConfig c = slow_shared_link();
  c.depths["k_rows"] = 200;
  c.depths["v_rows"] = 200;
  for (const DatapathResult& r : simulate(random_inputs(1, 8, 8, 5), datapath_names(), c).runs) {
    const std::string& dp = r.datapath;
    expect_accounted(r);
    ASSERT_EQ(r.link_idle_cycles(), 0u);
    EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth)
        << dp << ": " << r.bottleneck.reason;
  }
}

// Stream buffers at their full-rate depth, Lmem + 1, hold enough rows for the latency: a consumer
// that still waits waits for the link. A private link of 2 beats per K row (d = 64, 128 bytes per
// cycle), busy 512 of 572 cycles with its reader blocked on slots (naive, N = 16), and a shared
// link idle 7% of its busy cycles (N = 32, d = 8, 2 lanes, 48 bytes per cycle) were named "memory
// latency" with a depth past the latency: 4× the depth changed nothing, 4× the bandwidth cut the
// cycles by 45% and 21%.
TEST(Observe, AStreamBufferDeepEnoughForTheLatencyWaitsForItsLink) {
  DatapathConfig c = default_config();
  c.memory.bytes_per_cycle = 128;
  const DatapathResult r = simulate(random_inputs(1, 16, 64, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "128 bytes per cycle, 2 cycles per row"));
}

TEST(Observe, AStreamBufferDeepEnoughForTheLatencyWaitsForItsSharedLink) {
  DatapathConfig c = default_config();
  c.memory.shared = true;
  c.memory.bytes_per_cycle = 48;
  c.lanes = 2;
  const DatapathResult r = simulate(random_inputs(1, 32, 8, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_GT(r.link_idle_cycles(), 0u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "shared memory link, 48 bytes per cycle"));
}

// timing.md's example of a limiting channel that is not too shallow: on a shared link, a
// decode-like naive run's V reader waits for slots while each row's scores are reduced, the link
// idles, and the dot product waits for K rows behind it: `k_rows`, 120 waits beyond its first
// row (deeper, 30 to 70 slots against its 29, it runs 1 104 to 1 110 cycles; 4× as deep, 1 124).
// The statement names the slowest limit with a closed form: the link, ⌈40 320 / 46⌉ = 877 of the
// run's 1 108 cycles.
TEST(Observe, ALimitingChannelWithoutABoundPassesToTheLink) {
  DatapathConfig c = default_config();
  c.memory.shared = true;
  c.memory.bytes_per_cycle = 46;
  c.memory.read_latency = 28;
  const AttentionShape shape{1, 4, 4, 1, 157, 8, false};
  const DatapathResult r = simulate(random_inputs(shape, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.cycles, 1108u);
  EXPECT_EQ(r.link_cycles(), 877u);
  EXPECT_EQ(r.link_idle_cycles(), 200u);
  EXPECT_EQ(r.channels.at(r.limiting.channel).name, "naive.k_rows");
  EXPECT_EQ(r.limiting.stall_cycles, 120u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "shared memory link, 46 bytes per cycle")) << r.bottleneck.reason;
}

// A stream's consumer waits its first row by design, and only that: reordered, N = 4, d = 16, K
// and V rows of 2 beats at 32 bytes per cycle, `read_latency` 16. The dot product waits for its
// Q row; its first K row is there by then, and each of the 15 after it comes a cycle late:
// (N² − 1)·(2 − 1) waits, all counted (none were, less the first row's 17 cycles of latency:
// named `none`, while a link 4× as fast runs 1.32× as fast).
TEST(Observe, AStreamsWaitsAfterItsFirstRowCountWhenItsReaderFirstWaitedOnAnother) {
  DatapathConfig c = default_config();
  c.memory.bytes_per_cycle = 32;
  c.memory.read_latency = 16;
  const DatapathResult r = simulate(random_inputs(1, 4, 16, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(channel(r, "k_rows").first_read_stall, 0u);
  EXPECT_EQ(r.channels.at(r.limiting.channel).name, "reordered.k_rows");
  EXPECT_EQ(r.limiting.stall_cycles, 15u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth) << r.bottleneck.reason;
  EXPECT_EQ(bottleneck_channel(r), "k_rows");
}

// A channel too shallow for its writer at II 4 (two_pass, N = 20, d = 16, `scores` 1 deep, the
// dot product and the sink at II 4, `k_rows` 3 deep): the channel passes 2 scores per 9 cycles,
// its bound, and the reason names the writer's II, which paces that round trip too (the channel
// 4× as deep: 1.12× as fast; the dot product at II 1: 1.48×).
TEST(Observe, AShallowChannelsReasonNamesItsWritersII) {
  DatapathConfig c = default_config();
  set_ii(c, "two_pass", "dot_product", 4);
  set_ii(c, "two_pass", "sink", 4);
  c.depths["k_rows"] = 3;
  c.depths["scores"] = 1;
  const DatapathResult r = simulate(random_inputs(1, 20, 16, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::small_fifo) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "dot_product: scores depth 1 at II 4, blocked "));
}

// Behind a shared link with rows enough in flight, a stream's reader that waited a cycle for its
// turn at the start of a short run does not make the link the limit (two_pass, N = 8, d = 32,
// causal, the Q reader's latency 10: `q_rows`, 1 wait in 85 cycles; the link 4× as fast, 1.01×).
// The statement, `none`, counts the K reader's waits for the link apart from the drain behind
// it: 36 busy, 10 waiting, 39 after its end.
TEST(Observe, AFewCyclesWaitedBehindASharedLinkDoNotNameIt) {
  DatapathConfig c = default_config();
  c.memory.shared = true;
  c.timings["q_reader"] = {10, 1};
  const AttentionShape shape{1, 1, 1, 8, 8, 32, true};
  const DatapathResult r = simulate(random_inputs(shape, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  ASSERT_TRUE(one_wait_on(r, 85, "two_pass.q_rows"));
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
  const UnitStats& k = unit(r, "k_reader");
  EXPECT_EQ(k.busy + k.starved + k.blocked + (r.cycles - k.end), r.cycles);
  EXPECT_TRUE(reason_has(r, fmt::format("k_reader busy 42.4% of the cycles (waits {}, drain {} "
                                        "cycles)",
                                        k.starved + k.blocked, r.cycles - k.end)));
}

// A short run at the units' peak says where the busiest unit's other cycles went, each part if
// any, adding up to the cycles: naive, N = 8, d = 8, the K reader busy 64 of N² + 2N + 26 = 106,
// the pipeline's 42 behind its last row.
TEST(Observe, AShortRunsNoneSaysWhereTheRestOfItsCyclesWent) {
  const DatapathResult r =
      simulate(random_inputs(1, 8, 8, 5), {"naive"}, default_config()).runs.at(0);
  ASSERT_EQ(r.cycles, 106u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "k_reader busy 60.4% of the cycles (drain 42 cycles): "));
}

// The fill is the busiest unit's wait for its first inputs: reordered, N = 3, d = 4, 3 lanes, the
// row divide at II 4 fires once in each lane, when its accumulator row is ready, 26 cycles in (its
// sum at 24), busy the 4 cycles after, to the end of the run.
TEST(Observe, AShortRunsNoneCountsTheFillBeforeTheBusiestUnitsFirstInputs) {
  DatapathConfig c = default_config();
  c.lanes = 3;
  set_ii(c, "reordered", "row_divide", 4);
  const DatapathResult r = simulate(random_inputs(1, 3, 4, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  const UnitStats& divide = unit(r, "lane0.row_divide");
  ASSERT_EQ(divide.busy, 4u);
  ASSERT_EQ(divide.starved, 26u);
  ASSERT_EQ(r.cycles, divide.busy + divide.starved);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "lane0.row_divide busy 13.3% of the cycles (fill 26 cycles): "));
}

// A sink at II 4 takes two rows ready 35 and 37 cycles in (two_pass, N = 2, d = 4), the second
// at 39: its last firing ends 6 cycles after the count, at 43, and its busy cycles less those 6,
// with its fill, add up to the run's 37.
TEST(Observe, AShortRunsNoneCountsTheBusyCyclesAfterTheCount) {
  DatapathConfig c = default_config();
  set_ii(c, "two_pass", "sink", 4);
  const DatapathResult r = simulate(random_inputs(1, 2, 4, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  const UnitStats& sink = unit(r, "sink");
  ASSERT_EQ(r.cycles, 37u);
  ASSERT_EQ(sink.end, 43u);
  ASSERT_EQ(sink.busy - (sink.end - r.cycles) + sink.starved, r.cycles);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r,
                         "sink busy 21.6% of the cycles (fill 35 cycles; 6 busy cycles after "
                         "the last result's ready cycle): "));
}

// As behind a shared link (above), behind a private link of two beats per row: two_pass, N = 6,
// d = 8, 3 lanes, 16 bytes per cycle, each lane's K rows 1 cycle late in 75 (lane 0's named, the
// first of a tie; the link 4× as fast: 1.01×).
TEST(Observe, AFewCyclesWaitedBehindAPrivateLinkDoNotNameIt) {
  DatapathConfig c = default_config();
  c.lanes = 3;
  c.memory.read_latency = 6;
  c.memory.bytes_per_cycle = 16;
  c.timings["v_reader"] = {10, 1};
  c.timings["k_reader"] = {2, 1};
  c.timings["q_reader"] = {29, 1};
  set_ii(c, "two_pass", "sink", 4);
  c.depths["q_rows"] = 4;
  c.depths["probs"] = 9;
  const DatapathResult r = simulate(random_inputs(1, 6, 8, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  ASSERT_TRUE(one_wait_on(r, 75, "two_pass.lane0.k_rows"));
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
}

// Nor, by the same rule, does the latency with a stream buffer shallower than it: naive, N = 4,
// d = 8, 3 lanes behind a shared link of 100 bytes per cycle, read latency 4, the sink at II 4,
// v_rows 5 deep, the Q reader's latency 29 and q_rows 5 deep, lanes 1 and
// 2's one Q row each a cycle late in 64 (their grants after lane 0's; lane 1's named, the first of
// a tie; q_rows 20 deep: 1.00×).
TEST(Observe, AFewCyclesWaitedForAShallowStreamBufferDoNotNameTheLatency) {
  DatapathConfig c = default_config();
  c.lanes = 3;
  c.memory.shared = true;
  c.memory.read_latency = 4;
  c.memory.bytes_per_cycle = 100;
  c.timings["q_reader"] = {29, 1};
  set_ii(c, "naive", "sink", 4);
  c.depths["q_rows"] = 5;
  c.depths["v_rows"] = 5;
  const DatapathResult r = simulate(random_inputs(1, 4, 8, 5), {"naive"}, c).runs.at(0);
  expect_accounted(r);
  ASSERT_TRUE(one_wait_on(r, 64, "naive.lane1.q_rows"));
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
}

// A writer blocked on a channel deep enough for its round trip, whose reader waited for it only
// for its first element, waited in the pipeline's fill: reordered, N = 6, d = 16, read latency 2,
// 64 bytes per cycle, the V reader's latency 15, its first row 16 cycles in; the running max
// blocks 4 cycles on `acc_rescale` (7 deep, its latency 6) while the rescale accumulate waits for
// that row (28 deep: 1.00×).
TEST(Observe, AWriterBlockedOnlyInTheFillNamesNoSmallFifo) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 2;
  c.memory.bytes_per_cycle = 64;
  c.timings["v_reader"] = {15, 1};
  const DatapathResult r = simulate(random_inputs(1, 6, 16, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(r);
  ASSERT_EQ(r.cycles, 59u);
  const ChannelStats& acc_rescale = r.channels.at(r.limiting.channel);
  ASSERT_EQ(acc_rescale.name, "reordered.acc_rescale");
  ASSERT_EQ(r.limiting.stall_cycles, 4u);
  ASSERT_EQ(acc_rescale.consumer_stall_cycles, acc_rescale.first_read_stall);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
}

// A unit at II > 1 busy to its end sets no rate if the channels it writes held all its results
// at once, no reader waited for one and no other limit is at its rate: two_pass, N = 4, d = 8,
// 4 lanes, the K reader at II 2 puts its 4 rows in the lanes' buffers by cycle 8, long before
// the Q rows arrive (the Q reader's latency 26); at II 1, 1.00× as fast.
TEST(Observe, AUnitAtIiAboveOneThatNoOneWaitedForSetsNoRate) {
  DatapathConfig c = default_config();
  c.lanes = 4;
  c.timings["q_reader"] = {26, 1};
  set_ii(c, "two_pass", "k_reader", 2);
  const DatapathResult r = simulate(random_inputs(1, 4, 8, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  ASSERT_EQ(r.cycles, 64u);
  const UnitStats& k = unit(r, "k_reader");
  ASSERT_EQ(k.busy, 8u);
  ASSERT_EQ(k.end, 8u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::none) << r.bottleneck.reason;
  EXPECT_TRUE(reason_has(r, "k_reader busy 12.5% of the cycles (drain 56 cycles)"));
}

// But a reader's wait for a first result counts (naive, N = 4, d = 8, 4 lanes, the row sum at
// II 3 behind the dot product's latency 20: each lane's divide waits for its one row's sum; at
// II 1, 1.11× as fast), and so does a reader as slow, which never waits (reordered, N = 4, d = 8,
// causal, read latency 30, the running max's latency 5, the K reader and the dot product at II 3:
// relieved together, 1.32× as fast).
TEST(Observe, AUnitAtIiAboveOneSetsTheRateForAFirstWait) {
  DatapathConfig lanes = default_config();
  lanes.lanes = 4;
  lanes.timings["dot_product"] = {20, 1};
  set_ii(lanes, "naive", "row_sum", 3);
  const DatapathResult first = simulate(random_inputs(1, 4, 8, 5), {"naive"}, lanes).runs.at(0);
  expect_accounted(first);
  EXPECT_EQ(first.bottleneck.kind, BottleneckKind::slow_ii) << first.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(first), "lane0.row_sum");
}

TEST(Observe, AUnitAtIiAboveOneSetsTheRateWithAReaderAsSlow) {
  DatapathConfig c = default_config();
  c.memory.read_latency = 30;
  c.timings["running_max"] = {5, 1};
  set_ii(c, "reordered", "k_reader", 3);
  set_ii(c, "reordered", "dot_product", 3);
  const AttentionShape shape{1, 1, 1, 4, 4, 8, true};
  const DatapathResult slow = simulate(random_inputs(shape, 5), {"reordered"}, c).runs.at(0);
  expect_accounted(slow);
  const ChannelStats& k_rows = channel(slow, "k_rows");
  ASSERT_EQ(k_rows.high_water, k_rows.writes);
  ASSERT_EQ(k_rows.consumer_stall_cycles, 0u);
  EXPECT_EQ(slow.bottleneck.kind, BottleneckKind::slow_ii) << slow.bottleneck.reason;
  EXPECT_EQ(bottleneck_unit(slow), "k_reader");
}

// What relieving a link could save counts the last row's beats but one too, its latency shorter
// with them: two_pass, N = 4, d = 8, 4 lanes, rows of 2 beats at 24 bytes per cycle, 1 wait and
// a beat in 37 cycles (the link 4× as fast: 35, 1.05×) names the link.
TEST(Observe, ALinksBeatsCountInWhatItsReliefCouldSave) {
  DatapathConfig c = default_config();
  c.lanes = 4;
  c.memory.read_latency = 4;
  c.memory.bytes_per_cycle = 24;
  c.timings["q_reader"] = {3, 1};
  c.depths["row_stats"] = 8;
  c.depths["probs"] = 11;
  const DatapathResult r = simulate(random_inputs(1, 4, 8, 5), {"two_pass"}, c).runs.at(0);
  expect_accounted(r);
  ASSERT_EQ(r.cycles, 37u);
  ASSERT_EQ(r.limiting.stall_cycles, 1u);
  EXPECT_EQ(r.bottleneck.kind, BottleneckKind::memory_bandwidth) << r.bottleneck.reason;
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

// A unit stops at the first operation that finds it past sim.max_cycles, after that operation's
// stall, which counts in full (docs/timing.md, "Watchdog"): ends lie past the limit by up to a
// stall, and a unit left waiting behind stopped ones counts that wait as idle.
TEST(Observe, AWatchdogStopCountsTheStallThatPassedTheLimit) {
  DatapathConfig c = default_config();
  c.clocking.max_cycles = 114;
  c.memory.read_latency = 4;
  c.memory.bytes_per_cycle = 64;
  c.timings["online_normalizer"] = {3, 1};
  c.timings["q_reader"] = {3, 1};
  c.timings["v_reader"] = {4, 2};
  c.depths["out_rows"] = 28;
  c.depths["q_rows"] = 11;
  const DatapathResult r = simulate(random_inputs(1, 14, 16, 5), {"two_pass"}, c).runs.at(0);
  ASSERT_EQ(r.status, Status::timeout);
  expect_accounted(r);
  const auto unit = [&](const std::string& name) {
    for (const UnitStats& u : r.units)
      if (u.name == "two_pass." + name) return u;
    ADD_FAILURE() << name;
    return UnitStats{};
  };
  EXPECT_EQ(unit("k_reader").busy, 80u);
  EXPECT_EQ(unit("k_reader").blocked, 35u);  // its last stall, to the slot's free at 115
  EXPECT_EQ(unit("k_reader").end, 115u);
  EXPECT_EQ(unit("v_reader").end, 116u);
  EXPECT_EQ(r.span, 116u);
  EXPECT_EQ(unit("sink").end, 114u);  // starved from then on: idle, as in a deadlock
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
  ASSERT_EQ(reports[0]["runs"].size(), datapath_names().size());
  for (std::size_t i = 0; i < reports[0]["runs"].size(); ++i) {
    const nlohmann::json& run = reports[0]["runs"][i];
    EXPECT_EQ(run["units"], reports[1]["runs"][i]["units"]) << run["datapath"];
    EXPECT_EQ(run["bottleneck"], reports[1]["runs"][i]["bottleneck"]) << run["datapath"];
    EXPECT_GT(run["units"][0]["blocked_cycles"].get<Cycle>(), 0u) << run["units"][0];
  }
}

// Every closed-form bound of a channel or a link is a lower bound on the run's cycles (a unit's
// at II > 1 bounds its own span: a sink's last firings may end after the last result). Bypasses
// from a row short to a row and its latencies deep, C ≡ ℓ − 1 (mod ℓ) with C ≥ ℓ among them,
// which is bounded as one slot deeper (docs/timing.md, "Bypasses shorter than a row"), in full
// and causal rows.
class BypassBound
    : public testing::TestWithParam<std::tuple<std::string, std::string, bool, std::size_t>> {};

TEST_P(BypassBound, IsAtMostTheRunsCycles) {
  const auto& [datapath, bypass, causal, depth] = GetParam();
  DatapathConfig c = default_config();
  c.depths[bypass] = depth;
  AttentionShape shape = AttentionShape::square(3, 4, 4);
  shape.causal = causal;
  const DatapathResult r = simulate(random_inputs(shape, 17), {datapath}, c).runs.at(0);
  ASSERT_EQ(r.status, Status::ok);
  bool bypass_bounded = false;
  for (const CycleBound& b : cycle_bounds(r)) {
    if (b.limit.kind == BottleneckKind::slow_ii) continue;
    EXPECT_LE(b.cycles, r.cycles) << b.what;
    bypass_bounded |=
        b.limit.channel >= 0 && local_name(r.channels[std::size_t(b.limit.channel)].name) == bypass;
  }
  // Rows of 4 keys: a bypass shallower than the row and its latencies holds rows back, a depth
  // of 3 mod 4 (from 7) as one deeper.
  const std::size_t as_deep = depth >= 4 && depth % 4 == 3 ? depth + 1 : depth;
  const std::size_t beyond_row =
      datapath == "naive" && bypass == "exp_bypass"
          ? L(c, datapath, "exp") + L(c, datapath, "row_sum")
          : L(c, datapath, "dot_product") +
                L(c, datapath, datapath == "naive" ? "row_max" : "online_normalizer");
  if (!causal) {
    EXPECT_EQ(bypass_bounded, as_deep < 4 + beyond_row) << depth;
  }
}

std::string bypass_bound_name(const testing::TestParamInfo<BypassBound::ParamType>& info) {
  const auto& [datapath, bypass, causal, depth] = info.param;
  return fmt::format("{}_{}_{}_depth{}", datapath, bypass, causal ? "causal" : "full", depth);
}
INSTANTIATE_TEST_SUITE_P(Naive, BypassBound,
                         testing::Combine(testing::Values("naive"),
                                          testing::Values("score_bypass", "exp_bypass"),
                                          testing::Bool(), testing::Range<std::size_t>(3, 12)),
                         bypass_bound_name);
INSTANTIATE_TEST_SUITE_P(TwoPass, BypassBound,
                         testing::Combine(testing::Values("two_pass"),
                                          testing::Values("score_bypass"), testing::Bool(),
                                          testing::Range<std::size_t>(3, 12)),
                         bypass_bound_name);

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

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A run's cycles and its bottleneck's kind and unit, from the simulator's report.
struct Named {
  std::uint64_t cycles = 0;
  std::string kind, unit;
};
// The report's first run for `sets`, which completes.
nlohmann::json first_run(const std::string& sets, const fs::path& d) {
  const SimRun run = sim(sets + out_arg(d / "o"), d);
  EXPECT_EQ(run.status, 0) << run.err;
  return nlohmann::json::parse(slurp(d / "o" / "report.json"))["runs"][0];
}
Named named_by_sim(const std::string& sets, const fs::path& d) {
  const nlohmann::json r = first_run(sets, d);
  return {r["cycles"].get<std::uint64_t>(), r["bottleneck"]["kind"].get<std::string>(),
          r["bottleneck"]["unit"].get<std::string>()};
}

// Naive, N = 8, d = 4, on a shared link of 256 bytes per cycle, the V reader at II 2: the
// subtract waits for V rows, which the reader, busy 128 cycles against the link's 9, holds back.
// The link was named, busy 5.7% of the cycles (4x as wide changes nothing; the reader at II 1
// runs 1.49x as fast).
TEST(ObserveCli, AReaderSlowerThanItsSharedLinkIsNamedNotTheLink) {
  const fs::path d = scratch();
  const std::string run =
      "--set datapath=naive --set problem.seq_len=8 --set problem.head_dim=4 "
      "--set memory.ports=shared ";
  const Named r = named_by_sim(run + "--set units.v_reader.ii=2", d);
  EXPECT_EQ(r.kind, "slow_ii");
  EXPECT_EQ(r.unit, "naive.v_reader");
  EXPECT_EQ(
      named_by_sim(run + "--set units.v_reader.ii=2 --set memory.bytes_per_cycle=1024", d).cycles,
      r.cycles);
  EXPECT_LT(100 * named_by_sim(run, d).cycles, 95 * r.cycles);
}

// A sink sets no rate by its pace: reordered, N = 4, 4 heads on 3 lanes, the sink at II 8 (busy
// past the cycle count), a K buffer's reader waiting for slots. The sink was named slow_ii,
// though at II 1 the run takes as many cycles. With the K reader at II 2 too, causal rows and a
// shallow Q buffer, the K reader is the limit (at II 1 the run is 1.49x as fast), not the sink.
TEST(ObserveCli, ASinkBehindAWaitingStreamBufferIsNotTheSlowUnit) {
  const fs::path d = scratch();
  const std::string run =
      "--set datapath=reordered --set problem.seq_len=4 --set problem.head_dim=16 "
      "--set problem.heads=4 --set parallel.lanes=3 ";
  const Named r = named_by_sim(run + "--set units.sink.ii=8", d);
  EXPECT_EQ(r.kind, "none") << r.unit;
  EXPECT_EQ(named_by_sim(run, d).cycles, r.cycles);

  const std::string k_slow =
      run +
      "--set problem.causal=true --set channels.depths.q_rows=5 --set channels.depths.acc_rows=17 ";
  const Named k = named_by_sim(k_slow + "--set units.sink.ii=8 --set units.k_reader.ii=2", d);
  EXPECT_EQ(k.kind, "slow_ii");
  EXPECT_EQ(k.unit, "reordered.k_reader");
  EXPECT_LT(100 * named_by_sim(k_slow + "--set units.sink.ii=8", d).cycles, 95 * k.cycles);
}

// A small FIFO's statement gives its writer's waits for that channel's slots and its reader's for
// its elements, as the channel table does: it gave the units' totals over all their channels
// (naive, 4 lanes: lane 0's dot product (the lanes are alike, and a tie names the first) blocked 65
// cycles, 37 of them on score_bypass, and the subtract starved 136, none of them on it).
TEST(ObserveCli, ASmallFifosWaitsAreTheChannels) {
  const fs::path d = scratch();
  const nlohmann::json r = first_run(
      "--set datapath=naive --set problem.seq_len=8 --set problem.head_dim=32 "
      "--set problem.heads=2 --set problem.kv_heads=1 --set parallel.lanes=4 "
      "--set memory.read_latency=10 --set units.row_max.ii=3 "
      "--set units.row_max.latency=40 --set units.sink.ii=4 "
      "--set channels.depths.exps=12 --set channels.depths.score_bypass=17",
      d);
  ASSERT_EQ(r["bottleneck"]["kind"], "small_fifo");
  ASSERT_EQ(r["bottleneck"]["channel"], "naive.lane0.score_bypass");
  const auto named = [&](const char* list, const std::string& name) {
    for (const nlohmann::json& e : r[list])
      if (e["name"] == name) return e;
    ADD_FAILURE() << name;
    return nlohmann::json();
  };
  const nlohmann::json c = named("channels", "naive.lane0.score_bypass");
  EXPECT_NE(named("units", "naive.lane0.dot_product")["blocked_cycles"],
            c["producer_stall_cycles"]);
  EXPECT_NE(named("units", "naive.lane0.subtract")["starved_cycles"], c["consumer_stall_cycles"]);
  EXPECT_NE(r["bottleneck"]["reason"].get<std::string>().find(
                fmt::format("lane0.score_bypass depth 17, blocked {} cycles on it, lane0.subtract "
                            "starved {}",
                            c["producer_stall_cycles"].get<std::uint64_t>(),
                            c["consumer_stall_cycles"].get<std::uint64_t>())),
            std::string::npos)
      << r["bottleneck"]["reason"];
}

const std::string kSmall =
    "--set datapath=all --set problem.seq_len=16 --set problem.head_dim=4 "
    "--set channels.depths.k_rows=4 ";

// A kSmall run's `files`: `others` and every registered datapath's output, in name order.
json files_with_outputs(std::vector<std::string> others) {
  for (const std::string& datapath : datapath_names()) others.push_back("o_" + datapath + ".npy");
  std::sort(others.begin(), others.end());
  return json(others);
}

// The trace-event format (Chrome's JSON, as Perfetto reads it): every event has ph, name and
// pid; complete events ("X") a tid, ts and dur; counters ("C") ts and numeric args; metadata
// ("M") args.name or args.sort_index.
void expect_trace_event_format(const json& trace) {
  ASSERT_TRUE(trace.is_object());
  ASSERT_TRUE(trace["traceEvents"].is_array());
  // A cycle is one of the format's microseconds; "displayTimeUnit": "ns" made chrome://tracing
  // show it as 1000 ns.
  EXPECT_FALSE(trace.contains("displayTimeUnit")) << trace["displayTimeUnit"];
  for (const json& e : trace["traceEvents"]) {
    ASSERT_TRUE(e["ph"].is_string()) << e;
    ASSERT_TRUE(e["name"].is_string()) << e;
    ASSERT_TRUE(e["pid"].is_number_integer()) << e;
    const std::string ph = e["ph"];
    if (ph == "X") {
      EXPECT_TRUE(e["tid"].is_number_integer()) << e;
      EXPECT_TRUE(e["ts"].is_number_unsigned()) << e;
      EXPECT_TRUE(e["dur"].is_number_unsigned() && e["dur"].get<Cycle>() > 0) << e;
    } else if (ph == "C") {
      EXPECT_TRUE(e["ts"].is_number_unsigned()) << e;
      ASSERT_TRUE(e["args"].is_object() && e["args"].size() == 1) << e;
      EXPECT_TRUE(e["args"].begin()->is_number()) << e;
    } else {
      ASSERT_EQ(ph, "M") << e;
      EXPECT_TRUE(e["args"].contains("name") || e["args"].contains("sort_index")) << e;
    }
  }
}

TEST(ObserveCli, TraceEventsCoverTheWindowWithBusyAndStallIntervals) {
  const fs::path d = scratch();
  const SimRun r =
      sim(kSmall + "--trace-events --trace-window 20:300 --out '" + (d / "o").string() + "'", d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json report = json::parse(slurp(d / "o" / "report.json"));
  EXPECT_NE(std::find(report["files"].begin(), report["files"].end(), "trace.json"),
            report["files"].end());
  const json trace = json::parse(slurp(d / "o" / "trace.json"));
  expect_trace_event_format(trace);
  // Per unit, its intervals tile the window up to its end, without overlap.
  std::map<std::pair<int, int>, std::vector<std::pair<Cycle, Cycle>>> tracks;
  std::map<std::pair<int, int>, std::string> names;
  std::map<int, std::string> processes;
  std::set<std::string> kinds, counters;
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "process_name") processes[e["pid"]] = e["args"]["name"];
    if (e["ph"] == "M" && e["name"] == "thread_name")
      names[std::make_pair(e["pid"].get<int>(), e["tid"].get<int>())] = e["args"]["name"];
    // Each counter starts at the window's start, with the occupancy then.
    if (e["ph"] == "C" && counters.insert(e["name"].get<std::string>()).second) {
      EXPECT_EQ(e["ts"], 20u) << e;
    }
    if (e["ph"] != "X") continue;
    kinds.insert(e["name"].get<std::string>());
    const Cycle ts = e["ts"], dur = e["dur"];
    EXPECT_GE(ts, 20u);
    EXPECT_LE(ts + dur, 300u);
    tracks[std::make_pair(e["pid"].get<int>(), e["tid"].get<int>())].emplace_back(ts, ts + dur);
  }
  EXPECT_EQ(processes.size(), report["runs"].size());
  EXPECT_EQ(kinds, (std::set<std::string>{"busy", "starved", "blocked"}));
  EXPECT_TRUE(counters.count("occupancy k_rows")) << counters.size();
  EXPECT_FALSE(counters.count("memory link bytes")) << "private links: no shared track";
  for (const json& run : report["runs"]) {
    const int pid = int(std::find_if(processes.begin(), processes.end(), [&](const auto& p) {
                          return p.second == run["datapath"];
                        })->first);
    for (std::size_t i = 0; i < run["units"].size(); ++i) {
      const json& u = run["units"][i];
      const Cycle end = u["busy_cycles"].get<Cycle>() + u["starved_cycles"].get<Cycle>() +
                        u["blocked_cycles"].get<Cycle>();
      auto& t = tracks[std::make_pair(pid, int(i) + 1)];
      std::sort(t.begin(), t.end());
      Cycle at = 20;
      for (const auto& [from, to] : t) {
        EXPECT_EQ(from, at) << u["name"];
        at = to;
      }
      EXPECT_EQ(at, std::max<Cycle>(20, std::min<Cycle>(end, 300))) << u["name"];
      const std::string local =
          u["name"].get<std::string>().substr(run["datapath"].get<std::string>().size() + 1);
      EXPECT_EQ(names[std::make_pair(pid, int(i) + 1)], local);
    }
  }
}

// A counter has an event where its value changes and nowhere else: at full rate a channel written
// and freed in every cycle had an event in each, all of one level (N = 512 over the whole run:
// 200 MB of them, now 0.7 MB), and at the window's start a second one when it changed there.
TEST(ObserveCli, TraceEventsCountersChangeAtEveryEvent) {
  const fs::path d = scratch();
  const SimRun r = sim(kSmall + "--trace-events --trace-window 20:300" + out_arg(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json trace = json::parse(slurp(d / "o" / "trace.json"));
  std::map<std::pair<int, std::string>, std::pair<Cycle, double>> last;  // pid, counter
  std::size_t events = 0;
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] != "C") continue;
    ++events;
    const auto key = std::make_pair(e["pid"].get<int>(), e["name"].get<std::string>());
    const Cycle ts = e["ts"];
    const double value = e["args"].begin()->get<double>();
    if (const auto before = last.find(key); before != last.end()) {
      EXPECT_GT(ts, before->second.first) << e;
      EXPECT_NE(value, before->second.second) << e;
    }
    last[key] = {ts, value};
  }
  EXPECT_GT(events, 2 * last.size()) << "counters that change";
}

// Over the whole run, each unit's intervals of each kind add up to its busy, starved and blocked
// cycles in the report, and each channel's occupancy reaches its high water.
TEST(ObserveCli, TraceEventsOverTheWholeRunAddUpToTheUnitTable) {
  const fs::path d = scratch();
  const SimRun r = sim(kSmall + "--trace-events --trace-window 0:1000000" + out_arg(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json report = json::parse(slurp(d / "o" / "report.json"));
  const json trace = json::parse(slurp(d / "o" / "trace.json"));
  std::map<std::tuple<int, int, std::string>, Cycle> cycles;    // pid, tid, kind
  std::map<std::pair<int, std::string>, std::int64_t> highest;  // pid, counter
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] == "X")
      cycles[{e["pid"].get<int>(), e["tid"].get<int>(), e["name"].get<std::string>()}] +=
          e["dur"].get<Cycle>();
    if (e["ph"] == "C") {
      std::int64_t& most = highest[{e["pid"].get<int>(), e["name"].get<std::string>()}];
      most = std::max(most, e["args"].begin()->get<std::int64_t>());
    }
  }
  for (std::size_t run = 0; run < report["runs"].size(); ++run) {
    const json& units = report["runs"][run]["units"];
    const int pid = int(run) + 1;  // in the report's order
    for (std::size_t i = 0; i < units.size(); ++i) {
      const int tid = int(i) + 1;
      EXPECT_EQ((cycles[{pid, tid, "busy"}]), units[i]["busy_cycles"]) << units[i]["name"];
      EXPECT_EQ((cycles[{pid, tid, "starved"}]), units[i]["starved_cycles"]) << units[i]["name"];
      EXPECT_EQ((cycles[{pid, tid, "blocked"}]), units[i]["blocked_cycles"]) << units[i]["name"];
    }
    for (const json& c : report["runs"][run]["channels"]) {
      const std::string name = c["name"];
      EXPECT_EQ((highest[{pid, "occupancy " + name.substr(name.find('.') + 1)}]), c["high_water"])
          << name;
    }
  }
}

// A shared link's track counts the bytes it carries in each cycle: at most its bytes per cycle,
// all the bytes read over the whole run, none after its last beat (⌈bytes / B⌉ − 1 +
// link_idle_cycles), and the same in both modes. Rows of 32 bytes on a link of 100 share cycles,
// and the causal lanes leave it idle in some.
TEST(ObserveCli, TraceEventsCountTheSharedLinksBytesPerCycle) {
  const fs::path d = scratch();
  const std::string args =
      "--set datapath=all --set memory.ports=shared --set memory.bytes_per_cycle=100 "
      "--set problem.seq_len=24 --set problem.head_dim=8 --set problem.causal=true "
      "--set parallel.lanes=2 --set problem.heads=2 --trace-events --trace-window 0:100000 ";
  for (const char* mode : {"synchronized", "decoupled"}) {
    const SimRun r =
        sim(args + "--set sim.mode=" + mode + " --out '" + (d / mode).string() + "'", d);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  EXPECT_EQ(slurp(d / "synchronized" / "trace.json"), slurp(d / "decoupled" / "trace.json"));
  const json report = json::parse(slurp(d / "decoupled" / "report.json"));
  const json trace = json::parse(slurp(d / "decoupled" / "trace.json"));
  expect_trace_event_format(trace);
  std::map<std::string, int> pids;
  for (const json& e : trace["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "process_name") pids[e["args"]["name"]] = e["pid"];
  for (const json& run : report["runs"]) {
    std::vector<std::pair<Cycle, std::uint64_t>> steps;
    for (const json& e : trace["traceEvents"])
      if (e["name"] == "memory link bytes" && e["pid"] == pids.at(run["datapath"]))
        steps.emplace_back(e["ts"], e["args"]["bytes"]);
    ASSERT_FALSE(steps.empty()) << run["datapath"];
    EXPECT_EQ(steps.front().first, 0u);
    const json& m = run["memory_traffic"];
    const std::uint64_t bytes = m["bytes_read"]["total"];
    std::uint64_t carried = 0;
    Cycle last_busy = 0;
    for (std::size_t k = 0; k < steps.size(); ++k) {
      const Cycle to = k + 1 < steps.size() ? steps[k + 1].first : 100000;
      ASSERT_LT(steps[k].first, to);
      if (k > 0) {
        EXPECT_NE(steps[k].second, steps[k - 1].second) << "a change per event";
      }
      EXPECT_LE(steps[k].second, 100u);
      carried += steps[k].second * (to - steps[k].first);
      if (steps[k].second != 0) last_busy = to - 1;
    }
    EXPECT_EQ(carried, bytes) << run["datapath"];
    EXPECT_EQ(last_busy, (bytes + 99) / 100 - 1 + m["link_idle_cycles"].get<Cycle>());
    EXPECT_GT(m["link_idle_cycles"].get<Cycle>(), 0u);
  }
}

TEST(ObserveCli, TraceEventsAndGraphAreTheSameInBothModes) {
  const fs::path d = scratch();
  for (const char* mode : {"synchronized", "decoupled"}) {
    const SimRun r = sim(kSmall + "--dot --trace-events --set sim.mode=" + mode + " --out '" +
                             (d / mode).string() + "'",
                         d);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  EXPECT_EQ(slurp(d / "synchronized" / "trace.json"), slurp(d / "decoupled" / "trace.json"));
  EXPECT_EQ(slurp(d / "synchronized" / "graph.dot"), slurp(d / "decoupled" / "graph.dot"));
  // The default window, as --help says: cycles 0 to 4·N_kv + 64 (N_kv = 16).
  const json window = json::parse(slurp(d / "decoupled" / "trace.json"))["otherData"]["window"];
  EXPECT_EQ(window, (json{{"from", 0}, {"to", 4 * 16 + 64}}));
}

// A window after the run's end traced nothing, unsaid; the note gives the run's last cycle.
TEST(ObserveCli, AWindowAfterTheRunsEndIsNoted) {
  const fs::path d = scratch();
  const SimRun r =
      sim(kSmall + "--trace-events --trace-window 1000000:2000000 --out " + shell_word(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  Cycle span = 0;
  const nlohmann::json report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  for (const auto& run : report["runs"]) span = std::max(span, run["span_cycles"].get<Cycle>());
  EXPECT_EQ(r.err, fmt::format("sdpa-sim: note: --trace-window 1000000:2000000 starts after the "
                               "run's last cycle, {}: trace.json holds no intervals\n",
                               span - 1));
  const SimRun inside =
      sim(kSmall + "--trace-events --trace-window 0:50 --out " + shell_word(d / "p"), d);
  EXPECT_EQ(inside.err, "");
}

TEST(ObserveCli, BadTraceOptionsExit2WithOneLine) {
  const fs::path d = scratch();
  for (const std::string args :
       {"--trace-events --trace-window 10:5", "--trace-events --trace-window 5",
        "--trace-events --trace-window a:9", "--trace-window 0:10", "--trace-events report.json",
        "--trace-events ../x.json", "--trace-events x.txt", "--size-buffers --dot"}) {
    const SimRun r = sim(kSmall + args + " --out '" + (d / "o").string() + "'", d);
    EXPECT_EQ(r.status, 2) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("sdpa-sim: error: ", 0), 0u) << r.err;
  }
  EXPECT_FALSE(fs::exists(d / "o" / "report.json"));
}

// Its name is optional: a params file right after it becomes the name, and the error says how to
// write what was meant.
TEST(ObserveCli, AParamsFileAfterTraceEventsIsExplained) {
  const fs::path d = scratch();
  const SimRun r = sim(kSmall + "--trace-events params.yaml --out '" + (d / "o").string() + "'", d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("put the params file first, or write --trace-events=NAME.json"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(ObserveCli, DotDrawsEveryUnitAndChannel) {
  const fs::path d = scratch();
  const SimRun r = sim(kSmall + "--dot --out '" + (d / "o").string() + "'", d);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string dot = slurp(d / "o" / "graph.dot");
  const json report = json::parse(slurp(d / "o" / "report.json"));
  for (const json& run : report["runs"]) {
    for (const json& u : run["units"])
      EXPECT_NE(dot.find(fmt::format("\"{}\" [", u["name"].get<std::string>())), std::string::npos)
          << u["name"];
    for (const json& c : run["channels"]) {
      const std::string name = c["name"];
      const std::string label =
          fmt::format("{}\\n{}/{}", name.substr(name.find('.') + 1), c["high_water"].get<Cycle>(),
                      c["capacity"].get<Cycle>());
      EXPECT_NE(dot.find(label), std::string::npos) << label;
      // The legend's colours of a channel between units: red where its writer waited for a slot
      // (its reader's waits do not count), orange where it was full, black otherwise.
      if (c["input_stream"]) continue;
      const char* colour = c["producer_stall_cycles"].get<Cycle>() > 0 ? "red"
                           : c["high_water"] == c["capacity"]          ? "orange"
                                                                       : "black";
      EXPECT_NE(dot.find(fmt::format("{}\", color={}, fontcolor={}", label, colour, colour)),
                std::string::npos)
          << label << " " << colour;
    }
  }
  // k_rows 4 deep limits every datapath: drawn thick and red.
  EXPECT_NE(dot.find("k_rows\\n4/4\", color=red, fontcolor=red, penwidth=2.5"), std::string::npos)
      << dot;
  if (std::system("command -v dot >/dev/null") == 0) {
    EXPECT_NE(slurp(d / "o" / "graph.svg").find("<svg"), std::string::npos);
    EXPECT_NE(std::find(report["files"].begin(), report["files"].end(), "graph.svg"),
              report["files"].end());
  }
}

TEST(ObserveCli, FstReplacesTheVcdAndTheWaveformHasUnitStates) {
  const fs::path d = scratch();
  ASSERT_EQ(std::system("command -v vcd2fst >/dev/null"), 0) << "needs gtkwave (scripts/setup)";
  SimRun r = sim(kSmall + "--vcd --out '" + (d / "vcd").string() + "'", d);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string vcd = slurp(d / "vcd" / "trace.vcd");
  const json report = json::parse(slurp(d / "vcd" / "report.json"));
  for (const json& run : report["runs"])
    for (const json& u : run["units"]) {
      const std::string name = u["name"];
      // SystemC's VCD names the scope, then the variable.
      EXPECT_NE(vcd.find("$scope module " + name.substr(name.rfind('.') + 1) + " $end"),
                std::string::npos)
          << name;
      // Shown by name: translated (0x2000) by file filter 1, trace.states.
      const std::string gtkw = slurp(d / "vcd" / "trace.gtkw");
      const std::size_t at = gtkw.find("} SystemC." + name + ".state[31:0]\n");
      ASSERT_NE(at, std::string::npos) << name;
      const std::size_t line = gtkw.rfind('\n', at);
      EXPECT_EQ(gtkw.substr(line - 6, 7), "\n@2024\n") << name;
      EXPECT_LT(gtkw.find("\n^1 trace.states\n"), at);
    }
  EXPECT_EQ(slurp(d / "vcd" / "trace.states"),
            "0 idle\n1 busy\n2 ?orange?starved\n3 ?red?blocked\n");
  r = sim(kSmall + "--fst --out '" + (d / "fst").string() + "'", d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(d / "fst" / "trace.fst"));
  EXPECT_FALSE(fs::exists(d / "fst" / "trace.vcd"));
  EXPECT_NE(slurp(d / "fst" / "trace.gtkw").find("[dumpfile] \"trace.fst\""), std::string::npos);
  const json fst = json::parse(slurp(d / "fst" / "report.json"));
  EXPECT_EQ(fst["files"], files_with_outputs({"params.yaml", "report.json", "trace.fst",
                                              "trace.gtkw", "trace.states"}));
  EXPECT_LT(fs::file_size(d / "fst" / "trace.fst"), fs::file_size(d / "vcd" / "trace.vcd"));
}

// A deadlocked run has no cycle count: its graph shows each unit's busy share of the cycles it
// ran (its span), at most 100%, as the report's utilisation does.
// With lanes, a stage's signals of each lane are a group inside the stage's, the first lane's
// open and the others closed; the signals the lanes share stay in the stage's group. Every unit
// and channel is there once.
TEST(ObserveCli, EachLanesWaveformsAreAGroupOfTheirOwn) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=all --set problem.seq_len=8 --set problem.head_dim=4 "
          "--set problem.heads=3 --set parallel.lanes=3 --vcd --out '" +
              (d / "o").string() + "'",
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream gtkw(slurp(d / "o" / "trace.gtkw"));
  // Each signal's enclosing groups, innermost last, and whether its innermost one is closed.
  struct Place {
    std::vector<std::string> groups;
    bool closed = false;
  };
  std::map<std::string, std::vector<Place>> placed;  // by SystemC name
  std::vector<std::pair<std::string, bool>> open;
  std::string flags, line;
  while (std::getline(gtkw, line)) {
    if (line.starts_with("@")) {
      flags = line;
    } else if (line.starts_with("-") && line.size() > 1 &&
               (flags == "@800200" || flags == "@c00200")) {
      open.emplace_back(line.substr(1), flags == "@c00200");
    } else if (line.starts_with("-") && (flags == "@1000200" || flags == "@1401200")) {
      ASSERT_FALSE(open.empty()) << line;
      EXPECT_EQ(open.back().first, line.substr(1));
      EXPECT_EQ(open.back().second, flags == "@1401200") << line;
      open.pop_back();
    } else if (line.starts_with("+")) {
      const std::size_t from = line.find(" SystemC.") + 9, to = line.rfind('.');
      Place p{{}, !open.empty() && open.back().second};
      for (const auto& g : open) p.groups.push_back(g.first);
      placed[line.substr(from, to - from)].push_back(p);
    }
  }
  EXPECT_TRUE(open.empty());
  const json report = json::parse(slurp(d / "o" / "report.json"));
  int lane_signals = 0;
  for (const json& run : report["runs"]) {
    const std::string dp = run["datapath"];
    std::vector<std::string> names;
    for (const json& u : run["units"]) names.push_back(u["name"]);
    for (const json& c : run["channels"]) names.push_back(c["name"]);
    for (const std::string& name : names) {
      ASSERT_EQ(placed[name].size(), 1u) << name;
      const Place& p = placed[name][0];
      ASSERT_GE(p.groups.size(), 1u) << name;
      EXPECT_TRUE(p.groups[0].starts_with(dp + ": ")) << name << " in " << p.groups[0];
      const std::string local = name.substr(dp.size() + 1);
      if (!local.starts_with("lane")) {
        EXPECT_EQ(p.groups.size(), 1u) << name;
        continue;
      }
      ++lane_signals;
      const std::string lane = local.substr(0, local.find('.'));
      ASSERT_EQ(p.groups.size(), 2u) << name;
      EXPECT_EQ(p.groups[1], lane) << name;
      EXPECT_EQ(p.closed, lane != "lane0") << name;
    }
  }
  EXPECT_GT(lane_signals, 0);
}

// The units graph.dot fills, as limits: each node whose line has the fill colour.
std::vector<std::string> filled_units(const std::string& dot) {
  std::vector<std::string> units;
  std::istringstream lines(dot);
  for (std::string line; std::getline(lines, line);)
    if (line.find("fillcolor=lightpink") != std::string::npos) {
      const std::size_t from = line.find('"') + 1;
      units.push_back(line.substr(from, line.find('"', from) - from));
    }
  return units;
}

// The limits at the bottleneck's rate are drawn as it is: both units at II 3 filled.
TEST(ObserveCli, DotFillsTheLimitsAtTheSameRate) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=reordered --set problem.seq_len=16 --set problem.head_dim=8 "
          "--set units.running_max.ii=3 --set units.running_sum.ii=3 --dot" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string dot = slurp(d / "o" / "graph.dot");
  EXPECT_EQ(filled_units(dot),
            (std::vector<std::string>{"reordered.running_max", "reordered.running_sum"}))
      << dot;
}

// Under `none` too: every unit keeps up, and the shared link is at the same rate, its K reader
// filled and `k_rows` thick, the unit the statement names (the same K reader) not for itself.
TEST(ObserveCli, DotFillsALimitAtTheRateOfANoneStatement) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=reordered --set problem.seq_len=64 --set problem.head_dim=8 "
          "--set memory.ports=shared --set memory.bytes_per_cycle=64 --dot" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json bottleneck = json::parse(slurp(d / "o" / "report.json"))["runs"][0]["bottleneck"];
  ASSERT_EQ(bottleneck["kind"], "none");
  ASSERT_EQ(bottleneck["also"].size(), 1u);
  ASSERT_EQ(bottleneck["also"][0]["unit"], "reordered.k_reader");
  const std::string dot = slurp(d / "o" / "graph.dot");
  EXPECT_EQ(filled_units(dot), std::vector<std::string>{"reordered.k_reader"}) << dot;
  EXPECT_NE(dot.find("[label=\"k_rows\\n11/11\", color=red, fontcolor=red, penwidth=2.5]"),
            std::string::npos)
      << dot;
  // Alone, a `none` statement fills nothing: the unit it names keeps up.
  const SimRun own =
      sim("--set datapath=reordered --set problem.seq_len=64 --set problem.head_dim=8 --dot" +
              out_arg(d / "own"),
          d);
  ASSERT_EQ(own.status, 0) << own.err;
  const json alone = json::parse(slurp(d / "own" / "report.json"))["runs"][0]["bottleneck"];
  ASSERT_EQ(alone["kind"], "none");
  ASSERT_TRUE(alone["also"].empty());
  EXPECT_TRUE(filled_units(slurp(d / "own" / "graph.dot")).empty());
}

// A V buffer deep enough for the latency, on a private link of one beat per row, that its
// reader's consumer waited for: the reader waited for a slot in the other lane, behind the
// normalize at II 3, the busiest unit, which is named though busy 67% of the cycles (the causal
// lanes idle by design).
TEST(ObserveCli, ADeepStreamBufferOnAOneBeatLinkNamesTheBusiestUnit) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set problem.seq_len=24 --set problem.head_dim=8 --set parallel.lanes=2 "
          "--set datapath=two_pass --set problem.causal=true --set memory.read_latency=2 "
          "--set datapaths.two_pass.units.normalize.ii=3 --set channels.depths.probs=2" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json run = json::parse(slurp(d / "o" / "report.json"))["runs"][0];
  EXPECT_EQ(run["limiting_channel"]["name"], "two_pass.lane0.v_rows");
  EXPECT_EQ(run["limiting_channel"]["reason"], "consumer_stalls");
  EXPECT_EQ(run["bottleneck"]["kind"], "slow_ii");
  EXPECT_EQ(run["bottleneck"]["unit"], "two_pass.lane1.normalize");
  for (const json& u : run["units"])
    if (u["name"] == "two_pass.lane1.normalize") {
      EXPECT_LT(100 * u["busy_cycles"].get<Cycle>(), 95 * run["cycles"].get<Cycle>());
    }
}

TEST(ObserveCli, DotOfADeadlockShowsUtilisationOfTheSpan) {
  const fs::path d = scratch();
  const SimRun r = sim(
      "--set datapath=naive --set problem.seq_len=32 --set channels.depths.score_bypass=8 --dot "
      "--out '" +
          (d / "o").string() + "'",
      d);
  ASSERT_EQ(r.status, 3) << r.err;
  const std::string dot = slurp(d / "o" / "graph.dot");
  const json run = json::parse(slurp(d / "o" / "report.json"))["runs"][0];
  for (const json& u : run["units"]) {
    const std::string name = u["name"];
    const std::string label = fmt::format("{:.1f}% busy", 100 * u["utilisation"].get<double>());
    EXPECT_NE(dot.find(label, dot.find("\"" + name + "\" [")), std::string::npos) << name;
    EXPECT_LE(u["utilisation"].get<double>(), 1.0) << name;
  }
}

// Without Graphviz and vcd2fst on PATH the run says so and writes what it can: graph.dot and
// trace.vcd (the .gtkw then opens the VCD).
TEST(ObserveCli, MissingToolsAreANoteNotAFailure) {
  const fs::path d = scratch();
  const std::string cmd = "env PATH=/nonexistent '" SDPA_SIM "' " + kSmall + "--dot --fst --out '" +
                          (d / "o").string() + "' >/dev/null 2>'" + (d / "stderr").string() + "'";
  const int raw = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 0);
  const std::string err = slurp(d / "stderr");
  EXPECT_NE(err.find("graph.svg not written: Graphviz's dot is not installed"), std::string::npos)
      << err;
  EXPECT_NE(err.find("trace.fst not written, trace.vcd kept: vcd2fst is not installed"),
            std::string::npos)
      << err;
  const json report = json::parse(slurp(d / "o" / "report.json"));
  EXPECT_EQ(report["files"], files_with_outputs({"graph.dot", "params.yaml", "report.json",
                                                 "trace.gtkw", "trace.states", "trace.vcd"}));
  EXPECT_NE(slurp(d / "o" / "trace.gtkw").find("[dumpfile] \"trace.vcd\""), std::string::npos);
}

// The simulator run with `args` under an address-space limit of `kib` KiB (ulimit -v), its
// stderr in d/stderr: its exit status, or -1 if a signal ended it. A script of its own: bash -c
// would need the command quoted once more.
int sim_in_address_space(const fs::path& d, int kib, const std::string& args) {
  std::ofstream(d / "run.sh") << "ulimit -v " << kib << "\n'" SDPA_SIM "' " << args
                              << " >/dev/null 2>" << shell_word(d / "stderr") << "\n";
  return shell("bash " + shell_word(d / "run.sh"));
}

// Trace events over a wide window take about three times the file's size in memory (naive,
// N = 512, the exp at II 2, so that units and channels change every cycle, over 400 000 cycles: a
// 270 MB file, some 880 MiB): past what the process may use, the run stops with exit 5 saying so
// and writes nothing, not a crash (errors.md). The limit, 400 MB of address space, holds the same
// run without trace events.
TEST(ObserveCli, TraceEventsPastTheMemoryAreExitFiveAndNothingWritten) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit";
#endif
  const fs::path d = scratch();
  const std::string run = "--set datapath=naive --set problem.seq_len=512 --set units.exp.ii=2 ";
  ASSERT_EQ(sim_in_address_space(d, 400000, run + out_arg(d / "plain")), 0) << slurp(d / "stderr");
  EXPECT_EQ(sim_in_address_space(d, 400000,
                                 run + "--trace-events --trace-window 0:400000" + out_arg(d / "o")),
            5);
  EXPECT_NE(slurp(d / "stderr").find("sdpa-sim: error: out of memory (no results written)"),
            std::string::npos)
      << slurp(d / "stderr");
  EXPECT_FALSE(fs::exists(d / "o"));
}

// The same where memory runs out during the run, inside SystemC, which reports an exception
// thrown in a process as one of its own ("uncaught exception"): it was an internal error.
TEST(ObserveCli, TraceEventsPastTheMemoryDuringTheRunAreExitFiveAndNothingWritten) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit";
#endif
  const fs::path d = scratch();
  EXPECT_EQ(sim_in_address_space(d, 200000,
                                 "--set datapath=naive --set problem.seq_len=1024 --trace-events "
                                 "--trace-window 0:100000000" +
                                     out_arg(d / "o")),
            5);
  // The last line: a loaded machine may have shown a progress line (every 2 s) before it.
  const std::string err = slurp(d / "stderr");
  EXPECT_TRUE(("\n" + err)
                  .ends_with("\nsdpa-sim: error: out of memory (no results written); a narrower "
                             "--trace-window or a "
                             "smaller problem needs less\n"))
      << err;
  EXPECT_FALSE(fs::exists(d / "o"));
}

// An address-space limit (ulimit -v) is a limit the memory check heeds, as the machine's: a run
// that needs more than it leaves is refused before it starts (exit 2, naming the key), where it
// ran 7 seconds into an out-of-memory error that blamed a --trace-window it did not have.
TEST(ObserveCli, ARunPastTheAddressSpaceLimitIsRefusedBeforeItStarts) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit";
#endif
  const fs::path d = scratch();
  EXPECT_EQ(sim_in_address_space(d, 400000,
                                 "--set datapath=naive --set problem.seq_len=1 --set "
                                 "problem.head_dim=65536 --set problem.heads=512" +
                                     out_arg(d / "o")),
            2)
      << slurp(d / "stderr");
  EXPECT_NE(slurp(d / "stderr")
                .find("sdpa-sim: error: --set problem.head_dim=65536: problem.head_dim: "
                      "this run needs about 1.3 GiB"),
            std::string::npos)
      << slurp(d / "stderr");
  EXPECT_NE(slurp(d / "stderr").find("the address-space limit (ulimit -v) leaves"),
            std::string::npos)
      << slurp(d / "stderr");
  EXPECT_FALSE(fs::exists(d / "o"));
}

// A tool that is there but fails is a failed write (exit 5, errors.md): the run's results are
// all or nothing, so none are written.
TEST(ObserveCli, AFailingToolIsAFailedWrite) {
  const fs::path d = scratch();
  fs::create_directories(d / "bin");
  std::ofstream(d / "bin" / "dot") << "#!/bin/sh\necho 'syntax error in line 1' >&2\nexit 1\n";
  fs::permissions(d / "bin" / "dot", fs::perms::owner_all);
  const std::string cmd = "env PATH='" + (d / "bin").string() + ":/usr/bin:/bin' '" SDPA_SIM "' " +
                          kSmall + "--dot --out '" + (d / "o").string() + "' >/dev/null 2>'" +
                          (d / "stderr").string() + "'";
  const int raw = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 5);
  const std::string err = slurp(d / "stderr");
  EXPECT_NE(err.find((d / "o" / "graph.svg").string() +
                     ": cannot write: Graphviz's dot exited with status 1 (no results written; "),
            std::string::npos)
      << err;
  EXPECT_FALSE(fs::exists(d / "o"));
}

// At the boundary: a window from the run's last cycle on holds it, and one from the cycle after
// is noted as the one after the run's end is.
TEST(ObserveCli, AWindowFromTheCycleAfterTheRunsLastIsNoted) {
  const fs::path d = scratch();
  const SimRun r = sim(kSmall + "--out " + shell_word(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  Cycle span = 0;
  const nlohmann::json report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  for (const auto& run : report["runs"]) span = std::max(span, run["span_cycles"].get<Cycle>());
  const auto window = [&](Cycle from, const char* out) {
    return sim(kSmall + fmt::format("--trace-events --trace-window {}:{} --out ", from, from + 10) +
                   shell_word(d / out),
               d);
  };
  EXPECT_EQ(window(span - 1, "last").err, "");
  EXPECT_EQ(window(span, "after").err,
            fmt::format("sdpa-sim: note: --trace-window {}:{} starts after the run's last cycle, "
                        "{}: trace.json holds no intervals\n",
                        span, span + 10, span - 1));
}

}  // namespace
}  // namespace sdpa::test
