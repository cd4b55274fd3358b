// Parameters that agree or fail: per-datapath keys and their precedence, every unit's timing,
// errors that name their real source, inputs against problem.*, .npy shapes, the memory
// estimate, sized.yaml per datapath, and the shipped files' comments.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "hw/datapaths/datapaths.h"
#include "sim/npy.h"
#include "sim/params.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "tb/cli.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json report(const fs::path& out) { return json::parse(slurp(out / "report.json")); }

Cycle cycles(const json& r, const std::string& datapath) {
  for (const json& run : r["runs"])
    if (run["datapath"] == datapath) return run["cycles"].get<Cycle>();
  ADD_FAILURE() << "no run of " << datapath;
  return 0;
}

std::size_t capacity(const json& r, const std::string& channel) {
  for (const json& run : r["runs"])
    for (const json& ch : run["channels"])
      if (ch["name"] == channel) return ch["capacity"].get<std::size_t>();
  ADD_FAILURE() << "no channel " << channel;
  return 0;
}

const char* kSmall = "--set problem.seq_len=16 --set problem.head_dim=4 ";

// --- Parameters per datapath ----------------------------------------------------------------

TEST(PerDatapath, KeysUnderADatapathOverrideTheSharedOnesForItAlone) {
  const fs::path d = scratch();
  const SimRun r = sim(std::string(kSmall) +
                           "--set units.dot_product.latency=6 "
                           "--set datapaths.naive.units.dot_product.latency=9 "
                           "--set datapaths.reordered.units.running_max.latency=3 "
                           "--set channels.depths.sums=3 "
                           "--set datapaths.naive.channels.depths.scores=12" +
                           out_arg(d / "o"),
                       d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json rep = report(d / "o");
  DatapathConfig naive = default_config(), reordered = default_config();
  naive.timings["dot_product"].latency = 9;
  reordered.timings["dot_product"].latency = 6;
  reordered.timings["running_max"].latency = 3;
  EXPECT_EQ(cycles(rep, "naive"), naive_cycles(1, 16, naive));
  EXPECT_EQ(cycles(rep, "reordered"), reordered_cycles(1, 16, reordered));
  EXPECT_EQ(capacity(rep, "naive.scores"), 12u);
  EXPECT_EQ(capacity(rep, "reordered.scores"), 6 + 1u);  // auto: producer latency + 1
  EXPECT_EQ(capacity(rep, "naive.sums"), 3u);
  EXPECT_EQ(capacity(rep, "reordered.sums"), 3u);
}

TEST(PerDatapath, AKeyMatchingNoUnitOrChannelOfASelectedDatapathIsRefused) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml",
                       "datapath: naive\n"
                       "units:\n"
                       "  running_max: {latency: 3}\n");
  expect_error(sim(shell_word(p) + out_arg(d / "o"), d),
               {"p.yaml:3:3: units.running_max: unknown key", "running_max is a unit of reordered",
                "datapaths.reordered.units"});
  expect_error(
      sim("--set datapath=reordered --set channels.depths.score_bypass=4" + out_arg(d / "o"), d),
      {"--set channels.depths.score_bypass=4: channels.depths.score_bypass: unknown key",
       "score_bypass is a channel of naive"});
  const auto q = write(d / "q.yaml",
                       "datapaths:\n"
                       "  naive:\n"
                       "    channels:\n"
                       "      depths: {acc_rows: 2}\n");
  expect_error(sim(shell_word(q) + out_arg(d / "o"), d),
               {"q.yaml:4:16: datapaths.naive.channels.depths.acc_rows: unknown key",
                "acc_rows is a channel of reordered, not of naive"});
  expect_error(sim("--set datapaths.fast.units.exp.latency=2" + out_arg(d / "o"), d),
               {"--set datapaths.fast.units.exp.latency=2: datapaths.fast: unknown key",
                fmt::format("{}", fmt::join(datapath_names(), ", "))});
}

// In a file it serves other choices of `datapath`; a --set of it would change nothing.
TEST(PerDatapath, TheSectionOfADatapathNotSelectedIsCheckedButUnused) {
  const fs::path d = scratch();
  const fs::path file =
      write(d / "p.yaml", "datapaths:\n  reordered:\n    units: {running_max: {latency: 3}}\n");
  const SimRun r =
      sim(shell_word(file) + " " + kSmall + "--set datapath=naive" + out_arg(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(cycles(report(d / "o"), "naive"), naive_cycles(1, 16, default_config()));
  const fs::path wrong =
      write(d / "q.yaml", "datapaths:\n  reordered:\n    units: {exp: {latency: 3}}\n");
  expect_error(
      sim(shell_word(wrong) + " --set datapath=naive" + out_arg(d / "o"), d),
      {"q.yaml:3:13: datapaths.reordered.units.exp: unknown key", "exp is a unit of naive"});
  expect_error(sim("--set datapath=naive --set datapaths.reordered.units.running_max.latency=3" +
                       out_arg(d / "o"),
                   d),
               {"--set datapaths.reordered.units.running_max.latency=3: "
                "datapaths.reordered.units.running_max.latency: has no effect: datapath: naive "
                "does not select reordered (select it, or leave the --set out)"});
}

// The sink writes no result, so a latency of its own would change nothing: refused, but the
// default that params.yaml writes (1) reads back.
TEST(Overrides, TheSinksLatencyHasNoEffectAndIsRefused) {
  const fs::path d = scratch();
  expect_error(sim("--set units.sink.latency=100" + out_arg(d / "o"), d),
               {"--set units.sink.latency=100: units.sink.latency: has no effect: sink writes no "
                "result (its ii spaces what it takes): expected 1"});
  expect_error(
      sim("--set datapath=naive --set datapaths.naive.units.sink.latency=3" + out_arg(d / "o"), d),
      {"datapaths.naive.units.sink.latency: has no effect"});
  const SimRun one = sim(
      std::string(kSmall) + "--set units.sink.latency=1 --set units.sink.ii=2" + out_arg(d / "a"),
      d);
  EXPECT_EQ(one.status, 0) << one.err;
}

TEST(PerDatapath, ASharedKeyThatEverySelectedDatapathOverridesIsRefused) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml",
                       "datapath: naive\n"
                       "units:\n"
                       "  exp: {latency: 8}\n"
                       "datapaths:\n"
                       "  naive:\n"
                       "    units:\n"
                       "      exp: {latency: 4}\n");
  expect_error(sim(shell_word(p) + out_arg(d / "o"), d),
               {"p.yaml:3:18: units.exp.latency: has no effect",
                "datapaths.naive.units.exp.latency (" + p.string() + ":7:22)"});
  expect_error(sim(shell_word(p) + " --set units.exp.latency=5" + out_arg(d / "o"), d),
               {"--set units.exp.latency=5: units.exp.latency: has no effect"});
  // The other field, or a datapath that does not override it, keeps the shared key useful.
  const auto other_field = write(d / "f.yaml",
                                 "datapath: naive\n"
                                 "units:\n"
                                 "  exp: {ii: 2}\n"
                                 "datapaths:\n"
                                 "  naive:\n"
                                 "    units:\n"
                                 "      exp: {latency: 4}\n");
  const SimRun field = sim(shell_word(other_field) + " " + kSmall + out_arg(d / "a"), d);
  EXPECT_EQ(field.status, 0) << field.err;
  const SimRun both = sim(std::string(kSmall) +
                              "--set channels.depths.scores=3 "
                              "--set datapaths.naive.channels.depths.scores=4" +
                              out_arg(d / "b"),
                          d);
  ASSERT_EQ(both.status, 0) << both.err;
  EXPECT_EQ(capacity(report(d / "b"), "naive.scores"), 4u);
  EXPECT_EQ(capacity(report(d / "b"), "reordered.scores"), 3u);
  expect_error(sim("--set datapath=reordered --set channels.default_depth=9 "
                   "--set datapaths.reordered.channels.default_depth=8" +
                       out_arg(d / "o"),
                   d),
               {"--set channels.default_depth=9: channels.default_depth: has no effect"});
  // A shared value that is the default anyway loses nothing: the built-in default.yaml sets the
  // dot product's timing and `default_depth: auto`, and overriding them per datapath was refused.
  const SimRun defaults = sim(std::string(kSmall) +
                                  "--set datapath=two_pass "
                                  "--set datapaths.two_pass.units.dot_product.latency=5 "
                                  "--set datapaths.two_pass.channels.default_depth=40" +
                                  out_arg(d / "c"),
                              d);
  ASSERT_EQ(defaults.status, 0) << defaults.err;
  EXPECT_EQ(capacity(report(d / "c"), "two_pass.probs"), 40u);
}

