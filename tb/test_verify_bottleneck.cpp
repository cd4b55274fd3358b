// --verify-bottleneck: the bottleneck statement checked by rerunning with its limit relieved.
// Each trial's cycles are re-derived here by running the simulator with the trial's own --set.
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>

#include "sim/simulation.h"
#include "tb/cli.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Checked {
  SimRun run;
  json report;
};

Checked verify(const std::string& args, const fs::path& d) {
  Checked c{sim(args + " --verify-bottleneck" + out_arg(d / "o"), d), {}};
  if (fs::exists(d / "o" / "report.json")) c.report = json::parse(slurp(d / "o" / "report.json"));
  return c;
}

json check_of(const Checked& c, std::size_t run = 0) {
  return c.report["runs"][run]["bottleneck"]["check"];
}

// A trial's status, cycles and full channel are those of a plain run of the datapath on the run's
// params.yaml with the trial's --set.
void expect_reproduced(const std::string& datapath, const json& trial, const fs::path& d) {
  static int runs = 0;
  const fs::path o = d / ("again" + std::to_string(runs++));
  const std::string sets = trial["set"];
  const SimRun r = sim(shell_word(d / "o" / "params.yaml") + " --set datapath=" + datapath +
                           " --set " + sets + out_arg(o),
                       d);
  ASSERT_EQ(r.status, trial["status"] == "deadlock" ? 3 : 0) << r.err;
  const json run = json::parse(slurp(o / "report.json"))["runs"][0];
  EXPECT_EQ(run["status"], trial["status"]) << sets;
  EXPECT_EQ(run["cycles"], trial["cycles"]) << sets;
  if (trial["status"] == "deadlock") {
    EXPECT_EQ(run["bottleneck"]["channel"], "naive." + trial["stopped_at"].get<std::string>());
  }
}

