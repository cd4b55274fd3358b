// Base of every abstract-hardware unit: one coroutine of straight-line code with its own cycle.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <systemc>
#include <utility>
#include <vector>

#include "hw/actions.h"
#include "hw/types.h"

namespace sdpa {

using Cycle = std::uint64_t;

// How units relate to SystemC time; both give bit-identical results (docs/timing.md).
enum class Mode {
  synchronized,  // each unit resumed at the SystemC time of each channel operation (waveforms)
  decoupled,     // one method runs every unit ahead of SystemC time until it blocks (fast)
};

struct Clocking {
  Mode mode = Mode::decoupled;
  sc_core::sc_time period{1, sc_core::SC_NS};
  // Watchdog: a unit whose cycle passes this stops for good, and so, unit by unit, does its
  // datapath; the other datapaths of the simulation run on. (sim/ derives a bound that no run
  // that completes can reach when the parameters give 0: sim/simulation.cpp.)
  Cycle max_cycles = ~Cycle{0};
};

// Latency L (issue to result) and initiation interval II (issue to next issue) of a unit.
struct Timing {
  unsigned latency = 1;
  unsigned ii = 1;
  friend bool operator==(const Timing& a, const Timing& b) {
    return a.latency == b.latency && a.ii == b.ii;
  }
};

class ChannelBase;
class Scheduler;
class Unit;

// The cycles trace events cover: from ≤ cycle < to; empty: none asked for.
struct TraceWindow {
  Cycle from = 0;
  Cycle to = 0;
  bool empty() const { return to <= from; }
};

// A watched unit's timeline, for waveforms and trace events (docs/timing.md, "Where the cycles
// go"). Its local cycle moves only by II per firing (busy) and by stalls, each recorded here, so
// the busy intervals are the rest of [0, end).
struct UnitTrace {
  enum State : int { idle = 0, busy = 1, starved = 2, blocked = 3 };
  int state = busy;  // the waveform's signal (synchronized mode): as of SystemC time
  bool waveform = false;
  TraceWindow window;
  struct Stall {
    Cycle from, to;
    State why;
    const ChannelBase* channel;
  };
  std::vector<Stall> stalls;  // those overlapping the window, in time order
};

template <class T>
class In;
template <class T>
class Out;
template <class T>
class ReadOp;
template <class T>
class ReadIntoOp;
template <class T>
class WriteOp;
class LinkRequestOp;
class SharedLink;

// The coroutine type of a unit's behaviour. It starts suspended; the unit's scheduler resumes
// it. An exception escaping the body is kept and rethrown from the resume.
class Task {
 public:
  struct promise_type {
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
    std::exception_ptr error;
  };

  Task() = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
  }

  explicit operator bool() const { return bool(handle_); }
  bool done() const { return handle_.done(); }
  void resume() {
    handle_.resume();
    if (handle_.done() && handle_.promise().error) std::rethrow_exception(handle_.promise().error);
  }

 private:
  explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  std::coroutine_handle<promise_type> handle_;
};

// One firing of a unit, as a range over its shape yields them (Unit::firings).
struct Firing {
  std::size_t row = 0;
  std::size_t index = 0;    // position in the row
  std::size_t row_len = 0;  // elements in this row
  bool row_start() const { return index == 0; }
  bool row_end() const { return index + 1 == row_len; }
};

// A unit is a sequence of firings. Its behaviour, `body()`, is one coroutine of straight-line
// code, the way the paper's dataflow diagrams read: `co_await read(port)` takes the next element
// (advancing the local cycle to its ready stamp), computation happens in locals, and
// `co_await write(port, value)` sends a result due at the firing's issue cycle plus the latency.
// The issue cycle is the local cycle at the firing's first write; the next firing issues II
// cycles after the firing ends. `for (const Firing& f : firings())` iterates the unit's shape,
// ending each firing at the loop's increment; a unit whose loop is its own calls next_firing().
//
// Port operations never block the host: one that cannot complete yet (empty or full channel,
// or SystemC time behind the unit in synchronized mode) suspends the coroutine, and the
// scheduler completes the operation and resumes the body later. Locals live across suspension
// in the coroutine's frame, so a body is just the unit's algorithm. A write may run other units'
// bodies in place (scheduler.h), and an exception from one passes through it: a body must not
// catch exceptions around a port operation.
class Unit : public sc_core::sc_module {
 public:
  Unit(const sc_core::sc_module_name& name, Timing timing, RowShape shape);

