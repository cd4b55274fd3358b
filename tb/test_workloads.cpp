// The shapes models run: rectangular, batched, grouped-query (GQA, MQA), causal and decode; each
// datapath against the masked fp64 reference and the closed forms of docs/timing.md.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>
#include <vector>

#include "sim/npy.h"
#include "tb/cli.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Case {
  const char* name;
  AttentionShape shape;  // batch, heads, kv_heads, seq_len, kv_len, head_dim, causal
};

const Case kCases[] = {
    {"rectangular_more_keys", {1, 1, 1, 12, 40, 8, false}},
    {"rectangular_more_queries", {1, 1, 1, 40, 12, 8, false}},
    {"batched", {3, 2, 2, 16, 16, 4, false}},
    {"gqa", {1, 4, 2, 16, 24, 8, false}},
    {"mqa", {2, 4, 1, 8, 8, 4, false}},
    {"causal_square", {1, 1, 1, 32, 32, 8, true}},
    {"causal_heads", {1, 3, 3, 24, 24, 4, true}},
    {"causal_rectangular", {1, 2, 2, 16, 40, 4, true}},
    {"causal_batched_gqa", {2, 4, 2, 20, 28, 4, true}},
    {"decode", {1, 2, 2, 1, 96, 8, false}},
    {"decode_gqa_batched", {3, 4, 1, 2, 64, 8, true}},
};

class Workloads : public testing::TestWithParam<std::tuple<Case, std::string>> {};

TEST_P(Workloads, MatchTheMaskedReferenceAndTheClosedForm) {
  const auto& [c, datapath] = GetParam();
  const AttentionInputs in = random_inputs(c.shape, 7);
  const DatapathConfig config = default_config();
  const SimulationResult r = simulate(in, {datapath}, config);
  const DatapathResult& run = r.runs.at(0);
  expect_accurate(in, run);
  EXPECT_EQ(run.scores, c.shape.scores());
  EXPECT_EQ(run.cycles, closed_form_cycles(datapath, c.shape, config));
  expect_only_streams_wait_for_slots(run);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Workloads,
                         testing::Combine(testing::ValuesIn(kCases),
                                          testing::ValuesIn(datapath_names())),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  std::get<1>(info.param);
                         });

// SDPA in fp64 written from docs/params.md alone, not from the shape's own row lengths and head
// map (which the datapaths use too): Q [B, H, N_q, d], K and V [B, H_kv, N_kv, d]; query head h
// reads K/V head h / (H / H_kv); with the causal mask query i sees keys j ≤ i + N_kv − N_q.
std::vector<double> masked_sdpa(const AttentionInputs& in) {
  const AttentionShape& s = in.shape;
  const std::size_t d = s.head_dim;
  std::vector<double> o(s.batch * s.heads * s.seq_len * d, 0.0);
  for (std::size_t b = 0; b < s.batch; ++b)
    for (std::size_t h = 0; h < s.heads; ++h)
      for (std::size_t i = 0; i < s.seq_len; ++i) {
        const std::size_t kv = b * s.kv_heads + h / (s.heads / s.kv_heads);
        const float* q = &in.q[((b * s.heads + h) * s.seq_len + i) * d];
        const std::size_t seen = s.causal ? i + s.kv_len - s.seq_len + 1 : s.kv_len;
        std::vector<double> score(seen);
        for (std::size_t j = 0; j < seen; ++j) {
          const float* k = &in.k[(kv * s.kv_len + j) * d];
          for (std::size_t c = 0; c < d; ++c) score[j] += double(q[c]) * k[c];
          score[j] /= std::sqrt(double(d));
        }
        const double most = *std::max_element(score.begin(), score.end());
        double sum = 0;
        double* out = &o[((b * s.heads + h) * s.seq_len + i) * d];
        for (std::size_t j = 0; j < seen; ++j) {
          const double p = std::exp(score[j] - most);
          sum += p;
          for (std::size_t c = 0; c < d; ++c) out[c] += p * in.v[(kv * s.kv_len + j) * d + c];
        }
        for (std::size_t c = 0; c < d; ++c) out[c] /= sum;
      }
  return o;
}

