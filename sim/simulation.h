// Builds the requested datapaths, runs one SystemC simulation, and gathers per-datapath results.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hw/attention_datapath.h"

namespace sdpa {

// unverified: finished within the tolerance, but fp32 cannot promise 1% of max|v| for these
// inputs (tb/reference.h, Verdict).
enum class Status { ok, deadlock, mismatch, timeout, unverified };
const char* to_string(Status status);

struct DatapathResult {
  std::string datapath;
  Status status = Status::ok;
  Cycle cycles = 0;  // ready stamp of the last output row taken by the sink
  std::uint64_t scores = 0;
  std::size_t rows = 0;  // output rows expected: heads × N
  std::size_t rows_done = 0;
  std::vector<float> output;  // [heads * N, d], row-major
  std::vector<ChannelStats> channels;
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

const std::vector<std::string>& datapath_names();  // naive, reordered
const std::vector<std::string>& unit_names(const std::string& datapath);
const std::vector<std::string>& channel_names(const std::string& datapath);

// Host memory a simulation of `datapaths` will need, from the problem size and channel depths
// (`config.depths`, `config.default_depth`, or a generous bound on the automatic depths).
std::uint64_t estimate_memory_bytes(std::size_t heads, std::size_t seq_len, std::size_t head_dim,
                                    const std::vector<std::string>& datapaths,
                                    const DatapathConfig& config);

// One elaboration per process (SystemC): call at most once. Closes config.trace when done.
SimulationResult simulate(const AttentionInputs& inputs, const std::vector<std::string>& datapaths,
                          const DatapathConfig& config, const ProgressReporter& progress = {});

}  // namespace sdpa
