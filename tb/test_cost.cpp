// Energy and area: exact action counts against closed forms in every datapath, energy and area
// as the counts times the cost table, each operation in its operator's format (narrow formats:
// CostFormats), buffering area against N, the shipped cost table, and bad cost files (exit 2
// naming the key and line, or the format the operators need).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "sim/cost.h"
#include "tb/cli.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// docs/cost.md, "Closed forms": S scores, R output rows, d the head dimension; each operation in
// the format of its operator (hw/actions.h).
OpCounts closed_form_ops(const std::string& datapath, std::uint64_t s, std::uint64_t r,
                         std::uint64_t d) {
  using enum OpFormat;
  // The scaled dot product: d multiply-adds of Q and K values and the fp32 scale per score.
  const OpCounts dot{{Op::multiply_add, input, s * d}, {Op::multiply, fp32, s}};
  // The running max of reordered and of two_pass's online normalizer skips a row's first score.
  const OpCounts running_max{
      {Op::compare, compute, s - r}, {Op::add, fp32, 2 * (s - r)}, {Op::exp, fp32, s - r}};
  const OpCounts running_sum{{Op::multiply_add, fp32, s}};
  const OpCounts weighted_sum{{Op::multiply_add, wider, s * d}};
  if (datapath == "naive")  // max, subtract, exp, sum (fp32), divide per score; weighted sum
    return dot + weighted_sum +
           OpCounts{{Op::compare, compute, s},
                    {Op::add, compute, s},
                    {Op::exp, compute, s},
                    {Op::add, fp32, s},
                    {Op::divide, compute, s}};
  if (datapath == "two_pass")  // online normalizer, normalize (fp32 until rounded), weighted sum
    return dot + running_max + running_sum + weighted_sum +
           OpCounts{{Op::add, fp32, s}, {Op::exp, fp32, s}, {Op::divide, fp32, s}};
  if (datapath != "reordered")  // a new datapath's counts go here (docs/extending.md)
    throw std::out_of_range("no closed-form counts for datapath " + datapath);
  // reordered: running max, running sum, rescale accumulate (o·δ of the fp32 row, + c·v), row
  // divide of d per row.
  return dot + running_max + running_sum +
         OpCounts{{Op::multiply, fp32, s * d},
                  {Op::multiply_add, wider, s * d},
                  {Op::divide, compute, r * d}};
}

// A table whose numbers are powers of two apart, so sums of counts times them are exact.
const char* kTable = R"(technology: test
arithmetic:
  fp32:
    multiply_add: {energy_pj: 1, area_um2: 1}
    multiply: {energy_pj: 2, area_um2: 10}
    add: {energy_pj: 4, area_um2: 100}
    exp: {energy_pj: 8, area_um2: 1000}
    divide: {energy_pj: 16, area_um2: 10000}
    compare: {energy_pj: 32, area_um2: 100000}
storage:
  - {name: small, max_bytes: 256, read_pj_per_byte: 0.5, write_pj_per_byte: 0.25, area_um2_per_byte: 3}
  - {name: large, max_bytes: 4096, read_pj_per_byte: 8, write_pj_per_byte: 4, area_um2_per_byte: 2}
memory: {read_pj_per_byte: 64, write_pj_per_byte: 128}
)";

struct Case {
  AttentionShape shape;
  std::size_t lanes;
};

class CostCounts : public testing::TestWithParam<std::tuple<std::string, int>> {
 protected:
  static Case shape(int which) {
    switch (which) {
      case 0:
        return {AttentionShape::square(2, 12, 5), 1};
      case 1:  // causal rows of every length, two batches, grouped heads
        return {{2, 2, 1, 7, 9, 3, true}, 1};
      default:  // lanes sharing K and V, a causal shape
        return {{1, 2, 2, 10, 10, 4, true}, 3};
    }
  }
};

