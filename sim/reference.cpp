#include "sim/reference.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>

namespace sdpa {
namespace {

constexpr double kU32 = 0x1p-24;  // unit roundoff of fp32, round to nearest
constexpr double kU64 = 0x1p-53;  // and of fp64

// γ_n = n·u / (1 − n·u) bounds |∏(1 + ε_i)^±1 − 1| over n roundings, |ε_i| ≤ u (Higham,
// Accuracy and Stability of Numerical Algorithms, Lemma 3.1).
double gamma(double n, double u) { return n * u < 0.5 ? n * u / (1 - n * u) : INFINITY; }

// Where a datapath's roundings fall, per score j of a row (docs/timing.md, "Numerics"): the
// exponentials in its weight, and the roundings of its term in the numerator (Σ p·v, up to the
// output) and in the denominator (Σ p).
struct Shape {
  double exps, numerator, denominator;
};

// Scores: d roundings in the dot product, 2 in 1/√d, 1 in the scaling.
double score_error(double s, double d, double u) { return gamma(d + 3, u) * s; }

// A bound on |Ô − O| / max|v| in precision u, with exp within 1 ulp (relative error 2u).
// `arg_sets`: how many independently rounded sets of exp arguments the weights have.
double relative_bound(double u, double n, double score_err, Shape shape, double arg_sets = 1) {
  const double e2 = std::exp(2 * score_err);
  // Weights move by relative factors within [a, b]: b / a = rho.
  const double rho = e2 * std::pow((1 + 2 * u) / (1 - 2 * u), shape.exps);
  // The rounding of exp's argument, weighted by the softmax itself: at most 2u·ln N.
  const double args = arg_sets * (2 * u * std::log(n) * std::exp(400 * u) + n * std::exp(-199.0));
  const double a = gamma(shape.numerator, u), b = gamma(shape.denominator, u);
  return (rho - 1) + 2 * rho * e2 * args + (a + b) / (1 - b);
}

// |Ô| / max|v| at most, whatever the weights: Ô is a ratio of perturbed nonnegative sums.
double magnitude(double u, Shape shape) {
  const double b = gamma(shape.denominator, u);
  return b < 1 ? (1 + gamma(shape.numerator, u)) / (1 - b) : INFINITY;
}

// The reordered datapath's shape bounds the naive one's (1, N + 1, N − 1), which is also the
// shape of the fp64 reference.
Shape reordered_shape(double n, double c) { return {1 + c, n + c + 1, n + c - 1}; }
Shape naive_shape(double n) { return {1, n + 1, n - 1}; }
// The two-pass datapath's numerator and denominator share no exponential (its first pass sums
// exp(s − m_then)·δ…, its second takes exp(s − m) afresh), so each exp's error, within 2u, counts
// as two roundings of its side alone: the numerator's divide, product, N − 1 additions and one
// exp; the denominator's N − 1 additions, C rescaling multiplies and 1 + C exps.
Shape two_pass_shape(double n, double c) { return {0, n + 1 + 2, n + c - 1 + 2 * (1 + c)}; }

// S as computed in fp64, raised by its own rounding error.
double score_bound(const Reference& ref, double d) {
  return ref.score_bound * (1 + 2 * gamma(d + 3, kU64));
}

}  // namespace

AttentionInputs random_inputs(const AttentionShape& shape, std::uint64_t seed, float q_scale) {
  AttentionInputs in{shape, {}, {}, {}};
  std::mt19937_64 gen(seed);
  // Uses the top 24 bits so the values are exact in fp32 and independent of the library.
  auto draw = [&gen] { return static_cast<float>(gen() >> 40) * 0x1p-22f - 2.0f; };
  for (auto [m, n] : {std::pair{&in.q, shape.q_elements()},
                      {&in.k, shape.kv_elements()},
                      {&in.v, shape.kv_elements()}}) {
    m->resize(n);
    std::generate(m->begin(), m->end(), draw);
  }
  for (float& x : in.q) x *= q_scale;
  return in;
}

AttentionInputs random_inputs(std::size_t heads, std::size_t seq_len, std::size_t head_dim,
                              std::uint64_t seed, float q_scale) {
  return random_inputs(AttentionShape::square(heads, seq_len, head_dim), seed, q_scale);
}

Reference reference_attention(const AttentionInputs& in) {
  const AttentionShape& shape = in.shape;
  const std::size_t d = shape.head_dim;
  const RowShape rows = shape.score_rows();
  Reference ref;
  ref.output.assign(shape.q_elements(), 0.0);
  for (float v : in.v) ref.v_bound = std::max(ref.v_bound, std::fabs(double(v)));
  const double scale = 1.0 / std::sqrt(double(d));
  std::vector<double> s(shape.kv_len);
  for (std::size_t r = 0; r < rows.rows; ++r) {
    // Row r is a query of query head bh (over batches), which reads K/V head kv.
    const std::size_t bh = r / shape.seq_len;
    const std::size_t kv = bh / shape.heads * shape.kv_heads + bh % shape.heads / shape.group();
    const float* Q = in.q.data() + r * d;
    const float* K = in.k.data() + kv * shape.kv_len * d;
    const float* V = in.v.data() + kv * shape.kv_len * d;
    const std::size_t N = rows.row_length(r);  // the keys the query sees
    double m = -INFINITY, row_bound = 0;
    for (std::size_t j = 0; j < N; ++j) {
      double dot = 0, mag = 0;
      for (std::size_t c = 0; c < d; ++c) {
        dot += double(Q[c]) * K[j * d + c];
        mag += std::fabs(double(Q[c]) * K[j * d + c]);
      }
      s[j] = dot * scale;
      row_bound = std::max(row_bound, mag * scale);
      m = std::max(m, s[j]);
    }
    ref.score_bound = std::max(ref.score_bound, row_bound);
    // fp32 moves its running max at j only if ŝ_j exceeds every earlier ŝ_k: only if s_j is
    // above their maximum less twice the score error of fp32 and twice that of these scores.
    const double bound = row_bound * (1 + 2 * gamma(d + 3.0, kU64));
    const double margin = 2 * (score_error(bound, d, kU32) + score_error(bound, d, kU64));
    std::size_t updates = 0;
    for (std::size_t j = 1, k = 0; j < N; ++j) {
      if (s[j] > s[k] - margin) ++updates;
      if (s[j] > s[k]) k = j;
    }
    ref.max_updates = std::max(ref.max_updates, updates);
    double l = 0;
    double* o = ref.output.data() + r * d;
    for (std::size_t j = 0; j < N; ++j) {
      const double p = std::exp(s[j] - m);
      l += p;
      for (std::size_t c = 0; c < d; ++c) o[c] += p * V[j * d + c];
    }
    for (std::size_t c = 0; c < d; ++c) o[c] /= l;
  }
  return ref;
}

double error_tolerance(const Reference& ref, std::size_t seq_len, std::size_t head_dim) {
  const double v = ref.v_bound;
  // Every product with v = 0 is exactly 0, in fp32 and fp64 alike: so is O.
  if (v == 0) return 0;
  const double n = double(seq_len), d = double(head_dim), s = score_bound(ref, d);
  const double c = double(ref.max_updates), err32 = score_error(s, d, kU32);
  // The largest of the datapaths' bounds; two_pass's weights round their arguments twice.
  const double fp32 = std::max(relative_bound(kU32, n, err32, reordered_shape(n, c)),
                               relative_bound(kU32, n, err32, two_pass_shape(n, c), 2));
  const double fp64 = relative_bound(kU64, n, score_error(s, d, kU64), naive_shape(n));
  const double cap =
      std::max(magnitude(kU32, reordered_shape(n, c)), magnitude(kU32, two_pass_shape(n, c))) +
      magnitude(kU64, naive_shape(n));
  // Subnormal results: at most 2^-149 absolute per operation, far below this.
  const double underflow = n * n * 0x1p-140 * (1 + v);
  return v * std::min(fp32 + fp64, cap) + underflow;
}

bool scores_may_overflow(const Reference& ref, std::size_t head_dim) {
  const double d = double(head_dim);
  // Dot products reach S·√d before the scaling, score differences 2S after it.
  const double largest =
      score_bound(ref, d) * (1 + gamma(d + 3, kU32)) * std::max(std::sqrt(d), 2.0);
  return !(largest < FLT_MAX);
}

Verdict Check::verdict() const {
  if (!finite) return may_overflow ? Verdict::unverified : Verdict::mismatch;
  if (max_abs_error > tolerance) return Verdict::mismatch;
  const bool certified = tolerance == 0 || tolerance < kCertifiedFraction * v_bound;
  return certified && !may_overflow ? Verdict::ok : Verdict::unverified;
}

Check check_output(const Reference& ref, const std::vector<float>& output, std::size_t seq_len,
                   std::size_t head_dim) {
  Check c;
  c.tolerance = error_tolerance(ref, seq_len, head_dim);
  c.v_bound = ref.v_bound;
  if (output.size() != ref.output.size()) {
    // Missing rows are a fault whatever the inputs.
    c.finite = false;
    c.max_abs_error = INFINITY;
    return c;
  }
  c.may_overflow = scores_may_overflow(ref, head_dim);
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