// What valid_names says of the registry with a copy of its first datapath named `name` added
// ("" if it takes it).
std::string refusal_of(const std::string& name) {
  std::vector<DatapathKind> kinds = datapath_kinds();
  kinds.push_back({name, "a copy", kinds.front().build});
  try {
    valid_names(kinds);
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "";
}

// A second `naive` passed --check and then failed its run (its outputs were renamed naive_0); a
// datapath named `both` was shadowed by the choice of two.
TEST(Registry, ANameTakenTwiceOrAChoiceOfSeveralIsRefused) {
  EXPECT_NO_THROW(valid_names(datapath_kinds()));
  for (const char* taken : {"naive", "both", "all"})
    EXPECT_EQ(refusal_of(taken),
              fmt::format("datapath {} is registered twice, or is both or all: give each a name "
                          "of its own (hw/datapaths/datapaths.cpp)",
                          taken));
}

// `clamped.two` printed a SystemC warning in every run, its run failed on a file it had not
// announced (o_clamped_two.npy, exit 5), and no `datapaths.` key could reach it.
TEST(Registry, ANameThatIsNotAWordIsRefused) {
  for (const char* name : {"clamped.two", "", "Naive", "2pass", "two-pass", "two pass"})
    EXPECT_EQ(refusal_of(name),
              fmt::format("datapath '{}': a name is a lower-case letter, then lower-case letters, "
                          "digits and _ (hw/datapaths/datapaths.cpp)",
                          name));
  EXPECT_EQ(refusal_of("clamped_two_pass2"), "");
}

TEST(PerDatapath, EveryUnitOfEveryDatapathHasItsOwnTiming) {
  for (const std::string& dp : datapath_names()) {
    const DatapathConfig c = Params{}.config_for(dp);
    std::set<std::string> units;
    for (const auto& [unit, timing] : c.timings) units.insert(unit);
    EXPECT_EQ(units, std::set<std::string>(unit_names(dp).begin(), unit_names(dp).end())) << dp;
    for (const std::string& unit : unit_names(dp))
      EXPECT_EQ(c.timings.at(unit), datapath_parts(dp).default_timings.at(unit)) << unit;
  }
}

TEST(PerDatapath, AStreamReadersTimingIsConfigurable) {
  // K rows issued every other cycle: the last score comes H·N² − 1 cycles later. A reader's own
  // latency adds to the memory's (L − 1 beyond it, docs/timing.md): latency 3, two cycles.
  const fs::path d = scratch();
  const SimRun r = sim(std::string(kSmall) + "--set units.k_reader.ii=2" + out_arg(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json rep = report(d / "o");
  EXPECT_EQ(cycles(rep, "naive"), naive_cycles(1, 16, default_config()) + 16 * 16 - 1);
  EXPECT_EQ(cycles(rep, "reordered"), reordered_cycles(1, 16, default_config()) + 16 * 16 - 1);
  const SimRun l =
      sim(std::string(kSmall) + "--set units.k_reader.latency=3" + out_arg(d / "l"), d);
  ASSERT_EQ(l.status, 0) << l.err;
  const json rep_l = report(d / "l");
  EXPECT_EQ(cycles(rep_l, "naive"), naive_cycles(1, 16, default_config()) + 2);
  EXPECT_EQ(cycles(rep_l, "reordered"), reordered_cycles(1, 16, default_config()) + 2);
  EXPECT_EQ(capacity(rep_l, "naive.k_rows"), 10 + 2 + 1u);  // its latency + 1
}

TEST(PerDatapath, ParamsYamlRoundTripsAndServesEitherDatapath) {
  const fs::path d = scratch();
  const std::string sets = std::string(kSmall) +
                           "--set units.dot_product.latency=6 "
                           "--set datapaths.naive.units.dot_product.latency=9 "
                           "--set units.exp.ii=2 --set channels.depths.scores=7 "
                           "--set datapaths.reordered.channels.default_depth=12";
  ASSERT_EQ(sim(sets + out_arg(d / "a"), d).status, 0);
  const fs::path written = d / "a" / "params.yaml";
  const SimRun again = sim(shell_word(written) + out_arg(d / "b"), d);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(slurp(written), slurp(d / "b" / "params.yaml"));
  auto without_wall_time = [](json r) {
    r["sim"].erase("wall_seconds");
    return r;
  };
  EXPECT_EQ(without_wall_time(report(d / "a")), without_wall_time(report(d / "b")));
  // Per-datapath values are written under their datapath, so either one alone is the same.
  for (const char* dp : {"naive", "reordered"}) {
    const fs::path o = d / dp;
    const SimRun alone = sim(shell_word(written) + " --set datapath=" + dp + out_arg(o), d);
    ASSERT_EQ(alone.status, 0) << alone.err;
    EXPECT_EQ(report(o)["runs"][0], report(d / "a")["runs"][dp == std::string("naive") ? 0 : 1]);
  }
  const YAML::Node y = YAML::LoadFile(written.string());
  EXPECT_EQ(y["datapaths"]["naive"]["units"]["dot_product"]["latency"].as<int>(), 9);
  EXPECT_EQ(y["datapaths"]["reordered"]["units"]["dot_product"]["latency"].as<int>(), 6);
  EXPECT_FALSE(y["units"]["dot_product"]);
  EXPECT_EQ(y["units"]["k_reader"]["ii"].as<int>(), 1);
  EXPECT_EQ(y["datapaths"]["naive"]["units"]["exp"]["ii"].as<int>(), 2);
  EXPECT_EQ(y["datapaths"]["reordered"]["channels"]["depths"]["scores"].as<int>(), 7);
  EXPECT_EQ(y["datapaths"]["reordered"]["channels"]["default_depth"].as<int>(), 12);
  EXPECT_EQ(y["datapaths"]["naive"]["channels"]["default_depth"].as<std::string>(), "auto");
}

// kv_heads and kv_len follow heads and seq_len unless given: params.yaml writes them `auto`, so
// that the file passed back with another heads or seq_len does not run GQA or a rectangular
// problem the user never asked for. Given, they are written and kept.
TEST(PerDatapath, ParamsYamlKeepsKvHeadsAndKvLenFollowingUnlessGiven) {
  const fs::path d = scratch();
  ASSERT_EQ(sim(std::string(kSmall) + out_arg(d / "a"), d).status, 0);
  const fs::path written = d / "a" / "params.yaml";
  const YAML::Node y = YAML::LoadFile(written.string());
  EXPECT_EQ(y["problem"]["kv_heads"].as<std::string>(), "auto");
  EXPECT_EQ(y["problem"]["kv_len"].as<std::string>(), "auto");
  const SimRun again = sim(
      shell_word(written) + " --set problem.heads=4 --set problem.seq_len=8" + out_arg(d / "b"), d);
  ASSERT_EQ(again.status, 0) << again.err;
  const json p = report(d / "b")["problem"];
  EXPECT_EQ(p["kv_heads"], 4);
  EXPECT_EQ(p["kv_len"], 8);

  ASSERT_EQ(sim(std::string(kSmall) + "--set problem.heads=4 --set problem.kv_heads=2 " +
                    "--set problem.kv_len=24" + out_arg(d / "c"),
                d)
                .status,
            0);
  const SimRun kept =
      sim(shell_word(d / "c" / "params.yaml") + " --set problem.seq_len=8" + out_arg(d / "e"), d);
  ASSERT_EQ(kept.status, 0) << kept.err;
  const json q = report(d / "e")["problem"];
  EXPECT_EQ(q["kv_heads"], 2);
  EXPECT_EQ(q["kv_len"], 24);
}

// --- Errors name their real source ---------------------------------------------------------

TEST(Sources, ADuplicateKeyIsBlamedOnTheFileNotOnASetOfTheSameKey) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "problem:\n  seq_len: 16\n  seq_len: 32\n");
  expect_error(sim(shell_word(p) + " --set problem.seq_len=8" + out_arg(d / "o"), d),
               {"p.yaml:3:3: problem.seq_len: duplicate key"}, {"--set"});
  // A duplicate inside a --set's own value is the --set's.
  expect_error(sim("--set 'problem={seq_len: 8, seq_len: 9}'" + out_arg(d / "o"), d),
               {"--set problem={seq_len: 8, seq_len: 9}: problem.seq_len: duplicate key"});
}

TEST(Sources, AKeySetTwiceIsRefusedNamingBothSets) {
  const fs::path d = scratch();
  expect_error(sim("--set problem.seq_len=8 --set problem.seq_len=16" + out_arg(d / "o"), d),
               {"--set problem.seq_len=16: problem.seq_len: also set by --set problem.seq_len=8"});
  // A mapping and a key inside it, in either order.
  expect_error(
      sim("--set 'problem={seq_len: 8}' --set problem.seq_len=16" + out_arg(d / "o"), d),
      {"--set problem.seq_len=16: problem.seq_len: also set by --set problem={seq_len: 8}"});
  expect_error(
      sim("--set problem.seq_len=16 --set 'problem={seq_len: 8}'" + out_arg(d / "o"), d),
      {"--set problem={seq_len: 8}: problem.seq_len: also set by --set problem.seq_len=16"});
  // A value and a key below it.
  expect_error(sim("--set problem.seq_len=16 --set problem=5" + out_arg(d / "o"), d),
               {"--set problem=5: problem: also set by --set problem.seq_len=16"});
  // Keys whose text only begins alike are two keys.
  const SimRun r = sim(
      "--set datapath=naive --set datapaths.naive.units.exp.latency=5 --check" + out_arg(d / "o"),
      d);
  EXPECT_EQ(r.status, 0) << r.err;
}

// A mapping set by --set sets the keys it names and leaves the file's others as they were: it
// does not replace the file's mapping (which dropped a model's heads and causal mask unsaid).
TEST(Sources, AMappingSetSetsItsKeysAndKeepsTheFilesOthers) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml",
                       "problem:\n  heads: 4\n  kv_heads: 2\n  head_dim: 8\n  causal: true\n"
                       "units:\n  exp: {latency: 8}\n");
  const SimRun r = sim(shell_word(p) +
                           " --set 'problem={seq_len: 16, batch: 2}' --set 'units={dot_product: "
                           "{latency: 3}}' --set datapath=naive" +
                           out_arg(d / "o"),
                       d);
  ASSERT_EQ(r.status, 0) << r.err;
  const YAML::Node y = YAML::LoadFile((d / "o" / "params.yaml").string());
  EXPECT_EQ(y["problem"]["seq_len"].as<int>(), 16);
  EXPECT_EQ(y["problem"]["batch"].as<int>(), 2);
  EXPECT_EQ(y["problem"]["heads"].as<int>(), 4);
  EXPECT_EQ(y["problem"]["kv_heads"].as<int>(), 2);
  EXPECT_EQ(y["problem"]["head_dim"].as<int>(), 8);
  EXPECT_TRUE(y["problem"]["causal"].as<bool>());
  EXPECT_EQ(y["datapaths"]["naive"]["units"]["exp"]["latency"].as<int>(), 8);
  EXPECT_EQ(y["units"]["dot_product"]["latency"].as<int>(), 3);
  // A mapping that names nothing is refused, not taken for "clear the file's keys".
  expect_error(sim(shell_word(p) + " --set 'problem={}'" + out_arg(d / "o2"), d),
               {"--set problem={}: problem: an empty mapping sets nothing"});
}

