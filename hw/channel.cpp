// sc_spawn: the waveform-only process that retires freed slots.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "hw/channel.h"

#include <algorithm>
#include <stdexcept>

namespace sdpa {

ChannelBase::ChannelBase(const char* name, std::size_t capacity, std::size_t width,
                         const Clocking& clocking, sc_core::sc_trace_file* trace)
    : sc_prim_channel(name),
      capacity_(capacity),
      width_(width),
      mode_(clocking.mode),
      max_cycles_(clocking.max_cycles),
      period_(clocking.period.value()),
      slots_(capacity) {
  if (capacity_ < 1)
    throw std::invalid_argument(std::string(this->name()) + ": capacity must be >= 1");
  if (trace != nullptr) {
    traced_ = true;
    sc_core::sc_trace(trace, trace_occupancy_, std::string(this->name()) + ".occupancy");
    sc_core::sc_spawn_options options;
    options.spawn_method();
    options.set_sensitivity(&free_due_);
    options.dont_initialize();
    sc_core::sc_spawn([this] { apply_frees(); }, (std::string(basename()) + "_frees").c_str(),
                      &options);
  }
}

ChannelStats ChannelBase::stats() const {
  Sweep finished = sweep_;
  merge(finished, true);
  return {name(),   capacity_,       width_,         finished.high_water,
          written_, producer_stall_, consumer_stall_};
}

void ChannelBase::wait_until(Cycle cycle) {
  const sc_core::sc_time target = at(cycle);
  if (target > sc_core::sc_time_stamp()) sc_core::wait(target - sc_core::sc_time_stamp());
}

void ChannelBase::stop_runaway(Unit& unit) {
  unit.stopped_by_watchdog_ = true;
  // Other units may pass the limit in the same delta cycle; SystemC warns on a second stop.
  static bool stopped = false;
  if (!stopped) sc_core::sc_stop();
  stopped = true;
  // Parks this process for good: the simulation ends at the end of this delta cycle.
  for (;;) sc_core::wait(never_);
}

void ChannelBase::wait_for_slot(Unit& writer) {
  while (written_ - read_ == capacity_) {
    blocked_writer_ = &writer;
    sc_core::wait(slot_freed_);
  }
}

void ChannelBase::wait_for_data(Unit& reader) {
  while (written_ == read_) {
    blocked_reader_ = &reader;
    sc_core::wait(data_written_);
  }
}

void ChannelBase::trace_free(Cycle freed) {
  pending_frees_.push_back(freed);
  free_due_.notify(at(freed) - sc_core::sc_time_stamp());
}

void ChannelBase::apply_frees() {
  const Cycle now = sc_core::sc_time_stamp().value() / period_;
  while (!pending_frees_.empty() && pending_frees_.front() <= now) {
    --trace_occupancy_;
    pending_frees_.pop_front();
  }
  if (!pending_frees_.empty())
    free_due_.notify(at(pending_frees_.front()) - sc_core::sc_time_stamp());
}

std::vector<std::string> wait_for_report(const std::vector<ChannelBase*>& channels) {
  std::vector<std::string> lines;
  auto line = [&lines](const Unit& u, const char* side, const ChannelBase& ch, const char* state) {
    lines.push_back(std::string(u.name()) + " at cycle " + std::to_string(u.cycle()) +
                    " waits to " + side + " " + ch.name() + ": " + state + " " +
                    std::to_string(ch.fill()) + "/" + std::to_string(ch.capacity()));
  };
  for (const ChannelBase* ch : channels) {
    if (const Unit* u = ch->blocked_writer()) line(*u, "write", *ch, "full");
    if (const Unit* u = ch->blocked_reader()) line(*u, "read", *ch, "empty");
  }
  return lines;
}

}  // namespace sdpa
