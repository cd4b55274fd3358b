#include "sim/observe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <vector>

#include "sim/output.h"

namespace sdpa {
namespace {

// The run's cycles as utilisation counts them: a stopped run has no cycle count, only a span.
Cycle run_cycles(const DatapathResult& r) {
  const bool stopped = r.status == Status::deadlock || r.status == Status::timeout;
  return std::max<Cycle>(1, stopped ? r.span : r.cycles);
}

double utilisation(const DatapathResult& r, const UnitStats& u) {
  return double(u.busy) / double(run_cycles(r));
}

// "busy 93.3% of the cycles": a unit busy past the cycle count (a sink slower than the rows
// arrive) did not keep up, but the count ends at the last result's ready stamp, before its last
// firings, which the reason says.
std::string busy_share(const DatapathResult& r, const UnitStats& u) {
  const double share = utilisation(r, u);
  return fmt::format("busy {:.1f}% of the cycles{}", 100 * share,
                     share > 1 ? ", past the last result's ready cycle, where the count ends" : "");
}

// A share at least 95%: the rest is filling and draining the pipeline.
bool saturated(Cycle part, Cycle whole) { return part * 100 >= whole * 95; }

// The stream buffer whose consumer waited the most beyond its first row (the first of a tie), or
// channels.size() if none did.
std::size_t most_waited_stream(const DatapathResult& r) {
  std::size_t waited = r.channels.size();
  Cycle most = 0;
  for (std::size_t s = 0; s < r.channels.size(); ++s)
    if (r.channels[s].input_stream && r.waits_beyond_first_row(s) > most) {
      waited = s;
      most = r.waits_beyond_first_row(s);
    }
  return waited;
}

// The writer's latency and II for a channel's round trip. A stream buffer's is its reader's result
// latency (the memory's, the row's beats, its own) at II 1: a reader at II > 1 is a limit of its
// own (slow_ii), and folding its II into the round trip dropped limits at nearly one rate from the
// list (a K buffer's bound 7% above the V buffer's, both relieved 1.26× as fast, the K buffer
// alone 1.00×).
struct RoundTrip {
  Cycle latency, ii;
};
RoundTrip round_trip_timing(const DatapathResult& r, std::size_t s) {
  const Timing& writer = r.units[r.channel_ends[s].first].timing;
  if (r.channels[s].input_stream) return {r.first_row[s], 1};
  return {writer.latency, writer.ii};
}
// A channel of capacity C whose writer, at II I, issues elements ready L cycles later passes
// C + 1 of them per L + 1 + I cycles if I·C < L + 1 (the writer holds one more in its output
// register), and at capacity 1 one per 2 cycles at most, since an element holds its slot from its
// write to the cycle after its read (docs/timing.md, "Consequences"; a stream buffer's L is
// Lmem): a bound on the run's cycles, or 0 if it has none.
Cycle round_trip_bound(const DatapathResult& r, std::size_t s) {
  const ChannelStats& c = r.channels[s];
  const RoundTrip t = round_trip_timing(r, s);
  // Capacity 1 passes at most one element per 2 cycles however slow its writer (at II 2, as
  // slow as the writer: both at one rate).
  if (t.ii * c.capacity >= t.latency + 1) return c.capacity == 1 ? 2 * c.writes : 0;
  const Cycle trips = (c.writes * (t.latency + 1 + t.ii) + c.capacity) / (c.capacity + 1);
  return c.capacity == 1 ? std::max(trips, 2 * c.writes) : trips;
}
// A bypass of capacity C holding each element for ℓ + L at full rate (rows of ℓ, L the producer's
// and the reduction's latencies): the slot that element j = max(0, C − ℓ) of row r + 1 needs is
// element ℓ + j − C of row r, freed only after row r's reduction, L cycles after the row's last
// issue, and the elements before it. If j is not the row's last (whose write may stall after its
// issue, the reduction already fed), row r + 1's last element issues at least ℓ' + ℓ + L − C
// cycles after row r's (ℓ' its length); with rows of one length, row r + m's, m = max(1, ⌊C / ℓ⌋),
// mℓ + ℓ + L − C after row r's, a capacity C ≥ ℓ of C ≡ ℓ − 1 (mod ℓ) bounded as one deeper. Over
// the run's rows that bounds its cycles (docs/timing.md, "Bypasses shorter than a row"); 0 if no
// row is held back.
Cycle bypass_bound(const DatapathResult& r, std::size_t s) {
  const DatapathResult::Bypass& b = r.bypass[s];
  if (b.latency == 0) return 0;
  const Cycle capacity = r.channels[s].capacity;
  if (b.rows.period() == nullptr) {  // rows of one length ℓ: one waits every m
    const Cycle row = b.rows.row_len, rows = b.rows.rows;
    if (row < 2 || rows == 0) return 0;
    const Cycle c = capacity >= row && capacity % row == row - 1 ? capacity + 1 : capacity;
    if (c >= row + b.latency) return 0;
    const Cycle extra = (rows - 1) / std::max<Cycle>(1, c / row) * (row + b.latency - c);
    return extra == 0 ? 0 : rows * row + extra;
  }
  Cycle elements = 0, extra = 0, previous = 0;
  for (std::size_t k = 0; k < b.rows.rows; ++k) {
    const Cycle row = b.rows.row_length(k);
    if (row == 0) continue;  // a lane's row that no key reaches: not on the channel
    if (previous != 0 && capacity + 2 <= previous + row && row >= 2 &&
        previous + b.latency > capacity)
      extra += previous + b.latency - capacity;
    elements += row;
    previous = row;
  }
  return extra == 0 ? 0 : elements + extra;
}
// The tighter of the two.
Cycle channel_bound(const DatapathResult& r, std::size_t s) {
  return std::max(round_trip_bound(r, s), bypass_bound(r, s));
}
// As a reason names it: "scores depth 2 for latency 4", "... at II 2" for a slower writer;
// "exp_bypass depth 17 for a row of 16 and latency 5".
std::string round_trip_text(const DatapathResult& r, std::size_t s) {
  const ChannelStats& c = r.channels[s];
  if (bypass_bound(r, s) > round_trip_bound(r, s))
    return fmt::format("{} depth {} for a row of {} and latency {}", local_name(c.name), c.capacity,
                       r.bypass[s].rows.row_len, r.bypass[s].latency);
  const RoundTrip t = round_trip_timing(r, s);
  return fmt::format("{} depth {} for latency {}{}", local_name(c.name), c.capacity, t.latency,
                     t.ii > 1 ? fmt::format(" at II {}", t.ii) : "");
}

// The bytes a shared link carries in each cycle, as steps [from, to) of one value, in time order
// (none: no byte). A grant's bytes fill cycles at bytes_per_cycle from its start in byte-time, so
// its first and last cycles may carry part of it and share a cycle with the grants beside it.
struct LinkStep {
  Cycle from, to;
  std::uint64_t bytes;
};
std::vector<LinkStep> link_steps(const SharedLink& link) {
  const std::uint64_t per_cycle = link.bytes_per_cycle();
  std::vector<LinkStep> steps;
  const auto add = [&](Cycle from, Cycle to, std::uint64_t bytes) {
    if (!steps.empty() && steps.back().from == from && steps.back().to == to)
      steps.back().bytes += bytes;  // the previous grant's last cycle
    else
      steps.push_back({from, to, bytes});
  };
  for (const SharedLink::Carried& c : link.carried()) {
    const Cycle first = c.start / per_cycle, last = (c.end - 1) / per_cycle;
    add(first, first + 1, std::min(c.end, (first + 1) * per_cycle) - c.start);
    if (last == first) continue;
    if (last > first + 1) add(first + 1, last, per_cycle);
    add(last, last + 1, c.end - last * per_cycle);
  }
  return steps;
}

}  // namespace

void account_units(const AttentionDatapath& dp, DatapathResult& r) {
  std::map<const Unit*, std::size_t> index;
  for (const Unit* u : dp.units()) {
    index[u] = r.units.size();
    UnitStats s;
    s.name = u->name();
    s.timing = u->timing();
    s.firings = u->firings_done();
    s.planned_firings = u->planned_firings();
    s.busy = s.firings * s.timing.ii;
    s.end = u->cycle();
    s.operators = u->operators();
    s.ops = u->ops_done();
    r.units.push_back(s);
  }
  // A channel's waits belong to its one consumer, its stalls to its one producer: the only
  // places a unit's local cycle moves besides II per firing.
  for (std::size_t i = 0; i < dp.edges().size(); ++i) {
    const Graph::Edge& e = dp.edges()[i];
    const std::size_t p = index.at(e.producer), c = index.at(e.consumer);
    r.channel_ends.emplace_back(p, c);
    r.bypass.push_back({e.consumer->shape(), e.row_latency});
    r.units[p].blocked += r.channels[i].producer_stall_cycles;
    r.units[c].starved += r.channels[i].consumer_stall_cycles;
    if (dp.is_input_stream(e)) r.units[p].memory_reader = true;
  }
  for (const UnitStats& u : r.units) r.span = std::max(r.span, u.end);
  r.memory = dp.memory_timing();
}

std::vector<CycleBound> cycle_bounds(const DatapathResult& r) {
  std::vector<CycleBound> all;
  for (std::size_t u = 0; u < r.units.size(); ++u) {
    const UnitStats& unit = r.units[u];
    if (unit.timing.ii > 1)
      all.push_back({{BottleneckKind::slow_ii, u, -1},
                     unit.busy,
                     fmt::format("{} II {}", local_name(unit.name), unit.timing.ii)});
  }
  for (std::size_t s = 0; s < r.channels.size(); ++s) {
    const ChannelStats& c = r.channels[s];
    const std::size_t writer = r.channel_ends[s].first;
    if (const Cycle cycles = channel_bound(r, s))
      all.push_back({{c.input_stream ? BottleneckKind::memory_latency : BottleneckKind::small_fifo,
                      writer, std::ptrdiff_t(s)},
                     cycles,
                     round_trip_text(r, s)});
    if (!c.input_stream) continue;
    const Cycle rows = c.writes, beats = r.memory.beats(c.width * c.element_bytes);
    if (!r.shared_link && beats > 1)
      all.push_back({{BottleneckKind::memory_bandwidth, writer, std::ptrdiff_t(s)},
                     beats * rows,
                     fmt::format("{}'s link, {} cycles per row", local_name(c.name), beats)});
  }
  // A shared link, at the stream buffer whose consumer waited the most beyond its first row (if
  // none did, the first stream buffer).
  if (!r.shared_link) return all;
  std::size_t waited = most_waited_stream(r);
  for (std::size_t s = 0; s < r.channels.size() && waited == r.channels.size(); ++s)
    if (r.channels[s].input_stream) waited = s;
  if (waited < r.channels.size())
    all.push_back(
        {{BottleneckKind::memory_bandwidth, r.channel_ends[waited].first, std::ptrdiff_t(waited)},
         r.link_cycles(),
         fmt::format("the shared link, {} bytes per cycle", r.memory.bytes_per_cycle)});
  return all;
}

namespace {

// The rule's one limit (docs/timing.md, "The bottleneck"), given the run's bounds.
Bottleneck named_bottleneck(const DatapathResult& r, const std::vector<CycleBound>& all) {
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
    b.reason = r.status == Status::deadlock ? "deadlock (the wait-for report says where)"
                                            : "stopped by the watchdog (sim.max_cycles)";
    if (r.limiting.reason == LimitReason::deadlock)
      b.reason = fmt::format("{}: deadlock, {} full at depth {}", local_name(r.units[b.unit].name),
                             local_name(c.name), c.capacity);
    // No depth relieves a deadlock no full channel holds up: its reader is named, which waits.
    if (r.limiting.reason == LimitReason::starved) {
      b.unit = r.channel_ends[r.limiting.channel].second;
      b.reason = fmt::format("{}: deadlock, waits on {}, empty, and no channel is full",
                             local_name(r.units[b.unit].name), local_name(c.name));
    }
    return b;
  }
  const bool stalls = r.limiting.reason == LimitReason::producer_stalls ||
                      r.limiting.reason == LimitReason::consumer_stalls;
  // The busiest unit; a tie to the earlier, where the rate is set.
  std::size_t busiest = 0;
  for (std::size_t u = 1; u < r.units.size(); ++u)
    if (r.units[u].busy > r.units[busiest].busy) busiest = u;
  const UnitStats& top = r.units[busiest];
  const auto limited = [&](BottleneckKind kind, std::size_t channel, std::string reason) {
    b.kind = kind;
    b.channel = std::ptrdiff_t(channel);
    b.unit = r.channel_ends[channel].first;
    b.reason = std::move(reason) + ": " + rate;
    return b;
  };
  // The shared link as the limit, named at a stream buffer that waited for it.
  const Cycle link_cycles = r.link_cycles();
  const auto shared_bandwidth = [&](std::size_t stream) {
    return limited(
        BottleneckKind::memory_bandwidth, stream,
        fmt::format("{}: shared memory link, {} bytes per cycle for all streams, busy "
                    "{:.1f}% of the cycles",
                    local_name(r.units[r.channel_ends[stream].first].name),
                    r.memory.bytes_per_cycle, 100.0 * double(link_cycles) / double(cycles)));
  };
  // The shared link limits the run when a stream buffer's consumer waited beyond its first row
  // and the link was busy nearly every cycle of the run, or nearly every cycle until its last
  // byte left with more cycles to carry than any unit was busy (the roofline's memory side: then
  // only the read latency and the pipeline's drain follow its last byte, which in a short run
  // are more than 5% of the cycles). It is named at the buffer whose consumer waited the most:
  // the limiting channel may be one that filled behind it.
  if (r.shared_link) {
    std::size_t waited = most_waited_stream(r);
    if (stalls && r.channels[r.limiting.channel].input_stream) waited = r.limiting.channel;
    const bool never_idle = saturated(link_cycles, link_cycles + r.link_idle_cycles());
    // Unless a unit at one firing per cycle is as busy: the lanes are at their peak, which the
    // link just keeps up with (relieving it changes nothing).
    const bool units_at_peak = top.timing.ii == 1 && saturated(top.busy, link_cycles);
    if (waited != r.channels.size() && !units_at_peak &&
        (saturated(link_cycles, cycles) || (never_idle && link_cycles >= top.busy)))
      return shared_bandwidth(waited);
  }
  const std::size_t i = r.limiting.channel;
  const ChannelStats& c = r.channels[i];
  // A stream buffer that waited; its link, and its link busy nearly every cycle.
  const bool stream = stalls && c.input_stream;
  const auto beats = [&](std::size_t s) {
    return r.memory.beats(r.channels[s].width * r.channels[s].element_bytes);
  };
  const auto link_saturated = [&](std::size_t s) {
    return saturated(beats(s) * r.units[r.channel_ends[s].first].firings, cycles);
  };
  const auto memory_bandwidth = [&](std::size_t s) {
    return limited(BottleneckKind::memory_bandwidth, s,
                   fmt::format("{}: memory bandwidth, {} bytes per cycle, {} cycles per row",
                               local_name(r.units[r.channel_ends[s].first].name),
                               r.memory.bytes_per_cycle, beats(s)));
  };
  // A link slower than the stream's reader decides before the units do: a reader's cycle does
  // not wait for its link, so with fewer rows than its buffer holds it looks busy to its end,
  // which the rule below would take for keeping up. A private link is the limit too when its
  // reader never waited for a slot: its rows then left at the link's pace, and still its
  // consumer waited for them (in a small run the fill keeps the link below 95% of the cycles).
  // A link is named for its consumer's waits only if what relieving it could save is at least 5%
  // of the run: the waits, and the last row's beats but one (its latency shortens with them).
  // Less (a grant's turn, a row a cycle late at the start of a short run) names no limit.
  const auto waited_enough = [&](std::size_t s) {
    return 20 * (r.waits_beyond_first_row(s) + beats(s) - 1) >= cycles;
  };
  const auto slow_private_link = [&](std::size_t s) {
    const UnitStats& reader = r.units[r.channel_ends[s].first];
    return !r.shared_link && beats(s) > 1 && beats(s) >= reader.timing.ii &&
           (link_saturated(s) || (reader.blocked == 0 && waited_enough(s)));
  };
  if (stream && slow_private_link(i)) return memory_bandwidth(i);
  // Busy nearly all of its time up to its end, it hardly waited: whatever else waited, waited
  // behind it (with lanes and a causal mask a lane idles by design while its run's longer
  // rows stream, and a small run's pipeline fill is a large share of its cycles). Only such a
  // unit sets the rate: one slower than a firing per cycle that mostly waited sets nothing.
  // The wait for its first inputs is the pipeline's fill (the memory's latency and every unit's
  // before it): a short run behind long latencies spends a large share of its cycles in it.
  // Every unit reads each of its inputs in its first firing, so it issues once the last of them
  // is ready.
  Cycle fill = 0;
  for (std::size_t s = 0; s < r.channels.size(); ++s)
    if (r.channel_ends[s].second == busiest) fill = std::max(fill, r.channels[s].first_ready);
  // (A unit that fired once has no rate: a single score's run is all fill.) One whose busy cycles
  // a channel's or link's bound exceeds by 5% of the run's cycles outran the run (a lane's short
  // bypass: the K reader, busiest, serves every lane at its pace; a reader whose buffer took every
  // row it read, the rest of the run spent behind a shallow V buffer): relieving that limit could
  // save as much. (By 5% of its own busy cycles instead, small excesses in short runs, where the
  // fill leaves room, were named and not confirmed.) One that merely ended early did not: the
  // rest of a short run can be the pipeline's drain behind it.
  const bool outrun = std::any_of(all.begin(), all.end(), [&](const CycleBound& o) {
    return o.limit.kind != BottleneckKind::slow_ii && o.cycles > top.busy &&
           (o.cycles - top.busy) * 100 >= cycles * 5;
  });
  // A unit that writes nothing (a sink) sets no rate by its pace: the count ends at the ready
  // stamp of the last result it takes; if it held its writer back, the walk below finds it. Of
  // the channels it writes, too: whether each held all its results at once, and whether a reader
  // waited for one (below).
  bool writes = false, held_all = true, reader_waited = false;
  for (std::size_t s = 0; s < r.channels.size(); ++s) {
    const ChannelStats& c = r.channels[s];
    if (r.channel_ends[s].first != busiest) continue;
    writes = true;
    held_all = held_all && c.high_water == c.writes;
    reader_waited = reader_waited || c.consumer_stall_cycles != 0;
  }
  const bool sets_rate = top.firings > 1 && writes &&
                         saturated(top.busy, top.end - std::min(top.end, fill)) && !outrun;
  // A channel too shallow for its round trip, or a bypass for its row: its writer, the channel, and
  // its writer's waits for its slots and its reader's for its elements (each unit's other waits are
  // in the units table).
  const auto small_fifo = [&](std::size_t s) {
    const ChannelStats& f = r.channels[s];
    const UnitStats& writer = r.units[r.channel_ends[s].first];
    const UnitStats& q = r.units[r.channel_ends[s].second];
    // A writer at II > 1 paces the round trip too: relieving its II may do more than a deeper
    // channel, so the reason shows it.
    const std::string at_ii =
        writer.timing.ii > 1 ? fmt::format(" at II {}", writer.timing.ii) : std::string();
    return limited(
        BottleneckKind::small_fifo, s,
        fmt::format("{}: {} depth {}{}, blocked {} cycles on it, {} starved {}",
                    local_name(writer.name), local_name(f.name), f.capacity, at_ii,
                    f.producer_stall_cycles, local_name(q.name), f.consumer_stall_cycles));
  };
  const auto memory_latency = [&](std::size_t s) {
    return limited(BottleneckKind::memory_latency, s,
                   fmt::format("{}: memory latency {} with {} depth {}",
                               local_name(r.units[r.channel_ends[s].first].name), r.first_row[s],
                               local_name(r.channels[s].name), r.channels[s].capacity));
  };
  // A unit at II > 1 that sets the rate, and the writer that waited for it on channel `on` (none:
  // channels.size()).
  const auto slow_unit_behind = [&](std::size_t u, std::size_t on) {
    const UnitStats& unit = r.units[u];
    b.kind = BottleneckKind::slow_ii;
    b.unit = u;
    const std::string waited =
        on == r.channels.size()
            ? ""
            : fmt::format(", {} blocked {} cycles on {}",
                          local_name(r.units[r.channel_ends[on].first].name),
                          r.channels[on].producer_stall_cycles, local_name(r.channels[on].name));
    b.reason = fmt::format("{}: II {}, {}{}: {}", local_name(unit.name), unit.timing.ii,
                           busy_share(r, unit), waited, rate);
    return b;
  };
  // The same with the writer that waited most for it, if one did: of an intermediate channel
  // before a stream buffer, whose reader fetches ahead by design.
  const auto slow_unit = [&](std::size_t u) {
    std::size_t on = r.channels.size();
    std::pair<bool, Cycle> most{false, 0};  // an intermediate channel's, its writer's stalls
    for (std::size_t s = 0; s < r.channels.size(); ++s) {
      const ChannelStats& c = r.channels[s];
      const std::pair<bool, Cycle> waits{!c.input_stream, c.producer_stall_cycles};
      if (r.channel_ends[s].second != u || c.producer_stall_cycles == 0 || waits <= most) continue;
      most = waits;
      on = s;
    }
    return slow_unit_behind(u, on);
  };
  // The statement of a limit found in closed form.
  const auto named = [&](const CycleBound& o) {
    const std::size_t s = std::size_t(o.limit.channel);
    switch (o.limit.kind) {
      case BottleneckKind::slow_ii:
        return slow_unit(o.limit.unit);
      case BottleneckKind::small_fifo:
        return small_fifo(s);
      case BottleneckKind::memory_latency:
        return memory_latency(s);
      default:
        return r.shared_link ? shared_bandwidth(s) : memory_bandwidth(s);
    }
  };
  const auto busiest_unit = [&](bool slow) {
    // Not "every unit keeps up" where a channel's or link's bound takes nearly all of the run's
    // cycles, more than 5% above the busiest unit's busy ones (as fast, the units are at their
    // peak, which the limit keeps up with): that limit sets the rate, whatever the stalls' walk
    // found (a lane's small FIFO holding back the K and V readers that every lane shares, and
    // with them the other lanes).
    const CycleBound* rate_setter = nullptr;
    for (const CycleBound& o : all)
      if (o.limit.kind != BottleneckKind::slow_ii && saturated(o.cycles, cycles) &&
          !saturated(top.busy, o.cycles) &&
          (rate_setter == nullptr || o.cycles > rate_setter->cycles))
        rate_setter = &o;
    if (!slow && rate_setter != nullptr) return named(*rate_setter);
    if (slow) return slow_unit(busiest);
    b.unit = busiest;
    b.kind = BottleneckKind::none;
    if (utilisation(r, top) > 1) {  // it did not keep up, but nothing waited for it
      b.reason = fmt::format("none: {} {}: {}", local_name(top.name), busy_share(r, top), rate);
      return b;
    }
    // Where the rest of a short run's cycles went, when they are more than 5%: the wait for its
    // first inputs (the pipeline's fill), its waits after that, and the cycles after its end
    // (the drain behind it), which add up to them (docs/timing.md, "Where the cycles go"). A
    // unit whose last firing ends past the count (a sink at II 4 taking rows that came a cycle
    // apart) has busy cycles there too, which the count leaves out: said, so the parts add up.
    std::string rest;
    if (!saturated(top.busy, cycles)) {
      const Cycle first = std::min(fill, top.starved);
      const std::pair<const char*, Cycle> parts[] = {{"fill", first},
                                                     {"waits", top.starved + top.blocked - first},
                                                     {"drain", cycles - std::min(cycles, top.end)}};
      for (const auto& [part, n] : parts)
        if (n != 0) rest += fmt::format("{}{} {}", rest.empty() ? " (" : ", ", part, n);
      if (!rest.empty()) rest += " cycles";
      if (top.end > cycles)
        rest += fmt::format("{}{} busy cycles after the last result's ready cycle",
                            rest.empty() ? " (" : "; ", top.end - cycles);
      if (!rest.empty()) rest += ")";
    }
    b.reason = fmt::format("none: every unit keeps up, {} {}{}: {}", local_name(top.name),
                           busy_share(r, top), rest, rate);
    return b;
  };
  // At II > 1 it sets no rate if each channel it writes held all its results at once, no reader
  // waited for any, and no other limit is at its rate: all were written before any was taken (a
  // K reader whose lanes' buffers took every row long before the Q rows arrived). A reader's
  // wait for the first, as a lane's for its one row's maximum, counts: a faster unit would have
  // shortened it; and a reader as slow never waits, yet the two together set the rate.
  const bool alone = std::none_of(all.begin(), all.end(), [&](const CycleBound& o) {
    const bool own = o.limit.kind == BottleneckKind::slow_ii && o.limit.unit == busiest;
    return !own && saturated(o.cycles, top.busy);
  });
  const bool slow = sets_rate && top.timing.ii > 1 && (reader_waited || !held_all || !alone);
  if (sets_rate || !stalls) return busiest_unit(slow);
  // A stream buffer at least Lmem + 1 deep keeps enough rows in flight for the latency (it has no
  // round-trip bound): what its consumer waited for beyond that is its link, shared or of more
  // than one beat per row.
  const auto stream_buffer = [&](std::size_t s) {
    if (slow_private_link(s)) return memory_bandwidth(s);
    const bool enough_in_flight = round_trip_bound(r, s) == 0;
    // A reader busier than its link (at an II above a row's beats on a private link, above all
    // the shared link's beats) held its rows back itself: relieving the link would change nothing.
    const std::size_t reader = r.channel_ends[s].first;
    const UnitStats& fetch = r.units[reader];
    const Cycle link_work = r.shared_link ? link_cycles : beats(s) * fetch.firings;
    if (fetch.timing.ii > 1 && fetch.busy > link_work && waited_enough(s) &&
        fetch.busy >= round_trip_bound(r, s))
      return slow_unit(reader);
    if (r.shared_link && enough_in_flight && waited_enough(s)) return shared_bandwidth(s);
    if (!r.shared_link &&
        (link_saturated(s) || (enough_in_flight && beats(s) > 1 && waited_enough(s))))
      return memory_bandwidth(s);
    // As deep on a link of one beat per row, neither the latency nor the link held its rows
    // back: its reader did, waiting for a slot in a lane behind a slower unit (lanes share each
    // K and V row), the busiest one. Shallower, the latency is named by the link's rule: for
    // waits of at least 5% of the run (less, as a shared link's grant a cycle late for a lane's
    // one Q row, is no limit: a deeper buffer saves at most the waits).
    if (enough_in_flight || !waited_enough(s)) {
      if (writes) return busiest_unit(top.timing.ii > 1);
      // A sink sets no rate by its pace (above): the busiest unit that writes does, if slow.
      std::size_t writer = r.units.size();
      for (std::size_t c = 0; c < r.channels.size(); ++c) {
        const std::size_t u = r.channel_ends[c].first;
        if (writer == r.units.size() || r.units[u].busy > r.units[writer].busy) writer = u;
      }
      if (writer != r.units.size() && r.units[writer].timing.ii > 1) return slow_unit(writer);
      return busiest_unit(false);
    }
    return memory_latency(s);
  };
  if (stream) return stream_buffer(i);
  // The writer of an intermediate channel waited for slots because its reader did not read. The
  // channel is too small when the reader waited for it too (the credits' round trip); a reader
  // at II > 1 busy at least as long as it waited held the writer back itself, unless the
  // channel's round trip is slower by more than 5% than the reader, busy or blocked on its own
  // outputs, and is the slowest limit in closed form (within 5%: limits at the same rate), one
  // that waited most for a stream buffer's rows (beyond the first) passes on that buffer's wait,
  // and one that waited for slots more than it was busy or starved passes on the channel it
  // waited on most (downstream: the graph has no cycles).
  const CycleBound* slowest_bound = nullptr;
  for (const CycleBound& o : all)
    if (slowest_bound == nullptr || o.cycles > slowest_bound->cycles) slowest_bound = &o;
  const Cycle slowest = slowest_bound != nullptr ? slowest_bound->cycles : 0;
  std::size_t full = i;
  for (std::size_t step = 0; step < r.channels.size(); ++step) {
    const ChannelStats& f = r.channels[full];
    const std::size_t reader = r.channel_ends[full].second;
    const UnitStats& q = r.units[reader];
    if (q.timing.ii > 1 && q.busy >= q.starved + q.blocked) {
      const Cycle trip = channel_bound(r, full);
      if (!saturated(q.busy + q.blocked, trip) && saturated(trip, slowest)) break;
      return slow_unit_behind(reader, full);
    }
    std::size_t waited_for = full, next = full;
    Cycle most = f.consumer_stall_cycles, most_blocked = 0;
    for (std::size_t s = 0; s < r.channels.size(); ++s) {
      const ChannelStats& other = r.channels[s];
      if (other.input_stream && r.channel_ends[s].second == reader &&
          r.waits_beyond_first_row(s) > most) {
        waited_for = s;
        most = r.waits_beyond_first_row(s);
      }
      if (r.channel_ends[s].first == reader && other.producer_stall_cycles > most_blocked) {
        next = s;
        most_blocked = other.producer_stall_cycles;
      }
    }
    if (waited_for != full) return stream_buffer(waited_for);
    if (next == full || q.blocked <= q.busy || q.blocked <= q.starved) break;
    full = next;
  }
  // A channel no closed form finds too shallow: the slowest limit that one finds instead (in a
  // short run with lanes, a slow unit that waits between its rows sets no rate, and the stalls it
  // causes reach a channel deep enough for its latency; a unit at II 2 blocked on a shallow
  // channel about as long as it was busy keeps the walk from that channel).
  if (channel_bound(r, full) == 0 && slowest_bound != nullptr) return named(*slowest_bound);
  // Deep enough for its round trip, a channel whose reader waited for it only for its first
  // element held nothing back: its writer waited for slots in the pipeline's fill, while the
  // reader waited for another input behind a longer latency. (No limit has a bound here, so no
  // unit is at II > 1: every unit keeps up.)
  const ChannelStats& f = r.channels[full];
  if (channel_bound(r, full) == 0 && f.consumer_stall_cycles == f.first_read_stall)
    return busiest_unit(false);
  return small_fifo(full);
}

// Limits relieved under one key are one: a lane's unit or channel is every lane's, and the link
// is the link whichever stream buffer names it.
std::string relief_key(const DatapathResult& r, const Limit& l) {
  if (l.kind == BottleneckKind::memory_bandwidth) return "link";
  const std::string& name = l.kind == BottleneckKind::slow_ii
                                ? r.units[l.unit].name
                                : r.channels[std::size_t(l.channel)].name;
  return fmt::format("{} {}", to_string(l.kind), key_name(name));
}

}  // namespace