// A YAML alias is the node it names, shared: a --set into it set every key that refers to it.
TEST(Sources, ASetThroughAnAliasChangesOnlyTheKeyItNames) {
  const fs::path d = scratch();
  const fs::path p =
      write(d / "p.yaml",
            "units:\n  dot_product: &t {latency: 5}\n  k_reader: *t\n"
            "datapaths: {naive: &d {units: {weighted_sum: {latency: 7}}}, two_pass: *d}\n");
  const Params params =
      load_params(p.string(), {"datapath=all", "units.k_reader.latency=3",
                               "datapaths.two_pass.units.weighted_sum.latency=9"});
  const DatapathConfig naive = params.config_for("naive");
  EXPECT_EQ(naive.timings.at("k_reader").latency, 3u);
  EXPECT_EQ(naive.timings.at("dot_product").latency, 5u);
  EXPECT_EQ(naive.timings.at("weighted_sum").latency, 7u);
  EXPECT_EQ(params.config_for("two_pass").timings.at("weighted_sum").latency, 9u);
}

TEST(Sources, OneInputAloneBlamesTheMissingInputWhereTheGivenOneIs) {
  const fs::path d = scratch();
  expect_error(sim("--set inputs.q=q.npy" + out_arg(d / "o"), d),
               {"--set inputs.q=q.npy: inputs.k: missing", "all of q, k and v"}, {"default.yaml"});
  const auto p = write(d / "p.yaml", "inputs:\n  q: q.npy\n  v: v.npy\n");
  expect_error(sim(shell_word(p) + out_arg(d / "o"), d), {"p.yaml:2:6: inputs.k: missing"});
}

