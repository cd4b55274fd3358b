#include "sim/simulation.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "hw/datapaths/datapaths.h"

namespace sdpa {
namespace {

// Runs `work` while a side thread reports progress; the side thread only reads atomics.
template <class Work>
void with_progress(const ProgressReporter& progress, std::size_t row_len,
                   const std::vector<std::unique_ptr<AttentionDatapath>>& dps, Work work) {
  if (!progress.report) {
    work();
    return;
  }
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  const auto start = std::chrono::steady_clock::now();
  std::thread reporter([&] {
    std::unique_lock<std::mutex> lock(m);
    const auto interval = std::chrono::duration<double>(progress.interval_seconds);
    while (!cv.wait_for(lock, interval, [&] { return stop; })) {
      std::vector<Progress> now;
      for (const auto& dp : dps)
        now.push_back({dp->basename(), dp->sink().rows_taken(), dp->sink().rows_expected(), row_len,
                       dp->sink().last_ready()});
      progress.report(
          now, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  });
  work();
  {
    std::lock_guard<std::mutex> lock(m);
    stop = true;
  }
  cv.notify_one();
  reporter.join();
}

// The automatic watchdog limit: above the cycle count of any run of `dp` that completes. Every
// stamp is the maximum of earlier stamps plus at most `step` (a latency, an II, a free's one
// cycle, a memory read's latency and beats), so it is at most `step` times the length of the
// longest chain of events before it; a firing is at most one issue plus, per channel, a stall
// and a stamp for each of a write and a read (docs/timing.md, "Watchdog").
Cycle automatic_cycle_limit(const AttentionDatapath& dp) {
  const MemoryTiming& memory = dp.memory_timing();
  const Cycle beats = memory.beats(dp.shape().head_dim * sizeof(float));
  long double step = memory.read_latency + 2 * beats;
  long double firings = 0;
  for (const Unit* u : dp.units()) {
    step = std::max<long double>(step, std::max<Cycle>(u->result_latency(), u->timing().ii));
    firings += u->planned_firings();
  }
  const long double events = firings * (1 + 4 * dp.edges().size());
  const long double limit = events * step + 1;
  // Saturates rather than wrapping for extreme sizes.
  return limit >= 1.8e19L ? ~Cycle{0} : static_cast<Cycle>(limit);
}

// After the watchdog: every unit's cycle and whether it finished, waits, or was running.
std::vector<std::string> where_units_stand(const AttentionDatapath& dp) {
  const std::vector<std::string> waits = wait_for_report(dp.channels());
  std::vector<std::string> lines;
  for (const Unit* u : dp.units()) {
    const std::string name = u->name();
    std::string state = u->finished() ? "finished" : "running";
    if (u->stopped_by_watchdog()) state = "passed the cycle limit";
    for (const std::string& w : waits)
      if (w.rfind(name + " ", 0) == 0) state = w.substr(w.find("waits"));
    lines.push_back(fmt::format("{} at cycle {}: {}", name, u->cycle(), state));
  }
  return lines;
}

DatapathResult result_of(const AttentionDatapath& dp) {
  DatapathResult r;
  r.datapath = dp.basename();
  r.scores = dp.shape().scores();
  r.rows = dp.sink().rows_expected();
  r.rows_done = dp.sink().rows_taken();
  r.cycles = dp.sink().last_ready();
  r.output = dp.sink().output();
  for (const Graph::Edge& e : dp.edges()) {
    r.channels.push_back(e.channel->stats());
    r.channels.back().input_stream = dp.is_input_stream(e);
  }
  bool stopped_by_watchdog = false;
  for (const Unit* u : dp.units()) {
    r.units.push_back({u->name(), u->timing(), u->firings_done()});
    stopped_by_watchdog |= u->stopped_by_watchdog();
  }
  if (stopped_by_watchdog) {
    r.status = Status::timeout;
    r.waits = where_units_stand(dp);
  } else if (!dp.sink().done()) {
    r.status = Status::deadlock;
    r.waits = wait_for_report(dp.channels());
  }
  return r;
}

}  // namespace

const char* to_string(Status status) {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::deadlock:
      return "deadlock";
    case Status::mismatch:
      return "mismatch";
    case Status::timeout:
      return "timeout";
  }
  return "?";
}

std::vector<std::string> datapath_names() {
  std::vector<std::string> names;
  for (const DatapathKind& kind : datapath_kinds()) names.push_back(kind.name);
  return names;
}

Simulation::Simulation(const AttentionShape& shape,
                       const std::map<std::string, DatapathConfig>& configs,
                       const std::vector<std::string>& datapaths)
    : shape_(shape) {
  for (const std::string& name : datapaths) {
    const DatapathKind* kind = find_datapath(name);
    if (kind == nullptr) throw std::invalid_argument("unknown datapath " + name);
    const DatapathConfig& config = configs.at(name);
    trace_ = config.trace;
    datapaths_.push_back(
        std::make_unique<AttentionDatapath>(name.c_str(), config, shape, kind->build));
    if (config.clocking.max_cycles == 0)
      datapaths_.back()->set_cycle_limit(automatic_cycle_limit(*datapaths_.back()));
  }
}

Simulation::~Simulation() = default;

std::uint64_t Simulation::memory_bytes() const {
  const std::uint64_t matrix = shape_.matrix_elements() * sizeof(float);
  // Q, K, V on the host, the reference's fp64 output, the memory image all datapaths share,
  // then per datapath its output O and its channels.
  std::uint64_t bytes = 3 * matrix + 2 * matrix + 3 * matrix;
  for (const auto& dp : datapaths_) bytes += matrix + dp->channel_storage_bytes();
  return bytes;
}

SimulationResult Simulation::run(const AttentionInputs& inputs, const ProgressReporter& progress) {
  const auto image = std::make_shared<const std::vector<std::uint8_t>>(memory_image(inputs));
  for (const auto& dp : datapaths_) dp->load(image);

  SimulationResult result;
  const auto start = std::chrono::steady_clock::now();
  // Runs until no process can move: every sink done, or a deadlock (starvation, never a hang).
  with_progress(progress, inputs.seq_len, datapaths_, [] { sc_core::sc_start(); });
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The trace samples channel members: close it while the datapaths still exist.
  if (trace_ != nullptr) sc_core::sc_close_vcd_trace_file(trace_);
  for (const auto& dp : datapaths_) result.runs.push_back(result_of(*dp));
  return result;
}

SimulationResult simulate(const AttentionInputs& inputs, const std::vector<std::string>& datapaths,
                          const DatapathConfig& config, const ProgressReporter& progress) {
  std::map<std::string, DatapathConfig> configs;
  for (const std::string& name : datapaths) configs[name] = config;
  Simulation simulation(inputs.shape(), configs, datapaths);
  return simulation.run(inputs, progress);
}

}  // namespace sdpa
