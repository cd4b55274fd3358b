// Runs units: the execution half of the two modes of one model (docs/architecture.md).
#pragma once

#include <systemc>
#include <vector>

#include "hw/unit.h"

namespace sdpa {

// A resource shared by units that grants their requests in time order (SharedLink). In decoupled
// mode it may hold a request back until no unit can still make an earlier one; when every unit
// is blocked, the scheduler has it grant its earliest request instead of ending the run.
class Arbiter {
 public:
  // Grants the earliest waiting request; false if none waits.
  virtual bool grant_earliest() = 0;

 protected:
  ~Arbiter() = default;
};

// Decoupled: one SystemC method runs the units' bodies at time 0, sweeping them in the order
// added (add them producers first) and resuming each until it suspends on a channel; it returns
// after a sweep in which no unit moved (every unit finished, or a deadlock). No thread
// switches: a suspended body costs a return, and the fixed order keeps the host's branch
// predictor on track.
//
// Synchronized: one SystemC method per unit resumes its body when SystemC time reaches the
// unit's cycle at each channel operation, or when the channel it is blocked on wakes it
// (waveforms).
//
// Results depend only on stamps, so both give the same cycles, values and statistics.
class Scheduler : public sc_core::sc_module {
 public:
  Scheduler(const sc_core::sc_module_name& name, const Clocking& clocking);

  // Units this scheduler runs, producers before consumers where the graph allows (the order
  // changes speed, never results); add them during elaboration.
  void add(Unit& unit);
  void add(std::initializer_list<Unit*> units) {
    for (Unit* u : units) add(*u);
  }
  void add(Arbiter& arbiter) { arbiters_.push_back(&arbiter); }

 private:
  void before_end_of_elaboration() override;
  void run_decoupled();
  void run_synchronized(Unit& unit);

  Clocking clocking_;
  std::vector<Unit*> units_;
  std::vector<Arbiter*> arbiters_;
};

}  // namespace sdpa
