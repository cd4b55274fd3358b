// Reduce units: fold a row of N elements into one result, emitted with the row's last element.
#pragma once

#include <algorithm>
#include <limits>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

template <class InT, class AccT, class F>
class RowReduce : public UnitOf<RowReduce<InT, AccT, F>> {
  friend UnitOf<RowReduce>;

 public:
  In<InT> in{"in"};
  Out<AccT> out{"out"};

  RowReduce(const sc_core::sc_module_name& name, Timing timing, RowShape shape, AccT init,
            F f = F{})
      : UnitOf<RowReduce>(name, timing, shape), init_(init), f_(f) {}

 private:
  void read_inputs() { this->read(in, x_); }
  void compute() { acc_ = f_(this->row_start() ? init_ : acc_, x_); }
  void write_outputs() {
    if (this->row_end()) this->write(out, acc_);
  }

  AccT init_;
  F f_;
  InT x_{};
  AccT acc_{};
};

struct MaxOp {
  float operator()(float acc, float x) const { return std::max(acc, x); }
};
struct SumOp {
  float operator()(float acc, float x) const { return acc + x; }
};
// l ← l·δ + c: the running sum of the reordered datapath, rescaled whenever the max moves.
struct RescaleSumOp {
  float operator()(float l, const Rescale& r) const { return l * r.delta + r.weight; }
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
