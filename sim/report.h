// report.json and the human summary of a run.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/cost.h"
#include "sim/params.h"
#include "sim/reference.h"
#include "sim/result.h"

namespace sdpa {

struct MemoryUse {
  std::uint64_t capacity_elements = 0;
  std::uint64_t high_water_elements = 0;
  // In each channel's format: the input format's for a stream buffer, the compute format's else.
  std::uint64_t capacity_bytes = 0;
  std::uint64_t high_water_bytes = 0;
};

// Channel memory: capacities (provisioned) and high-water marks (used), a d-wide element
// counting d. With `intermediate_only`, the Q/K/V stream buffers are left out.
MemoryUse memory_use(const std::vector<ChannelStats>& channels, bool intermediate_only = false);

// `checks[i]` belongs to `result.runs[i]` (ignored for a deadlocked or stopped run); `params.mode`
// is the mode the run took (set by then). With a cost table, each run has its `energy` and `area`
// (sim/cost.h).
nlohmann::json report_json(const Params& params, const SimulationResult& result,
                           const std::vector<Check>& checks, const CostTable* cost = nullptr);

// Bytes as the summary shows them: a whole number of B under 1 KiB, else one decimal in KiB, MiB
// or GiB (2⁴⁰ B is 1024.0 GiB), the unit chosen after rounding: 1 MiB less a byte is 1.0 MiB,
// not 1024.0 KiB.
std::string bytes_text(std::uint64_t b);

// Energy as the summary shows it, from pJ: three significant digits in pJ, nJ, µJ, mJ or J (a
// cost table may give up to 10¹² pJ per byte).
std::string energy_text(double pj);

std::string summary(const SimulationResult& result, const std::vector<Check>& checks,
                    const CostTable* cost = nullptr);

}  // namespace sdpa