// The simulator's reference (sim/reference.cpp), which judges every run, agrees with it on
// every shape: masks, batches and head groups.
TEST(Reference, IsTheMaskedSdpaOfEveryShape) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const AttentionInputs in = random_inputs(c.shape, 11);
    const std::vector<double> expected = masked_sdpa(in);
    const Reference ref = reference_attention(in);
    ASSERT_EQ(ref.output.size(), expected.size());
    for (std::size_t e = 0; e < expected.size(); ++e)
      ASSERT_NEAR(ref.output[e], expected[e], 1e-12) << "element " << e;
  }
}

TEST(Causal, ScoresComputedAreTheMaskedTriangle) {
  // Bottom-right aligned: query i of N_q sees i + N_kv − N_q + 1 of N_kv keys.
  const AttentionShape square{1, 1, 1, 32, 32, 8, true};
  EXPECT_EQ(square.scores(), 32u * 33 / 2);
  EXPECT_EQ(square.scores_skipped(), 32u * 31 / 2);
  const AttentionShape rect{2, 3, 1, 4, 10, 8, true};
  EXPECT_EQ(rect.scores(), 6u * (7 + 8 + 9 + 10));
  const RowShape rows = rect.score_rows();
  EXPECT_EQ(rows.row_length(0), 7u);
  EXPECT_EQ(rows.row_length(3), 10u);
  EXPECT_EQ(rows.row_length(4), 7u);  // the next head starts over
}

TEST(Causal, BypassesHoldTheLongestRow) {
  // Decode: a naive bypass holds a whole row of N_kv scores; the reordered datapath holds none.
  const AttentionShape decode{1, 2, 2, 1, 200, 4, false};  // two heads: two rows
  const DatapathConfig c = default_config();
  const SimulationResult r = simulate(random_inputs(decode, 3), {"naive", "reordered"}, c);
  EXPECT_EQ(channel(r.runs.at(0), "score_bypass").high_water,
            200 + L(c, "naive", "dot_product") + L(c, "naive", "row_max"));
  Cycle reordered = 0;
  for (const ChannelStats& s : r.runs.at(1).channels)
    if (!s.input_stream) reordered = std::max(reordered, s.high_water);
  EXPECT_LE(reordered, L(c, "reordered", "running_max") + 1);
}

// A per-row result waits until the consumer reaches its row, lagging behind the longest row so
// far (docs/timing.md): in a causal head's first block the rows only grow, so nothing lags and
// the latency's depth is enough; from the next head's start the lag makes results queue up.
TEST(Causal, OneHeadsRowResultsNeedOnlyTheirLatency) {
  const AttentionShape one_head{1, 1, 1, 35, 35, 16, true};
  const DatapathConfig c = default_config();
  const SimulationResult r = simulate(random_inputs(one_head, 5), {"naive"}, c);
  const DatapathResult& run = r.runs.at(0);
  EXPECT_EQ(channel(run, "maxima").capacity, L(c, "naive", "row_max") + 1);
  EXPECT_EQ(channel(run, "sums").capacity, L(c, "naive", "row_sum") + 1);
  EXPECT_EQ(run.cycles, closed_form_cycles("naive", one_head, c));
  expect_only_streams_wait_for_slots(run);
}

TEST(Causal, SeveralHeadsRowResultsFillTheDepthTheLagNeeds) {
  const AttentionShape heads{1, 3, 3, 35, 35, 16, true};
  const DatapathConfig c = default_config();
  const SimulationResult r = simulate(random_inputs(heads, 5), {"naive"}, c);
  const DatapathResult& run = r.runs.at(0);
  for (const auto& [name, unit] : {std::pair{"maxima", "row_max"}, {"sums", "row_sum"}}) {
    EXPECT_GT(channel(run, name).capacity, L(c, "naive", unit) + 1) << name;
    EXPECT_EQ(channel(run, name).high_water, channel(run, name).capacity) << name;
  }
  EXPECT_EQ(run.cycles, closed_form_cycles("naive", heads, c));
  expect_only_streams_wait_for_slots(run);
}

