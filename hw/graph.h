// A dataflow graph built in one place: it owns its units and channels, gives each unit its
// timing and each channel its depth, and runs them with one scheduler.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hw/channel.h"
#include "hw/scheduler.h"

namespace sdpa {

// Parameters of a graph, by the local names of its units and channels.
struct GraphConfig {
  Clocking clocking;
  sc_core::sc_trace_file* trace = nullptr;    // traces occupancy and unit states (synchronized)
  TraceWindow events;                         // records stalls and occupancy for trace events
  std::map<std::string, Timing> timings;      // by unit name, over each unit's default
  std::size_t default_depth = 0;              // 0: every channel gets its rule's depth
  std::map<std::string, std::size_t> depths;  // by channel name, over both of the above
  // The format of every value a unit writes to a channel (numerics.compute).
  Format compute = Format::fp32;
};

// How deep a channel is unless configured: the timing contract's rules (docs/timing.md).
class Depth {
 public:
  // The producer's latency + 1: one element per cycle on a plain edge.
  static Depth latency_plus_one() { return Depth(Rule::latency_plus_one); }
  // A row of `row_len` plus the latencies of `units`: a bypass around a row reduction holds a
  // row while the reduction finishes (the producer's and the reduction's latencies).
  static Depth row_plus(std::size_t row_len, std::initializer_list<const Unit*> units) {
    return Depth(Rule::row_plus, row_len, units);
  }
  static Depth exactly(std::size_t depth) { return Depth(Rule::exactly, depth); }
  // A result per row of `rows`, which the consumer takes at the start of the row's elements
  // (a broadcast operand): the producer's latency + 1, or more where short rows follow long
  // ones (causal): the consumer, still on a long row, falls behind the short rows' results.
  static Depth per_row_result(const RowShape& rows) {
    return Depth(Rule::per_row_result, 0, {}, rows);
  }
  // A result per row of `rows` that the consumer takes with the same row's result from each of
  // `others` (a row's sum with its accumulator): the producer's latency + 1, or more where short
  // rows bring their results while an earlier row's waits for the latest of them.
  static Depth joined_row_result(const RowShape& rows, std::initializer_list<const Unit*> others) {
    return Depth(Rule::joined_row_result, 0, others, rows);
  }

  std::size_t of(const Unit& producer) const;
  // Of the units whose latencies the rule counts, the one with the largest: what an automatic
  // depth grows with, beside the rows.
  const Unit& slowest(const Unit& producer) const;
  // A bypass's latencies beyond its row (row_plus: the producer's and the reduction's), which
  // it holds each element for at full rate; 0 for the other rules.
  std::size_t row_latency() const;

 private:
  enum class Rule { latency_plus_one, row_plus, exactly, per_row_result, joined_row_result };
  explicit Depth(Rule rule, std::size_t base = 0, std::vector<const Unit*> units = {},
                 RowShape rows = {})
      : rule_(rule), base_(base), units_(std::move(units)), rows_(std::move(rows)) {}
  Rule rule_;
  std::size_t base_;                // row_plus: the row; exactly: the depth
  std::vector<const Unit*> units_;  // row_plus: the reductions; joined_row_result: the others
  RowShape rows_;                   // the rows whose results the channel carries
};

class Graph : public sc_core::sc_module {
 public:
  // One edge of a fan-out: the consumer's port, the channel's name and its depth rule.
  template <class T>
  struct Branch {
    In<T>& to;
    std::string name;
    Depth depth = Depth::latency_plus_one();
  };

  // A channel and what the graph knows about it.
  struct Edge {
    ChannelBase* channel;
    std::string stage;  // the group it is shown in (waveforms)
    const Unit* producer;
    const Unit* consumer;
    std::size_t row_latency = 0;    // a bypass's (Depth::row_latency), 0 for other channels
    const Unit* slowest = nullptr;  // Depth::slowest: the latency its automatic depth grows with
  };

  Graph(const sc_core::sc_module_name& name, const GraphConfig& config, std::size_t vector_width);
  ~Graph() override;

  // Creates a unit named `name`, a child of this graph, with its timing: the configured one, or
  // U::default_timing. The order of creation is the order of the report's rows (the scheduler's
  // order changes speed, never results): create producers first, as the graph reads.
  template <class U, class... Args>
  U& unit(const std::string& name, Args&&... args) {
    claim(name);
    auto owned = std::make_unique<U>(name.c_str(), timing(name, U::default_timing),
                                     std::forward<Args>(args)...);
    U& ref = *owned;
    adopt(std::move(owned));  // checks it is this graph's child
    return ref;
  }

