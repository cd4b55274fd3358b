// Test units at the edges of a small graph: a feed writing given values and a collector keeping
// what it reads, one per firing.
#pragma once

#include <utility>
#include <vector>

#include "hw/channel.h"

namespace sdpa::test {

// Writes `values`, one per firing (rounded to the graph's compute format, as every unit's).
template <class T>
class Feed : public Unit {
 public:
  static constexpr Timing default_timing{1, 1};
  Out<T> out{"out"};
  Feed(const sc_core::sc_module_name& name, Timing timing, std::vector<T> values)
      : Unit(name, timing, RowShape{1, values.size()}), values_(std::move(values)) {}

 private:
  Task body() override {
    for (const Firing& f : firings()) co_await this->write(out, values_[f.index]);
  }
  std::vector<T> values_;
};

// Takes `count` elements.
template <class T>
class Collect : public Unit {
 public:
  static constexpr Timing default_timing{1, 1};
  In<T> in{"in"};
  std::vector<T> values;
  Collect(const sc_core::sc_module_name& name, Timing timing, std::size_t count)
      : Unit(name, timing, RowShape{1, count}) {}

 private:
  Task body() override {
    for ([[maybe_unused]] const Firing& f : firings()) values.push_back(co_await this->read(in));
  }
};

}  // namespace sdpa::test
