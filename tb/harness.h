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

// docs/timing.md, "Naive datapath": H·N² + 2N − 3 + Lmem + the latencies along the path.
inline Cycle naive_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "naive", unit); };
  return heads * n * n + 2 * n - 3 + reader_latency(c) + l("dot_product") + l("row_max") +
         l("subtract") + l("exp") + l("row_sum") + l("divide") + l("weighted_sum");
}

// docs/timing.md, "Two-pass datapath": H·N² + N − 2 + Lmem + the latencies along the path.
inline Cycle two_pass_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "two_pass", unit); };
  return heads * n * n + n - 2 + reader_latency(c) + l("dot_product") + l("online_normalizer") +
         l("normalize") + l("weighted_sum");
}

// docs/timing.md, "Reordered datapath": H·N² − 1 + Lmem + path latencies, the two row results
// joining at the divide after the slower of running_sum and rescale_accumulate.
inline Cycle reordered_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "reordered", unit); };
  return heads * n * n - 1 + reader_latency(c) + l("dot_product") + l("running_max") +
         std::max(l("running_sum"), l("rescale_accumulate")) + l("row_divide");
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

inline void expect_accurate(const AttentionInputs& in, const DatapathResult& r) {
  ASSERT_EQ(r.status, Status::ok);
  const Check c = check_output(reference_attention(in), r.output, in.seq_len, in.head_dim);
  EXPECT_TRUE(c.finite) << r.datapath;
  EXPECT_LE(c.max_abs_error, c.tolerance) << r.datapath;
  // Within a tolerance small enough to certify (not merely `unverified`).
  EXPECT_TRUE(c.verdict() == Verdict::ok) << r.datapath;
}

}  // namespace sdpa::test