TEST_P(CostCounts, ActionsEqualTheClosedFormsAndEnergyIsCountsTimesTheTable) {
  const auto& [datapath, which] = GetParam();
  const Case c = shape(which);
  DatapathConfig config = default_config();
  config.lanes = c.lanes;
  const AttentionInputs in = random_inputs(c.shape, 7 + which);
  const DatapathResult r = simulate(in, {datapath}, config).runs.at(0);
  ASSERT_EQ(r.status, Status::ok);

  const std::uint64_t s = c.shape.scores(), rows = c.shape.rows(), d = c.shape.head_dim;
  OpCounts ops;
  for (const UnitStats& u : r.units) ops += u.ops;
  EXPECT_EQ(ops.n, closed_form_ops(datapath, s, rows, d).n) << datapath << " " << which;

  const CostTable table = load_cost_table_text(kTable, "test.yaml");
  const CostReport cost = cost_of(r, table);
  EXPECT_EQ(cost.ops.n, ops.n);
  // In fp32 every operator is fp32's, a multiply-add the table's fp32 multiply-add.
  double compute = 0;
  for (std::size_t i = 0; i < kOpKinds; ++i) compute += double(ops[Op(i)]) * double(1u << i);
  EXPECT_DOUBLE_EQ(cost.compute_pj, compute);

  // Every element written is read, d-wide rows counting d scalars of 4 bytes.
  double intermediate = 0, streams = 0, intermediate_area = 0;
  std::uint64_t written = 0;
  for (const ChannelStats& ch : r.channels) {
    EXPECT_EQ(ch.reads, ch.writes) << ch.name;
    const std::uint64_t bytes = ch.writes * ch.width * 4, capacity = ch.capacity * ch.width * 4;
    const bool small = capacity <= 256;
    const double pj = double(bytes) * (small ? 0.5 + 0.25 : 8.0 + 4.0);
    (ch.input_stream ? streams : intermediate) += pj;
    if (!ch.input_stream) intermediate_area += double(capacity) * (small ? 3 : 2);
    written += bytes;
  }
  EXPECT_EQ(cost.channel_bytes_written, written);
  EXPECT_EQ(cost.channel_bytes_read, written);
  EXPECT_DOUBLE_EQ(cost.intermediate_pj, intermediate);
  EXPECT_DOUBLE_EQ(cost.streams_pj, streams);
  EXPECT_DOUBLE_EQ(cost.intermediate_um2, intermediate_area);

  // Memory: Q, K and V as the readers streamed them, O written once.
  EXPECT_EQ(cost.memory_bytes_read, r.bytes_read());
  EXPECT_EQ(cost.memory_bytes_written, rows * d * 4);
  EXPECT_DOUBLE_EQ(cost.memory_pj, double(r.bytes_read()) * 64 + double(rows * d * 4) * 128);
  EXPECT_DOUBLE_EQ(cost.total_pj(),
                   cost.compute_pj + cost.intermediate_pj + cost.streams_pj + cost.memory_pj);
  EXPECT_DOUBLE_EQ(cost.per_score_pj(), cost.total_pj() / double(s));
}

INSTANTIATE_TEST_SUITE_P(Datapaths, CostCounts,
                         testing::Combine(testing::ValuesIn(datapath_names()),
                                          testing::Values(0, 1, 2)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" +
                                  std::to_string(std::get<1>(info.param));
                         });

// A channel is built as the smallest storage class that holds its bytes, a class holding up to
// and including its max_bytes; beyond the largest, as the largest.
TEST(Cost, AChannelIsTheSmallestStorageClassThatHoldsIt) {
  CostTable table;
  table.storage = {{"small", 8}, {"large", 32}};
  for (const auto& [bytes, name] : std::vector<std::pair<std::uint64_t, std::string>>{
           {1, "small"}, {8, "small"}, {9, "large"}, {32, "large"}, {33, "large"}})
    EXPECT_EQ(table.storage_for(bytes).name, name) << bytes << " bytes";
}

// A product of a channel value and a V value (p·v, c·v) is priced in the wider of the input and
// compute formats, by bytes; of two 2-byte formats, the compute format (docs/cost.md).
TEST(Cost, TheWiderFormatIsByBytesAndTheComputeFormatAtATie) {
  EXPECT_EQ(table_format(OpFormat::wider, Format::bf16, Format::fp16), "fp16");
  EXPECT_EQ(table_format(OpFormat::wider, Format::fp16, Format::bf16), "bf16");
  EXPECT_EQ(table_format(OpFormat::wider, Format::fp32, Format::bf16), "fp32");
  EXPECT_EQ(table_format(OpFormat::wider, Format::fp8_e4m3, Format::fp16), "fp16");
  EXPECT_EQ(table_format(OpFormat::wider, Format::fp8_e5m2, Format::fp8_e4m3), "fp8");
}

