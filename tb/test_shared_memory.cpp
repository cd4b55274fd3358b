// memory.ports: shared. One link of B bytes per cycle for all of a datapath's streams, granted in
// time order: at ample bandwidth the private links' closed forms, between that and the roofline
// those plus the last lane's dot product's waits for grants, when bandwidth-bound the roofline's
// (docs/timing.md, "A shared memory link"), the same output either way.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#include "tb/cli.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

DatapathConfig shared_link(unsigned bytes_per_cycle, std::size_t lanes = 1) {
  DatapathConfig c = default_config();
  c.memory.shared = true;
  c.memory.bytes_per_cycle = bytes_per_cycle;
  c.lanes = lanes;
  return c;
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

std::string name_of(const std::string& datapath, const std::string& rest) {
  return datapath + "_" + rest;
}

// Ample bandwidth. d = 16: 64-byte rows; one lane requests at most a Q, a K and a V row in a
// cycle, which a 256-byte link carries within the cycle, so no request waits for another's.
class Ample : public testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(Ample, RunsAsOnPrivateLinks) {
  const auto& [datapath, causal] = GetParam();
  const AttentionShape s =
      causal ? AttentionShape{1, 2, 1, 20, 32, 16, true} : AttentionShape::square(2, 24, 16);
  const AttentionInputs in = random_inputs(s, 5);
  const DatapathConfig c = shared_link(256);
  const DatapathResult run = simulate(in, {datapath}, c).runs.at(0);
  expect_accurate(in, run);
  EXPECT_EQ(run.cycles, closed_form_cycles(datapath, s, c));
}

INSTANTIATE_TEST_SUITE_P(SharedMemory, Ample,
                         testing::Combine(testing::ValuesIn(datapath_names()), testing::Bool()),
                         [](const auto& info) {
                           return name_of(std::get<0>(info.param),
                                          std::get<1>(info.param) ? "causal_gqa" : "square");
                         });

// Between ample and the roofline: the link carries a K and a V row per cycle but not a run's
// first cycle's rows (its P Q rows with them), so some wait for a grant. The run takes the private
// links' cycles (the closed forms) plus the cycles the dot product of the lane that ends the run
// was starved longer (docs/timing.md, "Between ample and the roofline"). Two runs of the
// simulator: one elaboration per process.
struct Band {
  AttentionShape shape;
  std::size_t lanes;
  unsigned bytes_per_cycle;
  unsigned read_latency;
  bool longer;  // than on private links
};

class Between : public testing::TestWithParam<Band> {};

TEST_P(Between, TakesThePrivateLinksCyclesPlusTheLastLanesLongerWaits) {
  const Band& b = GetParam();
  const AttentionShape& s = b.shape;
  const fs::path d = scratch();
  auto runs = [&](const std::string& ports) {
    const fs::path out = d / ports;
    const SimRun r = sim(
        fmt::format("--set datapath=all --set problem.batch={} --set problem.heads={} --set "
                    "problem.kv_heads={} --set problem.seq_len={} --set problem.kv_len={} --set "
                    "problem.head_dim={} --set problem.causal={} --set parallel.lanes={} --set "
                    "memory.bytes_per_cycle={} --set memory.read_latency={} --set "
                    "memory.ports={} {}",
                    s.batch, s.heads, s.kv_heads, s.seq_len, s.kv_len, s.head_dim, s.causal,
                    b.lanes, b.bytes_per_cycle, b.read_latency, ports, out_arg(out)),
        d);
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(slurp(out / "report.json"))["runs"];
  };
  // Per lane, in lane order.
  auto per_lane = [](const json& run, const std::string& suffix, const char* key) {
    std::vector<std::uint64_t> values;
    for (const char* list : {"units", "channels"})
      for (const json& x : run[list])
        if (x["name"].get<std::string>().ends_with(suffix)) values.push_back(x[key]);
    return values;
  };
  const json shared = runs("shared"), alone = runs("private");
  ASSERT_EQ(shared.size(), datapath_names().size());
  DatapathConfig c = default_config();
  c.lanes = b.lanes;
  c.memory.bytes_per_cycle = b.bytes_per_cycle;
  c.memory.read_latency = b.read_latency;
  for (std::size_t i = 0; i < shared.size(); ++i) {
    const std::string datapath = alone[i]["datapath"];
    const std::uint64_t cycles = shared[i]["cycles"], private_cycles = alone[i]["cycles"];
    EXPECT_EQ(shared[i]["status"], "ok") << datapath;
    EXPECT_EQ(private_cycles, closed_form_cycles(datapath, s, c)) << datapath;
    EXPECT_EQ(cycles > private_cycles, b.longer) << datapath;
    const auto ends = per_lane(shared[i], "out_rows", "last_ready");
    const auto waits = per_lane(shared[i], "dot_product", "starved_cycles");
    const auto waits_alone = per_lane(alone[i], "dot_product", "starved_cycles");
    ASSERT_EQ(ends.size(), b.lanes);
    std::uint64_t longer = 0;  // of the lanes whose output ends the run, the most
    for (std::size_t lane = 0; lane < b.lanes; ++lane)
      if (ends[lane] == cycles) longer = std::max(longer, waits[lane] - waits_alone[lane]);
    EXPECT_EQ(cycles - private_cycles, longer) << datapath;
  }
}

// A decode step of 2 sequences, 8 heads on 2 K/V heads, 4 lanes: rows of 64 bytes, 6 of them (384
// bytes) in a run's first cycle; a causal prefill of 2 heads on one K/V head, 2 lanes: 4 rows
// (256 bytes). Two runs on 3 lanes in which lane 2 waits a cycle longer than on private links, but
// not the lane that ends the run, which then takes the private links' cycles: a causal prefill of
// 8 rows (lane 1 has the longest, the last), and a decode step of 4 heads on one K/V head (lane 0
// has the fourth).
INSTANTIATE_TEST_SUITE_P(SharedMemory, Between,
                         testing::Values(Band{{2, 8, 2, 1, 64, 16, false}, 4, 200, 10, true},
                                         Band{{1, 2, 1, 32, 32, 16, true}, 2, 150, 10, true},
                                         Band{{1, 1, 1, 8, 8, 16, true}, 3, 229, 11, false},
                                         Band{{1, 4, 1, 1, 16, 4, false}, 3, 66, 20, false}),
                         [](const auto& info) {
                           const Band& b = info.param;
                           return fmt::format("{}_N{}_P{}_B{}",
                                              b.shape.causal ? "causal_prefill" : "decode",
                                              b.shape.seq_len, b.lanes, b.bytes_per_cycle);
                         });

// Bandwidth-bound: N, B, lanes.
struct Bound {
  std::size_t n;
  unsigned bytes_per_cycle;
  std::size_t lanes;
};

// A stream's last row's ready stamp, the latest over lanes.
Cycle last_ready(const DatapathResult& run, const std::string& stream) {
  Cycle latest = 0;
  for (const ChannelStats& ch : run.channels)
    if (ch.name.ends_with("." + stream)) latest = std::max(latest, ch.last_ready);
  return latest;
}

// The last score's path starts when its Q and K rows are both ready, then meets the rescale of
// its V row (docs/timing.md, "The roofline").
Cycle reordered_roofline(const DatapathResult& run, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return Cycle{L(c, "reordered", unit)}; };
  const Cycle qk = std::max(last_ready(run, "q_rows"), last_ready(run, "k_rows"));
  return std::max(last_ready(run, "v_rows") + l("rescale_accumulate"),
                  qk + l("dot_product") + l("running_max") +
                      std::max(l("rescale_accumulate"), l("running_sum"))) +
         l("row_divide");
}

