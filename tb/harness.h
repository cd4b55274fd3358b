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
  c.units = default_unit_timings();
  return c;
}

inline unsigned L(const DatapathConfig& c, const std::string& unit) {
  return c.units.at(unit).latency;
}

// Latency of a memory row read when a row fits one beat (docs/timing.md).
inline unsigned reader_latency(const DatapathConfig& c) { return c.memory.read_latency; }

// docs/timing.md, "Naive datapath": H·N² + 2N − 3 + Lmem + the latencies along the path.
inline Cycle naive_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c) {
  return heads * n * n + 2 * n - 3 + reader_latency(c) + L(c, "dot_product") + L(c, "row_max") +
         L(c, "subtract") + L(c, "exp") + L(c, "row_sum") + L(c, "divide") + L(c, "weighted_sum");
}

// docs/timing.md, "Reordered datapath": H·N² − 1 + Lmem + path latencies, the two row results
// joining at the divide after the slower of running_sum and rescale_accumulate.
inline Cycle reordered_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c) {
  return heads * n * n - 1 + reader_latency(c) + L(c, "dot_product") + L(c, "running_max") +
         std::max(L(c, "running_sum"), L(c, "rescale_accumulate")) + L(c, "row_divide");
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
  // Within a tolerance small enough to certify (not merely `unverified`).
  EXPECT_TRUE(c.verdict() == Verdict::ok) << r.datapath;
}

}  // namespace sdpa::test
