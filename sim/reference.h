// Stimulus, the fp64 reference, and the numerical check of a datapath's output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/attention.h"

namespace sdpa {

// Q, K, V with entries uniform in [-2, 2) from a 64-bit Mersenne Twister (the same on every
// platform); Q is multiplied by `q_scale` to reach large score magnitudes.
AttentionInputs random_inputs(const AttentionShape& shape, std::uint64_t seed,
                              float q_scale = 1.0f);
// The same for H heads of N queries and N keys.
AttentionInputs random_inputs(std::size_t heads, std::size_t seq_len, std::size_t head_dim,
                              std::uint64_t seed, float q_scale = 1.0f);

struct Reference {
  std::vector<double> output;  // softmax(QKᵀ/√d)V in fp64, masked if causal, [B·H·N_q, d]
  double score_bound = 0;      // S: max over i, j of Σ_c |q_ic·k_jc| / √d
  double score_max = 0;        // max over i, j of |q_i·k_j| / √d (≤ S)
  double v_bound = 0;          // max |v|
  // C: the most running-max updates after a row's first score that the datapaths' scores (fp32,
  // or rounded to the compute format) can make in any row (the scores within the score error of
  // a new maximum, counted in fp64).
  std::size_t max_updates = 0;
};

// `compute`: the format the datapaths' scores take, for counting C (their running max's moves).
Reference reference_attention(const AttentionInputs& inputs, Format compute = Format::fp32);

// Q, K and V rounded to `input`, as the memory holds them (numerics.input).
AttentionInputs rounded_inputs(const AttentionInputs& inputs, Format input);

// The largest |O − reference| over all elements (infinite if an element is not finite or the
// sizes differ).
double max_abs_error(const Reference& ref, const std::vector<float>& output);

// A run is certified only if its tolerance is below this fraction of max|v|: then every output
// element of an `ok` run is within 1% of max|v| of the fp64 reference, in every format (fp16 and
// bf16 bounds are above it on ordinary inputs: such runs are unverified; docs/numerics.md,
// "Certification").
inline constexpr double kCertifiedFraction = 0.01;

// A rigorous bound on |O − O_fp64| for every datapath computing in `compute` (units round their
// results to it, accumulate in fp32; docs/numerics.md, docs/timing.md "Numerics"): for fp32,
// max|v|·(2δs + 2N·u + ...) to first order, with δs = (⌈log₂ d⌉ + 4)·u·S the score error (the
// adder tree's roundings), and never above max|v|·(2 + 2N·u + ...) (|O| ≤ max|v| whatever the
// scores). u = 2^-24.
double error_tolerance(const Reference& ref, std::size_t seq_len, std::size_t head_dim,
                       Format compute = Format::fp32);

// What can round past its format's largest finite value for these inputs (overflow_threshold), as
// the summary says it ("a running sum (N), up to 70000, can overflow fp16 (largest 65504)"), or
// empty if nothing can: a dot product in fp32; computing in a narrower format, a score or a
// running sum on a channel; an output row (max|v| and the tolerance); and unless the datapath's
// rows are normalised (DatapathKind), its fp32 accumulators and their rows on a channel (N·max|v|
// and their roundings). Where something can, any output is what correct arithmetic may give:
// Inf, NaN, or finite values far off (a sum rounded to Inf divides exponentials to 0).
std::string what_overflows(const Reference& ref, std::size_t head_dim, std::size_t seq_len,
                           Format compute = Format::fp32, bool normalised_rows = false);

enum class Verdict {
  ok,          // within a tolerance below kCertifiedFraction·max|v|
  mismatch,    // outside the tolerance, or not finite, where nothing can overflow: a wrong result
  unverified,  // something can overflow, or within a tolerance not below kCertifiedFraction·max|v|
};

struct Check {
  double max_abs_error = 0;  // over all elements; infinite if one is not finite
  // Against the reference on the inputs before their rounding to numerics.input (reported, not
  // judged: the status compares with the reference on the inputs as the memory holds them).
  double max_abs_error_unrounded = 0;
  double tolerance = 0;
  double v_bound = 0;                              // max |v|
  double certified_fraction = kCertifiedFraction;  // of max|v|, in every format
  bool finite = true;
  std::string overflow;  // what can overflow (what_overflows), or empty
  bool may_overflow() const { return !overflow.empty(); }
  Verdict verdict() const;
  bool pass() const { return verdict() == Verdict::ok; }
};

// `seq_len`: the longest row of keys (N_kv); `normalised_rows`: the datapath's (DatapathKind),
// by default the larger values of the reordered datapath's rows.
Check check_output(const Reference& ref, const std::vector<float>& output, std::size_t seq_len,
                   std::size_t head_dim, Format compute = Format::fp32,
                   bool normalised_rows = false);

}  // namespace sdpa