// Compute area is the operators the units instantiate (one per operation of a firing, shared
// over II cycles): here with every unit at II = 1 but row_divide at II = d.
TEST(Cost, ComputeAreaIsTheUnitsOperators) {
  DatapathConfig c = default_config();
  const std::size_t d = 8;
  c.timings["row_divide"] = {4, unsigned(d)};
  const AttentionInputs in = random_inputs(1, 16, d, 3);
  const SimulationResult r = simulate(in, {"naive", "reordered"}, c);
  const CostTable table = load_cost_table_text(kTable, "test.yaml");
  // naive: dot product (d MAC + 1 mul), row max, subtract, exp, row sum, divide, weighted sum.
  EXPECT_DOUBLE_EQ(cost_of(r.runs.at(0), table).compute_um2,
                   d * 1 + 10 + 100000 + 100 + 1000 + 100 + 10000 + d * 1);
  // reordered: dot product, running max (compare, 2 adds, exp), running sum (MAC), rescale
  // accumulate (d mul + d MAC), row divide (d divides over II = d cycles: one divider).
  EXPECT_DOUBLE_EQ(cost_of(r.runs.at(1), table).compute_um2,
                   d * 1 + 10 + (100000 + 200 + 1000) + 1 + d * (10 + 1) + 10000);
}

// Operators shared over II cycles round up: a firing's one compare at II = 2 still needs a
// comparator, and d = 8 divides at II = 3 need three dividers, not two.
TEST(Cost, ComputeAreaRoundsSharedOperatorsUp) {
  DatapathConfig c = default_config();
  const std::size_t d = 8;
  c.timings["running_max"] = {6, 2};
  c.timings["row_divide"] = {4, 3};
  const AttentionInputs in = random_inputs(1, 16, d, 5);
  const SimulationResult r = simulate(in, {"reordered"}, c);
  ASSERT_EQ(r.runs.at(0).status, Status::ok);
  const CostTable table = load_cost_table_text(kTable, "test.yaml");
  // The running max's compare, two adds and exp at II = 2: one comparator, one adder, one exp.
  EXPECT_DOUBLE_EQ(cost_of(r.runs.at(0), table).compute_um2,
                   d * 1 + 10 + (100000 + 100 + 1000) + 1 + d * (10 + 1) + 3 * 10000);
}

// With narrower formats each operation is priced in its operator's format (docs/cost.md): the
// compute format's on channel values, the input format's for q·k, the wider of the two for p·v
// and c·v, fp32's for the units' own state; a multiply-add with a multiplier narrower than fp32
// is that multiplier and fp32's adder. The table prices kind i in format f at 2^(i + shift_f)
// pJ and 3 times that in µm², the shifts 8 apart, so every sum is exact and tells the formats
// apart.
struct FormatCase {
  Format input, compute;
  // The table's shift for the compute, input and wider operators (fp32's is 0).
  int compute_shift, input_shift, wider_shift;
};
const std::pair<const char*, int> kTableFormats[] = {
    {"fp32", 0}, {"bf16", 8}, {"fp16", 16}, {"fp8", 24}};

std::string formats_table() {
  std::string t = "technology: test\narithmetic:\n";
  for (const auto& [name, shift] : kTableFormats) {
    t += fmt::format("  {}:\n", name);
    for (std::size_t i = 0; i < kOpKinds; ++i)
      t += fmt::format("    {}: {{energy_pj: {}, area_um2: {}}}\n", kOpNames[i],
                       1ull << (i + shift), 3ull << (i + shift));
  }
  const std::string fp32_table = kTable;
  return t + fp32_table.substr(fp32_table.find("storage:"));
}

class CostFormats : public testing::TestWithParam<std::tuple<std::string, int>> {
 protected:
  static FormatCase format_case(int which) {
    switch (which) {
      case 0:
        return {Format::bf16, Format::bf16, 8, 8, 8};
      case 1:  // fp32 inputs: their products are fp32 multiplies
        return {Format::fp32, Format::bf16, 8, 0, 0};
      case 2:  // fp8 inputs, fp16 compute: p·v in fp16
        return {Format::fp8_e4m3, Format::fp16, 16, 24, 16};
      default:
        return {Format::fp8_e5m2, Format::bf16, 8, 24, 8};
    }
  }
};

