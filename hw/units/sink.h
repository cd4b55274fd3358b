// Sink: takes the output rows of a datapath and keeps them for the host-side check.
#pragma once

#include <atomic>
#include <vector>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

class Sink : public UnitOf<Sink> {
  friend UnitOf<Sink>;

 public:
  In<Row> out_rows{"out_rows"};

  Sink(const sc_core::sc_module_name& name, std::size_t rows, std::size_t head_dim)
      : UnitOf<Sink>(name, Timing{}, RowShape{rows, 1}) {
    output_.reserve(rows * head_dim);
  }

  std::size_t rows_expected() const { return firings(); }
  bool done() const { return rows_taken() == rows_expected(); }
  // Safe to read from another OS thread (progress reports) while the simulation runs.
  std::size_t rows_taken() const { return taken_.load(std::memory_order_relaxed); }
  // The run's cycle count: the ready stamp of the last output row taken.
  Cycle last_ready() const { return last_ready_.load(std::memory_order_relaxed); }
  // Output O, row-major [rows, head_dim].
  const std::vector<float>& output() const { return output_; }

 private:
  void read_inputs() { read(out_rows, row_); }
  void compute() {
    output_.insert(output_.end(), row_.begin(), row_.end());
    last_ready_.store(out_rows.ready(), std::memory_order_relaxed);
    taken_.store(row() + 1, std::memory_order_relaxed);
  }

  Row row_;
  std::atomic<std::size_t> taken_{0};
  std::atomic<Cycle> last_ready_{0};
  std::vector<float> output_;
};

}  // namespace sdpa
