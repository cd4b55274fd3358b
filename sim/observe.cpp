#include "sim/observe.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace sdpa {
namespace {

std::string local_name(const std::string& name) { return name.substr(name.find('.') + 1); }

// The run's cycles as utilisation counts them: a stopped run has no cycle count, only a span.
Cycle run_cycles(const DatapathResult& r) {
  const bool stopped = r.status == Status::deadlock || r.status == Status::timeout;
  return std::max<Cycle>(1, stopped ? r.span : r.cycles);
}

double utilisation(const DatapathResult& r, const UnitStats& u) {
  return double(u.busy) / double(run_cycles(r));
}

// A share at least 95%: the rest is filling and draining the pipeline.
bool saturated(Cycle part, Cycle whole) { return part * 100 >= whole * 95; }

}  // namespace

const char* to_string(BottleneckKind kind) {
  switch (kind) {
    case BottleneckKind::none:
      return "none";
    case BottleneckKind::slow_ii:
      return "slow_ii";
    case BottleneckKind::small_fifo:
      return "small_fifo";
    case BottleneckKind::memory_latency:
      return "memory_latency";
    case BottleneckKind::memory_bandwidth:
      return "memory_bandwidth";
    case BottleneckKind::stopped:
      return "stopped";
  }
  return "?";
}

void account_units(const AttentionDatapath& dp, DatapathResult& r) {
  std::map<const Unit*, std::size_t> index;
  for (const Unit* u : dp.units()) {
    index[u] = r.units.size();
    UnitStats s;
    s.name = u->name();
    s.timing = u->timing();
    s.firings = u->firings_done();
    s.busy = s.firings * s.timing.ii;
    s.end = u->cycle();
    r.units.push_back(s);
  }
  // A channel's waits belong to its one consumer, its stalls to its one producer: the only
  // places a unit's local cycle moves besides II per firing.
  for (std::size_t i = 0; i < dp.edges().size(); ++i) {
    const Graph::Edge& e = dp.edges()[i];
    const std::size_t p = index.at(e.producer), c = index.at(e.consumer);
    r.channel_ends.emplace_back(p, c);
    r.units[p].blocked += r.channels[i].producer_stall_cycles;
    r.units[c].starved += r.channels[i].consumer_stall_cycles;
    if (dp.is_input_stream(e)) r.units[p].memory_reader = true;
  }
  for (const UnitStats& u : r.units) r.span = std::max(r.span, u.end);
  r.memory = dp.memory_timing();
}

Bottleneck find_bottleneck(const DatapathResult& r) {
  Bottleneck b;
  if (r.units.empty()) return b;
  const Cycle cycles = run_cycles(r);
  const double per_score = double(cycles) / double(std::max<std::uint64_t>(1, r.scores));
  const std::string rate = fmt::format("{:.2f} cycles per score", per_score);
  if (r.status == Status::deadlock || r.status == Status::timeout) {
    b.kind = BottleneckKind::stopped;
    b.channel = std::ptrdiff_t(r.limiting.channel);
    b.unit = r.channel_ends.at(r.limiting.channel).first;
    const ChannelStats& c = r.channels[r.limiting.channel];
    b.reason = r.status == Status::deadlock
                   ? fmt::format("{}: deadlock, {} full at depth {}",
                                 local_name(r.units[b.unit].name), local_name(c.name), c.capacity)
                   : "stopped by the watchdog (sim.max_cycles)";
    return b;
  }
  // The busiest unit; a tie to the earlier, where the rate is set.
  std::size_t busiest = 0;
  for (std::size_t i = 1; i < r.units.size(); ++i)
    if (r.units[i].busy > r.units[busiest].busy) busiest = i;
  const UnitStats& top = r.units[busiest];
  const bool stalls = r.limiting.reason == LimitReason::producer_stalls ||
                      r.limiting.reason == LimitReason::consumer_stalls;
  if (saturated(top.busy, cycles) || !stalls) {
    b.unit = busiest;
    b.kind = top.timing.ii > 1 ? BottleneckKind::slow_ii : BottleneckKind::none;
    b.reason = top.timing.ii > 1
                   ? fmt::format("{}: II {}, busy {:.1f}% of the cycles: {}", local_name(top.name),
                                 top.timing.ii, 100 * utilisation(r, top), rate)
                   : fmt::format("none: every unit keeps up, {} busy {:.1f}% of the cycles: {}",
                                 local_name(top.name), 100 * utilisation(r, top), rate);
    return b;
  }
  const std::size_t i = r.limiting.channel;
  const ChannelStats& c = r.channels[i];
  const auto [producer, consumer] = r.channel_ends[i];
  b.channel = std::ptrdiff_t(i);
  b.unit = producer;
  const UnitStats& p = r.units[producer];
  if (c.input_stream) {
    const Cycle beats = r.memory.beats(c.width * sizeof(float));
    if (saturated(beats * p.firings, cycles)) {
      b.kind = BottleneckKind::memory_bandwidth;
      b.reason = fmt::format("{}: memory bandwidth, {} bytes per cycle, {} cycles per row: {}",
                             local_name(p.name), r.memory.bytes_per_cycle, beats, rate);
    } else {
      b.kind = BottleneckKind::memory_latency;
      b.reason = fmt::format("{}: memory latency {} with {} depth {}: {}", local_name(p.name),
                             r.memory.read_latency, local_name(c.name), c.capacity, rate);
    }
    return b;
  }
  b.kind = BottleneckKind::small_fifo;
  b.reason = fmt::format("{}: {} depth {}, blocked {} cycles, {} starved {}: {}",
                         local_name(p.name), local_name(c.name), c.capacity, p.blocked,
                         local_name(r.units[consumer].name), r.units[consumer].starved, rate);
  return b;
}

nlohmann::json units_json(const DatapathResult& r) {
  nlohmann::json units = nlohmann::json::array();
  for (const UnitStats& u : r.units)
    units.push_back({{"name", u.name},
                     {"latency", u.timing.latency},
                     {"ii", u.timing.ii},
                     {"firings", u.firings},
                     {"busy_cycles", u.busy},
                     {"starved_cycles", u.starved},
                     {"blocked_cycles", u.blocked},
                     {"idle_cycles", r.span - u.end},
                     {"utilisation", utilisation(r, u)}});
  return units;
}

nlohmann::json bottleneck_json(const DatapathResult& r) {
  const Bottleneck& b = r.bottleneck;
  if (r.units.empty()) return nullptr;
  return {{"kind", to_string(b.kind)},
          {"unit", r.units[b.unit].name},
          {"channel", b.channel < 0 ? nlohmann::json(nullptr)
                                    : nlohmann::json(r.channels[std::size_t(b.channel)].name)},
          {"reason", b.reason}};
}

std::string units_summary(const DatapathResult& r) {
  if (r.units.empty()) return {};
  std::string out = fmt::format("{}: bottleneck: {}\n", r.datapath, r.bottleneck.reason);
  std::size_t w = 4;
  for (const UnitStats& u : r.units) w = std::max(w, local_name(u.name).size());
  out += fmt::format("  {:<{}}  {:>4}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>6}\n", "unit", w,
                     "L/II", "firings", "busy", "starved", "blocked", "idle", "util");
  for (const UnitStats& u : r.units)
    out += fmt::format("  {:<{}}  {:>4}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>5.1f}%\n",
                       local_name(u.name), w, fmt::format("{}/{}", u.timing.latency, u.timing.ii),
                       u.firings, u.busy, u.starved, u.blocked, r.span - u.end,
                       100 * utilisation(r, u));
  return out;
}

}  // namespace sdpa
