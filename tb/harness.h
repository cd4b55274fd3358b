// Shared helpers for the datapath tests: configurations and closed-form cycle counts.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/params.h"
#include "sim/reference.h"
#include "sim/simulation.h"

namespace sdpa::test {

// Names of parameterised tests after their parameters (gtest's default is the index): `n16` for N,
// `n33_d16` for (N, d).
inline std::string n_name(const testing::TestParamInfo<std::size_t>& info) {
  return fmt::format("n{}", info.param);
}
inline std::string n_d_name(
    const testing::TestParamInfo<std::tuple<std::size_t, std::size_t>>& info) {
  return fmt::format("n{}_d{}", std::get<0>(info.param), std::get<1>(info.param));
}

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

// Sets `unit`'s II, keeping its latency. (Not `c.timings[unit] = {L(c, datapath, unit), ii}`:
// the subscript may insert a default timing, latency 1, before L reads it.)
inline void set_ii(DatapathConfig& c, const std::string& datapath, const std::string& unit,
                   unsigned ii) {
  const unsigned latency = L(c, datapath, unit);
  c.timings[unit] = {latency, ii};
}

// A unit's initiation interval in `datapath`: as configured in `c`, or its default.
inline unsigned II(const DatapathConfig& c, const std::string& datapath, const std::string& unit) {
  const auto it = c.timings.find(unit);
  return it != c.timings.end() ? it->second.ii
                               : datapath_parts(datapath).default_timings.at(unit).ii;
}

// Latency of a memory row read when a row fits one beat (docs/timing.md).
inline unsigned reader_latency(const DatapathConfig& c) { return c.memory.read_latency; }

// A named set of memory and unit latencies for the closed-form grids: `c` with them applied.
struct LatencySet {
  const char* name;
  unsigned read_latency;
  std::map<std::string, Timing> units;
};
inline DatapathConfig with_latencies(DatapathConfig c, const LatencySet& t) {
  c.memory.read_latency = t.read_latency;
  c.timings = t.units;
  return c;
}

// docs/timing.md, "Closed forms", for any shape and c.lanes lanes: S_g keys streamed (the
// scores, one lane; with lanes, each run of P query rows' longest row), rows of at most N_kv keys.
// Written from the docs, not with the shape's run_rows, which the readers' pattern uses: each
// batch and K/V head has g·N_q query rows, taken position by position across its g query heads
// (head after head with one lane or one head), in runs of P; a run streams the keys its last
// row's query i sees: N_kv, or i + N_kv − N_q + 1 with the causal mask.
inline std::uint64_t keys_streamed(const AttentionShape& s, const DatapathConfig& c) {
  const std::size_t g = s.heads / s.kv_heads, rows = g * s.seq_len, p = c.lanes;
  std::uint64_t keys = 0;
  for (std::size_t first = 0; first < rows; first += p) {
    const std::size_t last = std::min(first + p, rows) - 1;
    const std::size_t query = p > 1 && g > 1 ? last / g : last % s.seq_len;
    keys += s.causal ? query + s.kv_len - s.seq_len + 1 : s.kv_len;
  }
  return keys * s.batch * s.kv_heads;
}

// b: the cycles a Q, K or V row of d elements in the input format takes on its private link.
inline Cycle row_beats(const AttentionShape& s, const DatapathConfig& c) {
  return c.memory.beats(s.head_dim * bytes_of(c.input));
}

// Lmem of a stream reader ("q_reader", "k_reader", "v_reader"): read latency + b − 1, plus the
// reader's own latency − 1.
inline Cycle lmem(const std::string& datapath, const std::string& reader, const AttentionShape& s,
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

// Throws std::invalid_argument where docs/timing.md has no closed form whatever the IIs: a shared
// link that cannot carry a cycle's requests (a K, a V and each lane's Q row) within the cycle, a
// default depth for every channel, or a stream buffer below its automatic depth Lmem + 1. (An
// intermediate channel's automatic depth is the graph's to know: the tests give an intermediate
// channel only depths at or above it.)
inline void require_closed_form(const std::string& datapath, const AttentionShape& s,
                                const DatapathConfig& c) {
  auto refuse = [](const std::string& why) {
    throw std::invalid_argument("no closed form: " + why);
  };
  const std::uint64_t row = s.head_dim * bytes_of(c.input);
  if (c.memory.shared && c.memory.bytes_per_cycle < (2 + c.lanes) * row)
    refuse("a shared link narrower than a cycle's row requests");
  if (c.default_depth != 0) refuse("a default depth for every channel");
  for (const char* stream : {"q", "k", "v"}) {
    const auto depth = c.depths.find(std::string(stream) + "_rows");
    if (depth != c.depths.end() &&
        depth->second < lmem(datapath, std::string(stream) + "_reader", s, c) + 1)
      refuse(depth->first + " below its automatic depth");
  }
}

// Naive and two-pass, rows of b beats (docs/timing.md, "Rows of several beats"): the last
// probability, the first row's burst of probabilities streamed at the V link's rate less the
// prefetch of the V buffer's C rows (Lmem_V + 1 at automatic depth), or the V stream alone.
// `tail` is the probabilities' path after the first score (F + N_kv − 1 of the derivation).
inline Cycle last_weighted_row(const std::string& datapath, const AttentionShape& s,
                               const DatapathConfig& c, Cycle tail) {
  const Cycle b = row_beats(s, c), n = s.kv_len, v = lmem(datapath, "v_reader", s, c);
  const auto depth = c.depths.find("v_rows");
  const Cycle cv = depth != c.depths.end() ? depth->second : v + 1;
  // (N_kv − C − 2)·(b − 1) − (C − Lmem_V − 1), when positive: (b − 1)(N_kv − Lmem_V − 3) at auto.
  const Cycle gain = n * (b - 1) + v + 1, cost = (cv + 2) * (b - 1) + cv;
  const Cycle excess = gain > cost ? gain - cost : 0;
  const Cycle streamed = (keys_streamed(s, c) - 1) * b;
  return std::max(streamed + first_score(datapath, s, c) + tail + excess, streamed + v) +
         L(c, datapath, "weighted_sum");
}

// docs/timing.md, "Units slower than one per cycle": the per-score units of the naive and
// two-pass datapaths (and the K reader), in the segments between the joins of a row's reduction
// with the row's elements.
inline const std::vector<std::vector<std::string>>& score_segments(const std::string& datapath) {
  static const std::map<std::string, std::vector<std::vector<std::string>>> segments{
      {"naive",
       {{"k_reader", "dot_product", "row_max"},
        {"subtract", "exp", "row_sum"},
        {"divide", "weighted_sum"}}},
      {"two_pass",
       {{"k_reader", "dot_product", "online_normalizer"}, {"normalize", "weighted_sum"}}}};
  return segments.at(datapath);
}

// The units of `datapath` with II > 1 in `c`.
inline std::vector<std::string> slow_units(const std::string& datapath, const DatapathConfig& c) {
  std::vector<std::string> slow;
  for (const auto& [unit, timing] : datapath_parts(datapath).default_timings)
    if (II(c, datapath, unit) > 1) slow.push_back(unit);
  return slow;
}

// Throws std::invalid_argument where docs/timing.md has no closed form for units with II > 1:
// one-beat rows on private links, automatic depths, full rows, one lane; per-score units and the
// K reader in any number (the K reader's Q rows no later than its K rows); a per-row unit (the Q
// reader, the row divide, the sink), or the reordered running sum or accumulator, only alone;
// never the V reader; a V reader no slower than the K reader (naive, two-pass: a weighted sum
// waiting for V rows would hold a slow unit's results back) or than the scores' path (reordered).
inline void require_ii_closed_form(const std::string& dp, const AttentionShape& s,
                                   const DatapathConfig& c) {
  auto refuse = [](const std::string& why) {
    throw std::invalid_argument("no closed form with II > 1: " + why);
  };
  if (row_beats(s, c) > 1) refuse("rows of several beats");
  if (c.memory.shared) refuse("a shared memory link");
  if (c.lanes > 1) refuse("lanes");
  if (s.causal) refuse("a causal mask");
  if (c.default_depth != 0 || !c.depths.empty()) refuse("depths other than automatic");
  const std::vector<std::string> slow = slow_units(dp, c);
  for (const std::string& unit : slow) {
    if (unit == "v_reader") refuse("a V reader with II > 1");
    if (unit == "k_reader" && lmem(dp, "q_reader", s, c) > lmem(dp, "k_reader", s, c))
      refuse("a K reader with II > 1 and a Q reader of longer latency");
    if ((unit == "q_reader" || unit == "row_divide" || unit == "sink" || unit == "running_sum" ||
         unit == "rescale_accumulate") &&
        slow.size() > 1)
      refuse(unit + " with II > 1 beside another unit with II > 1");
  }
  const Cycle v = lmem(dp, "v_reader", s, c);
  if (dp == "reordered" ? v > first_score(dp, s, c) + L(c, dp, "running_max")
                        : v > lmem(dp, "k_reader", s, c))
    refuse("a V reader slower than the scores' path");
}

// A sink of II k_s > 1 behind a producer of latency L_p that fires f times per row (its output
// channel L_p + 1 deep): from the first row the sink takes a row every k_s cycles, t_r = a_0 +
// r·k_s; the producer writes row r once the sink has taken row r − L_p − 1, and fires row r + 1
// after it. The last row's ready stamp, the run's cycles, is the latest of the one-per-cycle form
// and the two stall paths.
inline Cycle slow_sink(Cycle one_per_cycle, Cycle rows, Cycle n, Cycle ks, Cycle f, Cycle lp) {
  const Cycle a0 = one_per_cycle - (rows - 1) * n, c = lp + 1;
  Cycle cycles = one_per_cycle;
  if (rows >= c + 2) cycles = std::max(cycles, a0 + (rows - 2 - c) * ks + f + lp + 1);
  if (rows >= c + 1) cycles = std::max(cycles, a0 + (rows - 1 - c) * ks + 2);
  return cycles;
}

// Naive and two-pass with units of II > 1. Per-score units: a longest path through the chain of
// scores, S − 1 + (N − 1) per join steps taken at the segments' IIs, all but one row's worth per
// join at the largest; from the K reader's first row, or from the Q row (the K reader's II not on
// that path). A per-row unit: the one-per-cycle form, stretched by the rows it holds back.
inline Cycle chain_cycles_ii(const std::string& dp, const AttentionShape& s,
                             const DatapathConfig& c, Cycle one_per_cycle) {
  require_ii_closed_form(dp, s, c);
  const Cycle n = s.kv_len, rows = s.rows();
  const Cycle q = lmem(dp, "q_reader", s, c), k = lmem(dp, "k_reader", s, c);
  if (const Cycle kq = II(c, dp, "q_reader"); kq > 1) {
    // Q row i ready at Lmem_Q + i·k_Q: the rows start k_Q apart when k_Q > N.
    const Cycle full = std::max(q, k) + (rows - 1) * n;
    return one_per_cycle + std::max(q + (rows - 1) * kq, full) - full;
  }
  if (const Cycle ks = II(c, dp, "sink"); ks > 1)
    return slow_sink(one_per_cycle, rows, n, ks, n, L(c, dp, "weighted_sum"));
  const auto& segments = score_segments(dp);
  Cycle latencies = 0;
  for (const auto& segment : segments)
    for (const std::string& unit : segment)
      if (unit != "k_reader") latencies += L(c, dp, unit);
  auto path = [&](bool from_k) {
    Cycle most = 0, sum = 0;
    for (const auto& segment : segments) {
      Cycle slowest = 1;
      for (const std::string& unit : segment)
        if (from_k || unit != "k_reader") slowest = std::max<Cycle>(slowest, II(c, dp, unit));
      most = std::max(most, slowest);
      sum += slowest;
    }
    return (rows - 1) * n * most + (n - 1) * sum;
  };
  return std::max(k + path(true), q + path(false)) + latencies;
}

// A bypass `depth` deep, from a row less one up to its full-rate depth row + latency (rows of
// `row`, the producer's and the reduction's latencies), but not C ≥ ℓ with C ≡ ℓ − 1 (mod ℓ):
// every m = max(1, ⌊C / ℓ⌋) rows one waits ℓ + L − C cycles for its slots (docs/timing.md,
// "Bypasses shorter than a row").
inline Cycle short_bypass_delay(Cycle rows, Cycle row, Cycle latency, Cycle depth) {
  if (depth >= row + latency) return 0;
  return (rows - 1) / std::max<Cycle>(1, depth / row) * (row + latency - depth);
}

// Naive: (S_g − 1)·b + 2·N_kv − 2 + Lmem + the latencies along the path, + the V stream's excess.
// With units of II > 1: chain_cycles_ii.
inline Cycle naive_cycles(const AttentionShape& s, const DatapathConfig& c) {
  require_closed_form("naive", s, c);
  auto l = [&](const char* unit) { return L(c, "naive", unit); };
  const Cycle one_per_cycle = last_weighted_row(
      "naive", s, c,
      2 * (s.kv_len - 1) + l("row_max") + l("subtract") + l("exp") + l("row_sum") + l("divide"));
  return slow_units("naive", c).empty() ? one_per_cycle
                                        : chain_cycles_ii("naive", s, c, one_per_cycle);
}

// Two-pass: (S_g − 1)·b + N_kv − 1 + Lmem + the latencies along the path, + the V stream's excess.
// With units of II > 1: chain_cycles_ii.
inline Cycle two_pass_cycles(const AttentionShape& s, const DatapathConfig& c) {
  require_closed_form("two_pass", s, c);
  auto l = [&](const char* unit) { return L(c, "two_pass", unit); };
  const Cycle one_per_cycle =
      last_weighted_row("two_pass", s, c, s.kv_len - 1 + l("online_normalizer") + l("normalize"));
  return slow_units("two_pass", c).empty() ? one_per_cycle
                                           : chain_cycles_ii("two_pass", s, c, one_per_cycle);
}

// Reordered: (S_g − 1)·b + Lmem + path latencies, the two row results joining at the divide after
// the slower of running_sum and rescale_accumulate; the accumulator waits for its V rows only if
// the V reader is slower than the scores' path to it.
// With units of II > 1 (docs/timing.md, "Units slower than one per cycle"): the scores' path at
// the slowest of the K reader, the dot product and the running max; a slow running sum or
// accumulator lets the other branch run ahead by what the channel between them holds; a slow row
// divide or sink holds rows back when it is slower than a row of scores.
inline Cycle reordered_cycles(const AttentionShape& s, const DatapathConfig& c) {
  const std::string dp = "reordered";
  require_closed_form(dp, s, c);
  auto l = [&](const char* unit) { return L(c, dp, unit); };
  // A late V stream delays only the accumulator's branch: covered while that branch is also the
  // slower one (then the running sum never finishes later, blocked behind it or not).
  if (lmem(dp, "v_reader", s, c) > first_score(dp, s, c) + l("running_max") &&
      l("running_sum") > l("rescale_accumulate"))
    throw std::invalid_argument(
        "no closed form: a late V reader and a running sum slower than "
        "the accumulator");
  const Cycle one_per_cycle =
      (keys_streamed(s, c) - 1) * row_beats(s, c) +
      std::max(first_score(dp, s, c) + l("running_max"), lmem(dp, "v_reader", s, c)) +
      std::max(l("running_sum"), l("rescale_accumulate")) + l("row_divide");
  if (slow_units(dp, c).empty()) return one_per_cycle;
  require_ii_closed_form(dp, s, c);
  const Cycle n = s.kv_len, rows = s.rows(), last = rows * n - 1;  // the last score's index
  const Cycle q = lmem(dp, "q_reader", s, c), k = lmem(dp, "k_reader", s, c);
  const Cycle t0 = first_score(dp, s, c), lr = l("running_max"), ls = l("running_sum"),
              la = l("rescale_accumulate"), cap = lr + 1;  // sum_rescale and acc_rescale's depth
  if (const Cycle kq = II(c, dp, "q_reader"); kq > 1) {
    const Cycle full = std::max(q, k) + (rows - 1) * n;
    return one_per_cycle + std::max(q + (rows - 1) * kq, full) - full;
  }
  if (const Cycle kd = II(c, dp, "row_divide"); kd > 1)
    return one_per_cycle + (rows - 1) * (std::max(kd, n) - n);
  if (const Cycle ks = II(c, dp, "sink"); ks > 1)
    return slow_sink(one_per_cycle, rows, n, ks, 1, l("row_divide"));
  if (const Cycle kk = II(c, dp, "running_sum"); kk > 1) {
    // The running sum reads pair e at R_e = T0 + L_rmax + e·k; the running max writes pair e to
    // it once R_{e−C} has freed a slot, then at once to the accumulator, which gets it at
    // max(t0_e + L_rmax, W_e + 1).
    Cycle acc = t0 + lr + last;
    if (last >= cap) acc = std::max(acc, t0 + lr + (last - cap) * kk + 2);
    if (last >= cap + 1) acc = std::max(acc, t0 + 2 * lr + 2 + (last - 1 - cap) * kk);
    return std::max(t0 + lr + last * kk + ls, acc + la) + l("row_divide");
  }
  if (const Cycle kk = II(c, dp, "rescale_accumulate"); kk > 1) {
    // The mirror image: the running max issues pair e once the accumulator has freed the slot of
    // pair e − C − 1, and writes it to the running sum at once, due L_rmax later.
    Cycle issue = t0 + last;
    if (last >= cap + 1) issue = std::max(issue, t0 + lr + (last - 1 - cap) * kk + 2);
    return std::max(t0 + lr + last * kk + la, issue + lr + ls) + l("row_divide");
  }
  const Cycle kk = std::max(II(c, dp, "dot_product"), II(c, dp, "running_max"));
  const Cycle last_pair =
      std::max(k + last * std::max<Cycle>(kk, II(c, dp, "k_reader")), q + last * kk) +
      l("dot_product") + lr;
  return last_pair + std::max(ls, la) + l("row_divide");
}

inline Cycle closed_form_cycles(const std::string& datapath, const AttentionShape& s,
                                const DatapathConfig& c) {
  if (datapath == "naive") return naive_cycles(s, c);
  if (datapath == "two_pass") return two_pass_cycles(s, c);
  if (datapath == "reordered") return reordered_cycles(s, c);
  // A new datapath's closed form goes here (docs/extending.md), not reordered's by default.
  throw std::out_of_range("no closed form for datapath " + datapath);
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
