// The timed FIFO channel of the timing contract (docs/timing.md) and the In/Out ports units use.
//
// A channel of capacity C is a bounded, blocking, single-producer single-consumer FIFO whose
// elements carry ready stamps. Capacity counts credits: an element holds its slot from the cycle
// it is written until the cycle after it is read, including its time in the producer's pipeline.
// The channel owns all timing and statistics, so unit bodies read like dataflow diagrams.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <new>
#include <optional>
#include <string>
#include <systemc>
#include <type_traits>
#include <utility>
#include <vector>

#include "hw/scheduler.h"
#include "hw/unit.h"

namespace sdpa {

struct ChannelStats {
  std::string name;
  std::size_t capacity = 0;
  std::size_t width = 1;  // scalars per element: d for a row vector
  Cycle high_water = 0;   // most elements between write and slot-free at any cycle
  Cycle writes = 0;
  Cycle producer_stall_cycles = 0;  // producer waiting for a free slot
  Cycle consumer_stall_cycles = 0;  // consumer waiting for data to be ready
  bool input_stream = false;        // a memory stream buffer rather than an intermediate
  Cycle reads = 0;                  // elements read (writes less those a deadlock or a stop left)
  Cycle last_ready = 0;             // ready stamp of the last element written (none: 0)
  Cycle first_ready = 0;            // ready stamp of the first element written (none: 0)
  Cycle first_read_stall = 0;       // of consumer_stall_cycles, the wait for the first element
  std::size_t element_bytes = 4;    // per scalar: the format's (input for a stream buffer)
  // Hardware bytes: a d-wide element counts d scalars of element_bytes.
  std::uint64_t capacity_bytes() const { return std::uint64_t(capacity) * width * element_bytes; }
  std::uint64_t high_water_bytes() const {
    return std::uint64_t(high_water) * width * element_bytes;
  }
};

// A watched channel's occupancy before the trace window, and each change in it (cycle, +1 at a
// write or −1 at a free), in the order recorded: writes and frees each in time order. (At
// namespace scope: clang cannot default-construct a nested class with member initializers in
// an optional member of the class that encloses it.)
struct OccupancyTrace {
  std::int64_t before = 0;
  std::vector<std::pair<Cycle, int>> changes;
};

// Type-independent half of the channel: stamps, blocking, statistics, tracing.
class ChannelBase : public sc_core::sc_prim_channel {
 public:
  ChannelBase(const char* name, std::size_t capacity, std::size_t width, const Clocking& clocking,
              sc_core::sc_trace_file* trace);

  std::size_t capacity() const { return capacity_; }
  // Slots the host keeps: the capacity rounded up to a power of two, so that element e's slot
  // is e & mask (no index to advance), and an element's stamps stay in its slot until element
  // e + ring_size(), at least `capacity` elements later, reuses it.
  std::size_t ring_size() const { return mask_ + 1; }
  std::size_t width() const { return width_; }
  std::size_t fill() const { return static_cast<std::size_t>(written_ - read_); }
  // Bytes of one scalar in the hardware FIFO: its values' format (set by the graph).
  std::size_t element_bytes() const { return element_bytes_; }
  void set_element_bytes(std::size_t bytes) { element_bytes_ = bytes; }
  // Host memory the channel's storage takes once allocated (at the end of elaboration, so that a
  // graph can be built and its size estimated before any of it is allocated).
  virtual std::uint64_t storage_bytes() const = 0;
  ChannelStats stats() const;
  // Replaces the watchdog's limit from the clocking; before the simulation starts.
  void set_cycle_limit(Cycle max_cycles);

  // Records occupancy changes in `window` for trace events (during elaboration).
  void watch(TraceWindow window);
  const OccupancyTrace* occupancy_trace() const { return events_ ? &*events_ : nullptr; }

  // Who is blocked on this channel right now (for the deadlock wait-for report).
  const Unit* blocked_reader() const { return blocked_reader_; }
  const Unit* blocked_writer() const { return blocked_writer_; }

 protected:
  struct Slot {
    Cycle ready = 0;       // ready stamp of the element in the slot
    Cycle written_at = 0;  // cycle that element was written
    Cycle freed_at = 0;    // the cycle after its element's read, when its credit came back
  };

  void end_of_elaboration() override { slots_.resize(ring_size()); }