Bottleneck find_bottleneck(const DatapathResult& r) {
  const std::vector<CycleBound> all = cycle_bounds(r);
  Bottleneck b = named_bottleneck(r, all);
  // A stopped run has no rate. A small FIFO's bound is its channel's, if it has one.
  if (b.kind == BottleneckKind::stopped) return b;
  // Every unit keeping up, the busiest sets the bound: only a link can be as slow (a slower unit
  // at II > 1 would be the bottleneck).
  const bool none = b.kind == BottleneckKind::none;
  const std::string named = none ? "" : relief_key(r, b);
  Cycle bound = none ? r.units[b.unit].busy : 0;
  for (const CycleBound& o : all)
    if (!none && relief_key(r, o.limit) == named) bound = std::max(bound, o.cycles);
  // The others within 5%, one per key (its largest bound), slowest first.
  std::map<std::string, const CycleBound*> others;
  for (const CycleBound& o : all) {
    const std::string key = relief_key(r, o.limit);
    if (key == named || !saturated(o.cycles, bound) ||
        (none && o.limit.kind != BottleneckKind::memory_bandwidth))
      continue;
    const CycleBound*& kept = others[key];
    if (kept == nullptr || o.cycles > kept->cycles) kept = &o;
  }
  if (bound == 0 || others.empty()) return b;
  std::vector<const CycleBound*> slowest;
  for (const auto& [key, o] : others) slowest.push_back(o);
  std::stable_sort(slowest.begin(), slowest.end(),
                   [](const CycleBound* x, const CycleBound* y) { return x->cycles > y->cycles; });
  std::string list;
  for (const CycleBound* o : slowest) {
    b.also.push_back(o->limit);
    list += (list.empty() ? "" : ", ") + o->what;
  }
  // Before the rate, which ends every reason.
  b.reason.insert(b.reason.rfind(": "), "; at the same rate: " + list);
  return b;
}

