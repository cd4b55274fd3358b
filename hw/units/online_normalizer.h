// The two-pass softmax's units: the first pass's online normalizer (row max and row sum in one
// pass over a row's scores) and the second pass's normalisation of each score.
#pragma once

#include <cmath>

#include "hw/channel.h"
#include "hw/types.h"
#include "hw/units/map.h"
#include "hw/units/reduce.h"
#include "hw/units/running_max.h"

namespace sdpa {

// m ← max(m, s), l ← l·exp(m_old − m_new) + exp(s − m_new) over a row, emitting (m, l) at its
// end: the reordered datapath's running max and running sum fused, with their operators.
class OnlineNormalizer : public Unit {
 public:
  // The running max's latency (max, the subtracts, the exps): the model does not add the sum's
  // multiply-add to it, a choice (units.online_normalizer.latency sets another).
  static constexpr Timing default_timing{6, 1};
  In<float> scores{"scores"};
  Out<RowStats> stats{"stats"};

  using Unit::Unit;
  OpCounts operators() const override {
    return RunningMaxOp::operators() + RescaleSumOp{}.operators();
  }
  // The running max skips a row's first score; the sum's multiply-add does not (0·0 + 1).
  OpCounts ops_done() const override {
    return RunningMaxOp::operators() * (firings_done() - rows_begun()) +
           RescaleSumOp{}.operators() * firings_done();
  }

 private:
  [[gnu::flatten]] Task body() override {
    float m = 0, l = 0;
    for (const Firing& f : firings()) {
      const float s = co_await read(scores);
      const Rescale r = RunningMaxOp{}(m, s, f.row_start());
      l = RescaleSumOp{}(f.row_start() ? 0.0f : l, r);
      if (f.row_end()) co_await write(stats, RowStats{m, l});
    }
  }
};

// p = exp(s − m) / l with the row's (m, l) broadcast over its scores.
struct NormalizeOp {
  // A subtract, an exp and a divide: the naive datapath's 1 + 4 + 4.
  static constexpr Timing timing{9, 1};
  float operator()(float s, const RowStats& row) const { return std::exp(s - row.max) / row.sum; }
  // The argument and the exp stay fp32 until the quotient is rounded.
  OpCounts operators() const {
    return {{Op::add, OpFormat::fp32, 1},
            {Op::exp, OpFormat::fp32, 1},
            {Op::divide, OpFormat::fp32, 1}};
  }
};

using Normalize = RowBroadcastMap<float, RowStats, float, NormalizeOp>;

}  // namespace sdpa