  // The hot path is inline; synchronisation with SystemC time, the watchdog and tracing are not.
  // An operation that cannot complete now returns false with its unit blocked (unit.h). All it
  // may have done is a stall (local cycle moved to a slot's free or an element's ready stamp),
  // which the retry finds already done, so the retry computes the same stamps.

  // Takes a slot for element `written_` if one is free; returns the slot and its ready stamp.
  [[gnu::always_inline]] bool begin_write(Unit& writer, Cycle due, std::size_t& slot_index,
                                          Cycle& ready) {
    if (!sync(writer)) return false;
    // Room made in place comes before the writer registers as blocked: a reader's read would
    // otherwise wake the writer while it runs.
    if (written_ - read_ == capacity_ && !make_room(writer)) {
      blocked_writer_ = &writer;
      attention_ = true;
      writer.blocked_on_channel_ = true;
      if (writer.trace_) note_wait(writer, UnitTrace::blocked);
      return false;
    }
    // The credit is the one element written_ - capacity_ left: free the cycle after its read
    // (before any, a slot never used: free at 0).
    const Cycle freed_at = slots_[(written_ - capacity_) & mask_].freed_at;
    if (freed_at > writer.t_) {
      producer_stall_ += freed_at - writer.t_;
      if (writer.trace_) note_stall(writer, freed_at, UnitTrace::blocked);
      writer.t_ = freed_at;
      if (!sync(writer)) return false;
    }
    // Never ready before the cycle after the write, which an earlier write of the same firing
    // (fan-out) may have stalled past both `due` and this credit's free.
    ready = std::max(due, writer.t_ + 1);
    slot_index = written_ & mask_;
    slots_[slot_index].written_at = writer.t_;
    return true;
  }

  [[gnu::always_inline]] void end_write(Unit& writer, Cycle ready) {
    slots_[written_ & mask_].ready = ready;
    ++written_;
    if (attention_) after_write(writer);
  }

  // Finds the next element if there is one, advancing the reader to its ready stamp.
  [[gnu::always_inline]] bool begin_read(Unit& reader, std::size_t& slot_index, Cycle& ready) {
    if (!sync(reader)) return false;
    if (written_ == read_) {
      blocked_reader_ = &reader;
      attention_ = true;
      reader.blocked_on_channel_ = true;
      if (reader.trace_) note_wait(reader, UnitTrace::starved);
      return false;
    }
    slot_index = read_ & mask_;
    ready = slots_[slot_index].ready;
    if (ready > reader.t_) {
      consumer_stall_ += ready - reader.t_;
      if (read_ == 0) first_read_stall_ = ready - reader.t_;
      if (reader.trace_) note_stall(reader, ready, UnitTrace::starved);
      reader.t_ = ready;
      if (!sync(reader)) return false;
    }
    return true;
  }

  [[gnu::always_inline]] void end_read(Unit& reader) {
    // Before the free overwrites an older element's free in the slot: it may still count.
    count_occupancy(read_, occupancy_);
    const Cycle freed = reader.t_ + 1;
    slots_[read_ & mask_].freed_at = freed;
    ++read_;
    if (attention_) after_read(reader, freed);
  }

 private:
  template <class T>
  friend class In;

  // A blocked unit to wake, a watched channel or the first write: one test on the hot path.
  void after_write(Unit& writer) {
    if (written_ == 1) first_ready_ = slots_[0].ready;
    if (watched_) on_write(writer);
    if (blocked_reader_ != nullptr) wake(blocked_reader_);
    attention_ = watched_ || blocked_writer_ != nullptr;
  }
  void after_read(Unit& reader, Cycle freed) {
    if (watched_) on_free(reader, freed);
    if (blocked_writer_ != nullptr) wake(blocked_writer_);
    attention_ = watched_ || blocked_reader_ != nullptr;
  }

  // Decoupled mode, a channel of capacity 2 or less: runs the reader now, if it waits to run on
  // the writer's scheduler, until it suspends, so that the writer finding the channel full goes on
  // instead of suspending too. Such a channel's writer and reader would otherwise each suspend
  // every other element; with deeper channels, running in place did not pay
  // (docs/performance.md). The order of running changes speed, never results. True if it made
  // room.
  bool make_room(const Unit& writer) {
    return capacity_ <= in_place_capacity && run_reader_now(writer) &&
           written_ - read_ != capacity_;
  }
  static constexpr std::size_t in_place_capacity = 2;
  bool run_reader_now(const Unit& writer);