namespace {

// A relieved run's speed against the run's: cycles per score, the same problem's.
std::optional<double> per_score(const ReliefTrial& t) {
  if (!t.cycles || t.scores == 0) return std::nullopt;
  return double(*t.cycles) / double(t.scores);
}
std::optional<double> speedup(const DatapathResult& r, const ReliefTrial& t) {
  if (!t.cycles || *t.cycles == 0 || r.status == Status::deadlock) return std::nullopt;
  return double(r.cycles) / double(*t.cycles);
}

nlohmann::json check_json(const DatapathResult& r, const BottleneckCheck& c) {
  nlohmann::json trials = nlohmann::json::array();
  auto optional = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  for (const ReliefTrial& t : c.trials)
    trials.push_back({{"limit", t.limit},
                      {"set", t.set},
                      {"named", t.named},
                      {"status", t.status},
                      {"stopped_at", t.stopped_at.empty() ? nlohmann::json(nullptr)
                                                          : nlohmann::json(t.stopped_at)},
                      {"cycles", optional(t.cycles)},
                      {"cycles_per_score", optional(per_score(t))},
                      {"speedup", optional(speedup(r, t))}});
  return {{"confirmed", c.confirmed},
          {"note", c.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.note)},
          {"fastest", c.fastest < 0 ? nlohmann::json(nullptr)
                                    : nlohmann::json(c.trials[std::size_t(c.fastest)].set)},
          {"trials", std::move(trials)}};
}

