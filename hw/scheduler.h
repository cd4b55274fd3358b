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

// Decoupled: one SystemC method runs the units' bodies at time 0, each until it suspends on a
// channel. The units that can move wait on a stack: the one woken last runs next, so a row's
// elements tend to go down one lane's pipeline while its state is in the host's caches (with
// parallel lanes, a fixed sweep over every unit cost a quarter more per score). Sources (units
// without inputs: the stream readers) woken by a unit run before the units it woke downstream,
// so a stream buffer is topped up before its consumer's next batch, as a sweep would. A unit
// blocked on a channel is off the stack until the channel wakes it. A unit that finds a shallow
// channel (2 deep or less) full runs its reader in place, off the stack, until the reader
// suspends, and if that freed a slot goes on instead of suspending too (ChannelBase::make_room);
// the sources woken meanwhile join the stack when the outermost unit suspends. When the stack is
// empty and no arbiter has a request to grant, every unit is finished or blocked for good (a
// deadlock): the method returns. No thread switches: a suspended body costs a return.
//
// Synchronized: one SystemC method per unit resumes its body when SystemC time reaches the
// unit's cycle at each channel operation, or when the channel it is blocked on wakes it
// (waveforms).
//
// Results depend only on stamps, so both give the same cycles, values and statistics.
class Scheduler : public sc_core::sc_module {
 public:
  Scheduler(const sc_core::sc_module_name& name, const Clocking& clocking);

  // Units this scheduler runs (the order changes speed, never results); during elaboration.
  void add(Unit& unit);
  void add(std::initializer_list<Unit*> units) {
    for (Unit* u : units) add(*u);
  }
  void add(Arbiter& arbiter) { arbiters_.push_back(&arbiter); }

  // Units run in place so far (run_now): a count for tests, since results never show it.
  std::uint64_t runs_in_place() const { return runs_in_place_; }

 private:
  friend class ChannelBase;
  friend class Unit;

  // Decoupled mode: a unit woken joins the units that can move, to run first; a source woken
  // goes above the other units woken with it, once the unit that woke them suspends. A unit is
  // there at most once (only while it is not blocked), so the stack never outgrows the units.
  void make_ready(Unit& unit) {
    if (unit.source_)
      *sources_top_++ = &unit;
    else
      *top_++ = &unit;
  }

  // Decoupled mode: runs `unit`, not a source, now if it waits on the stack (from inside the step
  // of a unit writing to a shallow channel it reads: ChannelBase::make_room); false if it is not
  // there: running, or idle.
  bool run_now(Unit& unit);

  void before_end_of_elaboration() override;
  void run_decoupled();
  // Steps `unit`, and checks that it suspended blocked (inlined into both callers).
  [[gnu::always_inline]] inline void step(Unit& unit);
  void stack_woken_sources();
  void run_synchronized(Unit& unit);

  Clocking clocking_;
  std::vector<Unit*> units_;
  std::vector<Arbiter*> arbiters_;
  std::vector<Unit*> ready_;  // the units that can move, as a stack (decoupled mode)
  Unit** top_ = nullptr;
  std::vector<Unit*> sources_woken_;  // during the current unit's step
  Unit** sources_top_ = nullptr;
  std::uint64_t runs_in_place_ = 0;
};

inline void Unit::wake() {
  if (synchronized_) {
    blocked_on_channel_ = false;
    woken_.notify();
  } else if (blocked_on_channel_) {  // not if it woke itself (a shared link's grant)
    blocked_on_channel_ = false;
    scheduler_->make_ready(*this);
  }
}

}  // namespace sdpa