TEST(Sources, AnUnknownKeyMadeByASetIsBlamedOnTheSet) {
  const fs::path d = scratch();
  expect_error(sim("--set units.no_such_unit.latency=3" + out_arg(d / "o"), d),
               {"--set units.no_such_unit.latency=3: units.no_such_unit: unknown key"});
}

// --- Inputs against problem.* ------------------------------------------------------------

// q, k, v .npy files of shape [n, d] in `dir`; returns the --set options that name them.
std::string input_sets(const fs::path& dir, std::size_t n, std::size_t d) {
  return write_inputs(dir, random_inputs(1, n, d, 5), {n, d}, {n, d});
}

TEST(Inputs, AProblemKeyThatDisagreesWithTheInputsIsRefusedNamingBoth) {
  const fs::path d = scratch();
  const std::string inputs = input_sets(d, 8, 4);
  const std::string q = (d / "q.npy").string();
  const auto n1024 = write(d / "n1024.yaml", "problem:\n  seq_len: 1024\n");
  expect_error(sim(shell_word(n1024) + " " + inputs + out_arg(d / "o"), d),
               {"n1024.yaml:2:12: problem.seq_len: 1024 disagrees with inputs.q",
                q + " has shape [8, 4]", "N = 8"});
  // The shipped params leave the problem's size to its defaults, which files replace.
  const SimRun shipped = sim(inputs + out_arg(d / "s"), d);
  EXPECT_EQ(shipped.status, 0) << shipped.err;
  expect_error(
      sim(inputs + "--set problem.seq_len=8 --set problem.head_dim=5" + out_arg(d / "o"), d),
      {"--set problem.head_dim=5: problem.head_dim: 5 disagrees", "d = 4"});
  expect_error(sim(inputs +
                       "--set problem.seq_len=8 --set problem.head_dim=4 --set "
                       "problem.heads=2" +
                       out_arg(d / "o"),
                   d),
               {"--set problem.heads=2: problem.heads: 2 disagrees", "heads = 1"});
  const SimRun agree =
      sim(inputs + "--set problem.seq_len=8 --set problem.head_dim=4" + out_arg(d / "a"), d);
  EXPECT_EQ(agree.status, 0) << agree.err;
  // Without problem keys the files alone define the problem.
  const auto p = write(d / "p.yaml", "datapath: naive\n");
  const SimRun alone = sim(shell_word(p) + " " + inputs + out_arg(d / "b"), d);
  EXPECT_EQ(alone.status, 0) << alone.err;
}

// q.npy with the given header dict and `bytes` of data; k and v valid [4, 3].
fs::path npy_with_header(const fs::path& d, std::string header, std::size_t bytes) {
  const AttentionInputs in = random_inputs(1, 4, 3, 1);
  write_npy((d / "k.npy").string(), in.k, {4, 3});
  write_npy((d / "v.npy").string(), in.v, {4, 3});
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string file = "\x93NUMPY";
  file += '\x01';
  file += '\x00';
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header + std::string(bytes, '\0');
  write(d / "q.npy", file);
  return write(d / "p.yaml", "inputs: {q: q.npy, k: k.npy, v: v.npy}\n");
}

// The same with the given shape text.
fs::path npy_with_shape(const fs::path& d, const std::string& shape, std::size_t bytes) {
  return npy_with_header(d, "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }",
                         bytes);
}

