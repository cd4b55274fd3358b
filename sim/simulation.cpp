#include "sim/simulation.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "hw/naive_attention.h"
#include "hw/reordered_attention.h"

namespace sdpa {
namespace {

std::unique_ptr<AttentionDatapath> build(const std::string& datapath, const DatapathConfig& config,
                                         const AttentionInputs& inputs) {
  if (datapath == "naive") return std::make_unique<NaiveAttention>("naive", config, inputs);
  if (datapath == "reordered")
    return std::make_unique<ReorderedAttention>("reordered", config, inputs);
  throw std::invalid_argument("unknown datapath " + datapath);
}

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
Cycle automatic_cycle_limit(const AttentionDatapath& dp, const DatapathConfig& config,
                            std::size_t head_dim) {
  const Cycle beats = config.memory.beats(head_dim * sizeof(float));
  long double step = config.memory.read_latency + 2 * beats;
  long double firings = 0;
  for (const Unit* u : dp.units()) {
    step = std::max<long double>(step, std::max(u->timing().latency, u->timing().ii));
    firings += u->firings();
  }
  const long double events = firings * (1 + 4 * dp.channels().size());
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
    case Status::unverified:
      return "unverified";
  }
  return "?";
}

const char* to_string(LimitReason reason) {
  switch (reason) {
    case LimitReason::deadlock:
      return "deadlock";
    case LimitReason::producer_stalls:
      return "producer_stalls";
    case LimitReason::consumer_stalls:
      return "consumer_stalls";
    case LimitReason::high_water:
      return "high_water";
  }
  return "?";
}

LimitingChannel limiting_channel(const std::vector<ChannelStats>& channels,
                                 const std::vector<bool>& writer_blocked, bool deadlocked,
                                 Cycle stream_latency) {
  LimitingChannel limit;
  if (deadlocked)
    for (std::size_t i = channels.size(); i-- > 0;)
      if (writer_blocked[i]) return {i, LimitReason::deadlock, 0};
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const ChannelStats& c = channels[i];
    Cycle stalls = c.producer_stall_cycles;
    if (c.input_stream)
      stalls = c.consumer_stall_cycles - std::min(c.consumer_stall_cycles, stream_latency);
    if (stalls != 0 && stalls >= limit.stall_cycles)
      limit = {i, c.input_stream ? LimitReason::consumer_stalls : LimitReason::producer_stalls,
               stalls};
  }
  if (limit.stall_cycles != 0) return limit;
  Cycle most = 0;
  bool found = false;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const ChannelStats& c = channels[i];
    if (c.input_stream || (found && c.high_water * c.width <= most)) continue;
    limit.channel = i;
    most = c.high_water * c.width;
    found = true;
  }
  return limit;
}

const std::vector<std::string>& datapath_names() {
  static const std::vector<std::string> names{"naive", "reordered"};
  return names;
}

const std::vector<std::string>& unit_names(const std::string& datapath) {
  return datapath == "naive" ? NaiveAttention::unit_names() : ReorderedAttention::unit_names();
}

const std::vector<std::string>& channel_names(const std::string& datapath) {
  return datapath == "naive" ? NaiveAttention::channel_names()
                             : ReorderedAttention::channel_names();
}

std::uint64_t MemoryEstimate::total() const {
  std::uint64_t bytes = arrays;
  for (const Part& part : channels) bytes += part.bytes;
  return bytes;
}