json run_report(const std::string& args, const fs::path& out) {
  const SimRun r = sim(args + " --out '" + out.string() + "'", out.parent_path());
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(slurp(out / "report.json"));
}

TEST(Decode, ReorderedMemoryIsFlatInTheCacheLengthNaiveGrowsWithIt) {
  const fs::path d = scratch();
  std::vector<json> runs;
  for (const int kv_len : {256, 1024})
    runs.push_back(
        run_report("--set datapath=all --set problem.seq_len=1 --set problem.head_dim=8 "
                   "--set problem.kv_len=" +
                       std::to_string(kv_len),
                   d / std::to_string(kv_len)));
  auto run_of = [](const json& report, const std::string& datapath) -> const json& {
    for (const json& run : report["runs"])
      if (run["datapath"] == datapath) return run;
    throw std::runtime_error("no run of " + datapath);
  };
  auto memory = [&](const json& report, const std::string& datapath) {
    return run_of(report, datapath)["memory"]["intermediate"]["high_water_elements"].get<Cycle>();
  };
  EXPECT_EQ(memory(runs[1], "reordered"), memory(runs[0], "reordered"));
  EXPECT_EQ(memory(runs[1], "naive") - memory(runs[0], "naive"), 2 * 768u);    // two bypasses
  EXPECT_EQ(memory(runs[1], "two_pass") - memory(runs[0], "two_pass"), 768u);  // one
  // Per token (one query per sequence): every score's K and V row, and Q's row.
  const json& token = run_of(runs[1], "reordered")["per_token"];
  EXPECT_EQ(token["tokens"], 1);
  EXPECT_EQ(token["bytes_read"], (2 * 1024 + 1) * 8 * 4);
  EXPECT_EQ(token["cycles"], run_of(runs[1], "reordered")["cycles"]);
}

TEST(Gqa, MemoryHoldsTheKvHeadsAndQueryHeadsRereadThem) {
  const fs::path d = scratch();
  const json r = run_report(
      "--set datapath=reordered --set problem.heads=8 --set problem.kv_heads=2 "
      "--set problem.seq_len=16 --set problem.head_dim=4 --set problem.batch=2",
      d / "o");
  const json& run = r["runs"][0];
  const std::uint64_t row = 4 * 4, scores = 2 * 8 * 16 * 16;
  EXPECT_EQ(run["memory_traffic"]["footprint_bytes"], (2 * 8 * 16 + 2 * 2 * 2 * 16) * row);
  EXPECT_EQ(run["memory_traffic"]["bytes_read"]["k"], scores * row);
  EXPECT_EQ(run["memory_traffic"]["bytes_read"]["q"], 2 * 8 * 16 * row);
  EXPECT_EQ(r["problem"]["kv_heads"], 2);
  EXPECT_EQ(read_npy((d / "o" / "o_reordered.npy").string()).shape,
            (std::vector<std::size_t>{2, 8, 16, 4}));
}

TEST(BadShapes, AreRefusedNamingWhatDisagrees) {
  const fs::path d = scratch();
  const std::string o = " --out '" + (d / "o").string() + "'";
  expect_error(sim("--set problem.heads=6 --set problem.kv_heads=4" + o, d),
               {"--set problem.kv_heads=4: problem.kv_heads: 4 does not divide problem.heads (6)"});
  expect_error(
      sim("--set problem.causal=true --set problem.seq_len=8 --set problem.kv_len=4" + o, d),
      {"problem.seq_len: 8 queries are more than problem.kv_len (4)"});
  expect_error(sim("--set problem.causal=yes" + o, d),
               {"problem.causal: expected true or false, got 'yes'"});
}