  // False when the unit must wait: for SystemC time to reach its cycle (synchronized mode), or
  // for good once it passed the watchdog's limit. One comparison in decoupled mode.
  bool sync(Unit& unit) { return unit.t_ <= fast_limit_ || sync_slow(unit); }
  // The notifier clears the registration, so a unit is woken once however many operations follow.
  static void wake(Unit*& blocked) {
    Unit* unit = blocked;
    blocked = nullptr;
    unit->wake();
  }

  // The high-water mark: occupancy rises at writes and falls at frees (the cycle after a read),
  // so its maximum is at a write: element w's write finds w + 1 elements written, less those
  // whose slots were freed by then. It is counted when w is read (or, unread, at the end):
  // every element freed before w's write was written and read before w, so its free is known,
  // and their stamps are still in their slots (docs/timing.md). A free in the cycle of the
  // write counts first.
  struct Occupancy {
    Cycle frees = 0;  // frees counted so far, in element order
    Cycle high_water = 0;
  };
  void count_occupancy(Cycle element, Occupancy& o) const {
    if (o.high_water == capacity_) return;  // full once: the mark cannot rise further
    const Cycle written_at = slots_[element & mask_].written_at;
    const Cycle known = std::min(element, read_);
    Cycle frees = o.frees;
    while (frees < known && slots_[frees & mask_].freed_at <= written_at) ++frees;
    o.frees = frees;
    o.high_water = std::max(o.high_water, element + 1 - frees);
  }

  // Watched units and channels only (waveforms, trace events): out of line.
  void note_wait(Unit& unit, UnitTrace::State why);
  void note_stall(Unit& unit, Cycle until, UnitTrace::State why);
  void on_write(Unit& writer);
  void on_free(Unit& reader, Cycle freed);
  void record(Cycle at, int change);

  bool sync_slow(Unit& unit);
  bool reached(Unit& unit);
  void stop_runaway(Unit& unit);
  void apply_frees();
  sc_core::sc_time at(Cycle c) const { return sc_core::sc_time::from_value(c * period_); }

  std::size_t capacity_;
  std::size_t mask_;  // ring_size() - 1
  std::size_t width_;
  std::size_t element_bytes_ = sizeof(float);
  bool synchronized_;
  Cycle max_cycles_;
  // Decoupled: the watchdog's limit; synchronized: 0, so every operation goes to sync_slow.
  Cycle fast_limit_;
  sc_core::sc_time::value_type period_;

  Cycle written_ = 0;
  Cycle read_ = 0;
  std::vector<Slot> slots_;

  Occupancy occupancy_;

  Cycle producer_stall_ = 0;
  Cycle consumer_stall_ = 0;
  Cycle first_read_stall_ = 0;

  Unit* blocked_reader_ = nullptr;
  Unit* blocked_writer_ = nullptr;
  Unit* reader_ = nullptr;  // the unit whose In port is bound here, if a unit's

  bool watched_ = false;  // traced or recording trace events
  // watched_, or a unit blocked on the channel; and before the first write, which records its
  // ready stamp (a pipeline's fill, for the bottleneck) off the hot path.
  bool attention_ = true;
  Cycle first_ready_ = 0;
  TraceWindow window_;
  std::optional<OccupancyTrace> events_;
  // Waveform only: occupancy as SystemC time passes (synchronized mode).
  bool traced_ = false;
  int trace_occupancy_ = 0;
  std::deque<Cycle> pending_frees_;
  sc_core::sc_event free_due_;
};

// The wait-for report of a stalled simulation: one line per unit blocked on one of `channels`,
// naming the channel, the side (read from empty, write to full), its fill/capacity and the cycle.
std::vector<std::string> wait_for_report(const std::vector<ChannelBase*>& channels);

template <class T>
class ReadIf : public virtual sc_core::sc_interface {
 public:
  virtual bool try_read(T& value, Unit& reader, Cycle& ready) = 0;
};

template <class T>
class WriteIf : public virtual sc_core::sc_interface {
 public:
  virtual bool try_write(const T& value, Cycle due, Unit& writer) = 0;
  virtual bool try_write(T&& value, Cycle due, Unit& writer) = 0;
};

template <class T>
class Channel : public ChannelBase, public ReadIf<T>, public WriteIf<T> {
 public:
  Channel(const char* name, std::size_t capacity, std::size_t width, const Clocking& clocking,
          sc_core::sc_trace_file* trace = nullptr)
      : ChannelBase(name, capacity, width, clocking, trace) {}