// The check's verdict, then a line per relieved run. Speed-ups are truncated to hundredths, as
// the 5% rule reads them: 1.05× ran faster, 1.04× did not.
std::string check_summary(const DatapathResult& r, const BottleneckCheck& c) {
  const bool named = !c.trials.empty() && c.trials.front().named;
  const bool ran = std::any_of(c.trials.begin(), c.trials.end(),
                               [](const ReliefTrial& t) { return t.cycles.has_value(); });
  std::string verdict;
  if (r.status == Status::deadlock && named) {
    const ReliefTrial& t = c.trials.front();
    if (t.cycles)
      verdict = "confirmed, the run completes";
    else if (t.status == "timeout")
      verdict = "confirmed, the run then runs on until the watchdog stops it";
    else if (t.status == "deadlock")
      verdict = fmt::format("{}, the run {} at {}", c.confirmed ? "confirmed" : "not confirmed",
                            c.confirmed ? "then deadlocks" : "still deadlocks", t.stopped_at);
    else
      verdict = "not done, the relieved run did not complete";
  } else if (!c.note.empty()) {
    // A note says why nothing was tried: a stopped run's check was not done.
    verdict = fmt::format("{}, {}", c.confirmed ? "confirmed" : "not done", c.note);
  } else if (c.confirmed) {
    verdict = named ? "confirmed" : "confirmed, no limit tried ran 5% faster";
  } else if (c.fastest >= 0) {
    verdict = fmt::format("not confirmed, {} ran fastest", c.trials[std::size_t(c.fastest)].limit);
  } else {
    verdict =
        ran ? "not confirmed, no limit tried ran 5% faster" : "not done, no relieved run completed";
  }
  std::string out = fmt::format("  check (--verify-bottleneck): {}\n", verdict);
  for (const ReliefTrial& t : c.trials) {
    std::string result = t.status;
    if (!t.stopped_at.empty()) result += " at " + t.stopped_at;
    if (const auto cps = per_score(t)) {
      result = fmt::format("{:.2f} cycles per score", *cps);
      if (speedup(r, t)) {
        // Hundredths by integer division: 113 / 100 cycles is 1.13×, not the double's 1.12.
        const Cycle hundredths = r.cycles * 100 / *t.cycles;
        result += fmt::format(", {}.{:02}× as fast", hundredths / 100, hundredths % 100);
      }
    }
    out += fmt::format("    {}{}: {}\n", t.limit, t.named ? " (named)" : "", result);
  }
  return out;
}

}  // namespace

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
  const auto limit = [&](const Limit& l) {
    return nlohmann::json{
        {"kind", to_string(l.kind)},
        {"unit", r.units[l.unit].name},
        {"channel", l.channel < 0 ? nlohmann::json(nullptr)
                                  : nlohmann::json(r.channels[std::size_t(l.channel)].name)}};
  };
  nlohmann::json json = limit(b);
  json["reason"] = b.reason;
  json["also"] = nlohmann::json::array();
  for (const Limit& l : b.also) json["also"].push_back(limit(l));
  if (r.bottleneck_check) json["check"] = check_json(r, *r.bottleneck_check);
  return json;
}