TEST(InputFiles, SetTheShapeWithLeadingOnesLeftOut) {
  // Q [B, H, N_q, d] = [2, 4, 3, 5] and K, V [2, 2, 6, 5] given as 4-D arrays; the run takes
  // the shape from them and the output is [B, H, N_q, d].
  const fs::path d = scratch();
  const AttentionShape shape{2, 4, 2, 3, 6, 5, false};
  const AttentionInputs in = random_inputs(shape, 4);
  write_npy((d / "q.npy").string(), in.q, {2, 4, 3, 5});
  write_npy((d / "k.npy").string(), in.k, {2, 2, 6, 5});
  write_npy((d / "v.npy").string(), in.v, {2, 2, 6, 5});
  auto inputs = [&](const char* q, const char* k, const char* v) {
    return "--set inputs.q='" + (d / q).string() + "' --set inputs.k='" + (d / k).string() +
           "' --set inputs.v='" + (d / v).string() + "' ";
  };
  const std::string files = inputs("q.npy", "k.npy", "v.npy");
  const SimRun r = sim("--set datapath=naive " + files + "--out '" + (d / "o").string() + "'", d);
  ASSERT_EQ(r.status, 0) << r.err;
  const NpyArray out = read_npy((d / "o" / "o_naive.npy").string());
  EXPECT_EQ(out.shape, (std::vector<std::size_t>{2, 4, 3, 5}));
  const Check c = check_output(reference_attention(in), out.data, 6, 5);
  EXPECT_TRUE(c.verdict() == Verdict::ok) << c.max_abs_error;
  // Three K/V heads cannot serve four query heads; a key given with files must agree.
  write_npy((d / "k3.npy").string(), std::vector<float>(2 * 3 * 6 * 5, 0.5f), {2, 3, 6, 5});
  write_npy((d / "v3.npy").string(), std::vector<float>(2 * 3 * 6 * 5, 0.5f), {2, 3, 6, 5});
  expect_error(sim(inputs("q.npy", "k3.npy", "v3.npy") + "--out '" + (d / "x").string() + "'", d),
               {"inputs.k: ", "k3.npy: 3 K/V heads do not divide inputs.q's 4 query heads"});
  expect_error(
      sim(files + "--set problem.kv_len=7 --out '" + (d / "y").string() + "'", d),
      {"--set problem.kv_len=7: problem.kv_len: 7 disagrees with inputs.k", "so N_kv = 6"});
  // Leading dimensions of 1 may be left out: [N, d] is one sequence of one head.
  const AttentionInputs small = random_inputs(AttentionShape::square(1, 4, 3), 5);
  write_npy((d / "q2.npy").string(), small.q, {4, 3});
  write_npy((d / "k2.npy").string(), small.k, {1, 4, 3});
  write_npy((d / "v2.npy").string(), small.v, {1, 1, 4, 3});
  const SimRun two_d = sim(inputs("q2.npy", "k2.npy", "v2.npy") +
                               "--set datapath=reordered --out '" + (d / "z").string() + "'",
                           d);
  ASSERT_EQ(two_d.status, 0) << two_d.err;
  EXPECT_EQ(read_npy((d / "z" / "o_reordered.npy").string()).shape,
            (std::vector<std::size_t>{1, 1, 4, 3}));
}

// ---------------------------------------------------------------- relations between runs
// An output row is the same operations on the same values whatever else runs: a unit starts
// each row afresh, and rows, heads and batches only take turns. So a row computed in a larger
// problem equals, bit for bit, the row computed alone (runs of the binary, one problem each;
// docs/hardening.md, "Relations between runs", has the random configurations behind them).

// The rows of Q [B, H, N_q, d] (or K, V [B, H_kv, N_kv, d]) at `rows` of head `head` of batch `b`.
std::vector<float> rows_of(const std::vector<float>& x, std::size_t heads, std::size_t len,
                           std::size_t d, std::size_t b, std::size_t head,
                           const std::vector<std::size_t>& rows) {
  std::vector<float> out;
  for (std::size_t i : rows) {
    const auto first = x.begin() + std::ptrdiff_t(((b * heads + head) * len + i) * d);
    out.insert(out.end(), first, first + std::ptrdiff_t(d));
  }
  return out;
}

std::vector<std::size_t> all_rows(std::size_t n) {
  std::vector<std::size_t> rows(n);
  for (std::size_t i = 0; i < n; ++i) rows[i] = i;
  return rows;
}