TEST(Inputs, ANegativeMalformedOrAbsurdShapeIsRefused) {
  const fs::path d = scratch();
  struct Case {
    std::string shape;
    std::size_t bytes;
    std::string message;
  };
  const std::vector<Case> cases{
      {"(-4, 3)", 48, "shape (-4, 3) has a negative dimension"},
      {"(4, -3)", 48, "has a negative dimension"},
      {"(4.5, 3)", 48, "is not a tuple of integers"},
      {"(4 3)", 48, "is not a tuple of integers"},
      {"(4,, 3)", 48, "is not a tuple of integers"},
      {"(12)", 48, "is not a tuple of integers"},
      {"(1099511627776, 1099511627776)", 0, "is too large"},
      {"(99999999999999999999999, 3)", 0, "is too large"},
      // More rows or columns than the simulator allows: refused from the header alone.
      {"(1048577, 1)", 0, "N = 1048577 is more than 1048576, the most problem.seq_len allows"},
      {"(1, 65537)", 0, "d = 65537 is more than 65536, the most problem.head_dim allows"},
  };
  for (const Case& c : cases) {
    const fs::path p = npy_with_shape(d, c.shape, c.bytes);
    expect_error(sim(shell_word(p) + out_arg(d / "o"), d),
                 {"inputs.q: " + (d / "q.npy").string(), c.message});
  }
  // Python's other spellings of a 2-D shape are fine.
  for (const std::string shape : {"(4, 3,)", "( 4 ,3 )"}) {
    const fs::path p = npy_with_shape(d, shape, 48);
    const SimRun r = sim(shell_word(p) + out_arg(d / "ok"), d);
    EXPECT_EQ(r.status, 0) << shape << r.err;
  }
}

// The header is the dict numpy writes, read as numpy reads it: a key twice (numpy would take the
// last, this reader took the first), a key numpy refuses, or a key's name inside another value
// was taken for something it is not.
TEST(Inputs, AHeaderIsReadAsTheDictNumpyWritesOrRefused) {
  const fs::path d = scratch();
  struct Case {
    std::string header, message;
  };
  const std::vector<Case> cases{
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), 'shape': (3, 4), }",
       "malformed .npy header: key 'shape' given twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), 'extra': 1, }",
       "malformed .npy header: unexpected key 'extra', expected 'descr', 'fortran_order' and "
       "'shape'"},
      {"{'descr': '<f4', 'shape': (4, 3), }", "malformed .npy header: no 'fortran_order'"},
      {"{'descr': \"'fortran_order': True\", 'fortran_order': False, 'shape': (4, 3), }",
       "dtype \"'fortran_order': True\" not supported"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (4, 3), }",
       "fortran_order 0, expected True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [4, 3], }",
       "shape [4, 3] is not a tuple of integers"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), } x",
       "malformed .npy header: text after the dict"},
  };
  for (const Case& c : cases) {
    const fs::path p = npy_with_header(d, c.header, 48);
    expect_error(sim(shell_word(p) + out_arg(d / "o"), d),
                 {"inputs.q: " + (d / "q.npy").string(), c.message});
  }
  // numpy's own spellings, keys in any order, a structured dtype refused as a dtype.
  const SimRun r = sim(shell_word(npy_with_header(
                           d, "{\"shape\": (4, 3),'fortran_order':False,'descr':\"<f4\"}", 48)) +
                           out_arg(d / "ok"),
                       d);
  EXPECT_EQ(r.status, 0) << r.err;
  expect_error(
      sim(shell_word(npy_with_header(
              d, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4, 3), }", 48)) +
              out_arg(d / "o"),
          d),
      {"dtype [('a', '<f4')] not supported"});
}

TEST(Inputs, AnEmptyInputOrASeedBesideTheFilesIsRefusedWhereItWasGiven) {
  const fs::path d = scratch();
  const std::string files = input_sets(d, 4, 3);
  const std::string k_and_v = files.substr(files.find("--set inputs.k"));
  expect_error(sim("--set inputs.q= " + k_and_v + out_arg(d / "o"), d),
               {"--set inputs.q=: inputs.q: expected a file path"});
  // A path with ": " in it is a mapping to YAML; the message says to quote it.
  expect_error(sim("--set 'inputs.q=in/c: d/q.npy' " + k_and_v + out_arg(d / "o"), d),
               {"inputs.q: expected a file path, got a mapping (a path with ': ' in it needs "
                "quotes: 'in/a: b/q.npy')"});
  expect_error(sim("--set 'cost=[a]'" + out_arg(d / "o"), d),
               {"--set cost=[a]: cost: expected a file path, got a list"});
  expect_error(sim("--set 'cost={a: b, c: d}'" + out_arg(d / "o"), d),
               {"cost: expected a file path, got a mapping"}, {"quotes"});
  // The data is the files': a seed would change nothing it seems to.
  expect_error(sim(files + "--set problem.seed=12345" + out_arg(d / "o"), d),
               {"--set problem.seed=12345: problem.seed: has no effect"});
  // A folder, not a file with a bad magic number.
  expect_error(sim("--set inputs.q=" + shell_word(d) + " " + k_and_v + out_arg(d / "o"), d),
               {"inputs.q: " + d.string() + ": is a folder, expected a .npy file"});
  // The shipped files' seed, the default, is left alone.
  const SimRun r = sim("params/naive.yaml " + files + out_arg(d / "ok"), d);
  EXPECT_EQ(r.status, 0) << r.err;
}

// --- Memory estimate ---------------------------------------------------------------------

TEST(Memory, AWideButShortRunIsNotRefused) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set problem.seq_len=4 --set problem.head_dim=65536" + out_arg(d / "o"), d);
  // It runs; d = 65536 is beyond what fp32 can certify to 1% of max|v| (docs/timing.md).
  EXPECT_TRUE(r.status == 0 || r.status == 6) << r.status << r.err;
  // The estimate bounds what the run holds: its arrays and channels at their real depths.
  std::map<std::string, DatapathConfig> configs;
  Params p;
  for (const std::string& dp : datapath_names()) configs[dp] = p.config_for(dp);
  const Simulation simulation(AttentionShape::square(1, 4, 65536), configs,
                              registered_kinds(datapath_names()));
  const MemoryEstimate e = simulation.memory_estimate();
  EXPECT_LT(e.total(), std::uint64_t(64) << 20);
  // Q, K, V, the reference's fp64 output, the shared memory image, and two per datapath.
  EXPECT_GE(e.arrays, std::uint64_t(3 + 2 + 3 + 2 * 3) * 4 * 65536 * 4);
}

TEST(Memory, ARefusalNamesTheKeyThatDrivesTheSize) {
  const fs::path d = scratch();
  expect_error(
      sim("--set datapaths.naive.channels.depths.score_bypass=1000000000" + out_arg(d / "o"), d),
      {"--set datapaths.naive.channels.depths.score_bypass=1000000000: "
       "datapaths.naive.channels.depths.score_bypass: this run needs about",
       "GiB of memory, more than the"});
  expect_error(sim("--set problem.heads=65536 --set problem.seq_len=4096" + out_arg(d / "o"), d),
               {"--set problem.heads=65536: problem.heads: this run needs about"});
  expect_error(
      sim("--set problem.seq_len=65536 --set problem.head_dim=65536" + out_arg(d / "o"), d),
      {"--set problem.head_dim=65536: problem.head_dim: this run needs about"});
  // A decode shape's K and V outgrow Q: their length, not the query heads (which named heads
  // before, though 512 heads of one query take 128 KiB).
  expect_error(sim("--set problem.seq_len=1 --set problem.kv_len=1048576 --set problem.heads=512 "
                   "--set problem.kv_heads=64" +
                       out_arg(d / "o"),
                   d),
               {"--set problem.kv_len=1048576: problem.kv_len: this run needs about"});
}

