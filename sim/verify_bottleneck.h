// --verify-bottleneck: the bottleneck statement checked by experiment. Each datapath runs again,
// alone, in child simulations, once with its named limit relieved (4× the channel's depth or the
// memory's bandwidth, II 1) and, if that is not ≥ 5% faster, with each of the next likeliest
// limits relieved (docs/timing.md, "The bottleneck").
#pragma once

#include "sim/params.h"
#include "sim/result.h"

namespace sdpa {

// Fills each run's bottleneck_check; `params` are the run's.
void verify_bottlenecks(const Params& params, SimulationResult& result);

}  // namespace sdpa
