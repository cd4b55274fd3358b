#include "sim/simulation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "hw/datapaths/datapaths.h"
#include "sim/observe.h"

namespace sdpa {
namespace {

// Runs `work` while a side thread reports progress; the side thread only reads atomics.
template <class Work>
void with_progress(const ProgressReporter& progress,
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
        now.push_back({dp->basename(), dp->rows_taken(), dp->rows_expected(), dp->shape().scores(),
                       dp->last_ready()});
      progress.report(
          now, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  });
  // Stops the reporter however the work ends: an exception (an elaboration error thrown by
  // sc_start) must not destroy a joinable thread, which terminates the process.
  struct StopReporter {
    std::mutex& m;
    std::condition_variable& cv;
    bool& stop;
    std::thread& reporter;
    ~StopReporter() {
      {
        std::lock_guard<std::mutex> lock(m);
        stop = true;
      }
      cv.notify_one();
      reporter.join();
    }
  } stop_reporter{m, cv, stop, reporter};
  work();
}

// The automatic watchdog limit: above the cycle count of any run of `dp` that completes. Every
// stamp is the maximum of earlier stamps plus at most `step` (a latency, an II, a free's one
// cycle, a memory read's latency and beats), so it is at most `step` times the length of the
// longest chain of events before it; a firing is at most one issue plus, per channel, a stall
// and a stamp for each of a write and a read (docs/timing.md, "Watchdog").
Cycle automatic_cycle_limit(const AttentionDatapath& dp) {
  const MemoryTiming& memory = dp.memory_timing();
  const Cycle beats = memory.beats(dp.row_bytes());
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

}  // namespace

void require_drained(const DatapathResult& r) {
  for (std::size_t i = 0; i < r.channels.size(); ++i) {
    const ChannelStats& c = r.channels[i];
    if (c.writes == c.reads) continue;
    const auto [producer, consumer] = r.channel_ends.at(i);
    throw std::logic_error(fmt::format(
        "{} holds {} element{} at the end of a completed run: {} wrote more than {} read (a "
        "unit's loop; docs/extending.md)",
        c.name, c.writes - c.reads, c.writes - c.reads == 1 ? "" : "s",
        local_name(r.units.at(producer).name), local_name(r.units.at(consumer).name)));
  }
  for (const UnitStats& u : r.units)
    if (u.firings != u.planned_firings)
      throw std::logic_error(fmt::format(
          "{} fired {} times in a completed run where its shape plans {}: a unit's body takes "
          "its firings from firings() (docs/extending.md)",
          u.name, u.firings, u.planned_firings));
}

namespace {

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

DatapathResult result_of(const AttentionDatapath& dp, Cycle time_limit) {
  DatapathResult r;
  r.datapath = dp.basename();
  const AttentionShape& shape = dp.shape();
  // All of the shape's, unless the run stopped early: then the intensities (scores and flops per
  // byte moved) are of what it did.
  r.scores = dp.scores_computed();
  r.scores_skipped = shape.scores_skipped();
  r.tokens = shape.batch * shape.seq_len;
  r.lanes = dp.lanes();
  r.lanes_idle = r.lanes - std::min(r.lanes, shape.group_queries());
  r.head_dim = shape.head_dim;
  r.input = dp.input_format();
  r.compute = dp.compute_format();
  // Q, K and V in the input format; O as the units computed it, in the compute format.
  r.footprint_bytes = (shape.q_elements() + 2 * shape.kv_elements()) * bytes_of(r.input);
  // A Q row per output row; a K and a V row per key of each run of query rows the lanes share.
  r.q_bytes_read = dp.q_bytes_read();
  r.k_bytes_read = dp.k_bytes_read();
  r.v_bytes_read = dp.v_bytes_read();
  // The rows the sinks took (all of them unless the run stopped early).
  r.o_bytes_written = std::uint64_t(dp.rows_taken()) * shape.head_dim * bytes_of(r.compute);
  r.shared_link = dp.shared_link() != nullptr;
  if (r.shared_link) r.link_last_beat = dp.shared_link()->last_beat();
  r.link_bytes_per_cycle = dp.memory_timing().bytes_per_cycle;
  r.minimum_bytes = r.footprint_bytes + shape.q_elements() * bytes_of(r.compute);
  r.rows = dp.rows_expected();
  r.rows_done = dp.rows_taken();
  r.cycles = dp.last_ready();
  r.output = dp.output();
  std::vector<bool> writer_blocked, reader_blocked;
  for (const Graph::Edge& e : dp.edges()) {
    const ChannelBase& ch = *e.channel;
    r.channels.push_back(ch.stats());
    r.channels.back().input_stream = dp.is_input_stream(e);
    r.first_row.push_back(dp.is_input_stream(e) ? e.producer->result_latency() : 0);
    writer_blocked.push_back(ch.blocked_writer() != nullptr && ch.fill() == ch.capacity());
    reader_blocked.push_back(ch.blocked_reader() != nullptr && ch.fill() == 0);
  }
  bool stopped_by_watchdog = false;
  account_units(dp, r);
  for (const Unit* u : dp.units()) stopped_by_watchdog |= u->stopped_by_watchdog();
  if (stopped_by_watchdog) {
    r.status = Status::timeout;
    r.waits = where_units_stand(dp);
    if (time_limit != 0)
      r.waits.push_back(fmt::format(
          "the cycle limit, {}, is where SystemC time ends (2^64 time units, less a margin) at "
          "this clock.period_ns in synchronized mode (--vcd, --fst or sim.mode: synchronized): "
          "run decoupled, or with a shorter clock.period_ns",
          time_limit));
  } else if (!dp.done()) {
    r.status = Status::deadlock;
    r.waits = wait_for_report(dp.channels());
  }
  if (r.status != Status::deadlock && r.status != Status::timeout) require_drained(r);
  r.limiting = limiting_channel(r.channels, writer_blocked, reader_blocked,
                                r.status == Status::deadlock, r.first_row);
  r.bottleneck = find_bottleneck(r);
  return r;
}

}  // namespace

std::vector<std::string> datapath_names() {
  std::vector<std::string> names;
  for (const DatapathKind& kind : datapath_kinds()) names.push_back(kind.name);
  return names;
}

const DatapathParts& datapath_parts(const std::string& datapath) {
  static const std::map<std::string, DatapathParts> parts = [] {
    std::map<std::string, DatapathParts> all;
    for (const DatapathKind& kind : datapath_kinds()) {
      const AttentionDatapath probe(("parts_of_" + kind.name).c_str(), DatapathConfig{},
                                    AttentionShape::square(1, 1, 1), kind.build);
      DatapathParts& p = all[kind.name];
      for (const Unit* u : probe.units()) p.units.push_back(u->basename());
      p.default_timings = probe.default_timings();
      for (const Graph::Edge& e : probe.edges()) p.channels.push_back(e.channel->basename());
      p.writing_nothing.insert(p.units.begin(), p.units.end());
      for (const Graph::Edge& e : probe.edges()) p.writing_nothing.erase(e.producer->basename());
    }
    return all;
  }();
  const auto it = parts.find(datapath);
  if (it == parts.end()) throw std::invalid_argument("unknown datapath " + datapath);
  return it->second;
}

bool writes_nothing(const std::string& unit) {
  bool found = false;
  for (const std::string& dp : datapath_names()) {
    const DatapathParts& p = datapath_parts(dp);
    if (std::find(p.units.begin(), p.units.end(), unit) == p.units.end()) continue;
    if (!p.writing_nothing.count(unit)) return false;
    found = true;
  }
  return found;
}

std::vector<DatapathKind> registered_kinds(const std::vector<std::string>& names) {
  std::vector<DatapathKind> kinds;
  for (const std::string& name : names) {
    const DatapathKind* kind = find_datapath(name);
    if (kind == nullptr) throw std::invalid_argument("unknown datapath " + name);
    kinds.push_back(*kind);
  }
  return kinds;
}

Simulation::Simulation(const AttentionShape& shape,
                       const std::map<std::string, DatapathConfig>& configs,
                       const std::vector<DatapathKind>& kinds)
    : shape_(shape) {
  for (const DatapathKind& kind : kinds) {
    const DatapathConfig& config = configs.at(kind.name);
    trace_ = config.trace;
    datapaths_.push_back(
        std::make_unique<AttentionDatapath>(kind.name.c_str(), config, shape, kind.build));
    normalised_rows_.push_back(kind.normalised_rows);
    Cycle limit = config.clocking.max_cycles;
    if (limit == 0) limit = automatic_cycle_limit(*datapaths_.back());
    // Synchronized mode puts every cycle on SystemC's time line, which ends at 2^64 time units:
    // past it the time wraps and the run never ends. The watchdog stops it short of the end
    // instead, and says why: by 2^36 cycles (or half the line, with the longest clock periods),
    // room for the stalls and latencies by which units pass the limit before they stop.
    Cycle time_limit = 0;
    if (config.clocking.mode == Mode::synchronized) {
      const Cycle end = ~sc_core::sc_time::value_type{0} / config.clocking.period.value();
      time_limit = end - std::min(end / 2, Cycle{1} << 36);
      if (limit > time_limit)
        limit = time_limit;
      else
        time_limit = 0;
    }
    time_limits_.push_back(time_limit);
    datapaths_.back()->set_cycle_limit(limit);
  }
}

Simulation::~Simulation() = default;

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? MemoryEstimate::beyond : sum;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? MemoryEstimate::beyond : product;
}