std::string units_summary(const DatapathResult& r) {
  if (r.units.empty()) return {};
  std::string out = fmt::format("{}: bottleneck: {}\n", r.datapath, r.bottleneck.reason);
  if (r.bottleneck_check) out += check_summary(r, *r.bottleneck_check);
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

namespace sdpa {

std::string graph_dot(const std::vector<DatapathResult>& runs,
                      const std::vector<DatapathStages>& stages) {
  std::string s =
      "// sdpa-sim --dot: units (latency/II, utilisation) and channels (depth, high water).\n"
      "// Edges: high water/depth; red: stalling (its writer waited for a slot; a Q/K/V stream\n"
      "// buffer, whose writer waits for slots by design: its reader waited for rows beyond the\n"
      "// first's latency); orange: full at some cycle. The bottleneck's unit is filled and its\n"
      "// channel drawn thick.\n"
      "digraph sdpa {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=Helvetica, "
      "fontsize=10];\n  edge [fontname=Helvetica, fontsize=9];\n";
  for (std::size_t d = 0; d < runs.size(); ++d) {
    const DatapathResult& r = runs[d];
    auto id = [](const std::string& name) { return "\"" + name + "\""; };
    // Each unit in its stage, as the waveform groups it (stages_of: the stage of its first
    // output channel; the sink in the last stage).
    std::map<std::string, std::string> stage_of_unit;
    std::vector<std::string> order;
    if (d < stages.size())
      for (const Stage& st : stages[d].stages) {
        order.push_back(st.label);
        for (const std::string& unit : st.units) stage_of_unit[unit] = st.label;
      }
    s += fmt::format(
        "  subgraph \"cluster_{0}\" {{\n    label=\"{0}: {1}\";\n    fontname=Helvetica;\n",
        r.datapath, r.bottleneck.reason);
    for (std::size_t g = 0; g < order.size(); ++g) {
      s += fmt::format(
          "    subgraph \"cluster_{}_{}\" {{\n      label=\"{}\";\n      style=dashed;\n"
          "      color=gray60;\n",
          r.datapath, g, order[g]);
      for (std::size_t i = 0; i < r.units.size(); ++i) {
        if (stage_of_unit[local_name(r.units[i].name)] != order[g]) continue;
        const UnitStats& u = r.units[i];
        // A `none` statement's unit keeps up: no limit, unlike a limit at its rate (the link).
        const bool limit = (r.bottleneck.kind != BottleneckKind::none && r.bottleneck.unit == i) ||
                           std::any_of(r.bottleneck.also.begin(), r.bottleneck.also.end(),
                                       [&](const Limit& l) { return l.unit == i; });
        s += fmt::format("      {} [label=\"{}\\nL {}, II {}\\n{:.1f}% busy\"{}];\n", id(u.name),
                         local_name(u.name), u.timing.latency, u.timing.ii,
                         100.0 * utilisation(r, u),
                         limit ? ", style=\"rounded,filled\", fillcolor=lightpink" : "");
      }
      s += "    }\n";
    }
    for (std::size_t i = 0; i < r.units.size(); ++i)
      if (std::find(order.begin(), order.end(), stage_of_unit[local_name(r.units[i].name)]) ==
          order.end())
        s += fmt::format("    {} [label=\"{}\\nL {}, II {}\"];\n", id(r.units[i].name),
                         local_name(r.units[i].name), r.units[i].timing.latency,
                         r.units[i].timing.ii);
    for (std::size_t i = 0; i < r.channels.size(); ++i) {
      const ChannelStats& c = r.channels[i];
      // A stream reader fetching ahead waits for slots by design: its buffer stalls when its
      // reader waits beyond its first row (as the limiting channel counts it).
      const bool stalling =
          c.input_stream ? r.waits_beyond_first_row(i) > 0 : c.producer_stall_cycles > 0;
      const char* colour = stalling ? "red" : c.high_water == c.capacity ? "orange" : "black";
      const bool limit =
          r.bottleneck.channel == std::ptrdiff_t(i) ||
          std::any_of(r.bottleneck.also.begin(), r.bottleneck.also.end(),
                      [&](const Limit& l) { return l.channel == std::ptrdiff_t(i); });
      s += fmt::format("    {} -> {} [label=\"{}\\n{}/{}\", color={}, fontcolor={}{}];\n",
                       id(r.units[r.channel_ends[i].first].name),
                       id(r.units[r.channel_ends[i].second].name), local_name(c.name), c.high_water,
                       c.capacity, colour, colour, limit ? ", penwidth=2.5" : "");
    }
    s += "  }\n";
  }
  return s + "}\n";
}

int run_tool(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err == ENOENT) return -1;
  if (err != 0) return 127;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace sdpa

namespace sdpa {

TraceWindow default_trace_window(const AttentionShape& shape) {
  return {0, 4 * Cycle(shape.kv_len) + 64};
}

std::string trace_events(const std::vector<std::unique_ptr<AttentionDatapath>>& datapaths,
                         TraceWindow window) {
  using nlohmann::json;
  // Each event is written out as it is made: a JSON document of them all would take some twenty
  // times the file's size (6.9 GB for a 330 MB trace) before a byte is written.
  std::string events;
  auto push = [&](const json& e) {
    events += events.empty() ? "" : ",";
    events += e.dump();
  };
  auto meta = [&](const char* what, int pid, int tid, const std::string& name) {
    json e = {{"ph", "M"}, {"name", what}, {"pid", pid}, {"args", {{"name", name}}}};
    if (tid >= 0) e["tid"] = tid;
    push(e);
  };
  auto interval = [&](const char* name, int pid, int tid, Cycle from, Cycle to, json args) {
    from = std::max(from, window.from);
    to = std::min(to, window.to);
    if (from >= to) return;
    json e = {{"ph", "X"},  {"name", name}, {"cat", "unit"},   {"pid", pid},
              {"tid", tid}, {"ts", from},   {"dur", to - from}};
    if (!args.is_null()) e["args"] = std::move(args);
    push(e);
  };
  for (std::size_t d = 0; d < datapaths.size(); ++d) {
    const AttentionDatapath& dp = *datapaths[d];
    const int pid = int(d) + 1;
    const std::string prefix = std::string(dp.name()) + ".";
    meta("process_name", pid, -1, dp.basename());
    const std::vector<Unit*>& units = dp.units();
    for (std::size_t i = 0; i < units.size(); ++i) {
      const int tid = int(i) + 1;
      const Unit& u = *units[i];
      meta("thread_name", pid, tid, std::string(u.name()).substr(prefix.size()));
      push({{"ph", "M"},
            {"name", "thread_sort_index"},
            {"pid", pid},
            {"tid", tid},
            {"args", {{"sort_index", tid}}}});
      const UnitTrace* t = u.timeline();
      if (t == nullptr) continue;
      // Busy between the stalls, up to the unit's end; idle after it.
      Cycle at = 0;
      for (const UnitTrace::Stall& s : t->stalls) {
        interval("busy", pid, tid, at, s.from, nullptr);
        interval(s.why == UnitTrace::starved ? "starved" : "blocked", pid, tid, s.from, s.to,
                 {{"channel", std::string(s.channel->name()).substr(prefix.size())}});
        at = s.to;
      }
      interval("busy", pid, tid, at, u.cycle(), nullptr);
    }
    for (const Graph::Edge& e : dp.edges()) {
      const OccupancyTrace* o = e.channel->occupancy_trace();
      if (o == nullptr) continue;
      const std::string name = std::string(e.channel->name()).substr(prefix.size());
      // Writes and frees are each in time order, not with each other: merged here, a free
      // before a write in the same cycle (as the high-water mark counts them).
      std::vector<std::pair<Cycle, int>> changes = o->changes;
      std::stable_sort(changes.begin(), changes.end());
      // An event per change of level: the first at the window's start, that cycle's changes
      // included (two at one time stamp read as a change that never was), none where a cycle's
      // free and write leave the level as it was.
      std::int64_t level = o->before;
      std::optional<std::int64_t> shown;
      auto counter = [&](Cycle ts) {
        if (shown == level) return;
        shown = level;
        push({{"ph", "C"},
              {"name", "occupancy " + name},
              {"cat", "channel"},
              {"pid", pid},
              {"ts", ts},
              {"args", {{name, level}}}});
      };
      std::size_t k = 0;
      for (; k < changes.size() && changes[k].first <= window.from; ++k) level += changes[k].second;
      counter(window.from);
      while (k < changes.size()) {
        const Cycle ts = changes[k].first;
        for (; k < changes.size() && changes[k].first == ts; ++k) level += changes[k].second;
        counter(ts);
      }
    }
    if (const SharedLink* link = dp.shared_link()) {
      // Its bytes per cycle, from the window's start, an event where the value changes.
      std::optional<std::uint64_t> shown;
      auto counter = [&](Cycle ts, std::uint64_t bytes) {
        if (shown == bytes) return;
        shown = bytes;
        push({{"ph", "C"},
              {"name", "memory link bytes"},
              {"cat", "memory"},
              {"pid", pid},
              {"ts", ts},
              {"args", {{"bytes", bytes}}}});
      };
      Cycle at = window.from;
      for (const LinkStep& step : link_steps(*link)) {
        const Cycle from = std::max(step.from, window.from), to = std::min(step.to, window.to);
        if (from >= to) continue;
        if (from > at) counter(at, 0);
        counter(from, step.bytes);
        at = to;
      }
      if (at < window.to) counter(at, 0);
    }
  }
  // The format's timestamps are microseconds: a cycle is 1 µs in Perfetto and 0.001 ms in
  // chrome://tracing. No displayTimeUnit: "ns" would show a cycle as 1000 ns.
  const json other = {{"generator", "sdpa-sim --trace-events"},
                      {"time_unit", "ts and dur are clock cycles, written as microseconds"},
                      {"window", {{"from", window.from}, {"to", window.to}}}};
  return R"({"otherData":)" + other.dump() + R"(,"traceEvents":[)" + events + "]}";
}

}  // namespace sdpa
