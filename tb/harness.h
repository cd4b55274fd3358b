// Shared helpers for the datapath tests: configurations and closed-form cycle counts.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/params.h"
#include "sim/reference.h"
#include "sim/simulation.h"

namespace sdpa::test {

inline DatapathConfig default_config(Mode mode = Mode::decoupled) {
  // The units' default timings are read off graphs built for the purpose (sim/simulation.h),
  // which must happen before a simulation starts: here, before any test builds one.
  for (const std::string& dp : datapath_names()) datapath_parts(dp);
  DatapathConfig c;
  c.clocking.mode = mode;
  return c;
}

// A unit's latency in `datapath`: as configured in `c`, or its default.
inline unsigned L(const DatapathConfig& c, const std::string& datapath, const std::string& unit) {
  const auto it = c.timings.find(unit);
  return it != c.timings.end() ? it->second.latency
                               : datapath_parts(datapath).default_timings.at(unit).latency;
}

// Latency of a memory row read when a row fits one beat (docs/timing.md).
inline unsigned reader_latency(const DatapathConfig& c) { return c.memory.read_latency; }

// docs/timing.md, "Closed forms", for any shape and c.lanes lanes: S_g keys streamed (the
// scores, one lane; with lanes, each group of queries' longest row), rows of at most N_kv keys.
inline std::uint64_t keys_streamed(const AttentionShape& s, const DatapathConfig& c) {
  return s.group_rows(c.lanes).elements();
}

// b: the cycles a Q, K or V row of d elements in the input format takes on its private link.
inline Cycle row_beats(const AttentionShape& s, const DatapathConfig& c) {
  return c.memory.beats(s.head_dim * bytes_of(c.input));
}

// Lmem of a stream reader ("q_reader", "k_reader", "v_reader"): read latency + b − 1, plus the
// reader's own latency − 1.
inline Cycle lmem(const std::string& datapath, const char* reader, const AttentionShape& s,
                  const DatapathConfig& c) {
  return c.memory.read_latency + row_beats(s, c) - 1 + L(c, datapath, reader) - 1;
}

// T0: the first score is ready L_dot after its K row, Lmem_K (the Q row, Lmem_Q, is ready with it
// or before). The later of the two if Q is slower and every score waits for it as much (one beat,
// or one key per row); otherwise a slower Q reader delays only the first rows: no closed form.
inline Cycle first_score(const std::string& datapath, const AttentionShape& s,
                         const DatapathConfig& c) {
  const Cycle q = lmem(datapath, "q_reader", s, c), k = lmem(datapath, "k_reader", s, c);
  if (q > k && row_beats(s, c) > 1 && s.kv_len > 1)
    throw std::invalid_argument("no closed form: Lmem of the Q reader above the K reader's");
  return std::max(q, k) + L(c, datapath, "dot_product");
}

// Naive and two-pass, rows of b beats (docs/timing.md, "Rows of several beats"): the last
// probability, the first row's burst of probabilities streamed at the V link's rate less the
// prefetch of the V buffer's C rows (Lmem_V + 1 at automatic depth), or the V stream alone.
// `tail` is the probabilities' path after the first score (F + N_kv − 1 of the derivation).
inline Cycle last_weighted_row(const std::string& datapath, const AttentionShape& s,
                               const DatapathConfig& c, Cycle tail) {
  const Cycle b = row_beats(s, c), n = s.kv_len, v = lmem(datapath, "v_reader", s, c);
  const auto depth = c.depths.find("v_rows");
  const Cycle cv = depth != c.depths.end() ? depth->second
                   : c.default_depth != 0  ? c.default_depth
                                           : v + 1;
  // (N_kv − C − 2)·(b − 1) − (C − Lmem_V − 1), when positive: (b − 1)(N_kv − Lmem_V − 3) at auto.
  const Cycle gain = n * (b - 1) + v + 1, cost = (cv + 2) * (b - 1) + cv;
  const Cycle excess = gain > cost ? gain - cost : 0;
  const Cycle streamed = (keys_streamed(s, c) - 1) * b;
  return std::max(streamed + first_score(datapath, s, c) + tail + excess, streamed + v) +
         L(c, datapath, "weighted_sum");
}

// Naive: (S_g − 1)·b + 2·N_kv − 2 + Lmem + the latencies along the path, + the V stream's excess.
inline Cycle naive_cycles(const AttentionShape& s, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "naive", unit); };
  return last_weighted_row(
      "naive", s, c,
      2 * (s.kv_len - 1) + l("row_max") + l("subtract") + l("exp") + l("row_sum") + l("divide"));
}

