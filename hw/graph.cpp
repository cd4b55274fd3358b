#include "hw/graph.h"

#include <algorithm>
#include <utility>

namespace sdpa {

namespace {

// The most results of `rows` that can wait in a per-row channel: result i waits beside those of
// the rows k before it that were issued at most window(k, M_k) cycles earlier, M_k the longest of
// rows 0..k, results coming ℓ cycles apart, one per row: ℓ_{k+1} + … + ℓ_i ≤ window(k, M_k).
// Lengths repeat from block to block, and every block holds the longest row, so two blocks hold
// every case. Never more than the rows (a lane without queries has none).
template <class Window>
std::size_t waiting_row_results(const RowShape& rows, Window window) {
  if (rows.period() == nullptr)
    return std::min(rows.rows,
                    1 + window(0, rows.row_len) / std::max<std::size_t>(rows.row_len, 1));
  const std::size_t span = std::min(rows.rows, 2 * rows.period()->size());
  std::size_t most = 1, longest = 0;
  for (std::size_t k = 0; k < span; ++k) {
    longest = std::max(longest, rows.row_length(k));
    const std::size_t limit = window(k, longest);
    std::size_t sum = 0, count = 1;
    for (std::size_t i = k + 1; i < rows.rows; ++i) {
      sum += rows.row_length(i);
      if (sum > limit) break;
      ++count;
    }
    most = std::max(most, count);
  }
  return most;
}

}  // namespace

std::size_t Depth::of(const Unit& producer) const {
  const std::size_t latency = producer.result_latency();
  switch (rule_) {
    case Rule::latency_plus_one:
      return latency + 1;
    case Rule::row_plus:
      return base_ + row_latency();
    case Rule::exactly:
      return base_;
    case Rule::per_row_result:
      // docs/timing.md, causal shapes: the consumer reaches row k's elements L + δ_k cycles
      // after the result's issue, δ_k = M_k − ℓ_k its lag behind the longest row so far.
      return std::max(latency + 1,
                      waiting_row_results(rows_, [&](std::size_t k, std::size_t longest) {
                        return latency + longest - rows_.row_length(k);
                      }));
    case Rule::joined_row_result: {
      // docs/timing.md, "Automatic depths": the consumer, one firing per row, takes row k's
      // results once the latest of them is ready, the largest latency after their issue.
      std::size_t latest = latency;
      for (const Unit* u : units_) latest = std::max<std::size_t>(latest, u->result_latency());
      return std::max(latency + 1,
                      waiting_row_results(rows_, [&](std::size_t, std::size_t) { return latest; }));
    }
  }
  return latency + 1;
}

const Unit& Depth::slowest(const Unit& producer) const {
  // A bypass's units include its producer; a joined result waits for the latest of its own.
  const Unit* slowest = rule_ == Rule::row_plus && !units_.empty() ? units_.front() : &producer;
  if (rule_ == Rule::row_plus || rule_ == Rule::joined_row_result)
    for (const Unit* u : units_)
      if (u->result_latency() > slowest->result_latency()) slowest = u;
  return *slowest;
}

std::size_t Depth::row_latency() const {
  std::size_t latency = 0;
  if (rule_ == Rule::row_plus)
    for (const Unit* u : units_) latency += u->result_latency();
  return latency;
}

Graph::Graph(const sc_core::sc_module_name& name, const GraphConfig& config,
             std::size_t vector_width)
    : sc_module(name),
      config_(config),
      vector_width_(vector_width),
      scheduler_("scheduler", config.clocking) {}

Graph::~Graph() = default;

Timing Graph::timing(const std::string& unit, Timing default_timing) {
  default_timings_.emplace(unit, default_timing);
  const auto it = config_.timings.find(unit);
  if (it == config_.timings.end()) return default_timing;
  used_timings_.insert(unit);
  return it->second;
}

std::size_t Graph::depth(const std::string& channel, const Depth& rule, const Unit& producer) {
  if (const auto it = config_.depths.find(channel); it != config_.depths.end()) {
    used_depths_.insert(channel);
    return it->second;
  }
  return config_.default_depth != 0 ? config_.default_depth : rule.of(producer);
}

const Unit& Graph::owner(const sc_core::sc_object& port) const {
  const auto* unit = dynamic_cast<const Unit*>(port.get_parent_object());
  if (unit == nullptr)
    SC_REPORT_FATAL(name(), (std::string(port.name()) + " is not a port of a unit").c_str());
  return *unit;
}

namespace {

// A module whose constructor runs a function: what it makes is the module's children.
struct Scope : sc_core::sc_module {
  Scope(const sc_core::sc_module_name& name, const std::function<void()>& build) : sc_module(name) {
    build();
  }
};

bool descends_from(const sc_core::sc_object* object, const sc_core::sc_object* ancestor) {
  for (; object != nullptr; object = object->get_parent_object())
    if (object == ancestor) return true;
  return false;
}

// A unit constructed directly, not with unit<U>(), is a child of the graph all the same, but
// nothing schedules or configures it: the run would stop as it starts ("not added to a
// Scheduler", or an unbound port), which checking a configuration never reaches.
void refuse_strays(const sc_core::sc_object& object, const std::vector<Unit*>& units,
                   const char* graph) {
  for (const sc_core::sc_object* child : object.get_child_objects()) {
    const auto* unit = dynamic_cast<const Unit*>(child);
    if (unit == nullptr)
      refuse_strays(*child, units, graph);
    else if (std::find(units.begin(), units.end(), unit) == units.end())
      SC_REPORT_ERROR(graph, (std::string(unit->name()) +
                              " was not made with unit<U>(name, ...): the graph neither "
                              "schedules nor configures it")
                                 .c_str());
  }
}

}  // namespace

void Graph::scope(const std::string& name, const std::function<void()>& build) {
  claim(name);
  const std::string outer = std::exchange(scope_, scope_ + name + ".");
  scopes_.push_back(std::make_unique<Scope>(name.c_str(), build));
  scope_ = outer;
}

void Graph::claim(const std::string& local) const {
  const std::string full = std::string(name()) + "." + scope_ + local;
  if (sc_core::sc_find_object(full.c_str()) != nullptr)
    SC_REPORT_ERROR(name(), (full + " is named twice: give each unit, channel and scope of a "
                                    "graph its own name")
                                .c_str());
}

void Graph::adopt(std::unique_ptr<Unit> unit) {
  // SystemC makes a module the child of the module under construction, which is this graph (or
  // a scope in it) only while the sc_module_name given to its constructor lives: a derived graph
  // takes it as a parameter, as every SystemC module does, and builds in its constructor.
  if (!descends_from(unit->get_parent_object(), this))
    SC_REPORT_ERROR(name(), (std::string(unit->name()) +
                             " is not this graph's child: build a graph in its constructor, "
                             "taking its sc_module_name as a parameter")
                                .c_str());
  if (config_.trace != nullptr || !config_.events.empty())
    unit->watch(config_.trace, config_.events);
  unit->set_compute_format(config_.compute);
  units_.push_back(unit.get());
  scheduler_.add(*unit);
  owned_units_.push_back(std::move(unit));
}

void Graph::add_edge(std::unique_ptr<ChannelBase> channel, const Unit& producer,
                     const Unit& consumer, std::size_t row_latency, const Unit& slowest) {
  if (!config_.events.empty()) channel->watch(config_.events);
  edges_.push_back({channel.get(), stage_, &producer, &consumer, row_latency, &slowest});
  owned_channels_.push_back(std::move(channel));
}

void Graph::require_connected() const {
  refuse_strays(*this, units_, name());
  for (const Unit* unit : units_)
    for (sc_core::sc_object* child : unit->get_child_objects())
      if (auto* port = dynamic_cast<sc_core::sc_port_base*>(child); port && port->bind_count() == 0)
        SC_REPORT_ERROR(name(), (std::string(port->name()) + " is not connected").c_str());
}

std::vector<ChannelBase*> Graph::channels() const {
  std::vector<ChannelBase*> out;
  for (const Edge& e : edges_) out.push_back(e.channel);
  return out;
}

std::uint64_t Graph::channel_storage_bytes() const {
  std::uint64_t bytes = 0;
  for (const Edge& e : edges_) bytes += e.channel->storage_bytes();
  return bytes;
}

void Graph::set_cycle_limit(Cycle max_cycles) {
  for (const Edge& e : edges_) e.channel->set_cycle_limit(max_cycles);
}

}  // namespace sdpa