// --- sized.yaml per datapath ---------------------------------------------------------------

TEST(SizeBuffers, FindsEachDatapathsLeastDepthsAndSizedYamlServesEitherOrBoth) {
  // The reordered dot product at latency 1 makes its `scores` need less than the naive one's.
  const fs::path d = scratch();
  const std::size_t n = 32;
  const SimRun r =
      sim("--set problem.seq_len=32 --set problem.head_dim=4 "
          "--set datapaths.reordered.units.dot_product.latency=1 --size-buffers" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path sized = d / "o" / "sized.yaml";
  const YAML::Node y = YAML::LoadFile(sized.string());
  EXPECT_TRUE(y["channels"]["depths"].IsMap() && y["channels"]["depths"].size() == 0);
  for (const std::string dp : {"naive", "reordered"})  // datapath: both, the default
    EXPECT_EQ(y["datapaths"][dp]["channels"]["depths"].size(), channel_names(dp).size()) << dp;
  const auto depth = [&](const char* dp, const char* ch) {
    return y["datapaths"][dp]["channels"]["depths"][ch].as<std::size_t>();
  };
  const auto L = [&](const char* unit) {
    for (const std::string& dp : datapath_names())
      if (datapath_parts(dp).default_timings.count(unit) != 0)
        return datapath_parts(dp).default_timings.at(unit).latency;
    throw std::out_of_range(unit);
  };
  // docs/timing.md: the least full-rate bypass is N + producer latency + reduction latency;
  // a per-score channel needs its producer's latency + 1.
  EXPECT_EQ(depth("naive", "score_bypass"), n + L("dot_product") + L("row_max"));
  EXPECT_EQ(depth("naive", "exp_bypass"), n + L("exp") + L("row_sum"));
  EXPECT_EQ(depth("naive", "scores"), L("dot_product") + 1u);
  EXPECT_EQ(depth("reordered", "scores"), 1 + 1u);
  EXPECT_EQ(depth("reordered", "sum_rescale"), L("running_max") + 1u);
  EXPECT_EQ(depth("reordered", "acc_rescale"), L("running_max") + 1u);
  for (const char* dp : {"naive", "reordered"})
    EXPECT_EQ(depth(dp, "k_rows"), y["memory"]["read_latency"].as<std::size_t>() + 1) << dp;
  // Passed back in, for either datapath alone or both, sized.yaml reproduces the full-rate
  // cycle counts (docs/timing.md, "Closed forms").
  DatapathConfig reordered = default_config();
  reordered.timings["dot_product"].latency = 1;
  const std::map<std::string, Cycle> full_rate{{"naive", naive_cycles(1, n, default_config())},
                                               {"reordered", reordered_cycles(1, n, reordered)}};
  std::map<std::string, double> sized_area;
  for (const char* choice : {"naive", "reordered", "both"}) {
    const fs::path o = d / choice;
    const SimRun again = sim(shell_word(sized) + " --set datapath=" + choice + out_arg(o), d);
    ASSERT_EQ(again.status, 0) << choice << again.err;
    const json again_report = report(o);
    for (const json& run : again_report["runs"]) {
      EXPECT_EQ(run["cycles"], full_rate.at(run["datapath"])) << choice;
      sized_area[run["datapath"]] = run["area"]["buffering_um2"]["total"];
    }
  }
  // What sizing saved: each datapath's buffering area with the depths given (auto here) and
  // sized, as the runs of each report them.
  const SimRun given =
      sim("--set problem.seq_len=32 --set problem.head_dim=4 "
          "--set datapaths.reordered.units.dot_product.latency=1" +
              out_arg(d / "given"),
          d);
  ASSERT_EQ(given.status, 0) << given.err;
  const json given_report = report(d / "given");  // a range-for over a temporary's part dangles
  for (const json& run : given_report["runs"]) {
    const std::string dp = run["datapath"];
    const double before = run["area"]["buffering_um2"]["total"], after = sized_area.at(dp);
    ASSERT_LT(after, before) << dp;
    EXPECT_NE(
        r.out.find(fmt::format(
            "{}: buffering {:.0f} µm² with the depths given, {:.0f} µm² sized ({:.0f}% less)\n", dp,
            before, after, 100 * (before - after) / before)),
        std::string::npos)
        << r.out;
  }
}

// The table's last column is each channel's high water with ample buffering: where no channel
// fills, the run is one with every channel unbounded, so those high waters are its report's. The
// Q reader, with room, fetches the whole head's N rows ahead while the dot product holds the
// first (N − 1); one slot keeps the cycles, since Q is needed once per row of N scores.
TEST(SizeBuffers, TheTablesHighWaterIsTheAmpleRunsNotTheSizedDepth) {
  const fs::path d = scratch();
  const std::string shape =
      "--set problem.seq_len=32 --set problem.head_dim=4 --set datapath=reordered";
  const SimRun sized = sim(shape + " --size-buffers" + out_arg(d / "s"), d);
  ASSERT_EQ(sized.status, 0) << sized.err;
  const SimRun unbounded =
      sim(shape + " --set channels.default_depth=100000" + out_arg(d / "u"), d);
  ASSERT_EQ(unbounded.status, 0) << unbounded.err;
  std::map<std::string, std::pair<std::size_t, std::size_t>> table;  // channel: sized, high water
  std::istringstream lines(sized.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string dp, channel;
    std::size_t depth = 0, high_water = 0;
    if (words >> dp >> channel >> depth >> high_water && dp == "reordered")
      table[channel] = {depth, high_water};
  }
  const json runs = report(d / "u")["runs"];
  ASSERT_EQ(table.size(), runs[0]["channels"].size()) << sized.out;
  for (const json& c : runs[0]["channels"]) {
    const std::string name = c["name"].get<std::string>().substr(std::string("reordered.").size());
    EXPECT_EQ(table[name].second, c["high_water"].get<std::size_t>()) << name;
    EXPECT_LT(c["high_water"].get<std::size_t>(), 100000u) << name;
  }
  EXPECT_EQ(table["q_rows"], std::make_pair(std::size_t{1}, std::size_t{31}));
}

// A unit at the largest latency and an II of 1024: the ample depth, twice latency × II, would
// exceed any depth a run accepts (a child refused it, exit 2); no channel needs more than a
// slot per score.
TEST(SizeBuffers, ASlowUnitsLatencyTimesIiBeyondAnyDepthIsSized) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set problem.seq_len=4 --set problem.head_dim=4 --set datapath=naive "
          "--set units.exp.latency=1048576 --set units.exp.ii=1024 "
          "--size-buffers" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("with ample buffering"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(d / "o" / "sized.yaml"));
}

