// sc_spawn: the synchronized mode's decision method.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "hw/shared_link.h"

#include <algorithm>
#include <string>

namespace sdpa {

SharedLink::SharedLink(const sc_core::sc_module_name& name, const MemoryTiming& memory,
                       const Clocking& clocking)
    : sc_module(name),
      bytes_per_cycle_(memory.bytes_per_cycle),
      synchronized_(clocking.mode == Mode::synchronized),
      period_(clocking.period),
      max_cycles_(clocking.max_cycles) {
  if (!synchronized_) return;
  sc_core::sc_spawn_options options;
  options.spawn_method();
  options.set_sensitivity(&decide_);
  options.dont_initialize();
  sc_core::sc_spawn([this] { decide(); }, "decide", &options);
}

std::size_t SharedLink::attach(Unit& stream) {
  streams_.push_back({&stream});
  last_granted_ = streams_.size() - 1;
  return last_granted_;
}

bool SharedLink::try_grant(std::size_t s, Cycle request, std::size_t bytes, Cycle& last_beat) {
  Stream& stream = streams_[s];
  if (request > max_cycles_) {
    stream.unit->stopped_by_watchdog_ = true;
    return false;
  }
  if (!stream.waiting && !stream.granted) {
    stream.waiting = true;
    stream.request = request;
    stream.bytes = bytes;
    if (synchronized_) {
      // Every request of cycle `request` is made by its end (a unit runs at or before its cycle).
      notify_decide(request);
    } else {
      for (std::size_t next = earliest(); next != streams_.size() && safe(next); next = earliest())
        grant(next);
    }
  }
  if (!stream.granted) {
    stream.unit->blocked_on_channel_ = true;
    return false;
  }
  stream.granted = false;
  last_beat = stream.last_beat;
  return true;
}

std::size_t SharedLink::earliest() const {
  std::size_t best = streams_.size();
  for (std::size_t s = 0; s < streams_.size(); ++s) {
    const Stream& c = streams_[s];
    if (!c.waiting) continue;
    if (best == streams_.size() || c.request < streams_[best].request ||
        (c.request == streams_[best].request && rank(s) < rank(best)))
      best = s;
  }
  return best;
}

bool SharedLink::safe(std::size_t s) const {
  const Cycle request = streams_[s].request;
  for (std::size_t o = 0; o < streams_.size(); ++o) {
    const Stream& other = streams_[o];
    // A waiting stream's request is no earlier (earliest() chose s); a finished one makes none.
    if (o == s || other.waiting || other.unit->finished() || other.unit->stopped_by_watchdog())
      continue;
    // Its next request is at its local cycle or later, and after its last one.
    const Cycle bound = std::max(other.unit->cycle(), other.next_earliest);
    if (bound < request || (bound == request && rank(o) < rank(s))) return false;
  }
  return true;
}

void SharedLink::grant(std::size_t s) {
  Stream& stream = streams_[s];
  const std::uint64_t start =
      std::max<std::uint64_t>(stream.request * bytes_per_cycle_, busy_until_);
  busy_until_ = start + stream.bytes;
  if (!window_.empty() && busy_until_ > window_.from * bytes_per_cycle_ &&
      start < window_.to * bytes_per_cycle_)
    carried_.push_back({start, busy_until_});
  stream.last_beat = (busy_until_ + bytes_per_cycle_ - 1) / bytes_per_cycle_ - 1;
  stream.next_earliest = stream.request + 1;
  stream.waiting = false;
  stream.granted = true;
  last_granted_ = s;
  stream.unit->wake();
}

bool SharedLink::grant_earliest() {
  for (const Stream& stream : streams_)
    if (stream.granted) return true;
  const std::size_t s = earliest();
  if (s == streams_.size()) return false;
  grant(s);
  return true;
}

void SharedLink::decide() {
  const Cycle now = sc_core::sc_time_stamp().value() / period_.value();  // cycles begun
  std::size_t s = earliest();
  for (; s != streams_.size() && streams_[s].request < now; s = earliest()) grant(s);
  if (s != streams_.size()) notify_decide(streams_[s].request);
}

void SharedLink::notify_decide(Cycle request) {
  const auto at = sc_core::sc_time::from_value((request + 1) * period_.value());
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  decide_.notify(at > now ? at - now : sc_core::SC_ZERO_TIME);
}

}  // namespace sdpa
