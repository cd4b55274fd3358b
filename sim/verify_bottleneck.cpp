#include "sim/verify_bottleneck.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>

namespace sdpa {
namespace {

// Relieving a limit multiplies its depth or bandwidth by this; an II becomes 1.
constexpr std::size_t kRelief = 4;
// A relief that speeds the run up less than this, in per cent, is no limit's (pipeline fill moves
// a little). The summary prints speed-ups truncated to hundredths: 1.05× is faster, 1.04× not.
constexpr Cycle kFasterPercent = 105;
// Besides the named limit, the likeliest others tried one at a time when it is not confirmed.
constexpr std::size_t kAlternatives = 3;
// Rounds of relieving, together with all before, the channels whose writers waited only then.
constexpr std::size_t kRounds = 2;

// A limit relieved: what, the --set that does it on top of the run's params.yaml with `datapath`
// set to the datapath (under the key that file holds the value: channel depths are always the
// datapath's own), and the change itself.
struct Relief {
  std::string limit, set;
  std::function<void(Params&)> apply;
  Cycle weight = 0;  // the waits it may explain: the likeliest first
};

// 4× as deep, at least `at_least`, and at most the largest depth a run accepts.
Relief deeper(const std::string& dp, const std::string& channel, std::size_t depth,
              std::size_t at_least = 0) {
  const std::size_t to = std::min<std::size_t>(std::max(depth * kRelief, at_least), kMaxDepth);
  return {fmt::format("{} depth {} → {}", channel, depth, to),
          fmt::format("datapaths.{}.channels.depths.{}={}", dp, channel, to),
          [=](Params& p) { p.per_datapath[dp].depths[channel] = to; }};
}

Relief faster_link(const MemoryTiming& memory) {
  const unsigned to = std::min<unsigned>(memory.bytes_per_cycle * kRelief, 1u << 20);
  return {fmt::format("memory bytes_per_cycle {} → {}", memory.bytes_per_cycle, to),
          fmt::format("memory.bytes_per_cycle={}", to),
          [=](Params& p) { p.memory.bytes_per_cycle = to; }};
}

Relief ii_one(const Params& params, const std::string& dp, const std::string& unit, unsigned ii) {
  return {fmt::format("{} II {} → 1", unit, ii),
          fmt::format("{}.ii=1", yaml_unit_key(params, dp, unit)),
          [=](Params& p) { p.per_datapath[dp].units[unit].ii = 1; }};
}

// Every limit that waited, by key name (a lane's is every lane's), likeliest first:
// - channels whose writer waited for a slot, on them or on another channel of a fan-out, which
//   it would have waited for next (the running max blocks on sum_rescale before acc_rescale): a
//   deeper channel changes nothing for a writer that never waited. Weighed by a stream buffer's
//   consumer's waits beyond its first row, or by the less of an intermediate channel's writer's
//   and reader's waits (a writer that only waited for slots, as the Q reader does while a row's
//   scores stream, waits behind its reader);
// - the memory link, if a stream buffer's consumer waited beyond its first row behind a shared
//   link or one of more than a beat per row (one beat per row delivers a row per cycle);
//   weighed by all such waits;
// - units at II > 1, weighed by their busy cycles.
std::vector<Relief> waited_limits(const Params& params, const DatapathResult& r) {
  std::map<std::string, Relief> channels;
  Cycle stream_waits = 0;
  bool slow_link = r.shared_link;
  for (std::size_t i = 0; i < r.channels.size(); ++i) {
    const ChannelStats& c = r.channels[i];
    const Cycle read_waits = c.input_stream ? r.waits_beyond_first_row(i) : c.consumer_stall_cycles;
    if (c.input_stream) {
      stream_waits += read_waits;
      slow_link |= r.memory.beats(c.width * c.element_bytes) > 1;
    }
    if (r.units[r.channel_ends[i].first].blocked == 0) continue;
    const std::string name = key_name(c.name);
    auto [it, added] = channels.try_emplace(name, deeper(r.datapath, name, c.capacity));
    it->second.weight +=
        c.input_stream ? read_waits : std::min(c.producer_stall_cycles, read_waits);
  }
  std::vector<Relief> all;
  for (auto& [name, relief] : channels) all.push_back(std::move(relief));
  if (stream_waits > 0 && slow_link) {
    all.push_back(faster_link(r.memory));
    all.back().weight = stream_waits;
  }
  std::map<std::string, Relief> units;
  for (const UnitStats& u : r.units)
    if (u.timing.ii > 1) {
      const std::string name = key_name(u.name);
      auto [it, added] = units.try_emplace(name, ii_one(params, r.datapath, name, u.timing.ii));
      it->second.weight += u.busy;
    }
  for (auto& [name, relief] : units) all.push_back(std::move(relief));
  std::stable_sort(all.begin(), all.end(),
                   [](const Relief& a, const Relief& b) { return a.weight > b.weight; });
  return all;
}

// The channels whose writer waited for a slot in a relieved run (`blocked`, its units' waits by key
// name), each relieved.
std::vector<Relief> waited_then(const DatapathResult& r,
                                const std::map<std::string, Cycle>& blocked) {
  std::map<std::string, Relief> channels;
  for (std::size_t i = 0; i < r.channels.size(); ++i) {
    const auto waits = blocked.find(key_name(r.units[r.channel_ends[i].first].name));
    if (waits == blocked.end() || waits->second == 0) continue;
    const std::string name = key_name(r.channels[i].name);
    channels.try_emplace(name, deeper(r.datapath, name, r.channels[i].capacity));
  }
  std::vector<Relief> all;
  for (auto& [name, relief] : channels) all.push_back(std::move(relief));
  return all;
}

// A limit of the kinds a bottleneck names, relieved.
std::optional<Relief> relieved(const Params& params, const DatapathResult& r, const Limit& l) {
  const auto channel = [&] { return r.channels[std::size_t(l.channel)]; };
  switch (l.kind) {
    case BottleneckKind::small_fifo:
    case BottleneckKind::memory_latency:
      return deeper(r.datapath, key_name(channel().name), channel().capacity);
    case BottleneckKind::stopped:
      // Deep enough for a row, as a bypass must be: twice the longest, and its latencies.
      if (r.status != Status::deadlock) return std::nullopt;
      return deeper(r.datapath, key_name(channel().name), channel().capacity,
                    2 * params.shape().kv_len + 64);
    case BottleneckKind::memory_bandwidth:
      return faster_link(r.memory);
    case BottleneckKind::slow_ii:
      return ii_one(params, r.datapath, key_name(r.units[l.unit].name), r.units[l.unit].timing.ii);
    case BottleneckKind::none:
      break;
  }
  return std::nullopt;
}

// All of `limits` relieved at once, named `label`.
Relief together(const std::vector<Relief>& limits, std::string label) {
  Relief all{std::move(label), "", [limits](Params& p) {
               for (const Relief& l : limits) l.apply(p);
             }};
  for (const Relief& l : limits) all.set += (all.set.empty() ? "" : " --set ") + l.set;
  return all;
}

// The limits the bottleneck names, if it names one that can be relieved: the named one, then
// those it names at the same rate.
std::vector<Relief> named_limits(const Params& params, const DatapathResult& r) {
  std::vector<Relief> parts;
  const std::optional<Relief> named = relieved(params, r, r.bottleneck);
  if (!named) return parts;
  parts.push_back(*named);
  // `also` lists limits of the kinds that can be relieved (find_bottleneck): never none or stopped.
  for (const Limit& l : r.bottleneck.also)
    if (const std::optional<Relief> other = relieved(params, r, l)) parts.push_back(*other);
  return parts;
}

// The named limits relieved in one run.
Relief all_named(const std::vector<Relief>& parts) {
  if (parts.size() == 1) return parts.front();
  std::string label;
  for (const Relief& l : parts) label += (label.empty() ? "" : " and ") + l.limit;
  return together(parts, label);
}

bool ran_faster(const ReliefTrial& t, Cycle before) {
  return t.cycles && before * 100 >= *t.cycles * kFasterPercent;
}

// A deadlock's relief: the run completes, runs on until the watchdog stops it, or gets past the
// full channel to deadlock at another.
bool got_past(const ReliefTrial& t, const std::string& full) {
  return t.cycles || t.status == "timeout" || (t.status == "deadlock" && t.stopped_at != full);
}

// The datapath of one run, run again alone and decoupled (the same cycles) with limits relieved.
class Trials {
 public:
  Trials(const Params& params, const DatapathResult& r, ChildRuns& children, bool announce)
      : base_(params), datapath_(r.datapath), children_(children), announce_(announce) {
    base_.datapath = r.datapath;
    base_.mode = "decoupled";
  }