std::uint64_t MemoryEstimate::total() const {
  std::uint64_t bytes = saturating_add(arrays, report);
  for (const Part& part : channels) bytes = saturating_add(bytes, part.bytes);
  return bytes;
}

MemoryEstimate Simulation::memory_estimate() const {
  // Saturating: the largest shapes the keys allow (2^32 heads of 2^20 × 2^16) pass 2^64 bytes.
  const auto elements = [](std::initializer_list<std::uint64_t> factors) {
    std::uint64_t n = sizeof(float);
    for (const std::uint64_t f : factors) n = saturating_mul(n, f);
    return n;
  };
  const AttentionShape& s = shape_;
  const std::uint64_t q = elements({s.batch, s.heads, s.seq_len, s.head_dim});
  const std::uint64_t kv = elements({s.batch, s.kv_heads, s.kv_len, s.head_dim});
  const std::uint64_t qkv = saturating_add(q, saturating_mul(2, kv));
  MemoryEstimate e;
  // Q, K, V and the reference's fp64 output (as large as Q, twice over) on the host, the memory
  // image the datapaths share; per datapath the sink's output and the results' copy of it.
  std::uint64_t copies_of_q = 2 + 2 * datapaths_.size();
  // Inputs rounded to numerics.input are a second copy, with a second reference.
  std::uint64_t copies_of_qkv = 2;
  if (!datapaths_.empty() && datapaths_[0]->input_format() != Format::fp32) {
    copies_of_q += 2;
    copies_of_qkv += 1;
  }
  e.arrays = saturating_add(saturating_mul(copies_of_qkv, qkv), saturating_mul(copies_of_q, q));
  for (const auto& dp : datapaths_) {
    for (const Graph::Edge& edge : dp->edges()) {
      const Unit& slowest = *edge.slowest;
      const std::string unit = slowest.basename();
      const auto by_default = dp->default_timings().find(unit);
      e.channels.push_back(
          {dp->basename(), edge.channel->basename(), edge.channel->storage_bytes(),
           edge.channel->width() > 1, dp->is_input_stream(edge), edge.channel->capacity(), unit,
           slowest.result_latency(),
           by_default == dp->default_timings().end() ? 0 : by_default->second.latency,
           slowest.timing().latency, dp->memory_timing().read_latency});
    }
    e.report += MemoryEstimate::kReportBytesPerEntry * (dp->units().size() + dp->edges().size());
  }
  return e;
}