  Cycle cycle() const { return t_; }
  const Timing& timing() const { return timing_; }
  // Cycles from an issue to its result, as the depth rules see them (a stream reader adds the
  // memory's latency to its own).
  virtual Cycle result_latency() const { return timing_.latency; }
  const RowShape& shape() const { return shape_; }
  // Firings the shape plans (some units loop on their own count: then 0); and those done.
  Cycle planned_firings() const { return shape_.elements(); }
  Cycle firings_done() const { return fired_; }
  bool finished() const { return finished_; }
  // Rows of the shape with a firing done, a row in progress (a stopped run's) included. From
  // the firings done, walking the shape: for reports, nothing on the hot path.
  Cycle rows_begun() const;
  // The arithmetic one firing computes (hw/actions.h; docs/cost.md): the operators the unit
  // instantiates, shared over its II cycles. Units without arithmetic: none.
  virtual OpCounts operators() const { return {}; }
  // The arithmetic done: operators() per firing done, or less where the unit's code skips
  // operations (a row's first firing of the running max). Counted from the firings, so that
  // counting costs the simulation nothing.
  virtual OpCounts ops_done() const { return operators() * fired_; }
  // True when this unit passed the watchdog's cycle limit and stopped.
  bool stopped_by_watchdog() const { return stopped_by_watchdog_; }
  // Records its states: traced as `<name>.state` in `waveform` (if given), stalls in `window`.
  // During elaboration.
  void watch(sc_core::sc_trace_file* waveform, TraceWindow window);
  // What watch() recorded; null if unwatched. (Not `trace()`, which would hide sc_object's.)
  const UnitTrace* timeline() const { return trace_.get(); }
  // The format its results take on its output channels (the graph sets it; fp32 by default).
  void set_compute_format(Format f) { format_ = f; }

 protected:
  // The unit's behaviour. Called once, at the end of elaboration.
  virtual Task body() = 0;

  // Awaitables for the body (defined in hw/channel.h, with the ports).
  //   const T x = co_await read(port);    the next element
  //   co_await read(port, x);             the same into x, swapping storage (rows circulate)
  //   co_await write(port, value);        to every channel of the port, in binding order
  //   co_await write(port, value, due);   with an explicit due cycle (memory reads)
  template <class T>
  ReadOp<T> read(In<T>& port);
  template <class T>
  ReadIntoOp<T> read(In<T>& port, T& into);
  template <class T, class V>
  WriteOp<T> write(Out<T>& port, V&& value);
  template <class T, class V>
  WriteOp<T> write(Out<T>& port, V&& value, Cycle due);
  //   co_await write(port, value, due, first, count);   to `count` of its channels from `first`
  template <class T, class V>
  WriteOp<T> write(Out<T>& port, V&& value, Cycle due, std::size_t first, std::size_t count);
  template <class T, class V>
  T result(V&& value) const;

  // When the current firing's results are due: its issue cycle (the local cycle at its first
  // write) plus the latency. Fan-out writes and every write of the firing share it.
  Cycle due() {
    if (!issued_) {
      issue_ = t_;
      issued_ = true;
    }
    return issue_ + timing_.latency;
  }

  // Ends the current firing: the next one issues II cycles later.
  void next_firing() {
    t_ += timing_.ii;
    issued_ = false;
    ++fired_;
  }

