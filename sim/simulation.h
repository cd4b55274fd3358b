// Builds the requested datapaths, runs one SystemC simulation, and gathers per-datapath results.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hw/attention.h"

namespace sdpa {

// unverified: finished within the tolerance, but fp32 cannot promise 1% of max|v| for these
// inputs (tb/reference.h, Verdict).
enum class Status { ok, deadlock, mismatch, timeout, unverified };
const char* to_string(Status status);

// Why a channel is the one that limited a run (LimitingChannel).
enum class LimitReason { deadlock, producer_stalls, consumer_stalls, high_water };
const char* to_string(LimitReason reason);

// The channel that limited a run, chosen in this order (channels are in dataflow order):
// - deadlock: the last full channel whose writer waits on it. Its reader waits to read (a full
//   channel it waited to write would come later): there the cycle of waits turns from full to
//   empty, while full channels before it may just be backed up behind it.
// - producer_stalls / consumer_stalls: the channel with the most stall cycles, counting for an
//   intermediate channel the cycles its writer waited for a free slot, and for a Q/K/V stream
//   buffer the cycles its reader waited for a row beyond the first row's memory latency (a stream
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
  Cycle busy = 0;     // firings · II
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
struct Bottleneck {
  BottleneckKind kind = BottleneckKind::none;
  std::size_t unit = 0;         // index into DatapathResult::units
  std::ptrdiff_t channel = -1;  // index into DatapathResult::channels, or -1
  std::string reason;           // one line, e.g. "memory latency 10 with k_rows depth 4"
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
  std::size_t head_dim = 0;
  Format input = Format::fp32;    // Q, K and V in memory (numerics.input)
  Format compute = Format::fp32;  // every value on an intermediate channel (numerics.compute)
  // Memory: what Q, K and V occupy, and the bytes each reader streamed from it.
  std::uint64_t footprint_bytes = 0;
  std::uint64_t q_bytes_read = 0, k_bytes_read = 0, v_bytes_read = 0;
  std::uint64_t bytes_read() const { return q_bytes_read + k_bytes_read + v_bytes_read; }
  std::uint64_t o_bytes_written = 0;  // the output rows, as the sink would store them
  // memory.ports: one link of `link_bytes_per_cycle` for all streams, or one each.
  bool shared_link = false;
  unsigned link_bytes_per_cycle = 0;
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
  Cycle span = 0;       // the latest unit's end: every unit's cycles add up to it
  MemoryTiming memory;  // of the stream readers' links
  LimitingChannel limiting;
  Bottleneck bottleneck;
  // Deadlock: the wait-for report, one line per blocked unit. Timeout: where every unit stands.
  std::vector<std::string> waits;
};

struct SimulationResult {
  std::vector<DatapathResult> runs;
  double wall_seconds = 0;  // sc_start only: elaboration and checks excluded
};

struct Progress {
  std::string datapath;
  std::size_t rows_done = 0;
  std::size_t rows = 0;
  std::uint64_t scores = 0;  // in the whole run of the datapath
  Cycle cycle = 0;           // ready stamp of the latest output row
};

// Called from a separate OS thread about once per `interval_seconds` while sc_start runs.
struct ProgressReporter {
  double interval_seconds = 2.0;
  std::function<void(const std::vector<Progress>&, double elapsed_seconds)> report;
};

// `writer_blocked[i]`: channels[i] is full and its writer waits on it. `first_row[i]`: as
// DatapathResult's, a stream buffer's consumer's waits count only beyond it.
LimitingChannel limiting_channel(const std::vector<ChannelStats>& channels,
                                 const std::vector<bool>& writer_blocked, bool deadlocked,
                                 const std::vector<Cycle>& first_row);

// Every registered datapath's name, in the order `datapath: all` runs them.
std::vector<std::string> datapath_names();

// What a registered datapath is made of, read off its graph: built once per process for a
// one-score problem and deleted again, before any simulation is built (names and default
// timings do not depend on the problem's size). Call during elaboration, before sc_start.
struct DatapathParts {
  std::vector<std::string> units;  // in creation order
  std::map<std::string, Timing> default_timings;
  std::vector<std::string> channels;  // in creation order
};
const DatapathParts& datapath_parts(const std::string& datapath);
inline const std::vector<std::string>& unit_names(const std::string& datapath) {
  return datapath_parts(datapath).units;
}
inline const std::vector<std::string>& channel_names(const std::string& datapath) {
  return datapath_parts(datapath).channels;
}

// Host memory a simulation will need, in parts: the arrays of heads × N × d elements (Q, K, V,
// the fp64 reference's output, the memory image the datapaths share, and per datapath its
// output and the results' copy of it), and each channel's storage at its depth.
struct MemoryEstimate {
  struct Part {
    std::string datapath, channel;
    std::uint64_t bytes = 0;
    bool vector = false;  // its elements are d-wide rows
    bool stream = false;  // a Q/K/V stream buffer
  };
  std::uint64_t arrays = 0;
  std::vector<Part> channels;
  std::uint64_t total() const;
};

// The requested datapaths, built (elaborated) for one problem: nothing large is allocated until
// run(), so a caller can check the graphs and estimate the memory first. One elaboration per
// process (SystemC): build at most one Simulation and run it once.
class Simulation {
 public:
  // Builds each of `datapaths` with its config from `configs`; they share the clocking mode
  // and the trace, which run() closes when done.
  Simulation(const AttentionShape& shape, const std::map<std::string, DatapathConfig>& configs,
             const std::vector<std::string>& datapaths);
  ~Simulation();

  const std::vector<std::unique_ptr<AttentionDatapath>>& datapaths() const { return datapaths_; }
  MemoryEstimate memory_estimate() const;
  SimulationResult run(const AttentionInputs& inputs, const ProgressReporter& progress = {});

 private:
  AttentionShape shape_;
  std::vector<std::unique_ptr<AttentionDatapath>> datapaths_;
  sc_core::sc_trace_file* trace_ = nullptr;
};

// Builds and runs each datapath of `configs` (by name) in the order of datapath_names().
SimulationResult simulate(const AttentionInputs& inputs,
                          const std::map<std::string, DatapathConfig>& configs,
                          const ProgressReporter& progress = {});
// The same with one configuration for every datapath (the tests' shortcut).
SimulationResult simulate(const AttentionInputs& inputs, const std::vector<std::string>& datapaths,
                          const DatapathConfig& config, const ProgressReporter& progress = {});

}  // namespace sdpa
