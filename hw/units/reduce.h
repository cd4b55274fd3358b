// Reduce units: fold a row of N elements into one result, emitted with the row's last element.
#pragma once

#include <algorithm>
#include <limits>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

template <class InT, class AccT, class F>
class RowReduce : public Unit {
 public:
  static constexpr Timing default_timing = F::timing;
  In<InT> in{"in"};
  Out<AccT> out{"out"};

  RowReduce(const sc_core::sc_module_name& name, Timing timing, RowShape shape, AccT init,
            F f = F{})
      : Unit(name, timing, shape), init_(init), f_(f) {}
  // A row's first firing computes too: f(init, x).
  OpCounts operators() const override { return operators_of(f_); }

 private:
  [[gnu::flatten]] Task body() override {
    AccT acc = init_;
    for (const Firing& f : firings()) {
      const InT x = co_await read(in);
      acc = f_(f.row_start() ? init_ : acc, x);
      if (f.row_end()) co_await write(out, acc);
    }
  }

  AccT init_;
  F f_;
};

struct MaxOp {
  static constexpr Timing timing{1, 1};
  float operator()(float acc, float x) const { return std::max(acc, x); }
  // The max so far is one of the row's scores, a compute-format value: a compare of the format.
  OpCounts operators() const { return {{Op::compare, OpFormat::compute, 1}}; }
};
struct SumOp {
  static constexpr Timing timing{1, 1};
  float operator()(float acc, float x) const { return acc + x; }
  OpCounts operators() const { return {{Op::add, OpFormat::fp32, 1}}; }  // into the fp32 sum
};
// l ← l·δ + c: the running sum of the reordered datapath, rescaled whenever the max moves.
struct RescaleSumOp {
  static constexpr Timing timing{2, 1};
  float operator()(float l, const Rescale& r) const { return l * r.delta + r.weight; }
  OpCounts operators() const { return {{Op::multiply_add, OpFormat::fp32, 1}}; }  // l is fp32
};

class RowMax : public RowReduce<float, float, MaxOp> {
 public:
  RowMax(const sc_core::sc_module_name& name, Timing timing, RowShape shape)
      : RowReduce(name, timing, shape, -std::numeric_limits<float>::infinity()) {}
};

class RowSum : public RowReduce<float, float, SumOp> {
 public:
  RowSum(const sc_core::sc_module_name& name, Timing timing, RowShape shape)
      : RowReduce(name, timing, shape, 0.0f) {}
};

class RunningSum : public RowReduce<Rescale, float, RescaleSumOp> {
 public:
  RunningSum(const sc_core::sc_module_name& name, Timing timing, RowShape shape)
      : RowReduce(name, timing, shape, 0.0f) {}
};

}  // namespace sdpa
