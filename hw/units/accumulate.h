// Vector accumulators: fold a row of (weight, v-row) pairs into a d-vector, emitted at row end.
#pragma once

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

template <class WeightT, class F>
class VectorAccumulate : public UnitOf<VectorAccumulate<WeightT, F>> {
  friend UnitOf<VectorAccumulate>;

 public:
  In<WeightT> weights{"weights"};
  In<RowView> v_rows{"v_rows"};
  Out<Row> out{"out"};

  VectorAccumulate(const sc_core::sc_module_name& name, Timing timing, RowShape shape,
                   std::size_t head_dim)
      : UnitOf<VectorAccumulate>(name, timing, shape), head_dim_(head_dim) {}

 private:
  void read_inputs() {
    this->read(weights, w_);
    this->read(v_rows, v_);
  }
  void compute() {
    if (this->row_start()) acc_.assign(head_dim_, 0.0f);
    F{}(acc_, w_, v_);
  }
  // The accumulator is reset at the next row's start, so its storage can go with the result.
  void write_outputs() {
    if (this->row_end()) this->write(out, std::move(acc_));
  }

  std::size_t head_dim_;
  WeightT w_{};
  RowView v_;
  Row acc_;
};

// o ← o + p·v: the naive datapath's Σ_j p_ij·v_j.
struct WeightedSumOp {
  void operator()(Row& o, float p, const RowView& v) const {
    for (std::size_t c = 0; c < o.size(); ++c) o[c] += p * v[c];
  }
};

// o ← o·δ + c·v: the reordered datapath's accumulator, rescaled whenever the max moves.
struct RescaleAccumulateOp {
  void operator()(Row& o, const Rescale& r, const RowView& v) const {
    for (std::size_t c = 0; c < o.size(); ++c) o[c] = o[c] * r.delta + r.weight * v[c];
  }
};

using WeightedSum = VectorAccumulate<float, WeightedSumOp>;
using RescaleAccumulate = VectorAccumulate<Rescale, RescaleAccumulateOp>;

}  // namespace sdpa
