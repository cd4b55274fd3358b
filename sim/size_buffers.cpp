#include "sim/size_buffers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>

#include "sim/child_run.h"
#include "sim/exit_status.h"
#include "sim/messages.h"
#include "sim/output.h"
#include "sim/simulation.h"

namespace sdpa {

int size_buffers(const Params& params, OutputFolder& out) {
  ChildRuns children("--size-buffers");
  // A child that refused its parameters is the parameters' error (exit 2); one that failed
  // otherwise, the system's (exit 5).
  auto child = [&](const Params& p) {
    try {
      return children.run(p);
    } catch (const ChildError& e) {
      if (e.refused) throw ParamError(e.what());
      throw WriteError(e.what());
    }
  };

  // Each datapath is sized alone, and its depths go under datapaths.NAME: a channel name several
  // datapaths have (scores, out_rows, the streams) is a different channel in each.
  std::map<std::string, std::map<std::string, std::size_t>> sized;
  std::map<std::string, Cycle> target;
  // Columns as wide as the longest name and a space or two (as the shipped datapaths' table has
  // always been laid out), at least as wide as theirs.
  std::size_t dp_width = 9, ch_width = 12;
  for (const std::string& dp : params.datapaths()) {
    dp_width = std::max(dp_width, dp.size());
    for (const std::string& ch : channel_names(dp)) ch_width = std::max(ch_width, ch.size());
  }
  const auto line = [&](const auto& dp, const auto& ch, const auto& depth, const auto& high) {
    return fmt::format("{:<{}} {:<{}} {:>11} {:>22}\n", dp, dp_width + 1, ch, ch_width + 2, depth,
                       high);
  };
  std::string table = line("datapath", "channel", "sized depth", "high water (ample)");
  // The depths as given (auto, or the user's), whose buffering the sized depths are compared with.
  std::map<std::string, ChildOutcome> given = child(params);
  for (const std::string& dp : params.datapaths()) {
    // Ample: more than any element can spend in a channel at full rate (a row, plus every
    // latency on the way, twice over), but no more than a slot per score, which no channel
    // carries more of, or the deepest a run accepts: slow units' latency × II can exceed it.
    std::uint64_t latencies = params.memory.read_latency + params.head_dim * 4;
    for (const auto& [unit, timing] : params.config_for(dp).timings)
      latencies += std::uint64_t{timing.latency} * timing.ii;
    const std::size_t ample = std::min({2 * (params.shape().kv_len + latencies) + 16,
                                        params.shape().scores() + 1, std::uint64_t{kMaxDepth}});
    Params p = params;
    p.datapath = dp;
    p.shared.default_depth = ample;
    p.shared.depths.clear();
    for (auto& [name, keys] : p.per_datapath) {
      keys.default_depth.reset();
      keys.depths.clear();
    }
    std::map<std::string, std::size_t>& depths = p.per_datapath[dp].depths;
    const ChildOutcome reference = child(p)[dp];
    if (!reference.cycles) {
      // The watchdog stops a run whatever the depths: that is not the buffers' doing.
      if (reference.status == "timeout") {
        std::cerr << fmt::format(
            "sdpa-sim: error: the watchdog stopped {} with depth {} everywhere "
            "(sim.max_cycles: {}): raise it, or leave it auto\n",
            dp, ample, params.max_cycles);
        return kTimeout;
      }
      // No cycle count to keep: the run completed, but outside the tolerance (exit 1).
      if (reference.status == "mismatch") {
        std::cerr << fmt::format(
            "sdpa-sim: error: {} with depth {} everywhere: its output is outside the tolerance "
            "of the fp64 reference (status mismatch): not sized\n",
            dp, ample);
        return kMismatch;
      }
      std::cerr << fmt::format(
          "sdpa-sim: error: {} does not complete even with depth {} everywhere\n", dp, ample);
      return kDeadlock;
    }
    target[dp] = *reference.cycles;
    // Greedy, channel by channel in datapath order: each search keeps the depths found so far.
    // A deeper channel never makes a run slower, so the least depth that keeps the cycle count
    // is found by binary search.
    for (const std::string& ch : channel_names(dp)) {
      std::size_t lo = 1, hi = ample;
      while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        depths[ch] = mid;
        const ChildOutcome o = child(p)[dp];
        if (o.cycles && *o.cycles == target[dp])
          hi = mid;
        else
          lo = mid + 1;
      }
      std::cerr << fmt::format("sized {}.{}: {}\n", dp, ch, lo);
      depths[ch] = lo;
      table += line(dp, ch, lo, reference.high_water.at(ch));
    }
    sized[dp] = depths;
  }
  // Every channel is listed, so a default depth would have no effect: auto.
  Params result = params;
  result.shared.depths.clear();
  result.shared.default_depth.reset();
  for (auto& [dp, keys] : result.per_datapath) keys.default_depth.reset();
  for (const auto& [dp, depths] : sized) result.per_datapath[dp].depths = depths;
  out.write("sized.yaml", to_yaml(result));
  out.check();
  // The proof: sized.yaml as written reproduces every datapath's cycle count, each datapath
  // alone and, if several were sized, all together.
  bool reproduced = true;
  std::string check;
  std::map<std::string, ChildOutcome> together;
  if (params.datapaths().size() > 1) together = child(result);
  auto cycles = [](const ChildOutcome& o) {
    return o.cycles ? fmt::format("{}", *o.cycles) : fmt::format("no cycle count ({})", o.status);
  };
  for (const std::string& dp : params.datapaths()) {
    Params alone = result;
    alone.datapath = dp;
    const ChildOutcome o = child(alone)[dp];
    reproduced &= o.cycles == target[dp];
    check += fmt::format("{}: {} cycles with ample buffering, {} with sized.yaml", dp, target[dp],
                         cycles(o));
    if (!together.empty()) {
      reproduced &= together[dp].cycles == target[dp];
      check +=
          fmt::format(" alone and {} with datapath: {}", cycles(together[dp]), params.datapath);
    }
    check += "\n";
    // What sizing saves in area, or costs where the depths given were too shallow to keep it.
    const double before = given[dp].buffering_um2, after = o.buffering_um2;
    const double percent = before > 0 ? 100 * std::abs(before - after) / before : 0;
    check += fmt::format(
        "{}: buffering {:.0f} µm² with the depths given{}, {:.0f} µm² sized ({:.0f}% {})\n", dp,
        before, given[dp].cycles ? "" : fmt::format(" ({})", given[dp].status), after, percent,
        after <= before ? "less" : "more");
  }
  std::cout << table << "\n"
            << check
            << fmt::format("{} simulations; sized parameters in {}\n", children.count(),
                           one_line((out.dir() / "sized.yaml").string()));
  return reproduced ? kOk : kMismatch;
}

}  // namespace sdpa
