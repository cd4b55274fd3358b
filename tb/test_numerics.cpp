// The numerical check (docs/timing.md, "Numerics"): its tolerance is a rigorous bound on the fp32
// error that stays a fraction of max|v|; a run that fp32 cannot certify to 1% of max|v| is
// `unverified` (exit 6), never `ok`; an output 1% of max|v| off is a mismatch.
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <tuple>

#include "hw/units/map.h"
#include "sim/npy.h"
#include "tb/cli.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The tolerance this check replaces: u·max|v|·(4(d + 2)·S + 4N + 16), unbounded in S.
double old_tolerance(const Reference& ref, std::size_t n, std::size_t d) {
  return 0x1p-24 * ref.v_bound * (4.0 * (d + 2.0) * ref.score_bound + 4.0 * n + 16.0);
}

// Sorts the keys (and their values) by their score with query 0, so that in row 0 every key
// moves the running max: the reordered datapath's most roundings.
void sort_keys_by_score(AttentionInputs& in) {
  const std::size_t n = in.shape.seq_len, d = in.shape.head_dim;
  std::vector<double> score(n);
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t c = 0; c < d; ++c) score[j] += double(in.q[c]) * in.k[j * d + c];
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return score[a] < score[b]; });
  const AttentionInputs copy = in;
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t c = 0; c < d; ++c) {
      in.k[j * d + c] = copy.k[order[j] * d + c];
      in.v[j * d + c] = copy.v[order[j] * d + c];
    }
}

// The fp32 value nearest reference + off that is at least |off| from the reference.
float off_by(double reference, double off) {
  float x = float(reference + off);
  while (std::fabs(double(x) - reference) < std::fabs(off))
    x = std::nextafter(x, off > 0 ? INFINITY : -INFINITY);
  return x;
}

// N, d, the Q scale, and whether the keys are sorted by score with V ≥ 0 (the worst case for
// the reordered datapath's rescalings, and sums of one sign).
using Case = std::tuple<std::size_t, std::size_t, float, bool>;

class Certified : public testing::TestWithParam<Case> {};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  const auto [n, d, q_scale, worst] = info.param;
  return fmt::format("n{}_d{}_q{}{}", n, d, q_scale, worst ? "_sorted" : "");
}