TEST_P(CostFormats, EachOperationIsPricedInItsOperatorsFormat) {
  const auto& [datapath, which] = GetParam();
  const FormatCase f = format_case(which);
  DatapathConfig config = default_config();
  config.input = f.input;
  config.compute = f.compute;
  const AttentionShape shape{1, 2, 1, 9, 11, 6, true};
  const DatapathResult r = simulate(random_inputs(shape, 3), {datapath}, config).runs.at(0);
  ASSERT_EQ(r.scores, shape.scores());
  OpCounts ops;
  for (const UnitStats& u : r.units) ops += u.ops;
  ASSERT_EQ(ops.n, closed_form_ops(datapath, shape.scores(), shape.rows(), shape.head_dim).n);

  const std::array<int, kOpFormats> shift{f.compute_shift, f.input_shift, f.wider_shift, 0};
  // Per table format (by its shift), of counts priced at 2^(i + shift) times `unit`.
  auto priced = [&](const OpCounts& n, double unit) {
    std::map<int, double> by_shift;
    for (std::size_t i = 0; i < kOpKinds; ++i)
      for (std::size_t k = 0; k < kOpFormats; ++k) {
        const double count = double(n.at(Op(i), OpFormat(k)));
        if (Op(i) == Op::multiply_add && shift[k] != 0) {
          by_shift[shift[k]] += count * unit * double(1ull << (1 + shift[k]));  // multiply
          by_shift[0] += count * unit * 4;                                      // fp32's add
        } else {
          by_shift[shift[k]] += count * unit * double(1ull << (i + shift[k]));
        }
      }
    return by_shift;
  };
  auto sum = [](const std::map<int, double>& m) {
    double t = 0;
    for (const auto& [s, x] : m) t += x;
    return t;
  };
  const CostReport cost = cost_of(r, load_cost_table_text(formats_table(), "formats.yaml"));
  const std::map<int, double> energy = priced(ops, 1);
  EXPECT_EQ(cost.compute_pj, sum(energy));
  std::map<int, double> reported;
  for (const auto& [format, pj] : cost.compute_pj_by_format) {
    const auto it = std::find_if(std::begin(kTableFormats), std::end(kTableFormats),
                                 [&](const auto& e) { return format == e.first; });
    ASSERT_NE(it, std::end(kTableFormats)) << format;
    reported[it->second] = pj;
  }
  EXPECT_EQ(reported, energy);
  // Every unit at II = 1: it instantiates the operators of one firing.
  double area = 0;
  for (const UnitStats& u : r.units) area += sum(priced(u.operators, 3));
  EXPECT_EQ(cost.compute_um2, area);
}

INSTANTIATE_TEST_SUITE_P(Datapaths, CostFormats,
                         testing::Combine(testing::ValuesIn(datapath_names()),
                                          testing::Values(0, 1, 2, 3)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" +
                                  std::to_string(std::get<1>(info.param));
                         });

// --- The command line: report.json, the summary, the cost file --------------------------------

json report(const fs::path& out) { return json::parse(slurp(out / "report.json")); }
const json& run_of(const json& r, const std::string& datapath) {
  for (const json& run : r["runs"])
    if (run["datapath"] == datapath) return run;
  throw std::out_of_range("no run of " + datapath);
}

// The naive datapath's bypasses hold a row: its buffering area grows with N; the reordered
// one's stays the same.
TEST(CostCli, NaiveBufferingGrowsWithNReorderedStaysConstant) {
  const fs::path d = scratch();
  std::map<std::size_t, json> by_n;
  for (std::size_t n : {16, 64, 256}) {
    const fs::path out = d / std::to_string(n);
    const SimRun r = sim(fmt::format("--set problem.seq_len={} --set problem.head_dim=4 "
                                     "--set datapath=all",
                                     n) +
                             out_arg(out),
                         d);
    ASSERT_EQ(r.status, 0) << r.err;
    by_n[n] = report(out);
  }
  auto area = [&](std::size_t n, const char* dp) {
    return run_of(by_n[n], dp)["area"]["buffering_um2"]["intermediate"].get<double>();
  };
  for (const char* dp : {"naive", "two_pass"}) {
    EXPECT_LT(area(16, dp), area(64, dp)) << dp;
    EXPECT_LT(area(64, dp), area(256, dp)) << dp;
  }
  EXPECT_EQ(area(16, "reordered"), area(256, "reordered"));
  // Compute area does not depend on N.
  for (const std::string& dp : datapath_names())
    EXPECT_EQ(run_of(by_n[16], dp)["area"]["compute_um2"],
              run_of(by_n[256], dp)["area"]["compute_um2"]);
}

