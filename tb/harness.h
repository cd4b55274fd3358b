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

// Naive: S_g + 2·N_kv − 3 + Lmem + the latencies along the path.
inline Cycle naive_cycles(const AttentionShape& s, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "naive", unit); };
  return keys_streamed(s, c) + 2 * s.kv_len - 3 + reader_latency(c) + l("dot_product") +
         l("row_max") + l("subtract") + l("exp") + l("row_sum") + l("divide") + l("weighted_sum");
}

// Two-pass: S_g + N_kv − 2 + Lmem + the latencies along the path.
inline Cycle two_pass_cycles(const AttentionShape& s, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "two_pass", unit); };
  return keys_streamed(s, c) + s.kv_len - 2 + reader_latency(c) + l("dot_product") +
         l("online_normalizer") + l("normalize") + l("weighted_sum");
}

// Reordered: S_g − 1 + Lmem + path latencies, the two row results joining at the divide after
// the slower of running_sum and rescale_accumulate.
inline Cycle reordered_cycles(const AttentionShape& s, const DatapathConfig& c) {
  auto l = [&](const char* unit) { return L(c, "reordered", unit); };
  return keys_streamed(s, c) - 1 + reader_latency(c) + l("dot_product") + l("running_max") +
         std::max(l("running_sum"), l("rescale_accumulate")) + l("row_divide");
}

inline Cycle closed_form_cycles(const std::string& datapath, const AttentionShape& s,
                                const DatapathConfig& c) {
  if (datapath == "naive") return naive_cycles(s, c);
  if (datapath == "two_pass") return two_pass_cycles(s, c);
  return reordered_cycles(s, c);
}

// H heads of N queries over N keys: H·N² scores.
inline Cycle naive_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c) {
  return naive_cycles(AttentionShape::square(heads, n, 1), c);
}
inline Cycle two_pass_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c) {
  return two_pass_cycles(AttentionShape::square(heads, n, 1), c);
}
inline Cycle reordered_cycles(std::size_t heads, std::size_t n, const DatapathConfig& c) {
  return reordered_cycles(AttentionShape::square(heads, n, 1), c);
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
