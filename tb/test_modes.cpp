// Synchronized and decoupled modes give bit-identical cycles, outputs and channel statistics,
// deadlocks included, on random configurations (each run is its own sdpa-sim process).
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "sim/params.h"
#include "sim/simulation.h"
#include "tb/cli.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Random problem (batches, grouped heads, rectangular and causal shapes), latencies, IIs, memory
// (private or shared links) and channel depths; small depths make some deadlock.
std::string random_config(unsigned seed) {
  std::mt19937 gen(seed);
  auto pick = [&gen](unsigned lo, unsigned hi) {
    return std::uniform_int_distribution<unsigned>(lo, hi)(gen);
  };
  const unsigned n = pick(1, 24), kv_len = n + pick(0, 1) * pick(0, 12);
  const unsigned kv_heads = pick(1, 2), heads = kv_heads * pick(1, 2);
  std::string args = fmt::format(
      "--set datapath=all --set problem.seq_len={} --set problem.kv_len={} "
      "--set problem.head_dim={} --set problem.heads={} --set problem.kv_heads={} "
      "--set problem.batch={} --set problem.causal={} --set parallel.lanes={} "
      "--set problem.seed={} --set memory.read_latency={} --set memory.bytes_per_cycle={} ",
      n, kv_len, pick(1, 12), heads, kv_heads, pick(1, 2), pick(0, 1) == 1 ? "true" : "false",
      pick(1, 3), seed, pick(1, 12), std::vector<unsigned>{4, 16, 256}[pick(0, 2)]);
  // Every unit and channel name of every datapath, each once (a shared key sets all that have it).
  std::set<std::string> units, channels;
  for (const std::string& dp : datapath_names()) {
    units.insert(unit_names(dp).begin(), unit_names(dp).end());
    channels.insert(channel_names(dp).begin(), channel_names(dp).end());
  }
  for (const std::string& unit : units) {
    // A unit that writes nothing (the sink) has no latency to set.
    const int latency = pick(1, 8);
    if (!writes_nothing(unit)) args += fmt::format("--set units.{}.latency={} ", unit, latency);
    args += fmt::format("--set units.{}.ii={} ", unit, pick(1, 4) == 1 ? 2 : 1);
  }
  for (const std::string& ch : channels)
    if (pick(0, 2) == 0) args += fmt::format("--set channels.depths.{}={} ", ch, pick(1, 2 * n));
  // The streams of a datapath on one link (time-ordered grants) or a link each.
  args += fmt::format("--set memory.ports={} ", pick(0, 1) == 1 ? "shared" : "private");
  return args;
}

json without_wall_time(json report) {
  report["sim"].erase("wall_seconds");
  report["sim"].erase("mode");
  report["params"]["sim"].erase("mode");  // the effective parameters record it too
  return report;
}

class Modes : public testing::TestWithParam<unsigned> {};

TEST_P(Modes, SynchronizedAndDecoupledAgreeBitForBit) {
  const fs::path d = scratch();
  const std::string config = random_config(GetParam());
  json reports[2];
  const char* modes[2] = {"synchronized", "decoupled"};
  for (int m = 0; m < 2; ++m) {
    const SimRun r =
        sim(config + "--set sim.mode=" + modes[m] + " --out '" + (d / modes[m]).string() + "'", d);
    ASSERT_TRUE(r.status == 0 || r.status == 3) << r.err << config;
    // Warnings fail tests in process (tb/test_main.cpp); the simulator's own print "Warning: (".
    EXPECT_EQ((r.out + r.err).find("Warning: ("), std::string::npos) << r.out << r.err << config;
    reports[m] = json::parse(slurp(d / modes[m] / "report.json"));
  }
  EXPECT_EQ(without_wall_time(reports[0]), without_wall_time(reports[1])) << config;
  for (const json& run : reports[0]["runs"]) {
    const std::string o = "o_" + run["datapath"].get<std::string>() + ".npy";
    if (run["status"] != "deadlock") {
      EXPECT_EQ(slurp(d / modes[0] / o), slurp(d / modes[1] / o)) << o;
    }
    RecordProperty(run["datapath"].get<std::string>(), run["status"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(RandomConfigs, Modes, testing::Range(1u, 25u),
                         [](const auto& info) { return "seed" + std::to_string(info.param); });

TEST(Modes, RandomConfigsIncludeDeadlocksAndCompletedRuns) {
  // Guards the test above against drifting into all-deadlock or no-deadlock configurations.
  const fs::path d = scratch();
  int deadlocks = 0, completed = 0;
  for (unsigned seed = 1; seed < 25; ++seed) {
    const SimRun r =
        sim(random_config(seed) + "--out '" + (d / std::to_string(seed)).string() + "'", d);
    const json report = json::parse(slurp(d / std::to_string(seed) / "report.json"));
    for (const json& run : report["runs"])
      (run["status"] == "deadlock" ? deadlocks : completed) += 1;
    EXPECT_TRUE(r.status == 0 || r.status == 3) << r.err;
  }
  EXPECT_GE(deadlocks, 4);
  EXPECT_GE(completed, 8);
}

}  // namespace
}  // namespace sdpa::test
