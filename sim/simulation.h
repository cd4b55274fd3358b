// Builds the requested datapaths, runs one SystemC simulation, and gathers per-datapath results.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hw/attention.h"

namespace sdpa {

enum class Status { ok, deadlock, mismatch, timeout };
const char* to_string(Status status);

// A unit as the run left it.
struct UnitStats {
  std::string name;
  Timing timing;
  Cycle firings = 0;
};

struct DatapathResult {
  std::string datapath;
  Status status = Status::ok;
  Cycle cycles = 0;  // ready stamp of the last output row taken by the sink
  std::uint64_t scores = 0;
  std::size_t rows = 0;  // output rows expected: heads × N
  std::size_t rows_done = 0;
  std::vector<float> output;  // [heads * N, d], row-major
  std::vector<ChannelStats> channels;
  std::vector<UnitStats> units;
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
  std::size_t row_len = 0;  // scores per row: N
  Cycle cycle = 0;          // ready stamp of the latest output row
};

// Called from a separate OS thread about once per `interval_seconds` while sc_start runs.
struct ProgressReporter {
  double interval_seconds = 2.0;
  std::function<void(const std::vector<Progress>&, double elapsed_seconds)> report;
};

// Every registered datapath's name, in the order `datapath: all` runs them.
std::vector<std::string> datapath_names();

// The requested datapaths, built (elaborated) for one problem: nothing large is allocated until
// run(), so a caller can check parameters against the graphs and estimate the memory first.
// One elaboration per process (SystemC): build at most one Simulation and run it once.
class Simulation {
 public:
  // `configs` has each requested datapath's parameters.
  Simulation(const AttentionShape& shape, const std::map<std::string, DatapathConfig>& configs,
             const std::vector<std::string>& datapaths);
  ~Simulation();

  const std::vector<std::unique_ptr<AttentionDatapath>>& datapaths() const { return datapaths_; }
  // Host memory the run will need: inputs, reference, memory image, outputs, channel storage.
  std::uint64_t memory_bytes() const;
  // Closes the trace file of the configs when done.
  SimulationResult run(const AttentionInputs& inputs, const ProgressReporter& progress = {});

 private:
  AttentionShape shape_;
  std::vector<std::unique_ptr<AttentionDatapath>> datapaths_;
  sc_core::sc_trace_file* trace_ = nullptr;
};

// Builds and runs `datapaths` with one config for all (the tests' shortcut).
SimulationResult simulate(const AttentionInputs& inputs, const std::vector<std::string>& datapaths,
                          const DatapathConfig& config, const ProgressReporter& progress = {});

}  // namespace sdpa