// Runs every datapath on `in` (Q of `q_shape`) and returns each one's output, by datapath.
std::map<std::string, std::vector<float>> outputs_of(const fs::path& d, const AttentionInputs& in,
                                                     const std::vector<std::size_t>& q_shape,
                                                     const std::vector<std::size_t>& kv_shape,
                                                     const std::string& sets) {
  fs::create_directories(d);
  const SimRun r = sim(
      write_inputs(d, in, q_shape, kv_shape) + "--set datapath=all " + sets + out_arg(d / "o"), d);
  // bf16 runs are unverified (exit 6): its tolerance cannot promise 1% (docs/numerics.md).
  EXPECT_EQ(r.status, sets.find("compute=bf16") == std::string::npos ? 0 : 6) << r.err;
  std::map<std::string, std::vector<float>> out;
  for (const std::string& dp : datapath_names())
    out[dp] = read_npy((d / "o" / ("o_" + dp + ".npy")).string()).data;
  return out;
}

class Relations : public testing::TestWithParam<std::string> {};

// A decode step is its prefill's last row, masked or not: the last query sees every key.
TEST_P(Relations, ADecodeStepIsThePrefillsLastRow) {
  const fs::path d = scratch();
  const AttentionShape s{2, 4, 2, 5, 13, 6, false};
  const AttentionInputs in = random_inputs(s, 21, 2.0f);
  AttentionInputs step = in;
  step.q.clear();
  for (std::size_t b = 0; b < s.batch; ++b)
    for (std::size_t h = 0; h < s.heads; ++h) {
      const auto row = rows_of(in.q, s.heads, s.seq_len, s.head_dim, b, h, {s.seq_len - 1});
      step.q.insert(step.q.end(), row.begin(), row.end());
    }
  const std::vector<std::size_t> kv{s.batch, s.kv_heads, s.kv_len, s.head_dim};
  for (const char* causal : {"false", "true"}) {
    SCOPED_TRACE(causal);
    const std::string sets = "--set problem.causal=" + std::string(causal) + " " + GetParam();
    const auto prefill =
        outputs_of(d / causal / "prefill", in, {s.batch, s.heads, s.seq_len, s.head_dim}, kv, sets);
    const auto decode =
        outputs_of(d / causal / "decode", step, {s.batch, s.heads, 1, s.head_dim}, kv, sets);
    for (const std::string& dp : datapath_names()) {
      std::vector<float> last;
      for (std::size_t b = 0; b < s.batch; ++b)
        for (std::size_t h = 0; h < s.heads; ++h) {
          const auto row =
              rows_of(prefill.at(dp), s.heads, s.seq_len, s.head_dim, b, h, {s.seq_len - 1});
          last.insert(last.end(), row.begin(), row.end());
        }
      EXPECT_EQ(decode.at(dp), last) << dp;
    }
  }
}

// Each query head of a batch and group, run alone against its K/V head, gives that head's rows.
TEST_P(Relations, EachHeadOfABatchedGroupIsARunOfItsOwn) {
  const fs::path d = scratch();
  const AttentionShape s{2, 4, 2, 6, 9, 5, true};
  const AttentionInputs in = random_inputs(s, 22, 2.0f);
  const auto whole = outputs_of(d / "whole", in, {s.batch, s.heads, s.seq_len, s.head_dim},
                                {s.batch, s.kv_heads, s.kv_len, s.head_dim},
                                "--set problem.causal=true " + GetParam());
  for (std::size_t b = 0; b < s.batch; ++b)
    for (std::size_t h = 0; h < s.heads; ++h) {
      const std::size_t kv_head = h / (s.heads / s.kv_heads);
      AttentionInputs alone{{1, 1, 1, s.seq_len, s.kv_len, s.head_dim, true}, {}, {}, {}};
      alone.q = rows_of(in.q, s.heads, s.seq_len, s.head_dim, b, h, all_rows(s.seq_len));
      alone.k = rows_of(in.k, s.kv_heads, s.kv_len, s.head_dim, b, kv_head, all_rows(s.kv_len));
      alone.v = rows_of(in.v, s.kv_heads, s.kv_len, s.head_dim, b, kv_head, all_rows(s.kv_len));
      const auto run =
          outputs_of(d / fmt::format("b{}h{}", b, h), alone, {s.seq_len, s.head_dim},
                     {s.kv_len, s.head_dim}, "--set problem.causal=true " + GetParam());
      for (const std::string& dp : datapath_names())
        EXPECT_EQ(run.at(dp),
                  rows_of(whole.at(dp), s.heads, s.seq_len, s.head_dim, b, h, all_rows(s.seq_len)))
            << dp << " batch " << b << " head " << h;
    }
}