SimulationResult Simulation::run(const AttentionInputs& inputs, const ProgressReporter& progress) {
  // One image for every datapath: numerics are the run's, not a datapath's.
  const Format input = datapaths_.empty() ? Format::fp32 : datapaths_[0]->input_format();
  const auto image = std::make_shared<const std::vector<std::uint8_t>>(memory_image(inputs, input));
  for (const auto& dp : datapaths_) dp->load(image);

  SimulationResult result;
  const auto start = std::chrono::steady_clock::now();
  // Runs until no process can move: every sink done, or a deadlock (starvation, never a hang).
  with_progress(progress, datapaths_, [] { sc_core::sc_start(); });
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The trace samples channel members: close it while the datapaths still exist. SystemC writes a
  // time step's values when time next advances, so one more cycle, in which nothing runs (the run
  // ended because nothing could), records the values of the last one: the final state shows.
  if (trace_ != nullptr) {
    sc_core::sc_start(datapaths_.front()->config().clocking.period);
    sc_core::sc_close_vcd_trace_file(trace_);
  }
  for (std::size_t i = 0; i < datapaths_.size(); ++i) {
    result.runs.push_back(result_of(*datapaths_[i], time_limits_[i]));
    result.runs.back().normalised_rows = normalised_rows_[i];
  }
  return result;
}

SimulationResult simulate(const AttentionInputs& inputs,
                          const std::map<std::string, DatapathConfig>& configs,
                          const ProgressReporter& progress) {
  std::vector<std::string> datapaths;
  for (const std::string& name : datapath_names())
    if (configs.count(name) != 0) datapaths.push_back(name);
  if (datapaths.size() != configs.size()) throw std::invalid_argument("unknown datapath");
  Simulation simulation(inputs.shape, configs, registered_kinds(datapaths));
  return simulation.run(inputs, progress);
}

SimulationResult simulate(const AttentionInputs& inputs, const std::vector<std::string>& datapaths,
                          const DatapathConfig& config, const ProgressReporter& progress) {
  std::map<std::string, DatapathConfig> configs;
  for (const std::string& name : datapaths) configs[name] = config;
  return simulate(inputs, configs, progress);
}

}  // namespace sdpa
