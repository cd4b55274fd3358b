// RunningMax: a Scan over each row of scores keeping m, the maximum so far.
#pragma once

#include <algorithm>
#include <cmath>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

// For each score s emits δ = exp(m_old − m_new) and weight = exp(s − m_new). The first score of
// a row has m_old = −∞, so δ = 0 exactly; it is set, not computed, so no −∞ arithmetic happens.
class RunningMax : public Unit {
 public:
  SC_HAS_PROCESS(RunningMax);
  In<float> scores{"scores"};
  Out<Rescale> rescale{"rescale"};

  RunningMax(const sc_core::sc_module_name& name, Timing timing, RowShape shape)
      : Unit(name, timing), shape_(shape) {
    SC_THREAD(run);
  }

 private:
  void run() {
    for (std::size_t row = 0; row < shape_.rows; ++row) {
      float m = 0;
      for (std::size_t n = 0; n < shape_.row_len; ++n) {
        const float s = scores.read();
        Rescale r;
        if (n == 0) {
          m = s;
          r = {0.0f, 1.0f};
        } else {
          const float m_new = std::max(m, s);
          r = {std::exp(m - m_new), std::exp(s - m_new)};
          m = m_new;
        }
        rescale.write(r);
        step();
      }
    }
    finish();
  }

  RowShape shape_;
};

}  // namespace sdpa
