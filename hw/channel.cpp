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
  return {name(), capacity_, width_, high_water_, written_, producer_stall_, consumer_stall_};
}

void ChannelBase::sync(Unit& unit) {
  if (mode_ != Mode::synchronized) return;
  const sc_core::sc_time target = at(unit.t_);
  if (target > sc_core::sc_time_stamp()) sc_core::wait(target - sc_core::sc_time_stamp());
}

std::size_t ChannelBase::begin_write(Unit& writer, Cycle due, Cycle& ready) {
  sync(writer);
  while (written_ - read_ == capacity_) {
    blocked_writer_ = &writer;
    sc_core::wait(slot_freed_);
  }
  Slot& slot = slots_[write_slot_];
  // The slot is the one element written_ - capacity_ left; it frees the cycle after its read.
  if (slot.freed_at > writer.t_) {
    producer_stall_ += slot.freed_at - writer.t_;
    writer.t_ = slot.freed_at;
    sync(writer);
  }
  ready = std::max(due, slot.freed_at + 1);
  slot.written_at = writer.t_;
  return write_slot_;
}

void ChannelBase::end_write(Cycle ready) {
  slots_[write_slot_].ready = ready;
  advance(write_slot_);
  ++written_;
  sweep_high_water();
  if (traced_) ++trace_occupancy_;
  // The notifier clears the flag, so a reader is notified once however many writes follow.
  if (blocked_reader_ != nullptr) {
    blocked_reader_ = nullptr;
    data_written_.notify();
  }
}

std::size_t ChannelBase::begin_read(Unit& reader, Cycle& ready) {
  sync(reader);
  while (written_ == read_) {
    blocked_reader_ = &reader;
    sc_core::wait(data_written_);
  }
  ready = slots_[read_slot_].ready;
  if (ready > reader.t_) {
    consumer_stall_ += ready - reader.t_;
    reader.t_ = ready;
    sync(reader);
  }
  return read_slot_;
}

void ChannelBase::end_read(Unit& reader) {
  const Cycle freed = reader.t_ + 1;
  slots_[read_slot_].freed_at = freed;
  advance(read_slot_);
  ++read_;
  sweep_high_water();
  if (traced_) {
    pending_frees_.push_back(freed);
    free_due_.notify(at(freed) - sc_core::sc_time_stamp());
  }
  if (blocked_writer_ != nullptr) {
    blocked_writer_ = nullptr;
    slot_freed_.notify();
  }
}

// Occupancy rises at writes and falls at frees; both sequences are non-decreasing in cycles, so
// merging them in order yields the occupancy at every write, hence the exact high-water mark.
// A free at the same cycle as a write counts first. The merge waits only for frees not yet known
// (element not read), which keeps it exact in decoupled mode, where the producer runs ahead.
void ChannelBase::sweep_high_water() {
  while (sweep_writes_ < written_) {
    if (sweep_frees_ < sweep_writes_) {
      if (sweep_frees_ >= read_) return;
      // Element k's write and free cycles stay in slot k mod C until element k + C overwrites
      // them, and the merge has passed k by then (docs/timing.md).
      if (slots_[sweep_free_slot_].freed_at <= slots_[sweep_write_slot_].written_at) {
        --occupancy_;
        ++sweep_frees_;
        advance(sweep_free_slot_);
        continue;
      }
    }
    high_water_ = std::max(high_water_, ++occupancy_);
    ++sweep_writes_;
    advance(sweep_write_slot_);
  }
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