TEST(CostCli, TheReportAndSummaryHaveActionsEnergyAndArea) {
  const fs::path d = scratch();
  const SimRun r = sim(
      "--set problem.seq_len=16 --set problem.head_dim=4 --set datapath=all" + out_arg(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("energy per score (compute, buffers, memory)"), std::string::npos);
  EXPECT_NE(r.out.find("area, compute + buffering"), std::string::npos);
  const json rep = report(d / "o");
  for (const json& run : rep["runs"]) {
    const json& e = run["energy"];
    EXPECT_EQ(e["cost_table"], "params/cost/horowitz-45nm.yaml (built in)");
    EXPECT_EQ(e["format"], "fp32");
    for (const char* f : {"compute", "input", "wider", "fp32"})
      EXPECT_EQ(e["operator_formats"][f], "fp32");
    EXPECT_EQ(e["compute_pj_by_format"].size(), 1u);
    EXPECT_EQ(e["compute_pj_by_format"]["fp32"], e["compute_pj"]);
    // The counts by format add up to the counts by kind.
    for (const json& u : run["actions"]["units"])
      for (const auto& [kind, count] : u["ops"].items()) {
        std::uint64_t by_format = 0;
        for (const auto& [format, counts] : u["ops_by_format"].items())
          by_format += counts[kind].get<std::uint64_t>();
        EXPECT_EQ(by_format, count.get<std::uint64_t>()) << u["name"] << " " << kind;
      }
    EXPECT_NEAR(e["total_pj"].get<double>(),
                e["compute_pj"].get<double>() + e["buffering_pj"]["total"].get<double>() +
                    e["memory_pj"].get<double>(),
                1e-6 * e["total_pj"].get<double>());
    EXPECT_DOUBLE_EQ(e["per_score_pj"].get<double>(),
                     e["total_pj"].get<double>() / run["scores"].get<double>());
    EXPECT_DOUBLE_EQ(e["per_token_pj"].get<double>(),
                     e["total_pj"].get<double>() / run["per_token"]["tokens"].get<double>());
    const json& a = run["area"];
    EXPECT_DOUBLE_EQ(a["total_um2"].get<double>(),
                     a["compute_um2"].get<double>() + a["buffering_um2"]["total"].get<double>());
    EXPECT_EQ(run["actions"]["totals"]["memory_bytes_written"], 16 * 4 * 4);
    // With 16 keys a row every unit with arithmetic does some: the energy lists the units whose
    // counts are not all zero, in the same order (a unit without arithmetic, such as a reader,
    // has none).
    std::vector<std::string> computing, priced;
    for (const json& u : run["actions"]["units"]) {
      std::uint64_t ops = 0;
      for (const auto& [kind, count] : u["ops"].items()) ops += count.get<std::uint64_t>();
      if (ops > 0) computing.push_back(u["name"]);
    }
    for (const json& u : e["units"]) priced.push_back(u["name"]);
    EXPECT_EQ(priced, computing) << run["datapath"];
    EXPECT_LT(computing.size(), run["actions"]["units"].size()) << run["datapath"];
  }
}

// One key per row: the running max sees only rows' first scores and computes nothing. The energy
// still lists it, at 0, beside its area: both list every unit with arithmetic.
TEST(CostCli, AUnitThatComputedNothingIsListedAtZeroEnergy) {
  const fs::path d = scratch();
  const SimRun r = sim(
      "--set problem.seq_len=1 --set problem.head_dim=2 --set datapath=all" + out_arg(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json rep = report(d / "o");
  ASSERT_EQ(rep["runs"].size(), datapath_names().size());
  for (const json& run : rep["runs"]) {
    std::vector<std::string> energy, area;
    for (const json& u : run["energy"]["units"]) energy.push_back(u["name"]);
    for (const json& u : run["area"]["units"]) area.push_back(u["name"]);
    EXPECT_EQ(energy, area) << run["datapath"];
    if (run["datapath"] != "reordered") continue;
    for (const json& u : run["energy"]["units"])
      if (u["name"] == "reordered.running_max") {
        EXPECT_EQ(u["pj"], 0.0);
      }
    EXPECT_NE(std::find(energy.begin(), energy.end(), "reordered.running_max"), energy.end());
  }
}

// A unit's actions in a run of report.json.
const json& actions_of(const json& run, const std::string& unit) {
  for (const json& u : run["actions"]["units"])
    if (u["name"] == unit) return u;
  throw std::out_of_range("no actions of " + unit);
}

// A deadlocked run reports the energy of what it did, but no energy per score or token.
TEST(CostCli, ADeadlockedRunHasNoEnergyPerScore) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set problem.seq_len=64 --set problem.head_dim=4 --set datapath=naive "
          "--set channels.depths.score_bypass=32" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 3) << r.err;
  const json rep = report(d / "o");
  const json& e = run_of(rep, "naive")["energy"];
  EXPECT_TRUE(e["per_score_pj"].is_null());
  EXPECT_TRUE(e["per_token_pj"].is_null());
  EXPECT_GT(e["total_pj"].get<double>(), 0);
  // Nor anything else per token; the bytes it read are in memory_traffic.
  const json& run = run_of(rep, "naive");
  EXPECT_TRUE(run["per_token"]["cycles"].is_null());
  EXPECT_TRUE(run["per_token"]["bytes_read"].is_null());
  EXPECT_GT(run["memory_traffic"]["bytes_read"]["total"].get<double>(), 0);
  // Part of the traffic over the whole problem's minimum is no ratio to show (it read 0.48).
  EXPECT_TRUE(run["memory_traffic"]["relative_to_minimum"].is_null());
  // The scores it computed, the dot product's firings, not the problem's 64²; the intensities
  // are of them and of the bytes it moved.
  const std::uint64_t dot_firings = actions_of(run, "naive.dot_product")["firings"];
  EXPECT_EQ(run["scores"].get<std::uint64_t>(), dot_firings);
  EXPECT_LT(dot_firings, 64u * 64u);
  const json& traffic = run["memory_traffic"];
  const double moved =
      traffic["bytes_read"]["total"].get<double>() + traffic["bytes_written"].get<double>();
  EXPECT_DOUBLE_EQ(traffic["scores_per_byte"].get<double>(), double(dot_firings) / moved);
  EXPECT_DOUBLE_EQ(traffic["flops_per_byte"].get<double>(), 4.0 * 4 * double(dot_firings) / moved);
  const auto line = r.out.find("energy per score");
  ASSERT_NE(line, std::string::npos) << r.out;
  const std::string row = r.out.substr(line, r.out.find('\n', line) - line);
  EXPECT_EQ(row.substr(row.size() - 2), " -") << row;
}

// A run the watchdog stops mid-row counts what its firings did: a running max computes nothing
// at a row's first score, the unfinished row's included (N = 64: rows begun = ⌈firings / 64⌉).
TEST(CostCli, AStoppedRunCountsTheUnfinishedRowsFirstScoreAsNothing) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set problem.seq_len=64 --set problem.head_dim=4 --set datapath=all "
          "--set sim.max_cycles=2000" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 4) << r.err;
  const json rep = report(d / "o");
  for (const std::string unit : {"reordered.running_max", "two_pass.online_normalizer"}) {
    const json& u = actions_of(run_of(rep, unit.substr(0, unit.find('.'))), unit);
    const std::uint64_t firings = u["firings"];
    ASSERT_NE(firings % 64, 0u) << unit << ": stopped at a row's end; the test needs a row begun";
    const std::uint64_t begun = (firings + 63) / 64;
    EXPECT_EQ(u["ops"]["exp"].get<std::uint64_t>(), firings - begun) << unit;
    EXPECT_EQ(u["ops"]["compare"].get<std::uint64_t>(), firings - begun) << unit;
  }
}

