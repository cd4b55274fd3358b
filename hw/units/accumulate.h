// Vector accumulators: fold a row of (weight, v-row) pairs into a d-vector, emitted at row end.
#pragma once

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

template <class WeightT, class F>
class VectorAccumulate : public Unit {
 public:
  static constexpr Timing default_timing = F::timing;
  In<WeightT> weights{"weights"};
  In<RowView> v_rows{"v_rows"};
  Out<Row> out{"out"};

  VectorAccumulate(const sc_core::sc_module_name& name, Timing timing, RowShape shape,
                   std::size_t head_dim)
      : Unit(name, timing, shape), head_dim_(head_dim) {}
  // A row's first firing computes too (into zeros).
  OpCounts operators() const override { return F::operators(head_dim_); }

 private:
  [[gnu::flatten]] Task body() override {
    Row acc;
    for (const Firing& f : firings()) {
      const WeightT w = co_await read(weights);
      const RowView v = co_await read(v_rows);
      if (f.row_start()) acc.assign(head_dim_, 0.0f);
      F{}(acc, w, v);
      // The accumulator is reset at the next row's start, so its storage goes with the result.
      if (f.row_end()) co_await write(out, std::move(acc));
    }
  }

  std::size_t head_dim_;
};

// The accumulators write an fp32 row while reading a V row from memory, which never overlap:
// __restrict spares the loop the run-time overlap tests the compiler adds before vectorising.

// o ← o + p·v: the naive datapath's Σ_j p_ij·v_j.
struct WeightedSumOp {
  static constexpr Timing timing{4, 1};
  void operator()(Row& o, float p, const RowView& v) const {
    float* __restrict acc = o.data();
    const float* __restrict row = v.begin();
    for (std::size_t c = 0, d = o.size(); c < d; ++c) acc[c] += p * row[c];
  }
  // p·v of a channel value and a V value, into the fp32 row.
  static OpCounts operators(std::size_t d) { return {{Op::multiply_add, OpFormat::wider, d}}; }
};

// o ← o·δ + c·v: the reordered datapath's accumulator, rescaled whenever the max moves.
struct RescaleAccumulateOp {
  static constexpr Timing timing{4, 1};
  void operator()(Row& o, const Rescale& r, const RowView& v) const {
    const Rescale k = r;
    float* __restrict acc = o.data();
    const float* __restrict row = v.begin();
    for (std::size_t c = 0, d = o.size(); c < d; ++c) acc[c] = acc[c] * k.delta + k.weight * row[c];
  }
  // o·δ of the fp32 row, then + c·v: a multiply and a multiply-add per element.
  static OpCounts operators(std::size_t d) {
    return {{Op::multiply, OpFormat::fp32, d}, {Op::multiply_add, OpFormat::wider, d}};
  }
};

using WeightedSum = VectorAccumulate<float, WeightedSumOp>;
using RescaleAccumulate = VectorAccumulate<Rescale, RescaleAccumulateOp>;

}  // namespace sdpa
