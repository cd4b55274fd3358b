// Sink: takes the output rows of a datapath and keeps them for the host-side check.
#pragma once

#include <atomic>
#include <vector>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

class Sink : public Unit {
 public:
  SC_HAS_PROCESS(Sink);
  In<Row> out_rows{"out_rows"};

  Sink(const sc_core::sc_module_name& name, std::size_t rows, std::size_t head_dim)
      : Unit(name, Timing{}), rows_(rows), head_dim_(head_dim) {
    SC_THREAD(run);
  }

  std::size_t rows_expected() const { return rows_; }
  bool done() const { return rows_taken() == rows_; }
  // Safe to read from another OS thread (progress reports) while the simulation runs.
  std::size_t rows_taken() const { return taken_.load(std::memory_order_relaxed); }
  // The run's cycle count: the ready stamp of the last output row taken.
  Cycle last_ready() const { return last_ready_.load(std::memory_order_relaxed); }
  // Output O, row-major [rows, head_dim].
  const std::vector<float>& output() const { return output_; }

 private:
  void run() {
    output_.reserve(rows_ * head_dim_);
    Row row;
    for (std::size_t r = 0; r < rows_; ++r) {
      last_ready_.store(out_rows.read(row), std::memory_order_relaxed);
      output_.insert(output_.end(), row.begin(), row.end());
      taken_.store(r + 1, std::memory_order_relaxed);
      step();
    }
    finish();
  }

  std::size_t rows_;
  std::size_t head_dim_;
  std::atomic<std::size_t> taken_{0};
  std::atomic<Cycle> last_ready_{0};
  std::vector<float> output_;
};

}  // namespace sdpa