// Two-pass: (S_g − 1)·b + N_kv − 1 + Lmem + the latencies along the path, + the V stream's excess.
inline Cycle two_pass_cycles(const AttentionShape& s, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "two_pass", unit); };
  return last_weighted_row("two_pass", s, c,
                           s.kv_len - 1 + l("online_normalizer") + l("normalize"));
}

// Reordered: (S_g − 1)·b + Lmem + path latencies, the two row results joining at the divide after
// the slower of running_sum and rescale_accumulate; the accumulator waits for its V rows only if
// the V reader is slower than the scores' path to it.
inline Cycle reordered_cycles(const AttentionShape& s, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "reordered", unit); };
  return (keys_streamed(s, c) - 1) * row_beats(s, c) +
         std::max(first_score("reordered", s, c) + l("running_max"),
                  lmem("reordered", "v_reader", s, c)) +
         std::max(l("running_sum"), l("rescale_accumulate")) + l("row_divide");
}

inline Cycle closed_form_cycles(const std::string& datapath, const AttentionShape& s,
                                const DatapathConfig& c) {
  if (datapath == "naive") return naive_cycles(s, c);
  if (datapath == "two_pass") return two_pass_cycles(s, c);
  return reordered_cycles(s, c);
}

// H heads of N queries over N keys: H·N² scores, rows of d elements (their beats).
inline Cycle naive_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c,
                          std::size_t d = 1) {
  return naive_cycles(AttentionShape::square(heads, n, d), c);
}
inline Cycle two_pass_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c,
                             std::size_t d = 1) {
  return two_pass_cycles(AttentionShape::square(heads, n, d), c);
}
inline Cycle reordered_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c,
                              std::size_t d = 1) {
  return reordered_cycles(AttentionShape::square(heads, n, d), c);
}

inline const UnitStats& unit(const DatapathResult& r, const std::string& local) {
  for (const UnitStats& u : r.units)
    if (u.name == r.datapath + "." + local) return u;
  throw std::out_of_range("no unit " + local);
}

inline const ChannelStats& channel(const DatapathResult& r, const std::string& local) {
  for (const ChannelStats& s : r.channels)
    if (s.name == r.datapath + "." + local) return s;
  throw std::out_of_range("no channel " + local);
}

// At full rate only the memory streams, which run ahead of their consumers, wait for slots.
inline void expect_only_streams_wait_for_slots(const DatapathResult& r) {
  for (const ChannelStats& s : r.channels)
    if (!s.input_stream) {
      EXPECT_EQ(s.producer_stall_cycles, 0u) << s.name;
    }
}

inline void expect_accurate(const AttentionInputs& in, const DatapathResult& r) {
  ASSERT_EQ(r.status, Status::ok);
  const Check c =
      check_output(reference_attention(in), r.output, in.shape.kv_len, in.shape.head_dim);
  EXPECT_TRUE(c.finite) << r.datapath;
  EXPECT_LE(c.max_abs_error, c.tolerance) << r.datapath;
  // Within a tolerance small enough to certify (not merely `unverified`).
  EXPECT_TRUE(c.verdict() == Verdict::ok) << r.datapath;
}

}  // namespace sdpa::test
