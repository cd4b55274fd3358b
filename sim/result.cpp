#include "sim/result.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sdpa {

const char* to_string(Status status) {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::deadlock:
      return "deadlock";
    case Status::mismatch:
      return "mismatch";
    case Status::timeout:
      return "timeout";
    case Status::unverified:
      return "unverified";
  }
  return "?";
}

const char* to_string(LimitReason reason) {
  switch (reason) {
    case LimitReason::deadlock:
      return "deadlock";
    case LimitReason::starved:
      return "starved";
    case LimitReason::producer_stalls:
      return "producer_stalls";
    case LimitReason::consumer_stalls:
      return "consumer_stalls";
    case LimitReason::high_water:
      return "high_water";
  }
  return "?";
}

namespace {

// Each channel's place in its lane: the index of its first lane's copy, which its copies share
// (channels come lane by lane, each lane's in the graph's order: its stream buffers, then the
// others in dataflow order).
std::vector<std::size_t> places_in_lane(const std::vector<ChannelStats>& channels) {
  std::map<std::string, std::size_t> first;
  std::vector<std::size_t> place;
  place.reserve(channels.size());
  for (std::size_t i = 0; i < channels.size(); ++i)
    place.push_back(first.try_emplace(key_name(channels[i].name), i).first->second);
  return place;
}

}  // namespace

LimitingChannel limiting_channel(const std::vector<ChannelStats>& channels,
                                 const std::vector<bool>& writer_blocked,
                                 const std::vector<bool>& reader_blocked, bool deadlocked,
                                 const std::vector<Cycle>& first_row) {
  LimitingChannel limit;
  const std::vector<std::size_t> place = places_in_lane(channels);
  if (deadlocked) {
    // The last in a lane, of the first lane among its copies.
    std::optional<std::size_t> last;
    for (std::size_t i = 0; i < channels.size(); ++i)
      if (writer_blocked[i] && (!last || place[i] > place[*last])) last = i;
    if (last) return {*last, LimitReason::deadlock, 0};
    for (std::size_t i = 0; i < channels.size(); ++i)
      if (reader_blocked[i]) return {i, LimitReason::starved, 0};
  }
  // A tie to the channel later in a lane, downstream, and of its copies to the first lane's, as
  // the busiest unit's tie goes: lanes alike name their first.
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const ChannelStats& c = channels[i];
    Cycle stalls = c.producer_stall_cycles;
    if (c.input_stream) stalls = waits_beyond_first_row(c, first_row[i]);
    if (stalls != 0 && (stalls > limit.stall_cycles ||
                        (stalls == limit.stall_cycles && place[i] > place[limit.channel])))
      limit = {i, c.input_stream ? LimitReason::consumer_stalls : LimitReason::producer_stalls,
               stalls};
  }
  if (limit.stall_cycles != 0) return limit;
  Cycle most = 0;
  bool found = false;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const ChannelStats& c = channels[i];
    if (c.input_stream || (found && c.high_water * c.width <= most)) continue;
    limit.channel = i;
    most = c.high_water * c.width;
    found = true;
  }
  return limit;
}

const char* to_string(BottleneckKind kind) {
  switch (kind) {
    case BottleneckKind::none:
      return "none";
    case BottleneckKind::slow_ii:
      return "slow_ii";
    case BottleneckKind::small_fifo:
      return "small_fifo";
    case BottleneckKind::memory_latency:
      return "memory_latency";
    case BottleneckKind::memory_bandwidth:
      return "memory_bandwidth";
    case BottleneckKind::stopped:
      return "stopped";
  }
  return "?";
}

}  // namespace sdpa