class Roofline : public testing::TestWithParam<std::tuple<std::string, Bound>> {};

TEST_P(Roofline, ABandwidthBoundRunEndsAFixedLatencyAfterTheLinksLastByte) {
  // A link never idle from cycle 0 carries its last byte in cycle ⌈bytes / B⌉ − 1; the row it
  // belongs to is ready read_latency cycles later. For naive and two_pass that row is the last V
  // row, whose weighted sum is then the last output; reordered's last V row meets the rescale of
  // the last score, which its K row (granted a little earlier) feeds through the dot product and
  // the running max, as it does the row's sum (docs/timing.md, "The roofline").
  const auto& [datapath, b] = GetParam();
  const std::string dp = datapath;
  const AttentionShape s = AttentionShape::square(1, b.n, 16);
  const AttentionInputs in = random_inputs(s, 6);
  const DatapathConfig c = shared_link(b.bytes_per_cycle, b.lanes);
  const DatapathResult run = simulate(in, {dp}, c).runs.at(0);
  expect_accurate(in, run);
  EXPECT_EQ(run.link_idle_cycles(), 0u);
  const Cycle last_row = ceil_div(run.bytes_read(), b.bytes_per_cycle) - 1 + reader_latency(c);
  auto l = [&](const char* unit) { return Cycle{L(c, dp, unit)}; };
  if (dp == "reordered") {
    const Cycle k = last_ready(run, "k_rows"), v = last_ready(run, "v_rows");
    EXPECT_EQ(v, last_row);
    EXPECT_LT(k, v);
    EXPECT_LT(last_ready(run, "q_rows"), k) << "a run's Q rows come with its first K row";
    EXPECT_EQ(run.cycles, reordered_roofline(run, c));
    EXPECT_LE(run.cycles, last_row + l("dot_product") + l("running_max") + l("rescale_accumulate") +
                              l("row_divide"));
  } else {
    EXPECT_EQ(run.cycles, last_row + l("weighted_sum"));
  }
  // The roofline: B over the bytes a score needs, a K and a V row per P scores.
  EXPECT_LE(double(run.scores) / double(run.cycles),
            double(b.bytes_per_cycle) * double(b.lanes) / (2.0 * 16 * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(SharedMemory, Roofline,
                         testing::Combine(testing::ValuesIn(datapath_names()),
                                          testing::Values(Bound{32, 8, 1}, Bound{48, 16, 1},
                                                          Bound{64, 32, 1}, Bound{64, 16, 4})),
                         [](const auto& info) {
                           const Bound& b = std::get<1>(info.param);
                           return name_of(
                               std::get<0>(info.param),
                               fmt::format("N{}_B{}_P{}", b.n, b.bytes_per_cycle, b.lanes));
                         });

// A decode step over one key: each run's K and V rows come first and its lanes' Q rows after
// them, so the link's last row is the last lane's Q row, which starts the last score's path, not
// the K row (found by a re-derivation of the form, 33 of 394 random shared-link runs, all N_kv =
// 1).
TEST(SharedMemory, ADecodeStepOverOneKeyEndsAfterItsLastQRow) {
  const AttentionShape s{2, 4, 2, 1, 1, 32, false};
  const AttentionInputs in = random_inputs(s, 7);
  const DatapathConfig c = shared_link(32, 2);
  const DatapathResult run = simulate(in, {"reordered"}, c).runs.at(0);
  expect_accurate(in, run);
  EXPECT_EQ(run.link_idle_cycles(), 0u);
  const Cycle last_row = ceil_div(run.bytes_read(), 32) - 1 + reader_latency(c);
  EXPECT_EQ(last_ready(run, "q_rows"), last_row);
  EXPECT_LT(last_ready(run, "k_rows"), last_row);
  EXPECT_EQ(run.cycles, reordered_roofline(run, c));
}

// A causal mask's uneven rows, or lanes, leave the link idle in some cycles even where it is the
// limit: the last byte leaves that many cycles later, which the report gives as link_idle_cycles,
// and the run ends the same fixed latency after it (docs/timing.md, "The roofline"). Since I is
// the last byte's lag, the form alone only moves the count to the link's last byte: I and the
// cycles are pinned to the examples timing.md gives.
struct Idling {
  std::size_t n, heads, kv_heads, lanes;
  unsigned bytes_per_cycle;
  Cycle idle, cycles;  // timing.md's I and cycle count
};

class LinkIdles : public testing::TestWithParam<std::tuple<std::string, Idling>> {};

TEST_P(LinkIdles, TheRunEndsAFixedLatencyAfterTheLastByteItsIdleCyclesIncluded) {
  const auto& [datapath, b] = GetParam();
  const AttentionShape s{1, b.heads, b.kv_heads, b.n, b.n, 16, true};
  const AttentionInputs in = random_inputs(s, 7);
  const DatapathConfig c = shared_link(b.bytes_per_cycle, b.lanes);
  const DatapathResult run = simulate(in, {datapath}, c).runs.at(0);
  expect_accurate(in, run);
  EXPECT_EQ(run.link_idle_cycles(), b.idle);
  EXPECT_EQ(run.cycles, b.cycles);
  EXPECT_EQ(run.cycles, ceil_div(run.bytes_read(), b.bytes_per_cycle) - 1 + run.link_idle_cycles() +
                            reader_latency(c) + L(c, datapath, "weighted_sum"));
}

INSTANTIATE_TEST_SUITE_P(SharedMemory, LinkIdles,
                         testing::Values(std::tuple("naive", Idling{48, 2, 1, 1, 32, 31, 9644}),
                                         std::tuple("naive", Idling{40, 2, 2, 4, 128, 83, 576}),
                                         std::tuple("two_pass", Idling{40, 2, 2, 4, 128, 50, 543})),
                         [](const auto& info) {
                           const Idling& b = std::get<1>(info.param);
                           return name_of(std::get<0>(info.param),
                                          fmt::format("N{}_H{}_Hkv{}_P{}_B{}", b.n, b.heads,
                                                      b.kv_heads, b.lanes, b.bytes_per_cycle));
                         });

// The link carries the input format's bytes: bf16 rows are half as long, so a bandwidth-bound run
// takes half the cycles, on the same closed form.
TEST(SharedMemory, TheLinkCarriesTheInputFormatsBytes) {
  const AttentionShape s = AttentionShape::square(1, 64, 16);
  DatapathConfig c = shared_link(16);
  c.input = Format::bf16;
  const DatapathResult run = simulate(random_inputs(s, 8), {"naive"}, c).runs.at(0);
  EXPECT_EQ(run.bytes_read(), (s.q_elements() + 2 * s.scores() * s.head_dim) * 2);
  EXPECT_EQ(run.cycles,
            ceil_div(run.bytes_read(), 16) - 1 + reader_latency(c) + L(c, "naive", "weighted_sum"));
}

// Whatever the lanes and shape, the bytes read per cycle, on average over the run, stay within B;
// with private links the same runs read more than B per cycle (three or more streams, each at up
// to B). Each cycle's bytes are checked in the link's trace (test_observe.cpp,
// TraceEventsCountTheSharedLinksBytesPerCycle).
class Within : public testing::TestWithParam<std::tuple<std::string, std::size_t, bool>> {};

TEST_P(Within, TheLinkCarriesAtMostItsBandwidthOnAverage) {
  const auto& [datapath, lanes, shared] = GetParam();
  const AttentionShape s{2, 2, 1, 24, 40, 8, true};
  const AttentionInputs in = random_inputs(s, 7);
  DatapathConfig c = shared_link(32, lanes);
  c.memory.shared = shared;
  const DatapathResult run = simulate(in, {datapath}, c).runs.at(0);
  expect_accurate(in, run);
  const double per_cycle = double(run.bytes_read()) / double(run.cycles);
  if (shared)
    EXPECT_LE(per_cycle, 32.0);
  else
    EXPECT_GT(per_cycle, 32.0);
}

INSTANTIATE_TEST_SUITE_P(SharedMemory, Within,
                         testing::Combine(testing::ValuesIn(datapath_names()),
                                          testing::Values(1, 3), testing::Bool()),
                         [](const auto& info) {
                           return name_of(
                               std::get<0>(info.param),
                               fmt::format("P{}_{}", std::get<1>(info.param),
                                           std::get<2>(info.param) ? "shared" : "private"));
                         });

TEST(SharedMemory, ReportsThePortsAndTheAchievedBandwidth) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=reordered --set problem.seq_len=32 --set problem.head_dim=16 "
          "--set memory.ports=shared --set memory.bytes_per_cycle=16 --out '" +
              (d / "out").string() + "'",
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json run = json::parse(slurp(d / "out" / "report.json"))["runs"][0];
  const json& traffic = run["memory_traffic"];
  EXPECT_EQ(traffic["ports"], "shared");
  EXPECT_EQ(traffic["link_bytes_per_cycle"], 16);
  // Bandwidth-bound: the link is busy almost every cycle.
  EXPECT_GT(traffic["bytes_read_per_cycle"].get<double>(), 15.9);
  EXPECT_LE(traffic["bytes_read_per_cycle"].get<double>(), 16.0);
  // Over the run's cycles: Q once (32 rows), K and V once per score (32²), 64 bytes a row.
  const std::uint64_t bytes_read = (32 + 2 * 32 * 32) * 64;
  EXPECT_EQ(traffic["bytes_read"]["total"], bytes_read);
  EXPECT_DOUBLE_EQ(traffic["bytes_read_per_cycle"].get<double>(),
                   double(bytes_read) / run["cycles"].get<double>());
  EXPECT_NE(r.out.find("of 16 B/cycle"), std::string::npos) << r.out;
}

TEST(SharedMemory, AnUnknownPortsValueIsExitTwoNamingTheKey) {
  const fs::path d = scratch();
  const SimRun r = sim("--set memory.ports=common --out '" + (d / "out").string() + "'", d);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("memory.ports"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("private, shared"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "out"));
}

}  // namespace
}  // namespace sdpa::test
