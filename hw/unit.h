// Base of every abstract-hardware unit: a sequence of firings with its own cycle counter.
#pragma once

#include <cstdint>
#include <string>
#include <systemc>
#include <utility>

#include "hw/types.h"

namespace sdpa {

using Cycle = std::uint64_t;

// How units relate to SystemC time; both give bit-identical results (docs/timing.md).
enum class Mode {
  synchronized,  // one thread per unit; SystemC time is hardware time at every channel operation
  decoupled,     // one method runs every unit ahead of SystemC time until it blocks (fast)
};

struct Clocking {
  Mode mode = Mode::decoupled;
  sc_core::sc_time period{1, sc_core::SC_NS};
  // Watchdog: a unit whose cycle passes this stops for good, and so, unit by unit, does its
  // datapath; the other datapaths of the simulation run on. 0: a bound that no run that
  // completes can reach, derived from each datapath (sim/simulation.cpp).
  Cycle max_cycles = ~Cycle{0};
};

// Latency L (issue to result) and initiation interval II (issue to next issue) of a unit.
struct Timing {
  unsigned latency = 1;
  unsigned ii = 1;
};

class ChannelBase;
class Scheduler;

template <class T>
class In;
template <class T>
class Out;

// A unit fires `row_len` times per row for `rows` rows. A firing has three phases, as a
// pipeline stage: read_inputs (each read advances the local cycle to the element's ready stamp),
// compute, write_outputs (each result due at the issue cycle + latency); the next firing issues
// II cycles later.
//
// Port operations never block the host: one that cannot complete yet (empty or full channel, or
// SystemC time behind the unit in synchronized mode) leaves the unit blocked, and the scheduler
// re-enters the phase later. Re-entry skips the operations already done, so every port operation
// of a phase happens once, in program order, exactly as a blocking thread would do them; compute
// runs once per firing. Phases therefore keep values in member variables (the unit's registers),
// and state changes belong in compute, not after a port operation that may be re-entered.
class Unit : public sc_core::sc_module {
 public:
  Unit(const sc_core::sc_module_name& name, Timing timing, RowShape firings);

  Cycle cycle() const { return t_; }
  const Timing& timing() const { return timing_; }
  Cycle firings() const { return firings_; }
  bool finished() const { return fired_ == firings_; }
  // True when this unit passed the watchdog's cycle limit and stopped the simulation.
  bool stopped_by_watchdog() const { return stopped_by_watchdog_; }

  // When the current firing's results are due: its issue cycle (the local cycle at its first
  // write, latched as the write phase begins) plus the latency. Fan-out writes share it.
  Cycle due() const { return issue_ + timing_.latency; }

 protected:
  // Port operations, for the read_inputs and write_outputs phases. The unit performs them on
  // its own ports: they advance its local cycle. (Through the unit rather than the port, every
  // access to the unit's state in the flattened firing loop goes through `this`, one pointer the
  // compiler and the core both see: docs/performance.md.)
  template <class T>
  void read(In<T>& port, T& value) {
    port.read(*this, value);
  }
  // Writes a result of the current firing, due `latency` cycles after its issue, to every
  // channel the port is bound to; an rvalue leaves `value` unspecified (the last channel takes
  // its storage).
  template <class T, class V>
  void write(Out<T>& port, V&& value) {
    port.write(*this, std::forward<V>(value), due());
  }
  // The same with an explicit due cycle, for producers whose latency varies (memory reads).
  template <class T, class V>
  void write(Out<T>& port, V&& value, Cycle due_at) {
    port.write(*this, std::forward<V>(value), due_at);
  }

  // Position of the current firing.
  std::size_t row() const { return row_; }
  std::size_t index_in_row() const { return n_; }
  bool row_start() const { return n_ == 0; }
  bool row_end() const { return n_ + 1 == shape_.row_len; }

 private:
  friend class ChannelBase;
  friend class Scheduler;
  template <class U>
  friend class UnitOf;
  template <class T>
  friend class In;
  template <class T>
  friend class Out;

  // Fires until a port operation blocks, the watchdog stops the unit, or the last firing is done.
  virtual void run() = 0;

  // Whether the port operation reached now is still to do; once one blocks, the rest of the
  // phase waits for the next entry.
  bool op_pending() {
    if (skip_ == 0) return true;
    --skip_;
    return false;
  }
  void op_done() {
    ++done_;
    progressed_ = true;
  }
  void op_blocked() { skip_ = kBlocked; }
  // After a phase: all its operations were done or passed over, unless one blocked.
  bool phase_blocked() const { return skip_ != 0; }
  // Before re-entering a blocked phase: pass over the operations done. Only at the start of a
  // run: a phase entered afresh has none done and none to pass over.
  void resume_phase() {
    if (skip_ != 0) skip_ = done_;
  }
  static constexpr unsigned kBlocked = ~0u;
  // Synchronized mode: blocked until SystemC time reaches `cycle`, not on a channel.
  void block_until(Cycle cycle) {
    waits_for_time_ = true;
    resume_at_ = cycle;
  }

  void next_firing() {
    t_ += timing_.ii;
    reading_done_ = false;
    done_ = 0;
    ++fired_;
    if (++n_ == shape_.row_len) {
      n_ = 0;
      ++row_;
    }
  }

  // Called by a channel this unit is blocked on once the operation can proceed.
  void wake() {
    blocked_on_channel_ = false;
    if (synchronized_) woken_.notify();
  }
  void end_of_elaboration() override;

  Timing timing_;
  RowShape shape_;
  Cycle firings_;
  Cycle fired_ = 0;
  std::size_t row_ = 0;
  std::size_t n_ = 0;

  Cycle t_ = 0;
  Cycle issue_ = 0;

  bool reading_done_ = false;    // this firing is in its write phase
  unsigned skip_ = 0;            // port operations of this entry of the phase still to pass over
  unsigned done_ = 0;            // port operations done in this phase
  bool waits_for_time_ = false;  // synchronized mode, until the scheduler's wait
  Cycle resume_at_ = 0;
  bool stopped_by_watchdog_ = false;

  Scheduler* scheduler_ = nullptr;
  // A port operation completed since the decoupled scheduler cleared it: its progress test. A
  // flag, not a counter: a counter's increments would chain every operation through memory.
  bool progressed_ = false;
  bool blocked_on_channel_ = false;  // until the channel wakes it: the sweep passes it over
  bool synchronized_ = false;
  sc_core::sc_event woken_;  // synchronized mode
};

// What a concrete unit U derives from: U's read_inputs, compute and write_outputs (each optional;
// private, with `friend UnitOf<U>;`) become its firing, called directly rather than virtually.
template <class U>
class UnitOf : public Unit {
 protected:
  using Unit::Unit;
  void read_inputs() {}
  void compute() {}
  void write_outputs() {}

 private:
  // Flattened: the phases and the channel operations they call inline into this loop, the
  // decoupled mode's whole hot path (docs/performance.md).
  [[gnu::flatten]] void run() final {
    U& unit = *static_cast<U*>(this);
    resume_phase();
    while (fired_ != firings_) {
      if (!reading_done_) {
        unit.read_inputs();
        if (phase_blocked()) return;
        unit.compute();
        reading_done_ = true;
        done_ = 0;
        issue_ = t_;  // nothing moves the local cycle between here and the first write
      }
      unit.write_outputs();
      if (phase_blocked()) return;
      next_firing();
    }
  }
};

}  // namespace sdpa