  // The firings of the unit's shape, row by row; the loop's increment ends each firing.
  class Firings {
   public:
    class iterator {
     public:
      const Firing& operator*() const { return f_; }
      iterator& operator++() {
        unit_->next_firing();
        if (++f_.index == f_.row_len) {
          f_.index = 0;
          f_.row_len = next_row();
        }
        return *this;
      }
      bool operator!=(const iterator& end) const { return f_.row != end.f_.row; }

     private:
      friend class Firings;
      iterator(Unit* unit, std::size_t row) : unit_(unit), f_{row, 0, 0} {
        f_.row_len = skip_empty_rows();
      }
      std::size_t next_row() {
        ++f_.row;
        return skip_empty_rows();
      }
      std::size_t skip_empty_rows() {
        const RowShape& s = unit_->shape_;
        for (; f_.row < s.rows; ++f_.row)
          if (const std::size_t len = s.row_length(f_.row); len != 0) return len;
        return 0;
      }
      Unit* unit_;
      Firing f_;
    };
    iterator begin() const { return iterator(unit_, 0); }
    iterator end() const { return iterator(unit_, unit_->shape_.rows); }

   private:
    friend class Unit;
    explicit Firings(Unit* unit) : unit_(unit) {}
    Unit* unit_;
  };
  Firings firings() { return Firings(this); }

 private:
  friend class ChannelBase;
  friend class Scheduler;
  template <class T>
  friend class In;
  template <class T>
  friend class Out;
  template <class T>
  friend class ReadOp;
  template <class T>
  friend class ReadIntoOp;
  template <class T>
  friend class WriteOp;
  friend class LinkRequestOp;
  friend class SharedLink;

  // The operation the body is suspended on, completed by the scheduler before it resumes the
  // body: a type-erased pointer to the awaiter in the coroutine's frame.
  struct PendingOp {
    bool (*attempt)(void*) = nullptr;
    void* op = nullptr;
  };
  template <class Op>
  void suspend_on(Op* op) {
    pending_ = {&retry<Op>, op};
  }
  // Flattened, as the bodies are: the retry inlines the channel operation.
  template <class Op>
  [[gnu::flatten]] static bool retry(void* op) {
    return static_cast<Op*>(op)->attempt();
  }

  // Completes the pending operation if it can, then runs the body until it suspends again or
  // ends. Returns without resuming if the operation still cannot complete.
  void step() {
    if (pending_.op != nullptr) {
      if (!pending_.attempt(pending_.op)) return;
      pending_.op = nullptr;
    }
    task_.resume();
    finished_ = task_.done();
  }
  // Decoupled mode's test: a unit that cannot move until something wakes it, if ever.
  bool idle() const { return blocked_on_channel_ || finished_ || stopped_by_watchdog_; }

  // Synchronized mode: blocked until SystemC time reaches `cycle`, not on a channel.
  void block_until(Cycle cycle) {
    waits_for_time_ = true;
    resume_at_ = cycle;
  }
  // Called by a channel this unit is blocked on, or the shared link that grants its request, once
  // the operation can proceed (scheduler.h).
  inline void wake();
  void end_of_elaboration() override;

  Timing timing_;
  RowShape shape_;
  Format format_ = Format::fp32;
  Task task_;
  PendingOp pending_;

  Cycle t_ = 0;
  Cycle issue_ = 0;
  bool issued_ = false;
  Cycle fired_ = 0;
  bool finished_ = false;

  bool waits_for_time_ = false;  // synchronized mode, until the scheduler's wait
  Cycle resume_at_ = 0;
  bool stopped_by_watchdog_ = false;

  Scheduler* scheduler_ = nullptr;
  bool source_ = false;  // no input ports (a stream reader): the scheduler refills it early
  bool blocked_on_channel_ = false;  // until the channel wakes it: off the run stack
  bool synchronized_ = false;
  // Null unless watched: the hot path tests it only where a unit stalls or blocks. Beside the
  // flags that path touches anyway (same cache line).
  std::unique_ptr<UnitTrace> trace_;
  sc_core::sc_event woken_;  // synchronized mode
};

}  // namespace sdpa