// The shipped table is the built-in default: naming it gives the same energy.
TEST(CostCli, TheShippedTableIsTheDefault) {
  const fs::path d = scratch();
  const SimRun a = sim("--set problem.seq_len=8 --set problem.head_dim=4" + out_arg(d / "a"), d);
  const SimRun b =
      sim("--set problem.seq_len=8 --set problem.head_dim=4 "
          "--set cost=params/cost/horowitz-45nm.yaml" +
              out_arg(d / "b"),
          d);
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  for (const char* dp : {"naive", "reordered"})
    EXPECT_EQ(run_of(report(d / "a"), dp)["energy"]["total_pj"],
              run_of(report(d / "b"), dp)["energy"]["total_pj"]);
  // Named as params.yaml names it, and the same text as the built-in table's.
  EXPECT_EQ(run_of(report(d / "b"), "naive")["energy"]["cost_table"],
            report(d / "b")["params"]["cost"]);
  EXPECT_EQ(run_of(report(d / "b"), "naive")["energy"]["cost_sha256"],
            run_of(report(d / "a"), "naive")["energy"]["cost_sha256"]);
  // The written parameters name the table by its absolute path and run again from anywhere.
  const std::string written = slurp(d / "b" / "params.yaml");
  EXPECT_NE(written.find("cost: " + (fs::path(SDPA_SOURCE_DIR) / "params/cost/horowitz-45nm.yaml")
                                        .lexically_normal()
                                        .string()),
            std::string::npos)
      << written;
  const SimRun c = sim("'" + (d / "b" / "params.yaml").string() + "'" + out_arg(d / "c"), d);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(run_of(report(d / "b"), "naive")["energy"]["total_pj"],
            run_of(report(d / "c"), "naive")["energy"]["total_pj"]);
}

