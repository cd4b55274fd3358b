// Map units: one result per element. Map applies f(x); RowBroadcastMap applies f(x, a) with an
// operand a read once per row and broadcast over the row's elements.
#pragma once

#include <cmath>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

template <class InT, class OutT, class F>
class Map : public Unit {
 public:
  static constexpr Timing default_timing = F::timing;
  In<InT> in{"in"};
  Out<OutT> out{"out"};

  Map(const sc_core::sc_module_name& name, Timing timing, RowShape shape, F f = F{})
      : Unit(name, timing, shape), f_(f) {}
  OpCounts operators() const override { return operators_of(f_); }

 private:
  [[gnu::flatten]] Task body() override {
    for ([[maybe_unused]] const Firing& f : firings()) {
      const InT x = co_await read(in);
      co_await write(out, f_(x));
    }
  }

  F f_;
};

// The operand is read together with the row's first element: no extra cycle per row.
template <class ElemT, class OperandT, class OutT, class F>
class RowBroadcastMap : public Unit {
 public:
  static constexpr Timing default_timing = F::timing;
  In<OperandT> operand{"operand"};
  In<ElemT> in{"in"};
  Out<OutT> out{"out"};

  RowBroadcastMap(const sc_core::sc_module_name& name, Timing timing, RowShape shape, F f = F{})
      : Unit(name, timing, shape), f_(f) {}
  OpCounts operators() const override { return operators_of(f_); }

 private:
  [[gnu::flatten]] Task body() override {
    OperandT a{};
    ElemT x{};
    for (const Firing& f : firings()) {
      if (f.row_start()) co_await read(operand, a);
      co_await read(in, x);
      co_await write(out, f_(x, a));
    }
  }

  F f_;
};

// Each operator's default timing is its unit's (params/default.yaml lists them all), and its
// operators() the arithmetic one call does (hw/cost.h).
struct ExpOp {
  static constexpr Timing timing{4, 1};
  float operator()(float x) const { return std::exp(x); }
  OpCounts operators() const { return {{Op::exp, 1}}; }
};
struct SubtractOp {
  static constexpr Timing timing{1, 1};
  float operator()(float x, float a) const { return x - a; }
  OpCounts operators() const { return {{Op::add, 1}}; }
};
struct DivideOp {
  static constexpr Timing timing{4, 1};
  float operator()(float x, float a) const { return x / a; }
  OpCounts operators() const { return {{Op::divide, 1}}; }
};
// d divides, not a reciprocal and d multiplies: what the code computes (o[c] / l).
struct RowDivideOp {
  static constexpr Timing timing{4, 1};
  std::size_t head_dim = 0;
  OpCounts operators() const { return {{Op::divide, head_dim}}; }
  Row operator()(const Row& o, float l) const {
    Row r(o.size());
    for (std::size_t c = 0; c < o.size(); ++c) r[c] = o[c] / l;
    return r;
  }
};

// q·k/√d with the query row broadcast over the N keys of its row.
// An adder tree over d.
struct ScaledDotOp {
  static constexpr Timing timing{4, 1};
  float scale;
  std::size_t head_dim = 0;
  // d multiply-adds, then the scale's multiply.
  OpCounts operators() const { return {{Op::multiply_add, head_dim}, {Op::multiply, 1}}; }
  float operator()(const RowView& k, const RowView& q) const {
    float acc = 0;
    for (std::size_t c = 0; c < q.size(); ++c) acc += q[c] * k[c];
    return acc * scale;
  }
};

using Exp = Map<float, float, ExpOp>;
// score − row max: the naive datapath's max subtraction.
using Subtract = RowBroadcastMap<float, float, float, SubtractOp>;
// exp / row sum: the naive datapath's per-element normalisation.
using Divide = RowBroadcastMap<float, float, float, DivideOp>;
// o / l once per row: the reordered datapath's only division (row_len = 1).
using RowDivide = RowBroadcastMap<Row, float, Row, RowDivideOp>;
using DotProduct = RowBroadcastMap<RowView, RowView, float, ScaledDotOp>;

}  // namespace sdpa