  // A child that gives no outcome is a trial that says why, not the run's failure.
  const ReliefTrial& run(const Relief& relief, bool named) {
    if (announce_)
      std::cerr << fmt::format("sdpa-sim: checking {}'s bottleneck: {}\n", datapath_, relief.limit);
    Params p = base_;
    relief.apply(p);
    ReliefTrial t{relief.limit, relief.set, named, "", std::nullopt, 0, ""};
    last_blocked_.clear();
    try {
      const ChildOutcome o = children_.run(p).at(datapath_);
      t.status = o.status;
      t.cycles = o.cycles;
      t.scores = o.scores;
      t.stopped_at = o.stopped_at;
      last_blocked_ = o.blocked;
    } catch (const std::exception& e) {
      t.status = fmt::format("error: {}", e.what());
    }
    done_.push_back(std::move(t));
    return done_.back();
  }
  const std::vector<ReliefTrial>& done() const { return done_; }
  // The units that waited for a slot in the last trial, by key name.
  const std::map<std::string, Cycle>& last_blocked() const { return last_blocked_; }
  std::vector<ReliefTrial> take() { return std::move(done_); }

 private:
  Params base_;
  std::string datapath_;
  ChildRuns& children_;
  bool announce_;
  std::vector<ReliefTrial> done_;
  std::map<std::string, Cycle> last_blocked_;
};

BottleneckCheck check_bottleneck(const Params& params, const DatapathResult& r, ChildRuns& children,
                                 bool announce) {
  BottleneckCheck check;
  if (r.status == Status::timeout) {
    check.note = "stopped by the watchdog: nothing to compare with";
    return check;
  }
  if (r.limiting.reason == LimitReason::starved) {
    check.note = "a deadlock with no channel full: no depth relieves it";
    return check;
  }
  Trials trials(params, r, children, announce);
  const std::vector<Relief> named = named_limits(params, r);
  if (!named.empty()) {
    const ReliefTrial& t = trials.run(all_named(named), true);
    // A deadlock is explained by the full channel: other limits are not tried.
    if (r.status == Status::deadlock) {
      check.confirmed = got_past(t, key_name(r.channels[std::size_t(r.bottleneck.channel)].name));
      check.trials = trials.take();
      return check;
    }
    check.confirmed = ran_faster(t, r.cycles);
    if (check.confirmed) {
      check.trials = trials.take();
      return check;
    }
  }
  std::vector<Relief> waited = waited_limits(params, r);
  // A part of the named relief is not an alternative to it, and each is relieved once together.
  const auto same = [](const Relief& a) {
    return [&a](const Relief& b) { return a.set == b.set; };
  };
  // A none statement's limits at the same rate, relieved alone, should change nothing: they are
  // tried first, whatever waited.
  if (r.bottleneck.kind == BottleneckKind::none)
    for (auto l = r.bottleneck.also.rbegin(); l != r.bottleneck.also.rend(); ++l)
      if (std::optional<Relief> also = relieved(params, r, *l)) {
        waited.erase(std::remove_if(waited.begin(), waited.end(), same(*also)), waited.end());
        also->weight = std::max<Cycle>(1, waited.empty() ? 1 : waited.front().weight);
        waited.insert(waited.begin(), std::move(*also));
      }
  const auto is_named = [&](const Relief& l) {
    return std::any_of(named.begin(), named.end(), same(l));
  };
  for (const Relief& part : named)
    if (std::none_of(waited.begin(), waited.end(), same(part))) waited.push_back(part);
  std::size_t alternatives = 0;
  for (const Relief& l : waited)
    if (!is_named(l) && l.weight > 0 && alternatives++ < kAlternatives) trials.run(l, false);
  // Limits at one rate: relieving any one alone changes nothing, all that waited together may
  // (unless those are the limits already tried).
  const auto faster = [&](const ReliefTrial& t) { return ran_faster(t, r.cycles); };
  const bool tried_all = (!named.empty() && std::all_of(waited.begin(), waited.end(), is_named)) ||
                         (waited.size() == 1 && alternatives == 1);
  if (std::none_of(trials.done().begin(), trials.done().end(), faster) && !waited.empty()) {
    if (!tried_all)
      trials.run(together(waited, waited.size() == 1
                                      ? waited.front().limit
                                      : fmt::format("the {} that waited, together", waited.size())),
                 false);
    // The last trial relieved all that waited. A channel whose writer waited only then was at
    // the same rate, behind them (two bypasses a few elements short: the second's writer never
    // waited for the first), so it joins them, for a few rounds.
    for (std::size_t round = 0;
         round < kRounds && !trials.done().empty() && !faster(trials.done().back()); ++round) {
      const std::size_t before = waited.size();
      for (const Relief& l : waited_then(r, trials.last_blocked()))
        if (std::none_of(waited.begin(), waited.end(), same(l))) waited.push_back(l);
      if (waited.size() == before) break;
      trials.run(together(waited, fmt::format("the {} that waited, and {} that waited then, "
                                              "together",
                                              before, waited.size() - before)),
                 false);
    }
  }
  check.trials = trials.take();

  if (check.trials.empty()) check.note = "no unit waited for a slot or beyond a first row";
  for (std::size_t i = 0; i < check.trials.size(); ++i) {
    const ReliefTrial& t = check.trials[i];
    if (!t.named && faster(t) &&
        (check.fastest < 0 || *t.cycles < *check.trials[std::size_t(check.fastest)].cycles))
      check.fastest = std::ptrdiff_t(i);
  }
  // Nothing faster confirms none only if something ran (a child refused for its memory did not).
  if (named.empty())
    check.confirmed = check.fastest < 0 &&
                      (check.trials.empty() ||
                       std::any_of(check.trials.begin(), check.trials.end(),
                                   [](const ReliefTrial& t) { return t.cycles.has_value(); }));
  return check;
}

}  // namespace

void verify_bottlenecks(const Params& params, SimulationResult& result, ChildRuns& children) {
  // As the run's progress lines: a run that took a while says what each rerun is.
  const bool announce = result.wall_seconds > 2;
  for (DatapathResult& r : result.runs)
    r.bottleneck_check = check_bottleneck(params, r, children, announce);
}

}  // namespace sdpa