// A bad cost file is exit 2 with one line naming the file, line and key.
void expect_bad_cost(const std::string& table, const std::vector<std::string>& needles) {
  const fs::path d = scratch();
  write(d / "cost.yaml", table);
  write(d / "p.yaml", "problem: {seq_len: 4, head_dim: 2}\ncost: cost.yaml\n");
  const SimRun r = sim(shell_word(d / "p.yaml") + out_arg(d / "o"), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const std::string& n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << n << " in " << r.err;
  EXPECT_FALSE(fs::exists(d / "o" / "report.json"));
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::invalid_argument(from);
  return text.replace(at, from.size(), to);
}

TEST(CostCli, ANegativeEnergyNamesTheKeyAndLine) {
  expect_bad_cost(
      replaced(kTable, "exp: {energy_pj: 8", "exp: {energy_pj: -8"),
      {"cost.yaml:7:", "arithmetic.fp32.exp.energy_pj", "expected a number in [0, 1e+12]", "'-8'"});
}

// Finite but huge, a value made the totals infinite (reported as null, exit 0).
TEST(CostCli, AnEnergyBeyondAJouleIsRefused) {
  expect_bad_cost(replaced(kTable, "exp: {energy_pj: 8", "exp: {energy_pj: 1e308"),
                  {"cost.yaml:7:", "arithmetic.fp32.exp.energy_pj",
                   "expected a number in [0, 1e+12]", "'1e308'"});
}

TEST(CostCli, AMissingKeyNamesTheKeyAndLine) {
  expect_bad_cost(replaced(kTable, "    divide: {energy_pj: 16, area_um2: 10000}\n", ""),
                  {"cost.yaml:4:", "arithmetic.fp32.divide: missing"});
  expect_bad_cost(replaced(kTable, ", area_um2: 1000}", "}"),
                  {"cost.yaml:7:", "arithmetic.fp32.exp.area_um2: missing"});
}

TEST(CostCli, AnUnknownKeyNamesTheKeyAndLine) {
  expect_bad_cost(replaced(kTable, "memory: {", "memory: {dram: 3, "),
                  {"cost.yaml:13:", "memory.dram: unknown key"});
}

TEST(CostCli, StorageClassesMustGrow) {
  expect_bad_cost(replaced(kTable, "max_bytes: 4096", "max_bytes: 128"),
                  {"cost.yaml:12:", "storage[1].max_bytes", "smallest first"});
}

// Another file given as the table (`--set cost=/etc/passwd`): named as a cost table, not only as
// "(top level): expected a mapping".
TEST(CostCli, AFileThatIsNotATableSaysACostTableWasExpected) {
  expect_bad_cost("root:x:0:0:root:/root:/bin/bash\n",
                  {"cost.yaml:1:1: (top level): expected a cost table: a mapping of technology, "
                   "arithmetic, storage and memory"});
}

TEST(CostCli, AYamlSyntaxErrorNamesTheLine) {
  expect_bad_cost(replaced(kTable, "memory: {", "memory: {{"), {"cost.yaml:13:", "YAML syntax"});
}

// A format no run's operators take was accepted silently (a typo, or fp8_e4m3 for the fp8 key).
TEST(CostCli, AnUnknownFormatIsRefused) {
  for (const char* format : {"fp64", "fp8_e4m3"})
    expect_bad_cost(replaced(kTable, "  fp32:", std::string("  ") + format + ":"),
                    {"cost.yaml:3:", std::string("arithmetic.") + format + ": unknown key",
                     "fp32, bf16, fp16, fp8"});
}

TEST(CostCli, StorageClassNamesAreTheirOwnAndSizesAtLeastAByte) {
  expect_bad_cost(replaced(kTable, "name: large", "name: small"),
                  {"cost.yaml:12:", "storage[1].name", "storage[0]'s name too"});
  for (const char* bytes : {"-1", "0"})
    expect_bad_cost(replaced(kTable, "max_bytes: 256", std::string("max_bytes: ") + bytes),
                    {"storage[0].max_bytes", "expected a number in [1, "});
}

TEST(CostCli, ASecondYamlDocumentIsRefused) {
  expect_bad_cost(std::string(kTable) + "---\ntechnology: other\n",
                  {"cost.yaml:", "a second YAML document"});
}

TEST(CostCli, ATableWithoutTheRunsFormatIsRefused) {
  expect_bad_cost(replaced(kTable, "  fp32:", "  fp16:"),
                  {"cost.yaml", "arithmetic.fp32: missing"});
}

// A bf16 run needs fp32 for its accumulators beside bf16, and an fp8 input run the fp8 multipliers.
TEST(CostCli, ATableWithoutAFormatTheOperatorsNeedIsRefused) {
  const fs::path d = scratch();
  const std::string table = kTable;
  const std::string fp32 =
      table.substr(table.find("  fp32:"), table.find("storage:") - table.find("  fp32:"));
  const std::string bf16 = replaced(fp32, "fp32", "bf16");
  const std::string cost = " --set cost=" + shell_word(d / "cost.yaml");
  write(d / "cost.yaml", replaced(table, fp32, bf16));
  const SimRun r =
      sim("--set numerics.input=bf16 --set numerics.compute=bf16" + cost + out_arg(d / "o"), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(
      r.err.find(
          "cost.yaml: arithmetic.fp32: missing: the units' fp32 accumulators (the file has: bf16)"),
      std::string::npos)
      << r.err;
  write(d / "cost.yaml", replaced(table, fp32, fp32 + bf16));
  const SimRun s =
      sim("--set numerics.input=fp8_e4m3 --set numerics.compute=bf16" + cost + out_arg(d / "o"), d);
  EXPECT_EQ(s.status, 2) << s.err;
  EXPECT_NE(s.err.find("arithmetic.fp8: missing: the dot product multiplies fp8_e4m3 inputs (the "
                       "file has: bf16, fp32)"),
            std::string::npos)
      << s.err;
  EXPECT_FALSE(fs::exists(d / "o" / "report.json"));
}

TEST(CostCli, AMissingCostFileNamesTheKeyAndLine) {
  const fs::path d = scratch();
  write(d / "p.yaml", "problem: {seq_len: 4, head_dim: 2}\ncost: nowhere.yaml\n");
  const SimRun r = sim(shell_word(d / "p.yaml") + out_arg(d / "o"), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("p.yaml:2:7: cost: cannot read the cost file " +
                       (d / "nowhere.yaml").string() + ": No such file or directory"),
            std::string::npos)
      << r.err;
  const SimRun s = sim("--set cost=nowhere.yaml" + out_arg(d / "o"), d);
  EXPECT_EQ(s.status, 2) << s.err;
  EXPECT_NE(s.err.find("--set cost=nowhere.yaml: cost: cannot read"), std::string::npos) << s.err;
  const SimRun folder = sim("--set cost=params/cost" + out_arg(d / "o"), d);
  EXPECT_EQ(folder.status, 2) << folder.err;
  EXPECT_NE(folder.err.find("cost: cannot read the cost file params/cost: it is a folder"),
            std::string::npos)
      << folder.err;
  const SimRun device = sim("--set cost=/dev/null" + out_arg(d / "o"), d);
  EXPECT_NE(device.err.find("cost: cannot read the cost file /dev/null: not a regular file"),
            std::string::npos)
      << device.err;
  // A link that leads back to itself is there, but its file is not.
  fs::create_symlink(d / "b.yaml", d / "a.yaml");
  fs::create_symlink(d / "a.yaml", d / "b.yaml");
  const SimRun loop = sim("--set cost=" + shell_word(d / "a.yaml") + out_arg(d / "o"), d);
  EXPECT_EQ(loop.status, 2) << loop.err;
  EXPECT_NE(loop.err.find("a.yaml: Too many levels of symbolic links"), std::string::npos)
      << loop.err;
}

// A class no larger than the one before would never be chosen (the first that holds a channel
// is): as large is refused as smaller is.
TEST(CostCli, AStorageClassNoLargerThanTheOneBeforeIsRefused) {
  expect_bad_cost(replaced(kTable, "max_bytes: 4096", "max_bytes: 256"),
                  {"cost.yaml:12:", "storage[1].max_bytes", "smallest first"});
}

}  // namespace
}  // namespace sdpa::test
