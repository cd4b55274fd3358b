// sc_spawn: the decoupled mode's method, the synchronized mode's method per unit.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "hw/scheduler.h"

#include <algorithm>
#include <string>

namespace sdpa {

Scheduler::Scheduler(const sc_core::sc_module_name& name, const Clocking& clocking)
    : sc_module(name), clocking_(clocking) {}

void Scheduler::add(Unit& unit) {
  if (unit.scheduler_ != nullptr)
    SC_REPORT_ERROR(this->name(), (std::string(unit.name()) + " is added twice").c_str());
  unit.scheduler_ = this;
  units_.push_back(&unit);
}

void Scheduler::before_end_of_elaboration() {
  sc_core::sc_spawn_options options;
  options.spawn_method();
  if (clocking_.mode == Mode::decoupled) {
    sc_core::sc_spawn([this] { run_decoupled(); }, "run", &options);
    return;
  }
  // Each method named after its unit's place beside the scheduler (lane1.exp: lane1_exp), since
  // lanes repeat the units' basenames.
  const sc_core::sc_object* parent = get_parent_object();
  const std::string prefix = parent != nullptr ? std::string(parent->name()) + "." : "";
  for (Unit* unit : units_) {
    unit->synchronized_ = true;
    std::string process = unit->name();
    if (process.compare(0, prefix.size(), prefix) == 0) process.erase(0, prefix.size());
    std::replace(process.begin(), process.end(), '.', '_');
    sc_core::sc_spawn([this, unit] { run_synchronized(*unit); }, process.c_str(), &options);
  }
}

inline void Scheduler::step(Unit& unit) {
  unit.step();
  // A suspended unit is blocked, or stopped for good: nothing else suspends a body here.
  if (!unit.idle())
    SC_REPORT_FATAL(name(), (std::string(unit.name()) + " suspended unblocked").c_str());
}

void Scheduler::run_decoupled() {
  ready_.resize(units_.size());
  top_ = ready_.data();
  sources_woken_.resize(units_.size());
  sources_top_ = sources_woken_.data();
  // The last added runs first; the order changes speed, never results.
  for (Unit* unit : units_) *top_++ = unit;
  // When no unit can move, every unit is finished or blocked. A shared link may then grant its
  // earliest request (which wakes its stream); otherwise nothing can move again: the run is
  // over, complete or deadlocked.
  for (;;) {
    while (top_ != ready_.data()) {
      step(**--top_);
      stack_woken_sources();
    }
    const bool granted = std::any_of(arbiters_.begin(), arbiters_.end(),
                                     [](Arbiter* arbiter) { return arbiter->grant_earliest(); });
    stack_woken_sources();
    if (!granted || top_ == ready_.data()) return;
  }
}

bool Scheduler::run_now(Unit& unit) {
  // From the top down: as a rule, a recent operation of the unit that needs it woke it.
  for (Unit** at = top_; at != ready_.data();) {
    if (*--at != &unit) continue;
    std::copy(at + 1, top_, at);
    --top_;
    ++runs_in_place_;
    step(unit);
    return true;
  }
  return false;
}

void Scheduler::stack_woken_sources() {
  for (Unit** source = sources_woken_.data(); source != sources_top_; ++source) *top_++ = *source;
  sources_top_ = sources_woken_.data();
}

void Scheduler::run_synchronized(Unit& unit) {
  const auto at = [this](Cycle c) {
    return sc_core::sc_time::from_value(c * clocking_.period.value());
  };
  if (unit.finished()) {  // triggered once more, at its end, by a waveform
    if (unit.trace_) unit.trace_->state = UnitTrace::idle;
    return;
  }
  unit.step();
  if (unit.stopped_by_watchdog()) return;  // never triggered again
  if (unit.finished()) {
    // The waveform shows it idle from its end: its last firing's II after its last operation.
    if (unit.trace_ && unit.trace_->waveform)
      sc_core::next_trigger(std::max(at(unit.t_), sc_core::sc_time_stamp()) -
                            sc_core::sc_time_stamp());
    return;
  }
  if (unit.waits_for_time_) {
    unit.waits_for_time_ = false;
    sc_core::next_trigger(at(unit.resume_at_) - sc_core::sc_time_stamp());
  } else {
    sc_core::next_trigger(unit.woken_);
  }
}

}  // namespace sdpa
