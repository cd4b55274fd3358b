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
      ready_(capacity),
      write_at_(capacity),
      free_at_(capacity, 0) {
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
    blocked_writer_ = nullptr;
  }
  const std::size_t slot = written_ % capacity_;
  // The slot is the one element written_ - capacity_ left; it frees the cycle after its read.
  const Cycle freed = free_at_[slot];
  if (freed > writer.t_) {
    producer_stall_ += freed - writer.t_;
    writer.t_ = freed;
    sync(writer);
  }
  ready = std::max(due, freed + 1);
  write_at_[slot] = writer.t_;
  return slot;
}

void ChannelBase::end_write(Cycle ready) {
  const std::size_t slot = written_ % capacity_;
  ready_[slot] = ready;
  ++written_;
  sweep_high_water();
  if (traced_) ++trace_occupancy_;
  if (blocked_reader_ != nullptr) data_written_.notify();
}

std::size_t ChannelBase::begin_read(Unit& reader, Cycle& ready) {
  sync(reader);
  while (written_ == read_) {
    blocked_reader_ = &reader;
    sc_core::wait(data_written_);
    blocked_reader_ = nullptr;
  }
  const std::size_t slot = read_ % capacity_;
  ready = ready_[slot];
  if (ready > reader.t_) {
    consumer_stall_ += ready - reader.t_;
    reader.t_ = ready;
    sync(reader);
  }
  return slot;
}

void ChannelBase::end_read(Unit& reader) {
  const Cycle freed = reader.t_ + 1;
  free_at_[read_ % capacity_] = freed;
  ++read_;
  sweep_high_water();
  if (traced_) {
    pending_frees_.push_back(freed);
    free_due_.notify(at(freed) - sc_core::sc_time_stamp());
  }
  if (blocked_writer_ != nullptr) slot_freed_.notify();
}

// Occupancy rises at writes and falls at frees; both sequences are non-decreasing in cycles, so
// merging them in order yields the occupancy at every write, hence the exact high-water mark.
// A free at the same cycle as a write counts first. The merge waits only for frees not yet known
// (element not read), which keeps it exact in decoupled mode, where the producer runs ahead.
void ChannelBase::sweep_high_water() {
  while (sweep_writes_ < written_) {
    if (sweep_frees_ < sweep_writes_) {
      if (sweep_frees_ >= read_) return;
      if (free_at_[sweep_frees_ % capacity_] <= write_at_[sweep_writes_ % capacity_]) {
        --occupancy_;
        ++sweep_frees_;
        continue;
      }
    }
    high_water_ = std::max(high_water_, ++occupancy_);
    ++sweep_writes_;
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
