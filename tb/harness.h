// Shared helpers for the datapath tests: configurations and closed-form cycle counts.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/params.h"
#include "sim/simulation.h"
#include "tb/reference.h"

namespace sdpa::test {

inline DatapathConfig default_config(Mode mode = Mode::decoupled) {
  DatapathConfig c;
  c.clocking.mode = mode;
  return c;
}

// The latency a run's unit had (its default unless configured).
inline unsigned L(const DatapathResult& r, const std::string& unit) {
  for (const UnitStats& u : r.units)
    if (u.name == r.datapath + "." + unit) return u.timing.latency;
  throw std::out_of_range("no unit " + unit);
}

// Latency of a memory row read when a row fits one beat (docs/timing.md).
inline unsigned reader_latency(const DatapathConfig& c) { return c.memory.read_latency; }

// docs/timing.md, "Naive datapath": H·N² + 2N − 3 + Lmem + the latencies along the path.
inline Cycle naive_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c,
                          const DatapathResult& r) {
  return heads * n * n + 2 * n - 3 + reader_latency(c) + L(r, "dot_product") + L(r, "row_max") +
         L(r, "subtract") + L(r, "exp") + L(r, "row_sum") + L(r, "divide") + L(r, "weighted_sum");
}

// docs/timing.md, "Two-pass datapath": H·N² + N − 2 + Lmem + the latencies along the path.
inline Cycle two_pass_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c,
                             const DatapathResult& r) {
  return heads * n * n + n - 2 + reader_latency(c) + L(r, "dot_product") +
         L(r, "online_normalizer") + L(r, "normalize") + L(r, "weighted_sum");
}

// docs/timing.md, "Reordered datapath": H·N² − 1 + Lmem + path latencies, the two row results
// joining at the divide after the slower of running_sum and rescale_accumulate.
inline Cycle reordered_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c,
                              const DatapathResult& r) {
  return heads * n * n - 1 + reader_latency(c) + L(r, "dot_product") + L(r, "running_max") +
         std::max(L(r, "running_sum"), L(r, "rescale_accumulate")) + L(r, "row_divide");
}

inline const ChannelStats& channel(const DatapathResult& r, const std::string& local) {
  for (const ChannelStats& s : r.channels)
    if (s.name == r.datapath + "." + local) return s;
  throw std::out_of_range("no channel " + local);
}

inline void expect_accurate(const AttentionInputs& in, const DatapathResult& r) {
  ASSERT_EQ(r.status, Status::ok);
  const Check c = check_output(reference_attention(in), r.output, in.seq_len, in.head_dim);
  EXPECT_TRUE(c.finite) << r.datapath;
  EXPECT_LE(c.max_abs_error, c.tolerance) << r.datapath;
}

}  // namespace sdpa::test