// A watchdog that stops the run with ample buffering stops the sizing: exit 4, naming the limit,
// and no sized.yaml.
TEST(SizeBuffers, AWatchdogStopIsExitFourNamingItsLimit) {
  const fs::path d = scratch();
  const SimRun r = sim(std::string(kSmall) + "--set datapath=naive --set sim.max_cycles=100 " +
                           "--size-buffers" + out_arg(d / "o"),
                       d);
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("sdpa-sim: error: the watchdog stopped naive with depth "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(" everywhere (sim.max_cycles: 100): raise it, or leave it auto\n"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(d / "o" / "sized.yaml"));
}

// Sizing starts from ample depths whatever was given: the user is told which depths go unused,
// and sized.yaml, which lists every channel, leaves the default depth auto.
TEST(SizeBuffers, NamesTheDepthsGivenAsNotUsed) {
  const fs::path d = scratch();
  const SimRun r = sim(std::string(kSmall) +
                           "--set datapath=reordered --set channels.depths.k_rows=2 "
                           "--set channels.default_depth=64 --size-buffers" +
                           out_arg(d / "o"),
                       d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: --size-buffers sizes every channel, starting from ample depths: "
                       "channels.default_depth (--set channels.default_depth=64) and "
                       "channels.depths.k_rows (--set channels.depths.k_rows=2) are not used"),
            std::string::npos)
      << r.err;
  const YAML::Node y = YAML::LoadFile((d / "o" / "sized.yaml").string());
  EXPECT_EQ(y["channels"]["default_depth"].as<std::string>(), "auto");
  EXPECT_EQ(y["datapaths"]["reordered"]["channels"]["depths"]["k_rows"].as<std::size_t>(),
            y["memory"]["read_latency"].as<std::size_t>() + 1);
  // Without depths given, nothing to say.
  const SimRun plain =
      sim(std::string(kSmall) + "--set datapath=reordered --size-buffers" + out_arg(d / "p"), d);
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_EQ(plain.err.find("not used"), std::string::npos) << plain.err;
}

// On a shared link a deeper stream buffer can make a run slower, so the search for the least
// depths that keep ample buffering's cycles is refused there (it once sized k_rows to 390 and
// called a run 25% slower than the default depths a success); the final lines name the datapath
// choice as given (they said "both" for `all`).
TEST(SizeBuffers, RefusesASharedLinkAndNamesTheDatapathsRunTogether) {
  const fs::path d = scratch();
  const SimRun shared =
      sim(std::string(kSmall) + "--set memory.ports=shared --size-buffers" + out_arg(d / "s"), d);
  expect_error(shared, {"--set memory.ports=shared: memory.ports: shared: --size-buffers needs "
                        "private links"});
  EXPECT_FALSE(fs::exists(d / "s"));
  const SimRun all =
      sim("--set problem.seq_len=8 --set problem.head_dim=4 --set datapath=all --size-buffers" +
              out_arg(d / "a"),
          d);
  ASSERT_EQ(all.status, 0) << all.err;
  for (const std::string& dp : datapath_names())
    EXPECT_NE(all.out.find("\n" + dp + ": "), std::string::npos) << all.out;
  std::size_t lines = 0;
  for (std::size_t at = all.out.find(" with datapath: all\n"); at != std::string::npos;
       at = all.out.find(" with datapath: all\n", at + 1))
    ++lines;
  EXPECT_EQ(lines, datapath_names().size()) << all.out;
  EXPECT_EQ(all.out.find("both"), std::string::npos) << all.out;
}

// With lanes each key sizes every lane's channel of that name; the table shows the most any lane's
// held (it once looked the name up among lane0.scores, lane1.scores, ... and failed, exit 5).
TEST(SizeBuffers, SizesEveryLanesChannelsByTheirKey) {
  const fs::path d = scratch();
  const std::size_t n = 8;
  const SimRun r =
      sim("--set problem.seq_len=8 --set problem.head_dim=4 --set datapath=naive "
          "--set parallel.lanes=2 --size-buffers" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const YAML::Node y = YAML::LoadFile((d / "o" / "sized.yaml").string());
  const YAML::Node depths = y["datapaths"]["naive"]["channels"]["depths"];
  EXPECT_EQ(depths.size(), channel_names("naive").size());
  // A lane's rows have N keys: its bypass needs N + L_dot + L_max, as with one lane.
  const Timing dot = datapath_parts("naive").default_timings.at("dot_product");
  const Timing max = datapath_parts("naive").default_timings.at("row_max");
  EXPECT_EQ(depths["score_bypass"].as<std::size_t>(), n + dot.latency + max.latency);
  DatapathConfig c = default_config();
  c.lanes = 2;
  const Cycle full_rate = naive_cycles(AttentionShape::square(1, n, 4), c);
  EXPECT_NE(r.out.find(fmt::format("naive: {} cycles with ample buffering, {} with sized.yaml",
                                   full_rate, full_rate)),
            std::string::npos)
      << r.out;
}

// A watchdog too low for any depth stops the ample run: exit 4, naming the watchdog (it said the
// datapath does not complete with ample depths, exit 3, as if the buffers were to blame).
TEST(SizeBuffers, AWatchdogStopIsNamedAsSuch) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set problem.seq_len=8 --set problem.head_dim=4 --set datapath=naive "
          "--set sim.max_cycles=10 --size-buffers" +
              out_arg(d / "o"),
          d);
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("the watchdog stopped naive"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sim.max_cycles: 10"), std::string::npos) << r.err;
}

// --- The shipped files say what happens -------------------------------------------------

