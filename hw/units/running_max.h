// The running max of the reordered datapath: its arithmetic (RunningMaxOp) and its unit.
#pragma once

#include <algorithm>
#include <cmath>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

// m ← max(m, s), emitting δ = exp(m_old − m_new) and weight = exp(s − m_new). One of the two
// exponents is exactly 0 (whichever of m_old and s is the new max), and exp(0) = 1 exactly, so
// it is not computed; the results are those of computing both. A row's first score has
// m_old = −∞, so δ = 0 exactly; it is set, not computed, so no −∞ arithmetic happens.
struct RunningMaxOp {
  Rescale operator()(float& m, float s, bool row_start) const {
    if (row_start) {
      m = s;
      return {0.0f, 1.0f};
    }
    const float m_new = std::max(m, s);
    const Rescale r{scaled_exp(m - m_new), scaled_exp(s - m_new)};
    m = m_new;
    return r;
  }
  static float scaled_exp(float x) { return x == 0.0f ? 1.0f : std::exp(x); }
  // Past a row's first score: the max (of compute-format values), the two subtracts, and one exp
  // (the other exponent is 0), whose arguments stay fp32. A row's first score computes nothing.
  static OpCounts operators() {
    return {{Op::compare, OpFormat::compute, 1},
            {Op::add, OpFormat::fp32, 2},
            {Op::exp, OpFormat::fp32, 1}};
  }
};

// RunningMax: a Scan over each row of scores keeping m, the maximum so far.
// Max, the two subtracts and one exp (the other exponent is 0): 1 + 1 + 4, latency 6.
class RunningMax : public Unit {
 public:
  static constexpr Timing default_timing{6, 1};
  In<float> scores{"scores"};
  Out<Rescale> rescale{"rescale"};

  using Unit::Unit;
  OpCounts operators() const override { return RunningMaxOp::operators(); }
  OpCounts ops_done() const override { return operators() * (firings_done() - rows_begun()); }

 private:
  [[gnu::flatten]] Task body() override {
    float m = 0;
    for (const Firing& f : firings()) {
      const float s = co_await read(scores);
      co_await write(rescale, RunningMaxOp{}(m, s, f.row_start()));
    }
  }
};

}  // namespace sdpa