// Without the mask, query rows in another order give their output rows in that order.
TEST_P(Relations, QueryRowsInAnotherOrderGiveTheirRowsInThatOrder) {
  const fs::path d = scratch();
  const AttentionShape s{1, 1, 1, 7, 11, 6, false};
  const AttentionInputs in = random_inputs(s, 23, 2.0f);
  const std::vector<std::size_t> order{3, 6, 0, 5, 1, 4, 2};
  AttentionInputs shuffled = in;
  shuffled.q = rows_of(in.q, 1, s.seq_len, s.head_dim, 0, 0, order);
  const auto straight =
      outputs_of(d / "straight", in, {s.seq_len, s.head_dim}, {s.kv_len, s.head_dim}, GetParam());
  const auto reordered = outputs_of(d / "shuffled", shuffled, {s.seq_len, s.head_dim},
                                    {s.kv_len, s.head_dim}, GetParam());
  for (const std::string& dp : datapath_names())
    EXPECT_EQ(reordered.at(dp), rows_of(straight.at(dp), 1, s.seq_len, s.head_dim, 0, 0, order))
        << dp;
}

INSTANTIATE_TEST_SUITE_P(Formats, Relations,
                         testing::Values("--set numerics.compute=fp32",
                                         "--set numerics.input=bf16 --set numerics.compute=bf16"),
                         [](const auto& info) {
                           return info.index == 0 ? std::string("fp32") : std::string("bf16");
                         });

// A deeper channel never makes a run on private links slower (--size-buffers' binary search
// relies on it). One channel a slot deeper rarely changes anything where others bind too, so:
// random depths from the least that runs (a bypass a row less one, 19), then some of them deeper,
// in pairs; some pairs of each datapath must be strictly faster, or the check proved nothing.
TEST(DeeperChannels, NeverSlowARunOnPrivateLinks) {
  const fs::path d = scratch();
  const std::string shape =
      "--set problem.seq_len=12 --set problem.kv_len=20 --set problem.heads=2 "
      "--set problem.head_dim=4 ";
  std::mt19937 random(1);
  const auto pick = [&](int lo, int hi) { return std::uniform_int_distribution(lo, hi)(random); };
  for (const std::string& dp : datapath_names()) {
    SCOPED_TRACE(dp);
    const auto run = [&](const std::map<std::string, std::size_t>& depths, const fs::path& o) {
      std::string sets = shape + "--set datapath=" + dp;
      for (const auto& [channel, depth] : depths)
        sets += fmt::format(" --set datapaths.{}.channels.depths.{}={}", dp, channel, depth);
      const SimRun r = sim(sets + out_arg(o), d);
      EXPECT_EQ(r.status, 0) << r.err;
      return json::parse(slurp(o / "report.json"))["runs"][0]["cycles"].get<std::uint64_t>();
    };
    std::vector<std::string> channels;
    run({}, d / dp);
    const json report = json::parse(slurp(d / dp / "report.json"));
    for (const json& c : report["runs"][0]["channels"]) {
      const std::string name = c["name"];
      channels.push_back(name.substr(name.find('.') + 1));
    }
    int faster = 0;
    for (int pair = 0; pair < 8; ++pair) {
      std::map<std::string, std::size_t> shallow, deep;
      for (const std::string& c : channels) {
        shallow[c] = std::size_t(c.ends_with("_bypass") ? 19 : 1) + pick(0, 3);
        deep[c] = shallow[c] + (pick(0, 1) ? pick(1, 3) : 0);
      }
      const auto before = run(shallow, d / fmt::format("{}_{}a", dp, pair));
      const auto after = run(deep, d / fmt::format("{}_{}b", dp, pair));
      EXPECT_LE(after, before) << "pair " << pair;
      faster += after < before;
    }
    EXPECT_GE(faster, 1);
  }
}

}  // namespace
}  // namespace sdpa::test
