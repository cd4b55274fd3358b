#include "tb/reference.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace sdpa {

AttentionInputs random_inputs(std::size_t heads, std::size_t seq_len, std::size_t head_dim,
                              std::uint64_t seed, float q_scale) {
  AttentionInputs in{heads, seq_len, head_dim, {}, {}, {}};
  std::mt19937_64 gen(seed);
  // Uses the top 24 bits so the values are exact in fp32 and independent of the library.
  auto draw = [&gen] { return static_cast<float>(gen() >> 40) * 0x1p-22f - 2.0f; };
  const std::size_t n = heads * seq_len * head_dim;
  for (auto* m : {&in.q, &in.k, &in.v}) {
    m->resize(n);
    std::generate(m->begin(), m->end(), draw);
  }
  for (float& x : in.q) x *= q_scale;
  return in;
}

Reference reference_attention(const AttentionInputs& in) {
  const std::size_t N = in.seq_len, d = in.head_dim;
  Reference ref;
  ref.output.assign(in.heads * N * d, 0.0);
  for (float v : in.v) ref.v_bound = std::max(ref.v_bound, std::fabs(double(v)));
  const double scale = 1.0 / std::sqrt(double(d));
  std::vector<double> s(N);
  for (std::size_t h = 0; h < in.heads; ++h) {
    const float* Q = in.q.data() + h * N * d;
    const float* K = in.k.data() + h * N * d;
    const float* V = in.v.data() + h * N * d;
    for (std::size_t i = 0; i < N; ++i) {
      double m = -INFINITY;
      for (std::size_t j = 0; j < N; ++j) {
        double dot = 0, mag = 0;
        for (std::size_t c = 0; c < d; ++c) {
          dot += double(Q[i * d + c]) * K[j * d + c];
          mag += std::fabs(double(Q[i * d + c]) * K[j * d + c]);
        }
        s[j] = dot * scale;
        ref.score_bound = std::max(ref.score_bound, mag * scale);
        m = std::max(m, s[j]);
      }
      double l = 0;
      double* o = ref.output.data() + (h * N + i) * d;
      for (std::size_t j = 0; j < N; ++j) {
        const double p = std::exp(s[j] - m);
        l += p;
        for (std::size_t c = 0; c < d; ++c) o[c] += p * V[j * d + c];
      }
      for (std::size_t c = 0; c < d; ++c) o[c] /= l;
    }
  }
  return ref;
}

double error_tolerance(const Reference& ref, std::size_t seq_len, std::size_t head_dim) {
  const double u = std::ldexp(1.0, -24);
  return u * ref.v_bound *
         (4.0 * (double(head_dim) + 2.0) * ref.score_bound + 4.0 * double(seq_len) + 16.0);
}

Check check_output(const Reference& ref, const std::vector<float>& output, std::size_t seq_len,
                   std::size_t head_dim) {
  Check c;
  c.tolerance = error_tolerance(ref, seq_len, head_dim);
  if (output.size() != ref.output.size()) {
    c.finite = false;
    c.max_abs_error = INFINITY;
    return c;
  }
  for (std::size_t i = 0; i < output.size(); ++i) {
    if (!std::isfinite(output[i])) {
      c.finite = false;
      c.max_abs_error = INFINITY;
      continue;
    }
    c.max_abs_error = std::max(c.max_abs_error, std::fabs(double(output[i]) - ref.output[i]));
  }
  return c;
}

}  // namespace sdpa
