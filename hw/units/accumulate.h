// Vector accumulators: fold a row of (weight, v-row) pairs into a d-vector, emitted at row end.
#pragma once

#include <algorithm>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

template <class WeightT, class F>
class VectorAccumulate : public Unit {
 public:
  SC_HAS_PROCESS(VectorAccumulate);
  In<WeightT> weights{"weights"};
  In<Row> v_rows{"v_rows"};
  Out<Row> out{"out"};

  VectorAccumulate(const sc_core::sc_module_name& name, Timing timing, RowShape shape,
                   std::size_t head_dim)
      : Unit(name, timing), shape_(shape), head_dim_(head_dim) {
    SC_THREAD(run);
  }

 private:
  void run() {
    WeightT w{};
    Row v;
    Row acc(head_dim_);
    for (std::size_t row = 0; row < shape_.rows; ++row) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (std::size_t n = 0; n < shape_.row_len; ++n) {
        weights.read(w);
        v_rows.read(v);
        F{}(acc, w, v);
        if (n + 1 == shape_.row_len) out.write(acc);
        step();
      }
    }
    finish();
  }

  RowShape shape_;
  std::size_t head_dim_;
};

// o ← o + p·v: the naive datapath's Σ_j p_ij·v_j.
struct WeightedSumOp {
  void operator()(Row& o, float p, const Row& v) const {
    for (std::size_t c = 0; c < o.size(); ++c) o[c] += p * v[c];
  }
};

// o ← o·δ + c·v: the reordered datapath's accumulator, rescaled whenever the max moves.
struct RescaleAccumulateOp {
  void operator()(Row& o, const Rescale& r, const Row& v) const {
    for (std::size_t c = 0; c < o.size(); ++c) o[c] = o[c] * r.delta + r.weight * v[c];
  }
};

using WeightedSum = VectorAccumulate<float, WeightedSumOp>;
using RescaleAccumulate = VectorAccumulate<Rescale, RescaleAccumulateOp>;

}  // namespace sdpa
