// Runs units: the execution half of the two modes of one model (docs/architecture.md).
#pragma once

#include <systemc>
#include <vector>

#include "hw/unit.h"

namespace sdpa {

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

 private:
  void before_end_of_elaboration() override;
  void run_decoupled();
  void run_synchronized(Unit& unit);

  Clocking clocking_;
  std::vector<Unit*> units_;
};

}  // namespace sdpa
