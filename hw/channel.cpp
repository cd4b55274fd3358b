// sc_spawn: the waveform-only process that retires freed slots.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "hw/channel.h"

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "hw/scheduler.h"

namespace sdpa {

ChannelBase::ChannelBase(const char* name, std::size_t capacity, std::size_t width,
                         const Clocking& clocking, sc_core::sc_trace_file* trace)
    : sc_prim_channel(name),
      capacity_(capacity),
      mask_(std::bit_ceil(std::max<std::size_t>(capacity, 1)) - 1),
      width_(width),
      synchronized_(clocking.mode == Mode::synchronized),
      max_cycles_(clocking.max_cycles),
      fast_limit_(synchronized_ ? 0 : clocking.max_cycles),
      period_(clocking.period.value()) {
  if (capacity_ < 1)
    throw std::invalid_argument(std::string(this->name()) + ": capacity must be >= 1");
  if (trace != nullptr) {
    traced_ = watched_ = attention_ = true;
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
  // Elements never read (a deadlock or a stopped run) hold their slots for good.
  Occupancy o = occupancy_;
  for (Cycle element = read_; element < written_; ++element) count_occupancy(element, o);
  ChannelStats s{name(),   capacity_,       width_,         o.high_water,
                 written_, producer_stall_, consumer_stall_};
  s.reads = read_;
  if (written_ != 0) s.last_ready = slots_[(written_ - 1) & mask_].ready;
  s.first_ready = first_ready_;
  s.first_read_stall = first_read_stall_;
  s.element_bytes = element_bytes_;
  return s;
}

void ChannelBase::set_cycle_limit(Cycle max_cycles) {
  max_cycles_ = max_cycles;
  fast_limit_ = synchronized_ ? 0 : max_cycles;
}

bool ChannelBase::run_reader_now(const Unit& writer) {
  return !synchronized_ && reader_ != nullptr && reader_->scheduler_ == writer.scheduler_ &&
         !reader_->idle() && reader_->scheduler_->run_now(*reader_);
}

bool ChannelBase::sync_slow(Unit& unit) {
  if (unit.t_ > max_cycles_) {
    stop_runaway(unit);
    return false;
  }
  // Below the watchdog's limit only a synchronized channel gets here (fast_limit_ is 0).
  return reached(unit);
}

bool ChannelBase::reached(Unit& unit) {
  if (at(unit.t_) <= sc_core::sc_time_stamp()) return true;
  unit.block_until(unit.t_);
  return false;
}

void ChannelBase::stop_runaway(Unit& unit) {
  // No sc_stop: the other datapaths of the simulation run on. The unit stays blocked (its
  // scheduler never runs it again), and its datapath's other units stop at the limit or block.
  unit.stopped_by_watchdog_ = true;
}

void ChannelBase::watch(TraceWindow window) {
  watched_ = attention_ = true;
  window_ = window;
  events_.emplace();
}

void ChannelBase::note_wait(Unit& unit, UnitTrace::State why) {
  if (unit.trace_->waveform) unit.trace_->state = why;
}

void ChannelBase::note_stall(Unit& unit, Cycle until, UnitTrace::State why) {
  UnitTrace& t = *unit.trace_;
  if (t.waveform) t.state = why;
  if (unit.t_ < t.window.to && until > t.window.from)
    t.stalls.push_back({unit.t_, until, why, this});
}

void ChannelBase::on_write(Unit& writer) {
  if (writer.trace_ && writer.trace_->waveform) writer.trace_->state = UnitTrace::busy;
  if (traced_) ++trace_occupancy_;
  if (events_) record(writer.t_, +1);
}

void ChannelBase::on_free(Unit& reader, Cycle freed) {
  if (reader.trace_ && reader.trace_->waveform) reader.trace_->state = UnitTrace::busy;
  if (traced_) {
    pending_frees_.push_back(freed);
    free_due_.notify(at(freed) - sc_core::sc_time_stamp());
  }
  if (events_) record(freed, -1);
}

void ChannelBase::record(Cycle at, int change) {
  if (at < window_.from)
    events_->before += change;
  else if (at < window_.to)
    events_->changes.emplace_back(at, change);
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
