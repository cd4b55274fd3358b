// Base of every abstract-hardware unit: a sequential process with its own cycle counter.
#pragma once

#include <cstdint>
#include <string>
#include <systemc>

namespace sdpa {

using Cycle = std::uint64_t;

// How processes relate to SystemC time; both give bit-identical results (docs/timing.md).
enum class Mode {
  synchronized,  // SystemC time is hardware time before every channel operation (waveforms)
  decoupled,     // processes run ahead and yield only on an empty or full channel (fast)
};

struct Clocking {
  Mode mode = Mode::decoupled;
  sc_core::sc_time period{1, sc_core::SC_NS};
  // Watchdog: a unit whose cycle passes this stops the simulation (sc_stop).
  Cycle max_cycles = ~Cycle{0};
};

// Latency L (issue to result) and initiation interval II (issue to next issue) of a unit.
struct Timing {
  unsigned latency = 1;
  unsigned ii = 1;
};

class ChannelBase;

// A unit's body is a loop of firings: read inputs (advancing the local cycle to the data's ready
// stamp), write outputs (due at issue + latency), then step() to the next issue slot.
class Unit : public sc_core::sc_module {
 public:
  Unit(const sc_core::sc_module_name& name, Timing timing);

  Cycle cycle() const { return t_; }
  const Timing& timing() const { return timing_; }
  bool finished() const { return finished_; }
  // True when this unit passed the watchdog's cycle limit and stopped the simulation.
  bool stopped_by_watchdog() const { return stopped_by_watchdog_; }

  // Issue cycle of the current firing: latched by its first write so fan-out writes share it.
  Cycle issue_cycle() {
    if (!issued_) {
      issue_ = t_;
      issued_ = true;
    }
    return issue_;
  }
  Cycle due() { return issue_cycle() + timing_.latency; }

 protected:
  // Ends a firing: the next one issues II cycles later.
  void step() {
    t_ += timing_.ii;
    issued_ = false;
  }
  // Declares the unit's work complete, so that a quiet simulation is not taken for a deadlock.
  void finish() { finished_ = true; }

 private:
  friend class ChannelBase;
  Timing timing_;
  Cycle t_ = 0;
  Cycle issue_ = 0;
  bool issued_ = false;
  bool finished_ = false;
  bool stopped_by_watchdog_ = false;
};

}  // namespace sdpa
