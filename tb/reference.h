// Stimulus, the fp64 reference, and the numerical check of a datapath's output.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/attention.h"

namespace sdpa {

// Q, K, V with entries uniform in [-2, 2) from a 64-bit Mersenne Twister (the same on every
// platform); Q is multiplied by `q_scale` to reach large score magnitudes.
AttentionInputs random_inputs(std::size_t heads, std::size_t seq_len, std::size_t head_dim,
                              std::uint64_t seed, float q_scale = 1.0f);

struct Reference {
  std::vector<double> output;  // softmax(QKᵀ/√d)V in fp64, [heads * N, d]
  double score_bound = 0;      // max over i, j of Σ_c |q_ic·k_jc| / √d
  double v_bound = 0;          // max |v|
};

Reference reference_attention(const AttentionInputs& inputs);

// A first-order worst-case bound on |O_fp32 − O_fp64| (docs/timing.md, "Numerics"):
// u·max|v|·(4(d + 2)·score_bound + 4N + 16), u = 2^-24.
double error_tolerance(const Reference& ref, std::size_t seq_len, std::size_t head_dim);

struct Check {
  double max_abs_error = 0;
  double tolerance = 0;
  bool finite = true;
  bool pass() const { return finite && max_abs_error <= tolerance; }
};

Check check_output(const Reference& ref, const std::vector<float>& output, std::size_t seq_len,
                   std::size_t head_dim);

}  // namespace sdpa