MemoryEstimate estimate_memory(std::size_t heads, std::size_t seq_len, std::size_t head_dim,
                               const std::map<std::string, DatapathConfig>& configs) {
  const std::uint64_t rows = std::uint64_t(heads) * seq_len;
  const std::uint64_t matrix = rows * head_dim * sizeof(float);
  MemoryEstimate e;
  // Q, K, V and the reference's fp64 output on the host; per datapath its memory image (Q, K,
  // V), the sink's output and the results' copy of it.
  e.arrays = 3 * matrix + 2 * matrix + configs.size() * 5 * matrix;
  for (const auto& [dp, config] : configs) {
    std::uint64_t latency = 1;
    for (const auto& [unit, timing] : config.units)
      latency = std::max<std::uint64_t>(latency, timing.latency);
    const std::uint64_t stream_depth =
        config.memory.read_latency + config.memory.beats(head_dim * sizeof(float));
    for (const std::string& ch : channel_names(dp)) {
      const bool stream = AttentionDatapath::is_input_stream(ch);
      const bool row = ch.size() > 5 && ch.compare(ch.size() - 5, 5, "_rows") == 0;
      // The automatic depths (hw/naive_attention.cpp, hw/reordered_attention.cpp): a stream's
      // is its reader's latency + 1; a computed row's its producer's latency + 1 (it carries one
      // row per output row); a scalar's its producer's latency + 1, or N + two latencies for a
      // bypass.
      const std::uint64_t automatic = stream ? stream_depth
                                      : row  ? latency + 1
                                             : seq_len + 2 * latency;
      const auto it = config.depths.find(ch);
      const std::uint64_t depth = it != config.depths.end()   ? it->second
                                  : config.default_depth != 0 ? config.default_depth
                                                              : automatic;
      // A slot's stamps plus its element: a view of a Q/K/V row in memory, a computed row's
      // vector header, or a scalar; and a computed row's floats in each slot it reached (every
      // row of the run at most, plus the producer's and the consumer's).
      const std::uint64_t element = stream ? sizeof(RowView) : row ? sizeof(Row) : 8;
      std::uint64_t bytes = depth * (3 * sizeof(Cycle) + element);
      if (row && !stream) bytes += std::min(depth, rows + 2) * head_dim * sizeof(float);
      e.channels.push_back({dp, ch, bytes});
    }
  }
  return e;
}

SimulationResult simulate(const AttentionInputs& inputs, const std::vector<std::string>& datapaths,
                          const DatapathConfig& config, const ProgressReporter& progress) {
  std::map<std::string, DatapathConfig> configs;
  for (const std::string& dp : datapaths) configs[dp] = config;
  return simulate(inputs, configs, progress);
}

SimulationResult simulate(const AttentionInputs& inputs,
                          const std::map<std::string, DatapathConfig>& configs,
                          const ProgressReporter& progress) {
  std::vector<std::unique_ptr<AttentionDatapath>> dps;
  for (const std::string& name : datapath_names()) {
    const auto it = configs.find(name);
    if (it == configs.end()) continue;
    const DatapathConfig& config = it->second;
    dps.push_back(build(name, config, inputs));
    if (config.clocking.max_cycles != 0) continue;
    const Cycle limit = automatic_cycle_limit(*dps.back(), config, inputs.head_dim);
    for (ChannelBase* ch : dps.back()->channels()) ch->set_cycle_limit(limit);
  }
  if (dps.size() != configs.size()) throw std::invalid_argument("unknown datapath in simulate");

  SimulationResult result;
  const auto start = std::chrono::steady_clock::now();
  // Runs until no process can move: every sink done, or a deadlock (starvation, never a hang).
  with_progress(progress, inputs.seq_len, dps, [] { sc_core::sc_start(); });
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The trace samples channel members: close it while the datapaths still exist.
  std::set<sc_core::sc_trace_file*> traces;
  for (const auto& [name, config] : configs)
    if (config.trace != nullptr && traces.insert(config.trace).second)
      sc_core::sc_close_vcd_trace_file(config.trace);

  for (const auto& dp : dps) {
    bool stopped_by_watchdog = false;
    for (const Unit* u : dp->units()) stopped_by_watchdog |= u->stopped_by_watchdog();
    DatapathResult r;
    r.datapath = dp->basename();
    r.scores = static_cast<std::uint64_t>(inputs.heads) * inputs.seq_len * inputs.seq_len;
    r.rows = dp->sink().rows_expected();
    r.rows_done = dp->sink().rows_taken();
    r.cycles = dp->sink().last_ready();
    r.output = dp->sink().output();
    std::vector<bool> writer_blocked;
    for (const ChannelBase* ch : dp->channels()) {
      r.channels.push_back(ch->stats());
      r.channels.back().input_stream = dp->is_input_stream(ch);
      writer_blocked.push_back(ch->blocked_writer() != nullptr && ch->fill() == ch->capacity());
    }
    if (stopped_by_watchdog) {
      r.status = Status::timeout;
      r.waits = where_units_stand(*dp);
    } else if (!dp->sink().done()) {
      r.status = Status::deadlock;
      r.waits = wait_for_report(dp->channels());
    }
    // As AttentionDatapath::reader_latency.
    const MemoryTiming& memory = configs.at(r.datapath).memory;
    const Cycle stream_latency =
        memory.read_latency + memory.beats(inputs.head_dim * sizeof(float)) - 1;
    r.limiting =
        limiting_channel(r.channels, writer_blocked, r.status == Status::deadlock, stream_latency);
    result.runs.push_back(std::move(r));
  }
  return result;
}

}  // namespace sdpa
