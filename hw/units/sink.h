// Sink: takes the output rows of a datapath and keeps them for the host-side check.
#pragma once

#include <atomic>
#include <vector>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

class Sink : public Unit {
 public:
  static constexpr Timing default_timing{1, 1};
  In<Row> out_rows{"out_rows"};

  Sink(const sc_core::sc_module_name& name, Timing timing, std::size_t rows, std::size_t head_dim)
      : Unit(name, timing, RowShape{rows, 1}), head_dim_(head_dim) {}

  std::size_t rows_expected() const { return shape().rows; }
  // Safe to read from another OS thread (progress reports) while the simulation runs.
  std::size_t rows_taken() const { return taken_.load(std::memory_order_relaxed); }
  // The run's cycle count: the ready stamp of the last output row taken.
  Cycle last_ready() const { return last_ready_.load(std::memory_order_relaxed); }
  // Output O, row-major [rows, head_dim].
  const std::vector<float>& output() const { return output_; }

 private:
  [[gnu::flatten]] Task body() override {
    // Allocated when the run starts, not when the graph is built (its size is estimated first).
    output_.reserve(shape().rows * head_dim_);
    Row row;
    for (const Firing& f : firings()) {
      co_await read(out_rows, row);
      output_.insert(output_.end(), row.begin(), row.end());
      last_ready_.store(out_rows.ready(), std::memory_order_relaxed);
      taken_.store(f.row + 1, std::memory_order_relaxed);
    }
  }

  std::size_t head_dim_;
  std::atomic<std::size_t> taken_{0};
  std::atomic<Cycle> last_ready_{0};
  std::vector<float> output_;
};

}  // namespace sdpa
