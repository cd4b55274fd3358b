#include "sim/reference.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <random>

namespace sdpa {
namespace {

constexpr double kU32 = 0x1p-24;  // unit roundoff of fp32, round to nearest
constexpr double kU64 = 0x1p-53;  // and of fp64

// γ(r) = r / (1 − r) bounds |∏(1 + ε_i)^±1 − 1| over roundings with |ε_i| ≤ u_i and Σ u_i = r
// (Higham, Accuracy and Stability of Numerical Algorithms, Lemma 3.1, whose proof holds for
// unequal u_i): r counts fp32 roundings as 2^-24 each and compute-format ones as theirs.
double gamma(double r) { return r < 0.5 ? r / (1 - r) : INFINITY; }
double gamma(double n, double u) { return gamma(n * u); }

// Where a datapath's roundings fall, per score j of a row (docs/numerics.md): the exponentials
// in its weight and the relative error of each; the roundings of its term in the numerator
// (Σ p·v, up to the output) and in the denominator (Σ p), as sums of unit roundoffs; the
// precision the exponentials' arguments are rounded to, and how many independently rounded sets
// of them the weights have.
struct Shape {
  double exps, exp_error, numerator, denominator, arg_u, arg_sets = 1;
};

// Bounds on a score's error, s bounding Σ|q·k|/√d. The hardware's fp32 score: one rounding in
// each product and one at each of its adder tree's ⌈log₂ d⌉ levels (tree_dot, hw/units/map.h:
// pairwise summation, Higham §4.2), 2 in 1/√d and 1 in the scaling. The fp64 reference's: d in
// its sequential dot product, then the same 3.
double fp32_score_error(double s, double d) {
  return gamma(std::bit_width(static_cast<std::size_t>(d) - 1) + 4.0, kU32) * s;
}
double fp64_score_error(double s, double d) { return gamma(d + 3, kU64) * s; }
// A magnitude the fp64 reference computed from its scores (S, max|s|), raised by its own error.
double raised_fp64(double x, double d) { return x * (1 + 2 * gamma(d + 3, kU64)); }

// A bound on |Ô − O| / max|v|. Arguments of exp below −X contribute their weights whole (each
// under e^{−X}); above, the argument's rounding τ, |τ| ≤ X·u, moves its weight by at most
// |τ|·e^{2Xu} (X = 200 for fp32, where its bound was first derived; 40 for coarser formats,
// whose e^{2Xu} would otherwise blow up).
double relative_bound(double n, double score_err, const Shape& shape, double x) {
  const double e2 = std::exp(2 * score_err);
  // Weights move by relative factors within [a, b]: b / a = rho.
  const double rho = e2 * std::pow((1 + shape.exp_error) / (1 - shape.exp_error), shape.exps);
  // The rounding of exp's argument, weighted by the softmax itself: at most 2u·ln N.
  const double args =
      shape.arg_sets *
      (2 * shape.arg_u * std::log(n) * std::exp(2 * x * shape.arg_u) + n * std::exp(1 - x));
  const double a = gamma(shape.numerator), b = gamma(shape.denominator);
  return (rho - 1) + 2 * rho * e2 * args + (a + b) / (1 - b);
}

// |Ô| / max|v| at most, whatever the weights: Ô is a ratio of perturbed nonnegative sums. Where
// numerator and denominator take their exponentials apart (two sets of arguments), a weight's two
// arguments x (≤ 0) are rounded apart as well, by u·|x| at most each: its two values differ by a
// factor e^{2u·|x|} besides their roundings, and only for |x| < 105, beyond which an fp32 exp, or
// a product of rescales, is 0 or a subnormal (the underflow term's).
double magnitude(const Shape& shape) {
  const double b = gamma(shape.denominator);
  const double apart = shape.arg_sets > 1 ? std::exp(2 * 105 * shape.arg_u) : 1;
  return b < 1 ? apart * (1 + gamma(shape.numerator)) / (1 - b) : INFINITY;
}

// The datapaths' shapes computing in a format of unit roundoff u (u = w = 2^-24 for fp32), with
// every intermediate state in fp32 (w) and every result on a channel rounded to the format:
// u_out = u, or 0 for fp32, where the rounding is the fp32 operation's own. N keys, C moves of
// the running max after a row's first score.
struct Precisions {
  double w, u, u_out;
};
// Naive: the shifted score on a channel (its argument rounding is u), one exp, rounded onto
// `exps`; numerator: the divide (u), the product and N − 1 additions (w), the output row (u_out);
// denominator: N − 1 additions (w) and the sum on `sums` (u_out).
Shape naive_shape(double n, Precisions p) {
  return {1, (1 + 2 * p.w) * (1 + p.u_out) - 1, n * p.w + p.u + p.u_out, (n - 1) * p.w + p.u_out,
          p.u};
}
// Reordered: 1 + C exps per weight, each rounded onto a channel (δ, c), arguments in fp32;
// numerator: the product, N − 1 additions and C rescaling multiplies (w), the accumulator row on
// `acc_rows` (u_out) and the division (u); denominator: N + C − 1 (w) and the sum (u_out).
Shape reordered_shape(double n, double c, Precisions p) {
  return {1 + c, (1 + 2 * p.w) * (1 + p.u_out) - 1, (n + c) * p.w + p.u + p.u_out,
          (n + c - 1) * p.w + p.u_out, p.w};
}
// Two-pass: its numerator and denominator share no exponential (its first pass sums
// exp(s − m_then)·δ…, its second takes exp(s − m) afresh), so each exp's error, within 2w, counts
// as two roundings of its side alone: the numerator's divide, product, N − 1 additions and one
// exp, the probability on `probs` and the output row (u_out each); the denominator's N − 1
// additions, C rescaling multiplies and 1 + C exps, and the sum on `row_stats` (u_out).
Shape two_pass_shape(double n, double c, Precisions p) {
  return {0, 0, (n + 3) * p.w + 2 * p.u_out, (n + 3 * c + 1) * p.w + p.u_out, p.w, 2};
}

// S as computed in fp64, raised by its own rounding error.
double score_bound(const Reference& ref, double d) { return raised_fp64(ref.score_bound, d); }

// The error of a score on a channel: fp32's, then the rounding to the compute format (relative
// u, or half its least subnormal below the normal range).
double compute_score_error(const Reference& ref, double d, Format compute) {
  const double s = score_bound(ref, d), err32 = fp32_score_error(s, d);
  if (compute == Format::fp32) return err32;
  const double largest = raised_fp64(ref.score_max, d) + err32;
  return err32 + info(compute).unit_roundoff * largest + info(compute).min_subnormal / 2;
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

Reference reference_attention(const AttentionInputs& in, Format compute) {
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
    for (std::size_t j = 0; j < N; ++j) ref.score_max = std::max(ref.score_max, std::fabs(s[j]));
    // fp32 moves its running max at j only if ŝ_j exceeds every earlier ŝ_k: only if s_j is
    // above their maximum less twice the score error of fp32 and twice that of these scores.
    const double bound = raised_fp64(row_bound, d);
    double margin = 2 * (fp32_score_error(bound, d) + fp64_score_error(bound, d));
    if (compute != Format::fp32) {
      // Scores on a channel are rounded to the compute format as well.
      double row_max = 0;
      for (std::size_t j = 0; j < N; ++j) row_max = std::max(row_max, std::fabs(s[j]));
      margin += 2 * (info(compute).unit_roundoff *
                         (raised_fp64(row_max, d) + fp32_score_error(bound, d)) +
                     info(compute).min_subnormal / 2);
    }
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

double error_tolerance(const Reference& ref, std::size_t seq_len, std::size_t head_dim,
                       Format compute) {
  const double v = ref.v_bound;
  // Every product with v = 0 is exactly 0, in every format and fp64 alike: so is O.
  if (v == 0) return 0;
  const double n = double(seq_len), d = double(head_dim), s = score_bound(ref, d);
  const double c = double(ref.max_updates);
  const double u = info(compute).unit_roundoff;
  const Precisions p{kU32, u, compute == Format::fp32 ? 0.0 : u};
  const double err = compute_score_error(ref, d, compute), x = compute == Format::fp32 ? 200 : 40;
  // The largest of the datapaths' bounds (for fp32 the reordered one bounds the naive one).
  const Shape shapes[] = {naive_shape(n, p), reordered_shape(n, c, p), two_pass_shape(n, c, p)};
  double ours = 0, cap = 0;
  for (const Shape& shape : shapes) {
    ours = std::max(ours, relative_bound(n, err, shape, x));
    cap = std::max(cap, magnitude(shape));
  }
  const Precisions p64{kU64, kU64, 0};
  const double fp64 = relative_bound(n, fp64_score_error(s, d), naive_shape(n, p64), 200);
  cap += magnitude(naive_shape(n, p64));
  // Subnormal results: at most 2^-149 absolute per fp32 operation, far below this; and half the
  // compute format's least subnormal per weight, rescale factor and probability on a channel, and
  // per output row (and the reordered datapath's accumulator row, divided by a sum of at least 1)
  // rounded onto a channel: absolute, whatever the values' relative error.
  double underflow = n * n * 0x1p-140 * (1 + v);
  if (compute != Format::fp32) underflow += (v * n * (3 + c) + 1) * info(compute).min_subnormal;
  return v * std::min(ours + fp64, cap) + underflow;
}

std::string what_overflows(const Reference& ref, std::size_t head_dim, std::size_t seq_len,
                           Format compute, bool normalised_rows) {
  const double d = double(head_dim), n = double(seq_len), v = ref.v_bound;
  std::string found;  // the first that can
  // `most` bounds the value before its rounding into `f`: below the threshold it rounds to a
  // finite value.
  const auto check = [&](const char* what, double most, Format f) {
    if (found.empty() && !(most < overflow_threshold(f)))
      found = fmt::format("{}, up to {:.6g}, can overflow {} (largest {:g})", what, most,
                          to_string(f), info(f).max_finite);
  };
  // Dot products reach S·√d before the scaling, in fp32. Score differences s − max, in fp32 or on
  // a channel, are never positive: one that overflows is −Inf, whose exponential, 0, is the weight
  // correct arithmetic gives it too (e^{−65520} is 0 in every format), so they cannot harm.
  const double s = score_bound(ref, d);
  check("a dot product (S·√d)", (s + fp32_score_error(s, d)) * std::sqrt(d), Format::fp32);
  if (compute != Format::fp32) {
    // On channels: scores, with their own error, and running sums (up to N: each weight is at
    // most 1, and a partial sum of k of them rounds to at most k).
    check("a score (max|s|)", raised_fp64(ref.score_max, d) + compute_score_error(ref, d, compute),
          compute);
    check("a running sum (N)", n, compute);
  }
  // Unnormalised rows, accumulated in fp32 in every format, reach N·max|v| (each weight at most
  // 1) and their three roundings a step (1 + 2^-24)^{3N} ≤ e^{3N·2^-24} more, in fp32 and as
  // they are rounded onto a channel.
  if (!normalised_rows) {
    const double accumulated = n * v * std::exp(3 * n * kU32);
    check("an accumulator row (N·max|v| and its roundings)", accumulated, Format::fp32);
    check("an accumulator row (N·max|v| and its roundings)", accumulated, compute);
  }
  // Output rows are within the tolerance of the reference's, at most max|v|; so are the partial
  // sums of normalised rows, at most the row they sum to if every value of V were max|v|.
  check("an output row (max|v| and the tolerance)",
        v + error_tolerance(ref, seq_len, head_dim, compute), compute);
  return found;
}

AttentionInputs rounded_inputs(const AttentionInputs& inputs, Format input) {
  AttentionInputs r = inputs;
  for (std::vector<float>* m : {&r.q, &r.k, &r.v}) round_all(input, m->data(), m->size());
  return r;
}

double max_abs_error(const Reference& ref, const std::vector<float>& output) {
  if (output.size() != ref.output.size()) return INFINITY;
  double most = 0;
  for (std::size_t i = 0; i < output.size(); ++i) {
    if (!std::isfinite(output[i])) return INFINITY;
    most = std::max(most, std::fabs(double(output[i]) - ref.output[i]));
  }
  return most;
}

Verdict Check::verdict() const {
  // The tolerance assumes no overflow: where one can happen, correct arithmetic may give any
  // output (an fp16 running sum rounded to Inf makes every weight, and the output, 0).
  if (may_overflow()) return Verdict::unverified;
  if (!finite || max_abs_error > tolerance) return Verdict::mismatch;
  const bool certified = tolerance == 0 || tolerance < certified_fraction * v_bound;
  return certified ? Verdict::ok : Verdict::unverified;
}

Check check_output(const Reference& ref, const std::vector<float>& output, std::size_t seq_len,
                   std::size_t head_dim, Format compute, bool normalised_rows) {
  Check c;
  c.tolerance = error_tolerance(ref, seq_len, head_dim, compute);
  c.v_bound = ref.v_bound;
  if (output.size() != ref.output.size()) {
    // Missing rows are a fault whatever the inputs.
    c.finite = false;
    c.max_abs_error = INFINITY;
    return c;
  }
  c.overflow = what_overflows(ref, head_dim, seq_len, compute, normalised_rows);
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
