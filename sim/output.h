// Files a run writes: atomically, so an interrupted run never leaves a truncated file.
#pragma once

#include <functional>
#include <string>

#include "sim/params.h"
#include "sim/simulation.h"

namespace sdpa {

// Calls `write` with a temporary path in the same folder, then renames it to `path`.
void replace_atomically(const std::string& path,
                        const std::function<void(const std::string&)>& write);

// Writes `content` to `path` through a temporary file in the same folder and a rename.
void write_file_atomic(const std::string& path, const std::string& content);

// Replaces the wall-clock date SystemC writes into a VCD's header, so that the same parameters
// give a byte-identical waveform; the rewrite goes through a temporary file and a rename.
void make_vcd_reproducible(const std::string& path);

// A datapath's channels by local name, grouped as its graph groups them: the memory streams
// first, then each stage in the order it was built.
struct Stage {
  std::string label;
  std::vector<std::string> channels;
};
struct DatapathStages {
  std::string datapath;
  std::vector<Stage> stages;
};
DatapathStages stages_of(const AttentionDatapath& dp);

// A GTKWave save file showing each datapath's channel occupancy, grouped by stage, zoomed to
// fit `end_ps` picoseconds (the VCD's time unit) in the window.
std::string gtkw_save_file(const std::string& vcd_path,
                           const std::vector<DatapathStages>& datapaths, double end_ps);

}  // namespace sdpa
