// --size-buffers: the smallest depth of every channel that keeps the cycle count of a run with
// ample buffering, found by binary search over child simulations (one elaboration per process).
#pragma once

#include <filesystem>

#include "sim/params.h"

namespace sdpa {

// Writes `out`/sized.yaml (the params with every channel's depth) and prints the table.
// Returns the exit status: 0 when sized.yaml reproduces the cycle counts.
int size_buffers(const Params& params, const std::filesystem::path& out);

}  // namespace sdpa