  // Connects `from` to `to` through a new channel named `name`.
  template <class T>
  Channel<T>& connect(Out<T>& from, In<T>& to, const std::string& name,
                      Depth depth = Depth::latency_plus_one()) {
    return fan_out(from, {Branch<T>{to, name, depth}}).front();
  }
  // Connects `from` to several consumers, one channel each, which the producer writes in the
  // order given (the order decides when a bounded bypass deadlocks: docs/timing.md).
  template <class T>
  std::vector<std::reference_wrapper<Channel<T>>> fan_out(Out<T>& from,
                                                          std::vector<Branch<T>> branches) {
    const Unit& producer = owner(from);
    if (!connected_.insert(&from).second || broadcast_.count(&from) != 0)
      SC_REPORT_ERROR(name(), (std::string(from.name()) +
                               " is connected twice: give a fan-out's branches in one call")
                                  .c_str());
    std::vector<std::reference_wrapper<Channel<T>>> made;
    for (Branch<T>& b : branches)
      made.push_back(make_channel(from, b.to, b.name, b.depth, producer));
    return made;
  }

  // One branch of a broadcast built one consumer at a time (lane by lane): the producer writes
  // the branches in the order they are added. An output is broadcast or connected, not both.
  template <class T>
  Channel<T>& add_branch(Out<T>& from, In<T>& to, const std::string& name,
                         Depth depth = Depth::latency_plus_one()) {
    if (connected_.count(&from) != 0)
      SC_REPORT_ERROR(this->name(),
                      (std::string(from.name()) + " is connected, not broadcast").c_str());
    broadcast_.insert(&from);
    return make_channel(from, to, name, depth, owner(from));
  }

  // Builds what `build` makes as the children of a module `name` inside this graph (a lane:
  // `lane2.row_max`); it runs at once.
  void scope(const std::string& name, const std::function<void()>& build);

  // Channels made from here on are shown under `label`.
  void stage(std::string label) { stage_ = std::move(label); }

  const std::vector<Unit*>& units() const { return units_; }
  const std::vector<Edge>& edges() const { return edges_; }
  std::vector<ChannelBase*> channels() const;
  // The units' default timings by name, and the configured names the graph used.
  const std::map<std::string, Timing>& default_timings() const { return default_timings_; }
  const std::set<std::string>& used_timing_keys() const { return used_timings_; }
  const std::set<std::string>& used_depth_keys() const { return used_depths_; }
  const GraphConfig& config() const { return config_; }
  // Host memory of every channel's storage.
  std::uint64_t channel_storage_bytes() const;

  // Refuses, as an elaboration error naming it, a unit not made with unit<U>() and a port of a
  // unit left unconnected once the graph is built: SystemC finds them only when the simulation
  // starts, which checking a configuration never does.
  void require_connected() const;

  // Replaces the watchdog's limit on every channel; before the simulation starts. A graph with
  // other timed parts (a shared memory link) extends it.
  virtual void set_cycle_limit(Cycle max_cycles);

  const Scheduler& scheduler() const { return scheduler_; }

 protected:
  // A resource whose grants the scheduler releases when every unit waits (SharedLink).
  void add_arbiter(Arbiter& arbiter) { scheduler_.add(arbiter); }

 private:
  template <class T>
  Channel<T>& make_channel(Out<T>& from, In<T>& to, const std::string& name, const Depth& rule,
                           const Unit& producer) {
    claim(name);
    auto owned = std::make_unique<Channel<T>>(name.c_str(), depth(name, rule, producer),
                                              element_width<T>(vector_width_), config_.clocking,
                                              config_.trace);
    Channel<T>& ch = *owned;
    ch.set_element_bytes(bytes_of(config_.compute));
    from(ch);
    to(ch);
    add_edge(std::move(owned), producer, owner(to), rule.row_latency(), rule.slowest(producer));
    return ch;
  }
  // Refuses a name that a unit, channel or scope of the same scope has already: SystemC would
  // rename the new object with only a warning, and its parameter keys with it.
  void claim(const std::string& name) const;
  Timing timing(const std::string& unit, Timing default_timing);
  std::size_t depth(const std::string& channel, const Depth& rule, const Unit& producer);
  const Unit& owner(const sc_core::sc_object& port) const;
  void adopt(std::unique_ptr<Unit> unit);
  void add_edge(std::unique_ptr<ChannelBase> channel, const Unit& producer, const Unit& consumer,
                std::size_t row_latency, const Unit& slowest);

  GraphConfig config_;
  std::size_t vector_width_;
  Scheduler scheduler_;
  // Declared before the units and channels, so destroyed after them: scopes are their parents.
  std::vector<std::unique_ptr<sc_core::sc_module>> scopes_;
  std::vector<std::unique_ptr<Unit>> owned_units_;
  std::vector<Unit*> units_;
  std::vector<std::unique_ptr<ChannelBase>> owned_channels_;
  std::vector<Edge> edges_;
  std::map<std::string, Timing> default_timings_;
  std::set<std::string> used_timings_, used_depths_;
  std::set<const sc_core::sc_object*> connected_, broadcast_;  // output ports
  std::string stage_;
  std::string scope_;  // the scope being built, as a name prefix (`lane2.`), or ""
};

}  // namespace sdpa