TEST_P(Certified, EveryDatapathIsOkAndOnePercentOfMaxVOffIsAMismatch) {
  const auto [n, d, q_scale, worst] = GetParam();
  AttentionInputs in = random_inputs(1, n, d, 300 + n + d, q_scale);
  if (worst) {
    sort_keys_by_score(in);
    for (float& v : in.v) v = std::fabs(v);
  }
  const Reference ref = reference_attention(in);
  if (worst) {
    EXPECT_EQ(ref.max_updates, n - 1);
  }
  const SimulationResult r = simulate(in, datapath_names(), default_config());
  for (const DatapathResult& run : r.runs) {
    ASSERT_EQ(run.status, Status::ok) << run.datapath;
    Check c = check_output(ref, run.output, n, d);
    // The bound holds, and is below 1% of max|v|.
    EXPECT_LE(c.max_abs_error, c.tolerance) << run.datapath;
    EXPECT_LT(c.tolerance, 0.01 * ref.v_bound) << run.datapath;
    EXPECT_EQ(c.verdict(), Verdict::ok) << run.datapath;
    // One element, either side, 1% of max|v| from the fp64 reference.
    for (double sign : {1.0, -1.0}) {
      std::vector<float> out = run.output;
      const std::size_t e = out.size() / 2;
      out[e] = off_by(ref.output[e], sign * 0.01 * ref.v_bound);
      c = check_output(ref, out, n, d);
      EXPECT_EQ(c.verdict(), Verdict::mismatch) << run.datapath << " " << sign;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Certified,
    testing::Values(Case{1, 1, 1.0f, false}, Case{16, 8, 1.0f, false}, Case{33, 3, 1.0f, false},
                    Case{64, 64, 1.0f, false},
                    Case{48, 16, 60.0f, false},  // test_reordered's scores near 100
                    // Scores up to ~3000: the old tolerance was 1.3% of max|v| here.
                    Case{64, 16, 400.0f, false}, Case{64, 32, 1.0f, true},
                    Case{64, 16, 60.0f, true},
                    // Large d: counting a sequential sum's d + 3 roundings per score instead of
                    // the adder tree's ⌈log₂ d⌉ + 4, the bound was 1.2% and over 3% of max|v| here.
                    Case{16, 2048, 1.0f, false}, Case{32, 4096, 1.0f, true}),
    case_name);

TEST(Certified, OldToleranceLetOnePercentPassAtLargeScores) {
  // The premise of the q_scale 400 case above: the old check called this output ok.
  const AttentionInputs in = random_inputs(1, 64, 16, 300 + 64 + 16, 400.0f);
  const Reference ref = reference_attention(in);
  EXPECT_GT(old_tolerance(ref, 64, 16), 0.01 * ref.v_bound);
  EXPECT_LT(error_tolerance(ref, 64, 16), 0.01 * ref.v_bound);
}

TEST(Tolerance, CertifiesEveryInputInTwoByTwoUpTo16KBy4096) {
  // The tolerance grows with N, d, S and C. With entries in [-2, 2], S ≤ 4√d and C ≤ N − 1:
  // this corner bounds every run with N ≤ 16384 and d ≤ 4096.
  Reference ref;
  ref.v_bound = 2;
  ref.score_bound = 4 * std::sqrt(4096.0);
  ref.max_updates = 16383;
  EXPECT_LT(error_tolerance(ref, 16384, 4096), 0.01 * ref.v_bound);
}

// timing.md's table of measured errors gives the bound tol / max|v| of each case from its N, d,
// S and C (S to three digits, the bound to two): the tolerance is that one, not a looser one that
// would still certify these runs.
TEST(Tolerance, IsTheBoundTimingMdTabulates) {
  struct Row {
    std::size_t n, d;
    double s;
    std::size_t c;
    double bound;
  };
  const Row rows[] = {
      {1024, 64, 12.2, 16, 1.4e-4},   {4096, 64, 12.8, 18, 5.1e-4},
      {4096, 128, 16.5, 19, 5.2e-4},  {16384, 64, 13.3, 22, 2.0e-3},
      {16384, 256, 21.5, 23, 2.0e-3}, {1024, 64, 12.2, 1023, 5.0e-4},
      {4096, 64, 12.8, 4095, 2.0e-3}, {16384, 64, 13.3, 16383, 7.9e-3},
      {1024, 8, 0, 0, 1.3e-4},        {16384, 4, 0, 0, 2.0e-3},
      {48, 16, 424, 9, 4.1e-4},       {1024, 16, 500, 16, 6.1e-4},
      {1024, 64, 733, 16, 1.0e-3},    {1024, 64, 1221, 16, 1.6e-3},
      {1024, 64, 1466, 16, 1.9e-3},
  };
  for (const Row& row : rows) {
    Reference ref;
    ref.v_bound = 1;
    ref.score_bound = row.s;
    ref.max_updates = row.c;
    const double bound = error_tolerance(ref, row.n, row.d);
    EXPECT_NEAR(bound, row.bound, 0.051 * row.bound)
        << "N = " << row.n << ", d = " << row.d << ", S = " << row.s << ", C = " << row.c;
  }
}

TEST(Tolerance, NeverExceedsTwiceMaxV) {
  // Scores fp32 cannot certify to 1% (S = 10⁴ at d = 16 it can: 0.96%).
  for (double s : {1e5, 1e10, 1e30, 1e300}) {
    Reference ref;
    ref.v_bound = 3;
    ref.score_bound = s;
    ref.max_updates = 63;
    const double tol = error_tolerance(ref, 64, 16);
    EXPECT_LE(tol, 2.0001 * ref.v_bound) << s;
    EXPECT_GE(tol, 0.01 * ref.v_bound) << s;
  }
}

TEST(Tolerance, TheCapCoversTheTwoPassArgumentsRoundedApart) {
  // With C = 0 the two-pass datapath's |Ô| / max|v| bound is the largest: its N + 3 roundings
  // over its N + 1, times e^{210u} for its two sides' exponent arguments (timing.md). The cap is
  // that plus the fp64 reference's |O| / max|v|, at least 1.
  const double u = 0x1p-24, n = 64;
  Reference ref;
  ref.v_bound = 1;
  ref.score_bound = 1e30;
  ref.max_updates = 0;
  const auto gamma = [u](double k) { return k * u / (1 - k * u); };
  const double two_pass = std::exp(210 * u) * (1 + gamma(n + 3)) / (1 - gamma(n + 1));
  EXPECT_GE(error_tolerance(ref, 64, 16), two_pass + 1);
}

TEST(Tolerance, ZeroVMakesAnExactlyZeroOutput) {
  AttentionInputs in = random_inputs(1, 8, 4, 5);
  std::fill(in.v.begin(), in.v.end(), 0.0f);
  const Reference ref = reference_attention(in);
  EXPECT_EQ(check_output(ref, std::vector<float>(32, 0.0f), 8, 4).verdict(), Verdict::ok);
  std::vector<float> out(32, 0.0f);
  out[7] = 1e-30f;
  EXPECT_EQ(check_output(ref, out, 8, 4).verdict(), Verdict::mismatch);
}

// The running-max moves of fp32 and fp64 in row i, the reordered datapath's way.
std::pair<std::size_t, std::size_t> max_moves(const AttentionInputs& in, std::size_t i) {
  const std::size_t n = in.shape.seq_len, d = in.shape.head_dim;
  const ScaledDotOp dot{1.0f / std::sqrt(float(d))};
  const RowView q(in.q.data() + i * d, d);
  float m = 0;
  double m64 = 0;
  std::size_t moves = 0, moves64 = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const float s = dot(RowView(in.k.data() + j * d, d), q);
    double s64 = 0;
    for (std::size_t c = 0; c < d; ++c) s64 += double(q[c]) * in.k[j * d + c];
    moves += j > 0 && s > m;
    moves64 += j > 0 && s64 > m64;
    m = j == 0 ? s : std::max(m, s);
    m64 = j == 0 ? s64 : std::max(m64, s64);
  }
  return {moves, moves64};
}

TEST(Tolerance, MaxUpdatesBoundsTheFp32RunningMaxMoves) {
  // Near-ties: every key also appears nudged by one ulp, so that fp32 and fp64 order some
  // scores differently.
  const std::size_t n = 40, d = 8;
  AttentionInputs in = random_inputs(1, n, d, 9, 5.0f);
  for (std::size_t j = 1; j < n; j += 2)
    for (std::size_t c = 0; c < d; ++c)
      in.k[j * d + c] = std::nextafter(in.k[(j - 1) * d + c], INFINITY);
  const Reference ref = reference_attention(in);
  std::size_t most = 0, more = n;  // more: a row where fp32 moves more often than fp64
  for (std::size_t i = 0; i < n; ++i) {
    const auto [moves, moves64] = max_moves(in, i);
    most = std::max(most, moves);
    if (moves > moves64) more = i;
  }
  EXPECT_GE(ref.max_updates, most);
  EXPECT_LT(ref.max_updates, n - 1);  // far from the worst case on random keys
  // Every query that row's: fp64's own moves alone would count too few.
  ASSERT_LT(more, n);
  for (std::size_t i = 0; i < n; ++i) std::copy_n(in.q.begin() + more * d, d, in.q.begin() + i * d);
  EXPECT_GE(reference_attention(in).max_updates, max_moves(in, more).first);
}

TEST(Tolerance, EqualScoresNeverMoveTheRunningMax) {
  // Q = 0: every score is exactly 0 in fp32 too, and a tie keeps the max (δ = 1 exactly).
  const AttentionInputs in = random_inputs(1, 32, 4, 3, 0.0f);
  EXPECT_EQ(reference_attention(in).max_updates, 0u);
}

TEST(Unverified, HugeScoresAreUnverifiedNotOk) {
  const AttentionInputs in = random_inputs(1, 16, 8, 17, 1e30f);
  const Reference ref = reference_attention(in);
  // The old tolerance let any output with |O| ≤ max|v| pass: every wrong one too.
  ASSERT_GT(old_tolerance(ref, 16, 8), 1e20 * ref.v_bound);
  const SimulationResult r = simulate(in, datapath_names(), default_config());
  for (const DatapathResult& run : r.runs) {
    ASSERT_EQ(run.status, Status::ok) << run.datapath;
    const Check c = check_output(ref, run.output, 16, 8);
    EXPECT_TRUE(c.finite) << run.datapath;
    EXPECT_FALSE(c.may_overflow()) << run.datapath;
    EXPECT_LE(c.max_abs_error, c.tolerance) << run.datapath;
    EXPECT_LE(c.tolerance, 2.0001 * ref.v_bound) << run.datapath;
    EXPECT_EQ(c.verdict(), Verdict::unverified) << run.datapath;
    EXPECT_FALSE(c.pass()) << run.datapath;
    // Still a check: an output no correct fp32 arithmetic gives (|O| ≤ max|v|) is a mismatch.
    std::vector<float> out = run.output;
    out[5] = float(4 * ref.v_bound);
    EXPECT_EQ(check_output(ref, out, 16, 8).verdict(), Verdict::mismatch) << run.datapath;
  }
}

TEST(Unverified, ScoresThatOverflowFp32AreUnverifiedNotAMismatch) {
  // Q entries up to 3e38 (finite) times K entries up to 2: products overflow fp32.
  const AttentionInputs in = random_inputs(1, 16, 8, 23, 1.5e38f);
  const Reference ref = reference_attention(in);
  const SimulationResult r = simulate(in, datapath_names(), default_config());
  for (const DatapathResult& run : r.runs) {
    ASSERT_EQ(run.status, Status::ok) << run.datapath;
    const Check c = check_output(ref, run.output, 16, 8);
    EXPECT_FALSE(c.finite) << run.datapath;
    EXPECT_TRUE(c.may_overflow()) << run.datapath;
    EXPECT_TRUE(c.overflow.starts_with("a dot product (S·√d)")) << c.overflow;
    EXPECT_EQ(c.verdict(), Verdict::unverified) << run.datapath;
  }
  // Without overflow a non-finite output is a fault.
  const AttentionInputs small = random_inputs(1, 16, 8, 23);
  std::vector<float> out(16 * 8, 0.0f);
  out[3] = NAN;
  EXPECT_EQ(check_output(reference_attention(small), out, 16, 8).verdict(), Verdict::mismatch);
}

// Q ×1e30, N = 12, d = 5 as .npy files in `d`, and a params file naming them.
fs::path huge_score_inputs(const fs::path& d, AttentionInputs& in) {
  in = random_inputs(1, 12, 5, 77, 1e30f);
  write_npy((d / "q.npy").string(), in.q, {12, 5});
  write_npy((d / "k.npy").string(), in.k, {12, 5});
  write_npy((d / "v.npy").string(), in.v, {12, 5});
  return write(d / "p.yaml", "inputs: {q: q.npy, k: k.npy, v: v.npy}\n");
}

TEST(Unverified, BinaryExitsSixAndReportsTheStatus) {
  const fs::path d = scratch();
  AttentionInputs in;
  const fs::path p = huge_score_inputs(d, in);
  const SimRun r = sim(shell_word(p) + out_arg(d / "out"), d);
  EXPECT_EQ(r.status, 6) << r.out << r.err;
  const json report = json::parse(slurp(d / "out" / "report.json"));
  double v_bound = 0;
  for (float v : in.v) v_bound = std::max(v_bound, double(std::fabs(v)));
  ASSERT_EQ(report["runs"].size(), 2u);
  for (const json& run : report["runs"]) {
    EXPECT_EQ(run["status"], "unverified") << run["datapath"];
    EXPECT_EQ(run["finite"], true);
    EXPECT_GT(run["tolerance"].get<double>(), 0.01 * v_bound);
    EXPECT_LE(run["tolerance"].get<double>(), 2.0001 * v_bound);
    EXPECT_LE(run["max_abs_error"].get<double>(), run["tolerance"].get<double>());
  }
  EXPECT_NE(
      r.out.find("naive: UNVERIFIED: for these inputs fp32 only guarantees an error of at most 4 "
                 "(200% of max|v|) and certifying needs under 1%"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("reordered: UNVERIFIED"), std::string::npos) << r.out;
  // The status row.
  const std::size_t row = r.out.find("\nstatus ");
  ASSERT_NE(row, std::string::npos) << r.out;
  const std::string line = r.out.substr(row + 1, r.out.find('\n', row + 1) - row - 1);
  EXPECT_NE(line.find("unverified"), line.rfind("unverified")) << line;  // both columns
}

TEST(Unverified, SizeBuffersSizesAnUnverifiedRun) {
  // Its cycle count is as valid as any: only its numerics are uncertified.
  const fs::path d = scratch();
  AttentionInputs in;
  const fs::path p = huge_score_inputs(d, in);
  const SimRun r =
      sim(shell_word(p) + " --set datapath=reordered --size-buffers" + out_arg(d / "out"), d);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(d / "out" / "sized.yaml"));
}

// results.csv as rows of named fields (RFC 4180: a quoted field may hold commas and "").
std::vector<std::map<std::string, std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> lines(1, std::vector<std::string>(1));
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted && c == '"' && i + 1 < text.size() && text[i + 1] == '"')
      lines.back().back() += text[++i];
    else if (c == '"')
      quoted = !quoted;
    else if (!quoted && c == ',')
      lines.back().emplace_back();
    else if (!quoted && c == '\n')
      lines.emplace_back(1);
    else if (c != '\r')
      lines.back().back() += c;
  }
  std::vector<std::map<std::string, std::string>> rows;
  for (std::size_t r = 1; r < lines.size(); ++r) {
    if (lines[r].size() == 1 && lines[r][0].empty()) continue;  // the final newline
    EXPECT_EQ(lines[r].size(), lines[0].size()) << "row " << r;
    std::map<std::string, std::string>& row = rows.emplace_back();
    for (std::size_t c = 0; c < lines[0].size() && c < lines[r].size(); ++c)
      row[lines[0][c]] = lines[r][c];
  }
  return rows;
}

TEST(Unverified, SweepRecordsUnverifiedRunsAsResults) {
  const fs::path d = scratch();
  AttentionInputs in;
  huge_score_inputs(d, in);
  std::string sets;
  for (const char* m : {"q", "k", "v"})
    sets += fmt::format(" --set inputs.{0}='{1}/{0}.npy'", m, d.string());
  const std::string cmd = "timeout 120 '" SDPA_SOURCE_DIR "/scripts/sweep' --sim '" SDPA_SIM
                          "' --out '" +
                          (d / "sweep").string() + "' --grid datapath=naive,reordered" + sets +
                          " >'" + (d / "stdout").string() + "' 2>'" + (d / "stderr").string() + "'";
  const int raw = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 0) << slurp(d / "stderr");
  const std::string csv = slurp(d / "sweep" / "results.csv");
  // Both rows: status unverified, exit code 6, and a cycle count.
  const auto rows = csv_rows(csv);
  ASSERT_EQ(rows.size(), 2u) << csv;
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("status"), "unverified") << csv;
    EXPECT_EQ(row.at("exit_code"), "6") << csv;
    EXPECT_FALSE(row.at("cycles").empty()) << csv;
  }
}

}  // namespace
}  // namespace sdpa::test
