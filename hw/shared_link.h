// SharedLink: one link to memory whose bandwidth every stream reader of a datapath shares
// (memory.ports: shared), arbitrated in time order, identically in both modes.
#pragma once

#include <cstdint>
#include <systemc>
#include <vector>

#include "hw/memory.h"
#include "hw/scheduler.h"
#include "hw/unit.h"

namespace sdpa {

// Requests are granted in the order of their request cycles, ties round-robin from the stream
// after the one granted last; the link is work-conserving: a request starts when it is made or
// when the link has carried every earlier request's bytes, `bytes_per_cycle` per cycle (rows
// smaller than that share a cycle). A request of `bytes` starting at byte-time s ends at
// e = s + bytes; its last beat leaves in cycle ceil(e / B) − 1.
//
// Time order without a global clock: a request is granted once no other stream can still make
// an earlier one. Decoupled mode knows that when every other stream is finished, waits with a
// request of its own, or has a local cycle past it (a stream's requests never go back in time);
// otherwise, when the whole datapath is blocked, the earliest waiting request is safe (every
// future request follows a grant through a memory latency of at least one cycle). Synchronized
// mode decides the requests of cycle c at cycle c + 1, when all of them have been made.
class SharedLink : public sc_core::sc_module, public Arbiter {
 public:
  SharedLink(const sc_core::sc_module_name& name, const MemoryTiming& memory,
             const Clocking& clocking);

  // A stream reader, once, during elaboration; returns its index.
  std::size_t attach(Unit& stream);

  // Stream `stream`'s request of `bytes` at cycle `request`. True, with the cycle in which its
  // last beat leaves the link, once granted; false (the stream blocked) until then. The stream
  // repeats the same call until it returns true. A request past the watchdog's limit stops the
  // stream, as a channel operation would: false, for good.
  bool try_grant(std::size_t stream, Cycle request, std::size_t bytes, Cycle& last_beat);

  // Replaces the watchdog's limit from the clocking; before the simulation starts.
  void set_cycle_limit(Cycle max_cycles) { max_cycles_ = max_cycles; }

  // Decoupled mode, when no unit can move: grants the earliest waiting request. A stream
  // holding a grant it has not taken yet can still move: then it grants nothing and returns
  // true, since that stream's next request may come first.
  bool grant_earliest() override;

  // The cycle in which the last byte granted so far leaves the link (none granted: 0).
  Cycle last_beat() const {
    return busy_until_ == 0 ? 0 : (busy_until_ + bytes_per_cycle_ - 1) / bytes_per_cycle_ - 1;
  }

  // Records the grants that carry bytes in `window`, for trace events (during elaboration).
  void watch(TraceWindow window) { window_ = window; }
  // A grant's bytes on the link in byte-time (cycles × bytes_per_cycle): [start, end).
  struct Carried {
    std::uint64_t start, end;
  };
  // The watched window's grants, in time order (disjoint: the link carries one byte at a time).
  const std::vector<Carried>& carried() const { return carried_; }
  std::uint64_t bytes_per_cycle() const { return bytes_per_cycle_; }

 private:
  struct Stream {
    Unit* unit = nullptr;
    bool waiting = false;  // a request not yet granted
    bool granted = false;  // granted, not yet taken by the stream
    Cycle request = 0;
    std::size_t bytes = 0;
    Cycle last_beat = 0;
    Cycle next_earliest = 0;  // after its last request: a stream requests once per cycle at most
  };

  // The waiting stream to grant next in time order, or streams_.size() if none waits.
  std::size_t earliest() const;
  // True if no stream but `s` can still request before (or, ahead of it round-robin, at) its
  // request: decoupled mode's safety test.
  bool safe(std::size_t s) const;
  void grant(std::size_t s);
  void decide();  // synchronized mode, at each cycle after a request
  void notify_decide(Cycle request);
  // Position of stream s in the round-robin order, which starts after the last grant.
  std::size_t rank(std::size_t s) const {
    return (s + streams_.size() - last_granted_ - 1) % streams_.size();
  }

  std::uint64_t bytes_per_cycle_;
  bool synchronized_;
  sc_core::sc_time period_;
  Cycle max_cycles_;
  std::vector<Stream> streams_;
  std::uint64_t busy_until_ = 0;  // byte-time: cycles × bytes_per_cycle
  std::size_t last_granted_ = 0;  // the last stream attached, before any grant: K goes first
  TraceWindow window_;
  std::vector<Carried> carried_;
  sc_core::sc_event decide_;
};

}  // namespace sdpa