// k_rows 4 deep behind a memory latency of 10 streams 5 rows per 12 cycles (docs/timing.md): 16
// deep keeps up, so the run is more than twice as fast, and the summary says so.
TEST(VerifyBottleneck, AShallowStreamBufferRelievedIsConfirmed) {
  const fs::path d = scratch();
  const std::string args =
      "--set problem.seq_len=64 --set problem.head_dim=8 --set channels.depths.k_rows=4";
  const Checked c = verify(args + " --set datapath=naive", d);
  ASSERT_EQ(c.run.status, 0) << c.run.err;
  const json check = check_of(c);
  EXPECT_EQ(c.report["runs"][0]["bottleneck"]["kind"], "memory_latency");
  EXPECT_EQ(check["confirmed"], true);
  ASSERT_EQ(check["trials"].size(), 1u);
  const json& t = check["trials"][0];
  EXPECT_EQ(t["named"], true);
  EXPECT_EQ(t["limit"], "k_rows depth 4 → 16");
  EXPECT_EQ(t["set"], "datapaths.naive.channels.depths.k_rows=16");
  const double before = c.report["runs"][0]["cycles"].get<double>();
  EXPECT_DOUBLE_EQ(t["speedup"].get<double>(), before / t["cycles"].get<double>());
  EXPECT_GT(t["speedup"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(t["cycles_per_score"].get<double>(), t["cycles"].get<double>() / (64 * 64));
  expect_reproduced("naive", t, d);
  EXPECT_NE(c.run.out.find("naive: bottleneck: k_reader: memory latency 10 with k_rows depth 4"
                           ": 2.44 cycles per score\n"
                           "  check (--verify-bottleneck): confirmed\n"
                           "    k_rows depth 4 → 16 (named): 1.04 cycles per score, 2.34× as "
                           "fast\n"),
            std::string::npos)
      << c.run.out;
}

// A unit only the reordered datapath has is under its datapath in params.yaml; the dot product,
// the same in both datapaths, under `units`: each relief is the key the file holds.
TEST(VerifyBottleneck, ASlowUnitRelievedIsConfirmed) {
  const fs::path d = scratch();
  for (const auto& [unit, datapath, key] :
       {std::tuple{"running_max", "reordered", "datapaths.reordered.units.running_max.ii=1"},
        {"dot_product", "both", "units.dot_product.ii=1"}}) {
    const fs::path dd = d / unit;
    fs::create_directories(dd);
    const Checked c = verify(fmt::format("--set problem.seq_len=32 --set problem.head_dim=8 "
                                         "--set units.{}.ii=3 --set datapath={}",
                                         unit, datapath),
                             dd);
    ASSERT_EQ(c.run.status, 0) << c.run.err;
    ASSERT_EQ(c.report["runs"].size(), std::string(datapath) == "both" ? 2u : 1u);
    for (const json& run : c.report["runs"]) {
      const json& check = run["bottleneck"]["check"];
      EXPECT_EQ(run["bottleneck"]["kind"], "slow_ii") << unit;
      ASSERT_EQ(check["trials"].size(), 1u) << unit;
      EXPECT_EQ(check["confirmed"], true) << unit;
      EXPECT_EQ(check["trials"][0]["set"], key);
      EXPECT_GT(check["trials"][0]["speedup"].get<double>(), 2.5) << unit;
      expect_reproduced(run["datapath"], check["trials"][0], dd);
    }
  }
}

// Two units at II 3 limit at one rate: the statement names both, and both are relieved in one
// run, which is confirmed (either alone changes nothing).
TEST(VerifyBottleneck, LimitsNamedAtTheSameRateAreRelievedTogether) {
  const fs::path d = scratch();
  const Checked c = verify(
      "--set problem.seq_len=32 --set problem.head_dim=8 --set datapath=reordered "
      "--set units.running_max.ii=3 --set units.running_sum.ii=3",
      d);
  ASSERT_EQ(c.run.status, 0) << c.run.err;
  const json& b = c.report["runs"][0]["bottleneck"];
  ASSERT_EQ(b["also"].size(), 1u);
  EXPECT_EQ(b["also"][0]["unit"], "reordered.running_sum");
  const json check = check_of(c);
  EXPECT_EQ(check["confirmed"], true);
  ASSERT_EQ(check["trials"].size(), 1u);
  const json& t = check["trials"][0];
  EXPECT_EQ(t["limit"], "running_max II 3 → 1 and running_sum II 3 → 1");
  EXPECT_EQ(t["set"],
            "datapaths.reordered.units.running_max.ii=1 --set "
            "datapaths.reordered.units.running_sum.ii=1");
  EXPECT_GT(t["speedup"].get<double>(), 2.5);
  expect_reproduced("reordered", t, d);
}

// A shared link named with three channels at its rate (a run of four scores, mostly fill),
// relieved together, is not confirmed: each part is then no alternative of its own, and the run
// of all that waited gives each key once (it gave the link's twice, which the simulator
// refuses), so it reproduces.
TEST(VerifyBottleneck, APartOfTheNamedLimitsIsRelievedOnceInAllThatWaited) {
  const fs::path d = scratch();
  const Checked c = verify(
      "--set problem.seq_len=1 --set problem.kv_len=2 --set problem.head_dim=4 "
      "--set problem.heads=2 --set memory.ports=shared --set memory.bytes_per_cycle=32 "
      "--set memory.read_latency=12 --set datapath=naive --set channels.depths.q_rows=4 "
      "--set channels.depths.k_rows=8 --set channels.depths.scores=3",
      d);
  ASSERT_EQ(c.run.status, 0) << c.run.err;
  ASSERT_EQ(c.report["runs"][0]["bottleneck"]["also"].size(), 3u);
  const json check = check_of(c);
  EXPECT_EQ(check["confirmed"], false);
  const json& trials = check["trials"];
  ASSERT_GE(trials.size(), 2u);
  EXPECT_EQ(trials[0]["limit"],
            "memory bytes_per_cycle 32 → 128 and k_rows depth 8 → 32 and q_rows depth 4 → 16 and "
            "scores depth 3 → 12");
  for (std::size_t i = 1; i < trials.size(); ++i) {
    const std::string set = trials[i]["set"];
    EXPECT_NE(set, "memory.bytes_per_cycle=128");
    EXPECT_NE(set, "datapaths.naive.channels.depths.q_rows=16");
    for (const char* key : {"bytes_per_cycle", "k_rows", "q_rows", "scores"})
      EXPECT_EQ(set.find(key), set.rfind(key)) << set;
    expect_reproduced("naive", trials[i], d);
  }
}

// A short naive run on a shared link with `probs` 3 and `v_rows` 2 deep: limits that no bound in
// closed form sees, which relieved one at a time run less than 5% faster (the named `probs` 1.04×,
// the link 1.03×, `v_rows` slower) and all that waited, relieved together, 1.35× as fast; the check
// says so.
TEST(VerifyBottleneck, LimitsAtOneRateAreNotConfirmedAloneButTogether) {
  const fs::path d = scratch();
  const std::string args =
      "--set problem.seq_len=8 --set problem.head_dim=8 --set memory.read_latency=2 --set "
      "memory.ports=shared --set memory.bytes_per_cycle=48 --set channels.depths.probs=3 --set "
      "channels.depths.v_rows=2";
  const Checked c = verify(args + " --set datapath=naive", d);
  ASSERT_EQ(c.run.status, 0) << c.run.err;
  const json check = check_of(c);
  EXPECT_EQ(check["confirmed"], false);
  const json& trials = check["trials"];
  // The named limit, then the three likeliest others alone, in the order of the waits each may
  // explain (timing.md, "Checking the bottleneck"), then all that waited together.
  ASSERT_EQ(trials.size(), 5u);
  EXPECT_EQ(trials[0]["named"], true);
  EXPECT_EQ(trials[1]["limit"], "memory bytes_per_cycle 48 → 192");
  EXPECT_EQ(trials[2]["limit"], "shifted depth 2 → 8");
  EXPECT_EQ(trials[3]["limit"], "v_rows depth 2 → 8");
  const json& together = trials.back();
  for (std::size_t i = 0; i + 1 < trials.size(); ++i)
    EXPECT_LT(trials[i]["speedup"].get<double>(), 1.05) << trials[i]["limit"];
  EXPECT_EQ(check["fastest"], together["set"]);
  EXPECT_GT(together["speedup"].get<double>(), 1.3);
  EXPECT_NE(together["set"].get<std::string>().find("v_rows="), std::string::npos);
  const std::string limit = together["limit"];
  EXPECT_EQ(limit.rfind("the ", 0), 0u) << limit;
  EXPECT_NE(limit.find(" that waited, together"), std::string::npos) << limit;
  expect_reproduced("naive", together, d);
  EXPECT_NE(
      c.run.out.find("  check (--verify-bottleneck): not confirmed, " + limit + " ran fastest\n"),
      std::string::npos)
      << c.run.out;
}

// Naive, rows of 3 (two heads), `score_bypass` 6 and `exp_bypass` 7 deep, both short of the 8 a
// row and its latencies need: the exp bypass's rows wait a cycle every other row, the score
// bypass's two, so its bound is not at the same rate, and while the score bypass holds the rows
// back the exp never waits for a slot. The exp bypass is not among those that waited, relieving
// them runs 1.03× as fast; in that run the exp waits for its bypass, and a further round relieves
// it too: 1.08×.
TEST(VerifyBottleneck, ALimitThatWaitedOnlyOnceTheOthersWereRelievedJoinsThem) {
  const fs::path d = scratch();
  const std::string args =
      "--set problem.seq_len=3 --set problem.heads=2 --set problem.head_dim=4 --set "
      "channels.depths.score_bypass=6 --set channels.depths.exp_bypass=7";
  const Checked c = verify(args + " --set datapath=naive", d);
  ASSERT_EQ(c.run.status, 0) << c.run.err;
  const json check = check_of(c);
  EXPECT_EQ(check["confirmed"], false);
  const json& trials = check["trials"];
  ASSERT_GE(trials.size(), 3u);
  const json& first = trials[trials.size() - 2];
  const json& then = trials.back();
  EXPECT_LT(first["speedup"].get<double>(), 1.05) << first["limit"];
  EXPECT_EQ(first["set"].get<std::string>().find("exp_bypass="), std::string::npos);
  EXPECT_NE(then["set"].get<std::string>().find("exp_bypass="), std::string::npos);
  EXPECT_EQ(then["set"].get<std::string>().rfind(first["set"].get<std::string>() + " --set ", 0),
            0u)
      << then["set"];
  EXPECT_GE(then["speedup"].get<double>(), 1.05);
  EXPECT_EQ(check["fastest"], then["set"]);
  EXPECT_NE(then["limit"].get<std::string>().find(" that waited then, together"), std::string::npos)
      << then["limit"];
  expect_reproduced("naive", then, d);
}

// A deadlock's full bypass is relieved to hold twice a row and its latencies (64 rows of 64: 192),
// and the run completes; with the exp bypass as shallow, the run gets past the score bypass and
// deadlocks at the next, which confirms the first as a cause, as does a watchdog stop. The run's
// exit status is its own (3), whatever the check found.
TEST(VerifyBottleneck, ADeadlocksFullChannelDeeperCompletesOrDeadlocksAtTheNext) {
  const fs::path d = scratch();
  for (const auto& [sets, stopped_at] :
       {std::pair<std::string, std::string>{"--set channels.depths.score_bypass=16", ""},
        {"--set channels.depths.score_bypass=16 --set channels.depths.exp_bypass=16",
         "exp_bypass"}}) {
    const fs::path dd = d / (stopped_at.empty() ? "completes" : "next");
    fs::create_directories(dd);
    const Checked c = verify(
        "--set datapath=naive --set problem.seq_len=64 --set problem.head_dim=8 " + sets, dd);
    EXPECT_EQ(c.run.status, 3) << c.run.err;
    const json check = check_of(c);
    EXPECT_EQ(check["confirmed"], true) << sets;
    ASSERT_EQ(check["trials"].size(), 1u);
    const json& t = check["trials"][0];
    EXPECT_EQ(t["limit"], "score_bypass depth 16 → 192");
    EXPECT_EQ(t["status"], stopped_at.empty() ? "ok" : "deadlock");
    EXPECT_EQ(t["stopped_at"], stopped_at.empty() ? json(nullptr) : json(stopped_at));
    expect_reproduced("naive", t, dd);
    EXPECT_NE(c.run.out.find(stopped_at.empty()
                                 ? "check (--verify-bottleneck): confirmed, the run completes\n"
                                 : "check (--verify-bottleneck): confirmed, the run then deadlocks "
                                   "at exp_bypass\n    score_bypass depth 16 → 192 (named): "
                                   "deadlock at exp_bypass\n"),
              std::string::npos)
        << c.run.out;
  }
  // A relieved run keeps the run's watchdog: one that runs on until it stops it got past the
  // full channel too.
  const fs::path dd = d / "watchdog";
  fs::create_directories(dd);
  const Checked c = verify(
      "--set datapath=naive --set problem.seq_len=64 --set problem.head_dim=8 "
      "--set channels.depths.score_bypass=16 --set sim.max_cycles=300",
      dd);
  EXPECT_EQ(c.run.status, 3) << c.run.err;
  const json check = check_of(c);
  EXPECT_EQ(check["confirmed"], true);
  ASSERT_EQ(check["trials"].size(), 1u);
  EXPECT_EQ(check["trials"][0]["status"], "timeout");
  EXPECT_NE(c.run.out.find("check (--verify-bottleneck): confirmed, the run then runs on until "
                           "the watchdog stops it\n"),
            std::string::npos)
      << c.run.out;
}

// A none statement that names a limit at the same rate tries it first, alone: relieved, it must
// change nothing (reordered, N = 32, d = 4, K and V rows of 16 bytes on a shared link of 32: the
// link 4× as fast, 1.02×).
TEST(VerifyBottleneck, ANoneStatementsLimitAtTheSameRateIsTriedFirst) {
  const fs::path d = scratch();
  const Checked c = verify(
      "--set datapath=reordered --set problem.seq_len=32 --set problem.head_dim=4 --set "
      "memory.ports=shared --set memory.bytes_per_cycle=32",
      d);
  ASSERT_EQ(c.run.status, 0) << c.run.err;
  const json& bottleneck = c.report["runs"][0]["bottleneck"];
  ASSERT_EQ(bottleneck["kind"], "none");
  ASSERT_EQ(bottleneck["also"].size(), 1u);
  EXPECT_EQ(bottleneck["also"][0]["kind"], "memory_bandwidth");
  const json check = check_of(c);
  EXPECT_EQ(check["confirmed"], true);
  ASSERT_GE(check["trials"].size(), 1u);
  const json& link = check["trials"][0];
  EXPECT_EQ(link["set"], "memory.bytes_per_cycle=128");
  EXPECT_LT(link["speedup"].get<double>(), 1 / 0.95);
  expect_reproduced("reordered", link, d);
}

// At full rate only the Q reader waits for slots (behind each row's scores), and the last
// units for their inputs: nothing is likely enough to try alone; all that waited, relieved
// together, run no faster, which confirms "none". Without the option the report has no check.
TEST(VerifyBottleneck, AtFullRateNothingRelievedRunsFaster) {
  const fs::path d = scratch();
  const std::string args = "--set problem.seq_len=64 --set problem.head_dim=8";
  const Checked c = verify(args, d);
  ASSERT_EQ(c.run.status, 0) << c.run.err;
  for (std::size_t run = 0; run < 2; ++run) {
    const json check = check_of(c, run);
    EXPECT_EQ(c.report["runs"][run]["bottleneck"]["kind"], "none");
    EXPECT_EQ(check["confirmed"], true);
    EXPECT_EQ(check["fastest"], nullptr);
    ASSERT_EQ(check["trials"].size(), 1u);
    const json& together = check["trials"][0];
    EXPECT_NE(together["set"].get<std::string>().find("channels.depths.q_rows="),
              std::string::npos);
    EXPECT_LT(together["speedup"].get<double>(), 1 / 0.95);
    expect_reproduced(c.report["runs"][run]["datapath"], together, d);
  }
  EXPECT_NE(c.run.out.find("check (--verify-bottleneck): confirmed, no limit tried ran 5% faster"),
            std::string::npos)
      << c.run.out;
  const SimRun plain = sim(args + out_arg(d / "p"), d);
  ASSERT_EQ(plain.status, 0) << plain.err;
  const json report = json::parse(slurp(d / "p" / "report.json"));
  EXPECT_FALSE(report["runs"][0]["bottleneck"].contains("check"));
  EXPECT_EQ(plain.out.find("--verify-bottleneck"), std::string::npos);
}

// Four lanes on one link of 16 bytes per cycle: the link is named in every datapath, and four
// times the bandwidth runs the lanes 3.0 to 3.7 times as fast (naive 3.04, reordered 3.70).
TEST(VerifyBottleneck, ASharedLinkWithLanesIsConfirmed) {
  const fs::path d = scratch();
  const Checked c = verify(
      "--set datapath=all --set problem.seq_len=32 --set problem.head_dim=8 "
      "--set parallel.lanes=4 --set memory.ports=shared --set memory.bytes_per_cycle=16",
      d);
  ASSERT_EQ(c.run.status, 0) << c.run.err;
  ASSERT_EQ(c.report["runs"].size(), datapath_names().size());
  for (const json& run : c.report["runs"]) {
    const json& check = run["bottleneck"]["check"];
    EXPECT_EQ(run["bottleneck"]["kind"], "memory_bandwidth") << run["datapath"];
    EXPECT_EQ(check["confirmed"], true) << run["datapath"];
    ASSERT_EQ(check["trials"].size(), 1u) << run["datapath"];
    EXPECT_EQ(check["trials"][0]["set"], "memory.bytes_per_cycle=64");
    EXPECT_GT(check["trials"][0]["speedup"].get<double>(), 2.5) << run["datapath"];
    expect_reproduced(run["datapath"], check["trials"][0], d);
  }
}

// A run the watchdog stopped has no cycle count to compare with: nothing is rerun.
TEST(VerifyBottleneck, AWatchdogStopIsNotChecked) {
  const fs::path d = scratch();
  const Checked c = verify(
      "--set datapath=naive --set problem.seq_len=32 --set problem.head_dim=8 "
      "--set sim.max_cycles=100",
      d);
  ASSERT_EQ(c.run.status, 4) << c.run.err;
  const json check = check_of(c);
  EXPECT_EQ(check["trials"], json::array());
  EXPECT_EQ(check["confirmed"], false);
  EXPECT_NE(c.run.out.find("check (--verify-bottleneck): not done, stopped by the watchdog"),
            std::string::npos)
      << c.run.out;
}

TEST(VerifyBottleneck, WithSizeBuffersOrCheckIsExit2) {
  const fs::path d = scratch();
  for (const std::string other : {"--size-buffers", "--check"}) {
    const SimRun r = sim("--verify-bottleneck " + other + out_arg(d / "o"), d);
    expect_error(r, {"--verify-bottleneck", other});
  }
}

// The child runs need a folder under TMPDIR: without one the run stops before simulating (exit 5,
// the system's refusal) and makes no --out folder.
TEST(VerifyBottleneck, WithoutATemporaryFolderIsExit5BeforeSimulating) {
  const fs::path d = scratch();
  const fs::path missing = d / "no-such-folder";
  ::setenv("TMPDIR", missing.c_str(), 1);
  const SimRun r = sim("--verify-bottleneck" + out_arg(d / "o"), d);
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_EQ(r.err,
            "sdpa-sim: error: --verify-bottleneck: cannot make a folder for child "
            "simulations in TMPDIR (" +
                missing.string() + "): No such file or directory\n");
  EXPECT_FALSE(fs::exists(d / "o"));
}

}  // namespace
}  // namespace sdpa::test