TEST(ShippedFiles, NaiveYamlsBypassHintIsWhatHappens) {
  // Each hint of params/naive.yaml: "score_bypass: DEPTH runs|stalls|deadlocks", maybe followed
  // on its line by ": CYCLES cycles".
  struct Hint {
    std::string depth, kind;
    std::optional<Cycle> cycles;
  };
  std::vector<Hint> hints;
  std::istringstream text(slurp(fs::path(SDPA_SOURCE_DIR) / "params" / "naive.yaml"));
  for (std::string line; std::getline(text, line);) {
    const auto at = line.find("score_bypass: ");
    if (at == std::string::npos) continue;
    std::istringstream words(line.substr(at + 14));
    Hint h;
    words >> h.depth >> h.kind;
    if (!h.kind.empty() && h.kind.back() == ':') h.kind.pop_back();
    if (h.depth.find_first_not_of("0123456789") != std::string::npos ||
        (h.kind != "runs" && h.kind != "stalls" && h.kind != "deadlocks"))
      continue;
    if (const auto c = line.find(" cycles"); c != std::string::npos) {
      const auto begin = line.rfind(' ', c - 1) + 1;
      h.cycles = std::stoull(line.substr(begin, c - begin));
    }
    hints.push_back(h);
  }
  const fs::path d = scratch();
  const Cycle full_rate = naive_cycles(1, 1024, default_config());
  std::set<std::string> kinds;
  for (const Hint& h : hints) {
    kinds.insert(h.kind);
    const fs::path o = d / h.depth;
    const SimRun r =
        sim("params/naive.yaml --set channels.depths.score_bypass=" + h.depth + out_arg(o), d);
    if (h.kind == "deadlocks") {
      EXPECT_EQ(r.status, 3) << h.depth;
      continue;
    }
    ASSERT_EQ(r.status, 0) << h.depth << r.err;
    const Cycle c = cycles(report(o), "naive");
    if (h.kind == "runs") {
      EXPECT_EQ(c, full_rate) << h.depth;
    } else {
      EXPECT_GT(c, full_rate) << h.depth;
    }
    if (h.cycles) {
      EXPECT_EQ(c, *h.cycles) << h.depth;
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"runs", "stalls", "deadlocks"}));
}

// More than three depths given: the note names two and counts the rest.
TEST(SizeBuffers, MoreThanThreeDepthsGivenAreTwoNamedAndTheRestCounted) {
  const fs::path d = scratch();
  const SimRun r = sim(std::string(kSmall) +
                           "--set datapath=reordered --set channels.depths.k_rows=2 "
                           "--set channels.depths.q_rows=2 --set channels.depths.v_rows=2 "
                           "--set channels.default_depth=64 --size-buffers" +
                           out_arg(d / "o"),
                       d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: --size-buffers sizes every channel, starting from ample depths: "
                       "channels.default_depth (--set channels.default_depth=64), "
                       "channels.depths.k_rows (--set channels.depths.k_rows=2) and 2 more are "
                       "not used\n"),
            std::string::npos)
      << r.err;
}

// An automatic depth that a latency makes large is the latency's doing: reducing d (at its least
// here) or the memory's latency could not help, though the refusal named them. Under a 4 GiB
// address-space limit, so that every machine refuses these runs.
TEST(Memory, ARefusalNamesTheLatencyThatMakesAnAutomaticDepthLarge) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit";
#endif
  const fs::path d = scratch();
  const rlimit limit{std::uint64_t(4) << 30, std::uint64_t(4) << 30};
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &limit), 0);
  const std::string lanes = "--check --set parallel.lanes=256 --set problem.seq_len=256 ";
  // The running max's results, latency + 1 deep on each lane (pairs, so rows of 2 wide).
  expect_error(sim(lanes + "--set datapath=reordered --set problem.head_dim=1 "
                           "--set datapaths.reordered.units.running_max.latency=1048576",
                   d),
               {"of it is for datapaths.reordered.units.running_max.latency (reduce it)"});
  // Each lane's K rows, the memory's and the reader's latencies deep: the reader's, not the
  // memory's at 1.
  expect_error(sim(lanes + "--set problem.head_dim=1 --set memory.read_latency=1 "
                           "--set units.k_reader.latency=1048576",
                   d),
               {"of it is for units.k_reader.latency (reduce it)"});
  // A row bypass whose reduction, not its row, is most of its depth.
  expect_error(sim(lanes + "--set datapath=naive --set problem.head_dim=1 "
                           "--set units.row_max.latency=1048576",
                   d),
               {"of it is for units.row_max.latency (reduce it)"});
  // Rows of d, latency + 1 of them: d is further above its default than the latency.
  expect_error(sim(lanes + "--set datapath=reordered --set problem.head_dim=65536 "
                           "--set units.rescale_accumulate.latency=300",
                   d),
               {"of it is for problem.head_dim (reduce it)"});
}

// A run may use nine tenths of the machine's memory: the refusal names that figure (under an
// address-space limit it names what the limit leaves instead).
TEST(Memory, ARefusalNamesNineTenthsOfTheMachinesMemory) {
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
    GTEST_SKIP() << "an address-space limit (ulimit -v) takes the machine's place";
  const fs::path d = scratch();
  const std::uint64_t usable =
      std::uint64_t(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE) / 10 * 9;
  expect_error(
      sim("--check --set channels.default_depth=1000000000", d),
      {"of memory, more than the " + bytes_text(usable) + " of this machine a run may use;"});
}

// A unit whose latency × II passes 2^32 (latency 2^20 at II 4096, 256 elements in flight): the
// ample depth is as fast as a slot per score everywhere, so the sizing keeps that run's cycles.
TEST(SizeBuffers, ALatencyTimesIiPast32BitsIsAmple) {
  const fs::path d = scratch();
  const std::string slow =
      "--set datapath=naive --set problem.seq_len=16 --set problem.head_dim=4 "
      "--set units.exp.latency=1048576 --set units.exp.ii=4096 ";
  const SimRun roomy = sim(slow + "--set channels.default_depth=257" + out_arg(d / "r"), d);
  ASSERT_EQ(roomy.status, 0) << roomy.err;
  const Cycle cycles = report(d / "r")["runs"][0]["cycles"];
  const SimRun sized = sim(slow + "--size-buffers" + out_arg(d / "s"), d);
  ASSERT_EQ(sized.status, 0) << sized.err;
  EXPECT_NE(sized.out.find(fmt::format("naive: {} cycles with ample buffering, {} with sized.yaml",
                                       cycles, cycles)),
            std::string::npos)
      << sized.out;
}

}  // namespace
}  // namespace sdpa::test
