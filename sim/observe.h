// Where a run's cycles go: each unit's busy, starved, blocked and idle cycles, the unit and
// channel that limited the run, and the pictures of it (graph, trace events).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hw/attention.h"
#include "sim/result.h"

namespace sdpa {

// Fills `r.units`, `r.channel_ends`, `r.bypass`, `r.span` and `r.memory` from the datapath as the
// run left it; `r.channels` must already hold its channels' statistics, in edge order.
void account_units(const AttentionDatapath& dp, DatapathResult& r);

// A limit with its lower bound on the run's cycles in closed form (docs/timing.md): a unit at
// II > 1 is busy firings · II (a bound on its own span: a sink's last firings may end after the
// last result is ready); a channel too shallow for its writer's latency (a stream buffer's,
// Lmem) passes C + 1 elements per round trip; a bypass shorter than a row and its latencies
// delays rows; a private link of b > 1 beats per row carries a row per b cycles; a shared link
// carries every byte at B per cycle.
struct CycleBound {
  Limit limit;
  Cycle cycles = 0;
  std::string what;  // as the reason names it
};
// Every such bound of `r`, which find_bottleneck compares: units first, then channels in edge
// order, the shared link last.
std::vector<CycleBound> cycle_bounds(const DatapathResult& r);

// The unit (and channel) that limited `r`'s throughput, in this order (docs/timing.md):
// - stopped: a deadlock or the watchdog; the limiting channel and its writer;
// - slow_ii / none: the busiest unit, busy at least 95% of its cycles from the pipeline's fill to
//   its end (it hardly waited), sets the rate: slow_ii if its II is above 1 (unless all its
//   results were written before any was taken, no reader waited for one and no other limit is at
//   its rate), none (every unit keeps up with one firing per cycle) otherwise; none too if
//   nothing stalls;
// - memory_bandwidth / memory_latency: the limiting channel is a Q/K/V stream buffer whose
//   reader's link is busy at least 95% of the cycles, or else waits, at least 5% of the cycles,
//   for the memory's latency with too few rows in flight (the channel's depth); but a reader at
//   II > 1 busier than its link (and than the buffer's round trip) is slow_ii, and where neither
//   the link nor the latency held the rows back, the busiest unit that writes is named, slow_ii
//   at II > 1, else none (a sink's pace sets no rate);
// - small_fifo: the limiting channel is an intermediate one whose writer waited for slots, and
//   its reader waited for it beyond its first element or a bound says it is too shallow; but a
//   reader at II > 1 busy at least half its cycles is slow_ii, one that waited more for a stream
//   buffer's rows passes on that buffer's statement, and one that waited for slots more than it
//   was busy or starved passes on the channel it waited on most (a walk downstream).
// slow_ii, memory_latency, memory_bandwidth, and small_fifo where its channel has a bound of its
// own (a round trip or a short bypass), also list the limits whose closed-form bound on the
// cycles is within 5% of the named one's (`also`); none, a link within 5% of the busiest unit's
// busy cycles (a shared link is not the limit when a unit at II 1 is that busy).
Bottleneck find_bottleneck(const DatapathResult& r);

// report.json's "units" and "bottleneck" of a run.
nlohmann::json units_json(const DatapathResult& r);
nlohmann::json bottleneck_json(const DatapathResult& r);

// The summary's lines for a run: its bottleneck and a table of its units.
std::string units_summary(const DatapathResult& r);

struct DatapathStages;

// The elaborated graphs of `runs` in Graphviz's language: a cluster per datapath, units as
// nodes (latency, II, utilisation; the bottleneck filled), channels as edges labelled with high
// water and depth, stalling ones red (the writer waited for a slot; for a Q/K/V stream buffer,
// its reader waited beyond the first row's latency), full ones orange, the bottleneck's thick.
// `stages[i]` belongs to `runs[i]`: a unit is drawn in the stage of its first output channel.
std::string graph_dot(const std::vector<DatapathResult>& runs,
                      const std::vector<DatapathStages>& stages);

// Runs a program on PATH with `args`, its standard output discarded; returns its exit status, -1
// when it is not installed, 127 when it could not be started or waited for, 128 when a signal
// ended it.
int run_tool(const std::vector<std::string>& args);

// The default --trace-window: the first rows, about four at one score per cycle.
TraceWindow default_trace_window(const AttentionShape& shape);

// Chrome/Perfetto trace events of the watched datapaths (GraphConfig::events) over `window`, ts
// and dur in cycles: a process per datapath, a thread per unit with its busy, starved and
// blocked intervals ("X" events, the stalls naming their channel), and a counter track per
// channel with its occupancy ("C" events). The JSON text, as nlohmann::json would dump it.
std::string trace_events(const std::vector<std::unique_ptr<AttentionDatapath>>& datapaths,
                         TraceWindow window);

}  // namespace sdpa
