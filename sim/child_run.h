// Child simulations: this simulator run again in a process of its own on changed parameters
// (SystemC allows one elaboration per process), for --size-buffers and --verify-bottleneck.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "hw/unit.h"
#include "sim/params.h"

namespace sdpa {

// A datapath's result in a child's report.
struct ChildOutcome {
  std::optional<Cycle> cycles;  // a completed run's (ok or unverified); none otherwise
  std::string status;           // the run's: ok, deadlock, timeout, ...
  std::uint64_t scores = 0;     // computed
  std::string stopped_at;       // a deadlock's full channel, by key name; else empty
  // By the channel's key name: with lanes, the most of any lane's (lane3.scores is scores).
  std::map<std::string, Cycle> high_water;
  // Cycles each unit waited for a slot, by its key name: with lanes, the most of any lane's.
  std::map<std::string, Cycle> blocked;
  double buffering_um2 = 0;  // the channels' and stream buffers' area (report.json's area)
};

// A child that gave no outcome: it refused its parameters (`refused`: exit 2), or failed
// otherwise (the system's doing: a full disk, its memory, a signal). The message ends with the
// child's last line.
struct ChildError : std::runtime_error {
  ChildError(const std::string& message, bool refused)
      : std::runtime_error(message), refused(refused) {}
  bool refused;
};

// Runs children in a private temporary folder, removed with it (and, if the run was killed, by
// the next run's): never in the user's. A child dies with its parent.
class ChildRuns {
 public:
  // `option` names the folder and begins the messages of a child that failed. Makes the folder
  // (WriteError if it cannot: the system's, not the parameters').
  explicit ChildRuns(std::string option);
  ~ChildRuns();
  ChildRuns(const ChildRuns&) = delete;
  ChildRuns& operator=(const ChildRuns&) = delete;

  // Each datapath's outcome: a mismatch, deadlock or watchdog stop is one; ChildError if the child
  // gave none, WriteError if its files cannot be written.
  std::map<std::string, ChildOutcome> run(const Params& params);
  int count() const { return count_; }

 private:
  std::string option_;
  std::filesystem::path work_;
  int count_ = 0;
};

}  // namespace sdpa
