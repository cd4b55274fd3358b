// Builds the requested datapaths, runs one SystemC simulation, and gathers per-datapath results.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "hw/attention.h"
#include "hw/datapaths/datapaths.h"
#include "sim/result.h"

namespace sdpa {

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

// Every registered datapath's name, in the order `datapath: all` runs them.
std::vector<std::string> datapath_names();

// What a registered datapath is made of, read off its graph: built once per process for a
// one-score problem and deleted again, before any simulation is built (names and default
// timings do not depend on the problem's size). Call during elaboration, before sc_start.
struct DatapathParts {
  std::vector<std::string> units;  // in creation order
  std::map<std::string, Timing> default_timings;
  std::vector<std::string> channels;      // in creation order
  std::set<std::string> writing_nothing;  // units no channel leaves: a latency has no effect
};
// A unit that writes nothing in any datapath that has it (the sink).
bool writes_nothing(const std::string& unit);
const DatapathParts& datapath_parts(const std::string& datapath);
inline const std::vector<std::string>& unit_names(const std::string& datapath) {
  return datapath_parts(datapath).units;
}
inline const std::vector<std::string>& channel_names(const std::string& datapath) {
  return datapath_parts(datapath).channels;
}

// Host memory a simulation will need, in parts: the arrays (Q and outputs of B·H·N·d elements, K
// and V of B·H_kv·N_kv·d: the inputs, the fp64 reference's output, the memory image the datapaths
// share, and per datapath its output and the results' copy of it), each channel's storage at its
// depth, and the reports.
struct MemoryEstimate {
  struct Part {
    std::string datapath, channel;
    std::uint64_t bytes = 0;
    bool vector = false;  // its elements are d-wide rows
    bool stream = false;  // a Q/K/V stream buffer
    // Its depth in elements, and what an automatic depth grows with beside the rows: the
    // latency of the unit that counts most (Graph::Edge::slowest), its default (the
    // datapath's for that unit), and for a stream buffer the reader's own and the memory's.
    std::uint64_t depth = 0;
    std::string unit;
    std::uint64_t latency = 0, default_latency = 0, own_latency = 0, memory_latency = 0;
  };
  std::uint64_t arrays = 0;
  std::vector<Part> channels;
  // The report: its JSON tree and text, about kReportBytesPerEntry per unit and channel (measured:
  // 8.0 KiB at 16 to 256 lanes), which lanes multiply.
  std::uint64_t report = 0;
  static constexpr std::uint64_t kReportBytesPerEntry = 8 * 1024;
  std::uint64_t total() const;
  // What a part or the total is when it passes 2^64 bytes.
  static constexpr std::uint64_t beyond = ~std::uint64_t{0};
};

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b);

// The requested datapaths, built (elaborated) for one problem: nothing large is allocated until
// run(), so a caller can check the graphs and estimate the memory first. One elaboration per
// process (SystemC): build at most one Simulation and run it once.
class Simulation {
 public:
  // Builds a datapath of each of `kinds` (registered_kinds(), or a new one's in its tests, before
  // its registration line) with its config from `configs`, by name; they share the clocking mode
  // and the trace, which run() closes when done.
  Simulation(const AttentionShape& shape, const std::map<std::string, DatapathConfig>& configs,
             const std::vector<DatapathKind>& kinds);
  ~Simulation();

  const std::vector<std::unique_ptr<AttentionDatapath>>& datapaths() const { return datapaths_; }
  MemoryEstimate memory_estimate() const;
  SimulationResult run(const AttentionInputs& inputs, const ProgressReporter& progress = {});

 private:
  AttentionShape shape_;
  std::vector<std::unique_ptr<AttentionDatapath>> datapaths_;
  std::vector<bool> normalised_rows_;  // per datapath, its kind's
  // Per datapath: the cycle limit SystemC time imposed (synchronized mode), or 0.
  std::vector<Cycle> time_limits_;
  sc_core::sc_trace_file* trace_ = nullptr;
};

// The registered datapaths named `names`, in that order; std::invalid_argument for a name none has.
std::vector<DatapathKind> registered_kinds(const std::vector<std::string>& names);

// Builds and runs each datapath of `configs` (by name) in the order of datapath_names().
SimulationResult simulate(const AttentionInputs& inputs,
                          const std::map<std::string, DatapathConfig>& configs,
                          const ProgressReporter& progress = {});
// The same with one configuration for every datapath (the tests' shortcut).
SimulationResult simulate(const AttentionInputs& inputs, const std::vector<std::string>& datapaths,
                          const DatapathConfig& config, const ProgressReporter& progress = {});

// A completed run's channels are empty and its units fired as their shapes plan: else a unit's
// loop is wrong (it wrote an element no one read, or did not take its firings from firings()),
// which would pass for a result; a std::logic_error naming the channel or unit.
void require_drained(const DatapathResult& r);

}  // namespace sdpa
