// RunningMax: a Scan over each row of scores keeping m, the maximum so far.
#pragma once

#include <algorithm>
#include <cmath>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

// For each score s emits δ = exp(m_old − m_new) and weight = exp(s − m_new). The first score of
// a row has m_old = −∞, so δ = 0 exactly; it is set, not computed, so no −∞ arithmetic happens.
class RunningMax : public UnitOf<RunningMax> {
  friend UnitOf<RunningMax>;

 public:
  In<float> scores{"scores"};
  Out<Rescale> rescale{"rescale"};

  RunningMax(const sc_core::sc_module_name& name, Timing timing, RowShape shape)
      : UnitOf<RunningMax>(name, timing, shape) {}

 private:
  void read_inputs() { scores.read(s_); }
  void compute() {
    if (row_start()) {
      m_ = s_;
      r_ = {0.0f, 1.0f};
    } else {
      const float m_new = std::max(m_, s_);
      r_ = {std::exp(m_ - m_new), std::exp(s_ - m_new)};
      m_ = m_new;
    }
  }
  void write_outputs() { rescale.write(r_); }

  float s_ = 0;
  float m_ = 0;
  Rescale r_;
};

}  // namespace sdpa
