// Map units: one result per element. Map applies f(x); RowBroadcastMap applies f(x, a) with an
// operand a read once per row and broadcast over the row's elements.
#pragma once

#include <bit>
#include <cmath>
#include <vector>

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
// operators() the arithmetic one call does (hw/actions.h).
struct ExpOp {
  static constexpr Timing timing{4, 1};
  float operator()(float x) const { return std::exp(x); }
  OpCounts operators() const { return {{Op::exp, OpFormat::compute, 1}}; }
};
struct SubtractOp {
  static constexpr Timing timing{1, 1};
  float operator()(float x, float a) const { return x - a; }
  OpCounts operators() const { return {{Op::add, OpFormat::compute, 1}}; }
};
struct DivideOp {
  static constexpr Timing timing{4, 1};
  float operator()(float x, float a) const { return x / a; }
  OpCounts operators() const { return {{Op::divide, OpFormat::compute, 1}}; }
};
// d divides, not a reciprocal and d multiplies: what the code computes (o[c] / l).
struct RowDivideOp {
  static constexpr Timing timing{4, 1};
  std::size_t head_dim = 0;
  OpCounts operators() const { return {{Op::divide, OpFormat::compute, head_dim}}; }
  Row operator()(const Row& o, float l) const {
    Row r(o.size());
    for (std::size_t c = 0; c < o.size(); ++c) r[c] = o[c] / l;
    return r;
  }
};

// A dot-product unit's adder tree over d products: the n = bit_ceil(d) leaves (the products,
// then zeros) are added in halves, leaf c with leaf c + n/2, then c with c + n/4, and so on: a
// balanced binary tree of fixed shape, so the reduction order, and with it every bit of the
// result, is the hardware's (docs/numerics.md). Each level is independent adds over contiguous
// halves, which the compiler vectorises as it is, without -ffast-math. `t` holds n/2 floats.
inline float tree_dot(const float* __restrict q, const float* __restrict k, std::size_t d,
                      float* __restrict t) {
  const std::size_t n = std::bit_ceil(d);
  if (n == 1) return q[0] * k[0];
  // The first level fused with the products: leaf c + n/2 is a product, or past d a zero (added,
  // not skipped: −0 + 0 is +0, as the padded tree has it).
  const std::size_t h = n / 2;
  for (std::size_t c = 0; c < d - h; ++c) t[c] = q[c] * k[c] + q[c + h] * k[c + h];
  for (std::size_t c = d - h; c < h; ++c) t[c] = q[c] * k[c] + 0.0f;
  std::size_t w = h / 2;
  for (; w >= 4; w /= 2)
    for (std::size_t c = 0; c < w; ++c) t[c] += t[c + w];
  // The last levels, four leaves or fewer, spelled out: the same adds without a loop's set-up.
  if (w == 2) {
    t[0] += t[2];
    t[1] += t[3];
  }
  if (w >= 1) t[0] += t[1];
  return t[0];
}

// q·k/√d with the query row broadcast over the N keys of its row: the adder tree in fp32, then
// the scale (the unit rounds the score to the compute format as it writes it).
struct ScaledDotOp {
  static constexpr Timing timing{4, 1};
  float scale;
  std::size_t head_dim = 0;
  // d multiply-adds (products of Q and K values into the fp32 tree), then the scale's multiply of
  // the fp32 sum.
  OpCounts operators() const {
    return {{Op::multiply_add, OpFormat::input, head_dim}, {Op::multiply, OpFormat::fp32, 1}};
  }
  mutable std::vector<float> tree{};  // the adder tree's scratch, one level at a time
  float operator()(const RowView& k, const RowView& q) const {
    tree.resize(std::bit_ceil(q.size()) / 2 + 1);
    return tree_dot(q.begin(), k.begin(), q.size(), tree.data()) * scale;
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