  const char* kind() const override { return "sdpa::Channel"; }

  std::uint64_t storage_bytes() const override {
    // A computed row owns its d floats; a RowView points into memory (or the reader's copy).
    const std::uint64_t heap = std::is_same_v<T, Row> ? width() * sizeof(float) : 0;
    return std::uint64_t(ring_size()) * (sizeof(Slot) + sizeof(T) + heap);
  }

  // Moves the element into `value`; one that owns storage (a Row) is swapped, so the storage
  // circulates instead of being allocated and copied.
  bool try_read(T& value, Unit& reader, Cycle& ready) final {
    std::size_t slot = 0;
    if (!begin_read(reader, slot, ready)) return false;
    take(values_[slot], value);
    end_read(reader);
    return true;
  }

  bool try_write(const T& value, Cycle due, Unit& writer) final {
    std::size_t slot = 0;
    Cycle ready = 0;
    if (!begin_write(writer, due, slot, ready)) return false;
    values_[slot] = value;
    end_write(writer, ready);
    return true;
  }

  // Leaves `value` unspecified: a Row gets the slot's former storage.
  bool try_write(T&& value, Cycle due, Unit& writer) final {
    std::size_t slot = 0;
    Cycle ready = 0;
    if (!begin_write(writer, due, slot, ready)) return false;
    take(value, values_[slot]);
    end_write(writer, ready);
    return true;
  }

 private:
  void end_of_elaboration() override {
    ChannelBase::end_of_elaboration();
    values_.resize(ring_size());
  }

  static void take(T& from, T& to) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      to = from;
    } else {
      using std::swap;
      swap(from, to);
    }
  }

  std::vector<T> values_;
};

template <class T>
Channel<T>& concrete(sc_core::sc_interface* bound, const sc_core::sc_object* port) {
  auto* channel = dynamic_cast<Channel<T>*>(bound);
  if (channel == nullptr)
    SC_REPORT_FATAL("sdpa/port",
                    (std::string(port->name()) + " is not bound to an sdpa::Channel").c_str());
  return *channel;
}

// What every input port is, whatever it carries: a unit without one is a source (scheduler.h).
struct InputPort {};

// Ports: bound to a channel, members of the unit whose local cycle they advance; the unit's
// body operates them with co_await read(port) and co_await write(port, value) (unit.h).
template <class T>
class In : public sc_core::sc_port<ReadIf<T>>, public InputPort {
 public:
  using sc_core::sc_port<ReadIf<T>>::sc_port;

  // The ready stamp of the element read last.
  Cycle ready() const { return ready_; }

 private:
  friend class ReadOp<T>;
  friend class ReadIntoOp<T>;

  // The concrete channel, so that reads are direct calls the compiler can inline.
  void end_of_elaboration() override {
    channel_ = &concrete<T>(this->get_interface(), this);
    channel_->reader_ = dynamic_cast<Unit*>(this->get_parent_object());
  }

  Channel<T>* channel_ = nullptr;
  Cycle ready_ = 0;
};

// A multiport: bound to several channels it fans out, writing them in binding order. The firing's
// due stamp is shared, but a write that stalls for a slot moves the unit's cycle, so every later
// branch is written no earlier and ready no earlier than the cycle after: why fan-out order can
// decide deadlock (docs/timing.md).
template <class T>
class Out : public sc_core::sc_port<WriteIf<T>, 0> {
 public:
  using sc_core::sc_port<WriteIf<T>, 0>::sc_port;

  // The channels it writes (after elaboration).
  std::size_t channel_count() const { return channels_.size(); }

 private:
  friend class WriteOp<T>;

  void end_of_elaboration() override {
    for (int i = 0; i < this->size(); ++i)
      channels_.push_back(&concrete<T>(this->get_interface(i), this));
  }

  std::vector<Channel<T>*> channels_;  // in binding order
};

