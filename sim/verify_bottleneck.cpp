#include "sim/verify_bottleneck.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>

#include "sim/child_run.h"

namespace sdpa {
namespace {

// Relieving a limit multiplies its depth or bandwidth by this; an II becomes 1.
constexpr std::size_t kRelief = 4;
// A relief that saves fewer cycles than this share is no limit's (pipeline fill moves a little).
constexpr Cycle kFasterPercent = 95;
// Besides the named limit, the likeliest others tried when it is not confirmed.
constexpr std::size_t kAlternatives = 3;

// A channel's or unit's key: its name without datapath and lane (lane3.scores is scores).
std::string key_name(const std::string& name) { return name.substr(name.rfind('.') + 1); }

struct Candidate {
  std::string limit, set;
  std::function<void(Params&)> apply;
  Cycle weight = 0;  // the waits it may explain: the likeliest first; 0: only waited
};

// Each relief is a --set on top of the run's params.yaml with `datapath` set to the datapath:
// the key under which that file holds the value (channel depths are always the datapath's own).
// Capped at the largest value the key takes (docs/params.md).
Candidate deeper(const std::string& dp, const std::string& channel, std::size_t depth) {
  const std::size_t to = std::min<std::size_t>(depth * kRelief, std::size_t{1} << 30);
  return {fmt::format("{} depth {} → {}", channel, depth, to),
          fmt::format("datapaths.{}.channels.depths.{}={}", dp, channel, to),
          [=](Params& p) { p.per_datapath[dp].depths[channel] = to; }};
}

Candidate faster_link(const MemoryTiming& memory) {
  const unsigned to = std::min<unsigned>(memory.bytes_per_cycle * kRelief, 1u << 20);
  return {fmt::format("memory bytes_per_cycle {} → {}", memory.bytes_per_cycle, to),
          fmt::format("memory.bytes_per_cycle={}", to),
          [=](Params& p) { p.memory.bytes_per_cycle = to; }};
}

Candidate ii_one(const Params& params, const std::string& dp, const std::string& unit,
                 unsigned ii) {
  return {fmt::format("{} II {} → 1", unit, ii),
          fmt::format("{}.ii=1", yaml_unit_key(params, dp, unit)),
          [=](Params& p) { p.per_datapath[dp].units[unit].ii = 1; }};
}

// Every limit that waited, by key name (a lane's is every lane's): channels whose writer waited
// for a slot or whose reader waited for an element (for a stream buffer, beyond its first row);
// the memory link, if a stream buffer waited so; units slower than a firing per cycle. Weighed
// by the waits each may explain: a channel's, where its writer waited for slots while its
// reader waited for elements (a writer that only waited for slots, as the Q reader does for a
// row's scores, waits behind its reader, which a deeper channel would not change).
std::vector<Candidate> candidates(const Params& params, const DatapathResult& r) {
  std::map<std::string, Candidate> channels;
  Cycle stream_waits = 0;
  for (std::size_t i = 0; i < r.channels.size(); ++i) {
    const ChannelStats& c = r.channels[i];
    Cycle read_waits = c.consumer_stall_cycles;
    if (c.input_stream) {
      read_waits -= std::min(read_waits, r.first_row[i]);
      stream_waits += read_waits;
    }
    if (c.producer_stall_cycles + read_waits == 0) continue;
    const std::string name = key_name(c.name);
    auto [it, added] = channels.try_emplace(name, deeper(r.datapath, name, c.capacity));
    it->second.weight +=
        c.input_stream ? read_waits : std::min(c.producer_stall_cycles, read_waits);
  }
  std::vector<Candidate> all;
  for (auto& [name, c] : channels) all.push_back(std::move(c));
  // A private link of one beat per row already delivers a row per cycle.
  const bool slow_link =
      r.shared_link ||
      std::any_of(r.channels.begin(), r.channels.end(), [&](const ChannelStats& c) {
        return c.input_stream && r.memory.beats(c.width * c.element_bytes) > 1;
      });
  if (stream_waits > 0 && slow_link) {
    all.push_back(faster_link(r.memory));
    all.back().weight = stream_waits;
  }
  std::map<std::string, const UnitStats*> slow;  // with lanes, the busiest lane's
  for (const UnitStats& u : r.units)
    if (const UnitStats*& s = slow[key_name(u.name)]; u.timing.ii > 1 && (!s || u.busy > s->busy))
      s = &u;
  for (const auto& [name, u] : slow)
    if (u != nullptr) {
      all.push_back(ii_one(params, r.datapath, name, u->timing.ii));
      all.back().weight = u->busy;
    }
  std::stable_sort(all.begin(), all.end(),
                   [](const Candidate& a, const Candidate& b) { return a.weight > b.weight; });
  return all;
}

// The limit the bottleneck names, if it names one that can be relieved.
std::optional<Candidate> named_limit(const Params& params, const DatapathResult& r) {
  const Bottleneck& b = r.bottleneck;
  switch (b.kind) {
    case BottleneckKind::small_fifo:
    case BottleneckKind::memory_latency:
      return deeper(r.datapath, key_name(r.channels[std::size_t(b.channel)].name),
                    r.channels[std::size_t(b.channel)].capacity);
    case BottleneckKind::stopped:
      if (r.status != Status::deadlock) return std::nullopt;
      return deeper(r.datapath, key_name(r.channels[std::size_t(b.channel)].name),
                    r.channels[std::size_t(b.channel)].capacity);
    case BottleneckKind::memory_bandwidth:
      return faster_link(r.memory);
    case BottleneckKind::slow_ii: {
      const UnitStats& u = r.units[b.unit];
      return ii_one(params, r.datapath, key_name(u.name), u.timing.ii);
    }
    case BottleneckKind::none:
      break;
  }
  return std::nullopt;
}

bool completed(const ReliefTrial& t) { return t.cycles.has_value(); }
bool faster(const ReliefTrial& t, Cycle before) {
  return completed(t) && *t.cycles * 100 <= before * kFasterPercent;
}

BottleneckCheck check(const Params& params, const DatapathResult& r, ChildRuns& children) {
  BottleneckCheck check;
  if (r.status == Status::timeout) {
    check.note = "stopped by the watchdog: nothing to compare with";
    return check;
  }
  Params base = params;
  base.datapath = r.datapath;
  base.mode = "decoupled";  // the same cycles, faster (docs/timing.md)
  auto trial = [&](const Candidate& c, bool named) {
    Params p = base;
    c.apply(p);
    ReliefTrial t{c.limit, c.set, named, "", std::nullopt, 0};
    try {
      const ChildOutcome o = children.run(p)[r.datapath];
      t.status = o.status;
      t.cycles = o.cycles;
      t.scores = o.scores;
    } catch (const ParamError& e) {
      t.status = fmt::format("error: {}", e.what());
    }
    check.trials.push_back(std::move(t));
  };
  const std::optional<Candidate> named = named_limit(params, r);
  std::vector<Candidate> tried;
  if (named) {
    trial(*named, true);
    tried.push_back(*named);
    const ReliefTrial& t = check.trials.front();
    check.confirmed = r.status == Status::deadlock ? completed(t) : faster(t, r.cycles);
    // A deadlock is explained by the full channel; other limits are not tried.
    if (check.confirmed || r.status == Status::deadlock) return check;
  }
  std::vector<Candidate> all = candidates(params, r);
  if (named &&
      std::none_of(all.begin(), all.end(), [&](const Candidate& c) { return c.set == named->set; }))
    all.push_back(*named);
  for (const Candidate& c : all) {
    if (named && c.set == named->set) continue;
    if (c.weight == 0 || tried.size() == (named ? 1 : 0) + kAlternatives) break;
    trial(c, false);
    tried.push_back(c);
  }
  // Limits at one rate: relieving any one alone changes nothing, all that waited together may.
  const bool one_faster = std::any_of(check.trials.begin(), check.trials.end(),
                                      [&](const ReliefTrial& t) { return faster(t, r.cycles); });
  if (!one_faster && (all.size() > tried.size() || all.size() > 1)) {
    Candidate together{all.size() == 1 ? all.front().limit
                                       : fmt::format("the {} that waited, together", all.size()),
                       "", nullptr};
    for (const Candidate& c : all) together.set += (together.set.empty() ? "" : " --set ") + c.set;
    together.apply = [all](Params& p) {
      for (const Candidate& c : all) c.apply(p);
    };
    trial(together, false);
  }
  if (check.trials.empty()) check.note = "no unit waited for a slot or beyond a first row";
  for (std::size_t i = 0; i < check.trials.size(); ++i) {
    const ReliefTrial& t = check.trials[i];
    if (t.named || !faster(t, r.cycles)) continue;
    if (check.faster < 0 || *t.cycles < *check.trials[std::size_t(check.faster)].cycles)
      check.faster = std::ptrdiff_t(i);
  }
  if (!named) check.confirmed = check.faster < 0;
  return check;
}

}  // namespace

void verify_bottlenecks(const Params& params, SimulationResult& result) {
  ChildRuns children("--verify-bottleneck");
  for (DatapathResult& r : result.runs) r.bottleneck_check = check(params, r, children);
}

}  // namespace sdpa
