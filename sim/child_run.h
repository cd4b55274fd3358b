// Child simulations: this simulator run again in a process of its own on changed parameters
// (SystemC allows one elaboration per process), for --size-buffers and --verify-bottleneck.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "hw/unit.h"
#include "sim/params.h"

namespace sdpa {

// A datapath's result in a child's report.
struct ChildOutcome {
  std::optional<Cycle> cycles;  // none: deadlock or error
  std::string status;           // the run's: ok, deadlock, timeout, ...
  std::uint64_t scores = 0;     // computed
  // By the channel's key name: with lanes, the most of any lane's (lane3.scores is scores).
  std::map<std::string, Cycle> high_water;
};

// Runs children in a private temporary folder, removed with it: never in the user's.
class ChildRuns {
 public:
  // `option` names the folder and begins the messages of a child that failed.
  explicit ChildRuns(std::string option);
  ~ChildRuns();
  ChildRuns(const ChildRuns&) = delete;
  ChildRuns& operator=(const ChildRuns&) = delete;

  // Each datapath's outcome. A mismatch, deadlock or watchdog stop is an outcome; a child that
  // refuses its parameters is a ParamError, one the system stopped (a full disk) a WriteError,
  // each with the child's last line.
  std::map<std::string, ChildOutcome> run(const Params& params);
  int count() const { return count_; }

 private:
  std::string option_;
  std::filesystem::path work_;
  int count_ = 0;
};

}  // namespace sdpa