// The awaitables of Unit::read and Unit::write. Each tries its operation in its constructor, the
// hot path, inline, with its operands in registers; only if the operation cannot complete does it
// store what a retry needs in the awaiter (in the coroutine frame: stores the hot path would pay
// for nothing), and the body suspends with the awaiter as the unit's pending operation, which the
// scheduler completes (attempt) before resuming the body.
template <class T>
class ReadOp {
 public:
  ReadOp(Unit& unit, In<T>& port) {
    done_ = port.channel_->try_read(value_, unit, port.ready_);
    if (!done_) {
      unit_ = &unit;
      port_ = &port;
    }
  }
  bool await_ready() const { return done_; }
  void await_suspend(std::coroutine_handle<>) { unit_->suspend_on(this); }
  T await_resume() { return std::move(value_); }
  bool attempt() { return port_->channel_->try_read(value_, *unit_, port_->ready_); }

 private:
  bool done_;
  Unit* unit_;
  In<T>* port_;
  T value_{};
};

template <class T>
class ReadIntoOp {
 public:
  ReadIntoOp(Unit& unit, In<T>& port, T& into) {
    done_ = port.channel_->try_read(into, unit, port.ready_);
    if (!done_) {
      unit_ = &unit;
      port_ = &port;
      into_ = &into;
    }
  }
  bool await_ready() const { return done_; }
  void await_suspend(std::coroutine_handle<>) { unit_->suspend_on(this); }
  void await_resume() const noexcept {}
  bool attempt() { return port_->channel_->try_read(*into_, *unit_, port_->ready_); }

 private:
  bool done_;
  Unit* unit_;
  In<T>* port_;
  T* into_;
};

// Holds the value until each channel of the port from `first` to `first + count` has it, in
// binding order: copies into all but the last, then moves into the last (a Row's storage goes
// with it).
template <class T>
class WriteOp {
 public:
  WriteOp(Unit& unit, Out<T>& port, T value, Cycle due, std::size_t first, std::size_t count) {
    Channel<T>* const* next = port.channels_.data() + first;
    Channel<T>* const* const last = next + count - 1;
    for (; next != last; ++next)
      if (!(*next)->try_write(std::as_const(value), due, unit)) {
        keep(unit, std::move(value), due, next, last);
        return;
      }
    if ((*last)->try_write(std::move(value), due, unit)) {
      done_ = true;
      return;
    }
    keep(unit, std::move(value), due, last, last);
  }
  ~WriteOp() {
    if (!done_) value_.~T();
  }
  bool await_ready() const { return done_; }
  void await_suspend(std::coroutine_handle<>) { unit_->suspend_on(this); }
  void await_resume() const noexcept {}
  bool attempt() {
    for (Channel<T>* const* next = next_; next != last_; ++next) {
      if (!(*next)->try_write(std::as_const(value_), due_, *unit_)) {
        next_ = next;
        return false;
      }
    }
    if ((*last_)->try_write(std::move(value_), due_, *unit_)) return true;
    next_ = last_;
    return false;
  }

 private:
  void keep(Unit& unit, T&& value, Cycle due, Channel<T>* const* next, Channel<T>* const* last) {
    done_ = false;
    unit_ = &unit;
    new (&value_) T(std::move(value));
    due_ = due;
    next_ = next;
    last_ = last;
  }

  bool done_;  // every write completed; if not, keep() set the members below for the retry
  Unit* unit_;
  union {
    T value_;
  };
  Cycle due_;
  Channel<T>* const* next_;  // the next channel to write
  Channel<T>* const* last_;
};

template <class T>
ReadOp<T> Unit::read(In<T>& port) {
  return ReadOp<T>(*this, port);
}
template <class T>
ReadIntoOp<T> Unit::read(In<T>& port, T& into) {
  return ReadIntoOp<T>(*this, port, into);
}
// The value, rounded to the unit's compute format: what the unit puts on its channels.
template <class T, class V>
T Unit::result(V&& value) const {
  T v(std::forward<V>(value));
  if (format_ != Format::fp32) round_result(format_, v);
  return v;
}
template <class T, class V>
WriteOp<T> Unit::write(Out<T>& port, V&& value) {
  return WriteOp<T>(*this, port, result<T>(std::forward<V>(value)), due(), 0, port.channel_count());
}
template <class T, class V>
WriteOp<T> Unit::write(Out<T>& port, V&& value, Cycle due) {
  return WriteOp<T>(*this, port, result<T>(std::forward<V>(value)), due, 0, port.channel_count());
}
template <class T, class V>
WriteOp<T> Unit::write(Out<T>& port, V&& value, Cycle due, std::size_t first, std::size_t count) {
  return WriteOp<T>(*this, port, result<T>(std::forward<V>(value)), due, first, count);
}

}  // namespace sdpa
