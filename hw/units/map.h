// Map units: one result per element. Map applies f(x); RowBroadcastMap applies f(x, a) with an
// operand a read once per row and broadcast over the row's elements.
#pragma once

#include <cmath>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

template <class InT, class OutT, class F>
class Map : public UnitOf<Map<InT, OutT, F>> {
  friend UnitOf<Map>;

 public:
  In<InT> in{"in"};
  Out<OutT> out{"out"};

  Map(const sc_core::sc_module_name& name, Timing timing, RowShape shape, F f = F{})
      : UnitOf<Map>(name, timing, shape), f_(f) {}

 private:
  void read_inputs() { this->read(in, x_); }
  void compute() { y_ = f_(x_); }
  void write_outputs() { this->write(out, std::move(y_)); }

  F f_;
  InT x_{};
  OutT y_{};
};

// The operand is read together with the row's first element: no extra cycle per row.
template <class ElemT, class OperandT, class OutT, class F>
class RowBroadcastMap : public UnitOf<RowBroadcastMap<ElemT, OperandT, OutT, F>> {
  friend UnitOf<RowBroadcastMap>;

 public:
  In<OperandT> operand{"operand"};
  In<ElemT> in{"in"};
  Out<OutT> out{"out"};

  RowBroadcastMap(const sc_core::sc_module_name& name, Timing timing, RowShape shape, F f = F{})
      : UnitOf<RowBroadcastMap>(name, timing, shape), f_(f) {}

 private:
  void read_inputs() {
    if (this->row_start()) this->read(operand, a_);
    this->read(in, x_);
  }
  void compute() { y_ = f_(x_, a_); }
  void write_outputs() { this->write(out, std::move(y_)); }

  F f_;
  OperandT a_{};
  ElemT x_{};
  OutT y_{};
};

struct ExpOp {
  float operator()(float x) const { return std::exp(x); }
};
struct SubtractOp {
  float operator()(float x, float a) const { return x - a; }
};
struct DivideOp {
  float operator()(float x, float a) const { return x / a; }
};
struct RowDivideOp {
  Row operator()(const Row& o, float l) const {
    Row r(o.size());
    for (std::size_t c = 0; c < o.size(); ++c) r[c] = o[c] / l;
    return r;
  }
};

// q·k/√d with the query row broadcast over the N keys of its row.
struct ScaledDotOp {
  float scale;
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
