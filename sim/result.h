// What a run of one datapath left: its status, cycles, traffic, channels and units, and what
// limited it. Made by sim/simulation.cpp, read by the reports, the cost model and the tests.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hw/actions.h"
#include "hw/channel.h"
#include "hw/memory.h"
#include "hw/number_format.h"

namespace sdpa {

// unverified: for these inputs a value can overflow (whatever the output), or the output is within
// a tolerance the compute format cannot keep below 1% of max|v| (sim/reference.h, Verdict).
enum class Status { ok, deadlock, mismatch, timeout, unverified };
const char* to_string(Status status);

// A unit's or channel's name within its datapath, as the reports show it (`naive.lane1.scores`:
// `lane1.scores`).
inline std::string local_name(const std::string& name) { return name.substr(name.find('.') + 1); }

// A stream buffer's consumer's waits beyond its first row, `first_row` cycles from the request:
// all its waits but those for the first element, up to that. (Its first wait may be shorter, the
// consumer late, or fall on another input, read first: then waits for later rows all count.)
inline Cycle waits_beyond_first_row(const ChannelStats& c, Cycle first_row) {
  return c.consumer_stall_cycles - std::min(c.first_read_stall, first_row);
}

// A channel's or unit's key, as `channels.depths.C` and `units.U` name it: its name without
// datapath and lane (naive.lane3.scores is scores), the same for its copy in every lane.
inline std::string key_name(const std::string& name) { return name.substr(name.rfind('.') + 1); }

// Why a channel is the one that limited a run (LimitingChannel).
enum class LimitReason { deadlock, starved, producer_stalls, consumer_stalls, high_water };
const char* to_string(LimitReason reason);

// The channel that limited a run, chosen in this order (channels come lane by lane, each lane's
// stream buffers first, then its other channels in dataflow order; "later" is later in a lane,
// and of one channel's copies in several lanes the first lane's is taken, as the busiest unit's
// tie goes):
// - deadlock: the last full channel whose writer waits on it. Its reader waits to read (a full
//   channel it waited to write would come later): there the cycle of waits turns from full to
//   empty, while full channels before it may just be backed up behind it.
// - starved: a deadlock with no such channel (a unit wrote fewer elements than its reader takes):
//   the first channel whose reader waits on it, empty. Channels before it in dataflow order are
//   not waited on, so there the waits begin.
// - producer_stalls / consumer_stalls: the channel with the most stall cycles, counting for an
//   intermediate channel the cycles its writer waited for a free slot, and for a Q/K/V stream
//   buffer the cycles its reader waited beyond the first row (waits_beyond_first_row; a stream
//   reader fetching ahead and waiting for slots is by design). A stall spreads upstream, no larger,
//   so a tie goes to the later channel, where it started.
// - high_water: with no stalls, the intermediate channel with the largest high water in elements
//   (a tie to the earlier).
struct LimitingChannel {
  std::size_t channel = 0;  // index into DatapathResult::channels
  LimitReason reason = LimitReason::high_water;
  Cycle stall_cycles = 0;  // the stalls counted, for the two stall reasons
};

// A unit as the run left it, and where its cycles went (docs/timing.md, "Where the cycles go").
// Its local cycle only moves by II per firing and by stalls, so end = busy + starved + blocked
// exactly; the cycles from end to the datapath's span are idle.
struct UnitStats {
  std::string name;
  Timing timing;
  Cycle firings = 0;
  Cycle planned_firings = 0;  // its shape's elements: what a completed run fires
  Cycle busy = 0;             // firings · II
  Cycle starved = 0;  // its reads waited for an element's ready stamp (its input channels' waits)
  Cycle blocked = 0;  // its writes waited for a free slot (its output channels' stalls)
  Cycle end = 0;      // its local cycle when the run ended
  bool memory_reader = false;  // a Q/K/V stream reader
  OpCounts operators;          // what it instantiates (hw/actions.h)
  OpCounts ops;                // what it computed
};

// The unit (and channel) that limited a run's throughput, and why (sim/observe.cpp).
enum class BottleneckKind { none, slow_ii, small_fifo, memory_latency, memory_bandwidth, stopped };
const char* to_string(BottleneckKind kind);
// A limit a bottleneck names: a slow unit, or a stream buffer (its depth or its link).
struct Limit {
  BottleneckKind kind = BottleneckKind::none;
  std::size_t unit = 0;         // index into DatapathResult::units
  std::ptrdiff_t channel = -1;  // index into DatapathResult::channels, or -1
};
struct Bottleneck : Limit {
  std::string reason;  // one line, e.g. "memory latency 10 with k_rows depth 4"
  // Other limits whose closed-form bound on the cycles is within 5% of this one's (observe.h):
  // relieving one alone leaves the others.
  std::vector<Limit> also;
};

// --verify-bottleneck: limits relieved one at a time in child runs of the datapath alone
// (sim/verify_bottleneck.h), the named one first if it names one.
struct ReliefTrial {
  std::string limit;            // what was relieved, e.g. "k_rows depth 4 → 16"
  std::string set;              // the --set that relieves it
  bool named = false;           // the bottleneck's own limit
  std::string status;           // the child run's: ok, deadlock, ...
  std::optional<Cycle> cycles;  // if it completed
  std::uint64_t scores = 0;
  std::string stopped_at;  // a deadlocked trial's full channel, by key name
};
struct BottleneckCheck {
  std::vector<ReliefTrial> trials;
  std::string note;  // why nothing was tried, if so
  // The named limit relieved ran ≥ 5% faster (a deadlock: completed, or deadlocked at another
  // channel); for none, no trial did and one completed, or none was run.
  bool confirmed = false;
  std::ptrdiff_t fastest = -1;  // the fastest other trial that ran ≥ 5% faster, or -1
};

struct DatapathResult {
  std::string datapath;
  Status status = Status::ok;
  Cycle cycles = 0;                  // ready stamp of the last output row taken by the sink
  std::uint64_t scores = 0;          // computed: fewer than the shape's if the run stopped
  std::uint64_t scores_skipped = 0;  // masked (causal): not computed
  std::size_t rows = 0;              // output rows expected: B·H·N_q
  std::size_t rows_done = 0;
  std::size_t tokens = 0;  // query positions of all sequences: B·N_q
  std::size_t lanes = 1;
  // Lanes without a query row: those beyond a K/V head's group's g·N_q (docs/timing.md,
  // "Parallel lanes"); its peak is lanes − lanes_idle scores per cycle.
  std::size_t lanes_idle = 0;
  std::size_t head_dim = 0;
  Format input = Format::fp32;    // Q, K and V in memory (numerics.input)
  Format compute = Format::fp32;  // every value on an intermediate channel (numerics.compute)
  bool normalised_rows = false;   // its kind's (DatapathKind): rows within max|v|
  // Memory: what Q, K and V occupy, and the bytes each reader streamed from it.
  std::uint64_t footprint_bytes = 0;
  std::uint64_t q_bytes_read = 0, k_bytes_read = 0, v_bytes_read = 0;
  std::uint64_t bytes_read() const { return q_bytes_read + k_bytes_read + v_bytes_read; }
  std::uint64_t o_bytes_written = 0;  // the output rows, as the sink would store them
  // memory.ports: one link of `link_bytes_per_cycle` for all streams, or one each.
  bool shared_link = false;
  unsigned link_bytes_per_cycle = 0;
  // Shared: the cycle the link's last byte left; its cycles without a byte before it are
  // link_idle_cycles() (docs/timing.md, "The roofline").
  Cycle link_last_beat = 0;
  // Shared: the cycles the link carries bytes, ⌈bytes read / B⌉.
  Cycle link_cycles() const {
    return (bytes_read() + link_bytes_per_cycle - 1) / link_bytes_per_cycle;
  }
  Cycle link_idle_cycles() const {
    return link_last_beat + 1 - std::min(link_last_beat + 1, link_cycles());
  }
  // The least any schedule moves: Q, K and V read once, O written once.
  std::uint64_t minimum_bytes = 0;
  std::vector<float> output;  // [B·H·N_q, d], row-major
  std::vector<ChannelStats> channels;
  std::vector<UnitStats> units;
  // channel_ends[i]: the producer's and the consumer's index in `units` of channels[i].
  std::vector<std::pair<std::size_t, std::size_t>> channel_ends;
  // first_row[i]: for a Q/K/V stream buffer, the cycles its first row takes from the request
  // (its reader's result latency: the memory's, the row's beats, its own), which its consumer
  // waits by design and only waits beyond count as stalls; 0 for the other channels.
  std::vector<Cycle> first_row;
  // bypass[i]: for a bypass around a row reduction (naive, two_pass), the rows it carries and the
  // latencies beyond a row it holds each element for at full rate, for its bound when shorter
  // (docs/timing.md, "Bypasses shorter than a row"); latency 0 for the other channels.
  struct Bypass {
    RowShape rows;
    Cycle latency = 0;
  };
  std::vector<Bypass> bypass;
  // A stream buffer's consumer's waits beyond its first row: the stalls (docs/timing.md).
  Cycle waits_beyond_first_row(std::size_t s) const {
    return sdpa::waits_beyond_first_row(channels[s], first_row[s]);
  }
  Cycle span = 0;       // the latest unit's end: every unit's cycles add up to it
  MemoryTiming memory;  // of the stream readers' links
  LimitingChannel limiting;
  Bottleneck bottleneck;
  std::optional<BottleneckCheck> bottleneck_check;  // with --verify-bottleneck
  // Deadlock: the wait-for report, one line per blocked unit. Timeout: where every unit stands.
  std::vector<std::string> waits;
};

struct SimulationResult {
  std::vector<DatapathResult> runs;
  double wall_seconds = 0;  // sc_start only: elaboration and checks excluded
};

// `writer_blocked[i]`: channels[i] is full and its writer waits on it; `reader_blocked[i]`: it is
// empty and its reader waits on it. `first_row[i]`: as DatapathResult's, a stream buffer's
// consumer's waits count only beyond it.
LimitingChannel limiting_channel(const std::vector<ChannelStats>& channels,
                                 const std::vector<bool>& writer_blocked,
                                 const std::vector<bool>& reader_blocked, bool deadlocked,
                                 const std::vector<Cycle>& first_row);

}  // namespace sdpa
