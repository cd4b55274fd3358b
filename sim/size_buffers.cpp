#include "sim/size_buffers.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "sim/output.h"
#include "sim/simulation.h"

extern char** environ;

namespace sdpa {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  std::optional<Cycle> cycles;  // none: deadlock or error
  std::string status;           // the run's: ok, deadlock, timeout, ...
  // By the channel's key name: with lanes, the most of any lane's (lane3.scores is scores).
  std::map<std::string, Cycle> high_water;
};

// Runs this simulator on `params` in a child process and reads its report: each datapath's
// outcome.
std::map<std::string, Outcome> simulate_child(const Params& params, const fs::path& dir) {
  fs::create_directories(dir);
  const std::string file = (dir / "params.in.yaml").string();
  write_file_atomic(file, to_yaml(params));
  const std::string out = (dir / "run").string();
  std::vector<std::string> args{"/proc/self/exe", file, "--out", out};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const std::string errors = (dir / "stderr").string();
  posix_spawn_file_actions_addopen(&actions, 2, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::runtime_error("cannot start a child simulation");
  int status = 0;
  waitpid(pid, &status, 0);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  // A mismatch, deadlock or watchdog stop is an outcome (not the target); anything else is not.
  if (code != 0 && code != 1 && code != 3 && code != 4 && code != 6) {
    std::ifstream err(errors);
    // The error is the last line (a note may come first).
    std::string line;
    for (std::string next; std::getline(err, next);)
      if (!next.empty()) line = next;
    const std::string message =
        fmt::format("--size-buffers: a child simulation failed (exit {}): {}", code, line);
    // Exit 5: the system refused (a full disk for the child's files), not the parameters.
    if (code == 5) throw WriteError(message);
    throw ParamError(message);
  }

  std::map<std::string, Outcome> outcomes;
  std::ifstream in(fs::path(out) / "report.json");
  const nlohmann::json report = nlohmann::json::parse(in);
  for (const auto& run : report["runs"]) {
    Outcome& o = outcomes[run["datapath"].get<std::string>()];
    o.status = run["status"].get<std::string>();
    // An unverified run's timing is as valid as any: only its numerics could not be certified.
    if (run["status"] == "ok" || run["status"] == "unverified")
      o.cycles = run["cycles"].get<Cycle>();
    for (const auto& ch : run["channels"]) {
      const std::string name = ch["name"];
      Cycle& mark = o.high_water[name.substr(name.rfind('.') + 1)];
      mark = std::max(mark, ch["high_water"].get<Cycle>());
    }
  }
  return outcomes;
}

}  // namespace

int size_buffers(const Params& params, OutputFolder& out) {
  // Child runs go to a private temporary folder, removed at the end: never into the user's.
  const fs::path work = fs::temp_directory_path() / fmt::format("sdpa-sizing-{}", ::getpid());
  struct RemoveAtEnd {
    fs::path path;
    ~RemoveAtEnd() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } remove_at_end{work};
  int children = 0;
  auto child = [&](const Params& p) {
    return simulate_child(p, work / fmt::format("{}", children++));
  };

  // Each datapath is sized alone, and its depths go under datapaths.NAME: a channel name both
  // datapaths have (scores, sums, out_rows, the streams) is a different channel in each.
  std::map<std::string, std::map<std::string, std::size_t>> sized;
  std::map<std::string, Cycle> target;
  std::string table = fmt::format("{:<10} {:<14} {:>11} {:>22}\n", "datapath", "channel",
                                  "sized depth", "high water (ample)");
  for (const std::string& dp : params.datapaths()) {
    // Ample: more than any element can spend in a channel at full rate (a row, plus every
    // latency on the way, twice over).
    std::size_t latencies = params.memory.read_latency + params.head_dim * 4;
    for (const auto& [unit, timing] : params.config_for(dp).timings)
      latencies += timing.latency * timing.ii;
    const std::size_t ample = 2 * (params.shape().kv_len + latencies) + 16;
    Params p = params;
    p.datapath = dp;
    p.shared.default_depth = ample;
    p.shared.depths.clear();
    for (auto& [name, keys] : p.per_datapath) {
      keys.default_depth.reset();
      keys.depths.clear();
    }
    std::map<std::string, std::size_t>& depths = p.per_datapath[dp].depths;
    const Outcome reference = child(p)[dp];
    if (!reference.cycles) {
      // The watchdog stops a run whatever the depths: that is not the buffers' doing.
      if (reference.status == "timeout") {
        std::cerr << fmt::format(
            "sdpa-sim: the watchdog stopped {} with depth {} everywhere (sim.max_cycles: {}): "
            "raise it, or leave it auto\n",
            dp, ample, params.max_cycles);
        return 4;
      }
      std::cerr << fmt::format("sdpa-sim: {} does not complete even with depth {} everywhere\n", dp,
                               ample);
      return 3;
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
        const Outcome o = child(p)[dp];
        if (o.cycles && *o.cycles == target[dp])
          hi = mid;
        else
          lo = mid + 1;
      }
      std::cerr << fmt::format("sized {}.{}: {}\n", dp, ch, lo);
      depths[ch] = lo;
      table +=
          fmt::format("{:<10} {:<14} {:>11} {:>22}\n", dp, ch, lo, reference.high_water.at(ch));
    }
    sized[dp] = depths;
  }
  Params result = params;
  result.shared.depths.clear();
  for (const auto& [dp, depths] : sized) result.per_datapath[dp].depths = depths;
  out.write("sized.yaml", to_yaml(result));
  out.check();
  // The proof: sized.yaml as written reproduces every datapath's cycle count, each datapath
  // alone and, if both were sized, both together.
  bool reproduced = true;
  std::string check;
  std::map<std::string, Outcome> together;
  if (params.datapaths().size() > 1) together = child(result);
  auto cycles = [](const Outcome& o) {
    return o.cycles ? fmt::format("{}", *o.cycles) : std::string("a deadlock");
  };
  for (const std::string& dp : params.datapaths()) {
    Params alone = result;
    alone.datapath = dp;
    const Outcome o = child(alone)[dp];
    reproduced &= o.cycles == target[dp];
    check += fmt::format("{}: {} cycles with ample buffering, {} with sized.yaml", dp, target[dp],
                         cycles(o));
    if (!together.empty()) {
      reproduced &= together[dp].cycles == target[dp];
      check += fmt::format(" alone and {} with datapath: both", cycles(together[dp]));
    }
    check += "\n";
  }
  std::cout << table << "\n"
            << check
            << fmt::format("{} simulations; sized parameters in {}\n", children,
                           (out.dir() / "sized.yaml").string());
  return reproduced ? 0 : 1;
}

}  // namespace sdpa
