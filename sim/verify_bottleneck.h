// --verify-bottleneck: the bottleneck statement checked by experiment. Each datapath runs again,
// alone, in child simulations, once with its named limit relieved (4× the channel's depth or the
// memory's bandwidth, II 1) and, if that does not run 5% faster, with each of the next likeliest
// limits relieved, then all that waited together (docs/timing.md, "Checking the bottleneck").
#pragma once

#include "sim/child_run.h"
#include "sim/params.h"
#include "sim/result.h"

namespace sdpa {

// Fills each run's bottleneck_check; `params` are the run's. `children` made before the run, so
// that a system without a temporary folder is found before simulating.
void verify_bottlenecks(const Params& params, SimulationResult& result, ChildRuns& children);

}  // namespace sdpa
