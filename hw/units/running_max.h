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
};

// RunningMax: a Scan over each row of scores keeping m, the maximum so far.
class RunningMax : public UnitOf<RunningMax> {
  friend UnitOf<RunningMax>;

 public:
  In<float> scores{"scores"};
  Out<Rescale> rescale{"rescale"};

  RunningMax(const sc_core::sc_module_name& name, Timing timing, RowShape shape)
      : UnitOf<RunningMax>(name, timing, shape) {}

 private:
  void read_inputs() { read(scores, s_); }
  void compute() { r_ = RunningMaxOp{}(m_, s_, row_start()); }
  void write_outputs() { write(rescale, r_); }

  float s_ = 0;
  float m_ = 0;
  Rescale r_;
};

}  // namespace sdpa
