// --size-buffers: the smallest depth of every channel that keeps the cycle count of a run with
// ample buffering, found by binary search over child simulations (one elaboration per process).
#pragma once

#include "sim/output.h"
#include "sim/params.h"

namespace sdpa {

// Writes sized.yaml (the params with every channel's depth) into `out` and prints the table.
// Returns the exit status (sim/exit_status.h): kOk when sized.yaml reproduces the cycle counts,
// kMismatch when it does not or the run with ample depths is a mismatch, kDeadlock or kTimeout
// when that run does not complete.
int size_buffers(const Params& params, OutputFolder& out);

}  // namespace sdpa
