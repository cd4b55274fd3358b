// sdpa-sim's exit statuses (docs/errors.md), shared by the binary and its child simulations.
#pragma once

namespace sdpa {

enum ExitStatus : int {
  kOk = 0,
  kMismatch = 1,  // outside the tolerance where nothing can overflow; sized.yaml not reproduced
  kBadInput = 2,
  kDeadlock = 3,
  kTimeout = 4,  // the watchdog stopped a datapath
  kInternal = 5,
  kUnverified = 6,  // a value can overflow, or the tolerance cannot promise 1% of max|v|
};

// The statuses of a run that was simulated and reported its outcome (report.json): a child
// simulation that ends with any other did not run.
constexpr bool reports_outcome(int status) {
  return status == kOk || status == kMismatch || status == kDeadlock || status == kTimeout ||
         status == kUnverified;
}

}  // namespace sdpa
