// Simulation speed in one run: ns per score of the synchronized and decoupled modes of sdpa-sim
// and of a plain C++ loop doing the same fp32 arithmetic with no simulation (the floor), for
// each datapath, and the ratios. Each simulation runs in its own process (one elaboration per
// process); its time is report.json's sim.wall_seconds (sc_start only). Times are medians.
// The floor's output must equal the simulated O bit for bit, or the bench fails: it is then
// not the same arithmetic.
//
//   build/bin/sdpa-bench [--n 1024] [--d 64] [--repeat 3] [--sim build/bin/sdpa-sim]

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "hw/types.h"
#include "hw/units/accumulate.h"
#include "hw/units/map.h"
#include "hw/units/online_normalizer.h"
#include "hw/units/reduce.h"
#include "hw/units/running_max.h"
#include "sim/npy.h"
#include "sim/reference.h"

using namespace sdpa;
namespace fs = std::filesystem;

namespace {

// Row r of a row-major matrix with d columns, as the stream readers pass rows along.
RowView row(const std::vector<float>& m, std::size_t r, std::size_t d) {
  return RowView(m.data() + r * d, d);
}

// The naive datapath's arithmetic with the units' own operators, a row at a time.
void naive_floor(const AttentionInputs& in, std::vector<float>& out) {
  const std::size_t n = in.shape.seq_len, d = in.shape.head_dim;
  const ScaledDotOp dot{1.0f / std::sqrt(float(d))};
  std::vector<float> s(n);
  Row o(d);
  for (std::size_t i = 0; i < n; ++i) {
    const RowView q = row(in.q, i, d);
    float m = -std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < n; ++j) {
      s[j] = dot(row(in.k, j, d), q);
      m = MaxOp{}(m, s[j]);
    }
    float l = 0;
    for (std::size_t j = 0; j < n; ++j) {
      s[j] = ExpOp{}(SubtractOp{}(s[j], m));
      l = SumOp{}(l, s[j]);
    }
    std::fill(o.begin(), o.end(), 0.0f);
    for (std::size_t j = 0; j < n; ++j) WeightedSumOp{}(o, DivideOp{}(s[j], l), row(in.v, j, d));
    std::copy(o.begin(), o.end(), out.begin() + i * d);
  }
}

// The two-pass datapath's arithmetic: the online normalizer's max and sum, then each score
// normalised and accumulated with its V row.
void two_pass_floor(const AttentionInputs& in, std::vector<float>& out) {
  const std::size_t n = in.shape.seq_len, d = in.shape.head_dim;
  const ScaledDotOp dot{1.0f / std::sqrt(float(d))};
  std::vector<float> s(n);
  Row o(d);
  for (std::size_t i = 0; i < n; ++i) {
    const RowView q = row(in.q, i, d);
    float m = 0, l = 0;
    for (std::size_t j = 0; j < n; ++j) {
      s[j] = dot(row(in.k, j, d), q);
      l = RescaleSumOp{}(j == 0 ? 0.0f : l, RunningMaxOp{}(m, s[j], j == 0));
    }
    std::fill(o.begin(), o.end(), 0.0f);
    for (std::size_t j = 0; j < n; ++j)
      WeightedSumOp{}(o, NormalizeOp{}(s[j], RowStats{m, l}), row(in.v, j, d));
    std::copy(o.begin(), o.end(), out.begin() + i * d);
  }
}

// The reordered datapath's arithmetic: one pass per row with a running max.
void reordered_floor(const AttentionInputs& in, std::vector<float>& out) {
  const std::size_t n = in.shape.seq_len, d = in.shape.head_dim;
  const ScaledDotOp dot{1.0f / std::sqrt(float(d))};
  Row o(d);
  for (std::size_t i = 0; i < n; ++i) {
    const RowView q = row(in.q, i, d);
    float m = 0, l = 0;
    std::fill(o.begin(), o.end(), 0.0f);
    for (std::size_t j = 0; j < n; ++j) {
      const Rescale r = RunningMaxOp{}(m, dot(row(in.k, j, d), q), j == 0);
      l = RescaleSumOp{}(l, r);
      RescaleAccumulateOp{}(o, r, row(in.v, j, d));
    }
    const Row result = RowDivideOp{}(o, l);
    std::copy(result.begin(), result.end(), out.begin() + i * d);
  }
}

template <class F>
double median_seconds(int repeat, F f) {
  std::vector<double> t;
  for (int r = 0; r < repeat; ++r) t.push_back(f());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double floor_seconds(void (*loop)(const AttentionInputs&, std::vector<float>&),
                     const AttentionInputs& in, std::vector<float>& out) {
  out.assign(in.shape.seq_len * in.shape.head_dim, 0.0f);
  const auto start = std::chrono::steady_clock::now();
  loop(in, out);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double sim_seconds(const std::string& sim, const std::string& datapath, const std::string& mode,
                   std::size_t n, std::size_t d, const fs::path& dir) {
  const std::string cmd = fmt::format(
      "'{}' --set datapath={} --set sim.mode={} --set problem.seq_len={} --set problem.head_dim={} "
      "--out '{}' >/dev/null",
      sim, datapath, mode, n, d, dir.string());
  fs::remove_all(dir);  // our own scratch folder: no note about replacing results
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  std::ifstream report(dir / "report.json");
  return nlohmann::json::parse(report)["sim"]["wall_seconds"].get<double>();
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  CLI::App app{"Simulation speed against a plain C++ loop (the floor)", "sdpa-bench"};
  std::size_t n = 1024, d = 64;
  int repeat = 3;
  std::string sim = (fs::path(argv[0]).parent_path() / "sdpa-sim").string();
  app.add_option("--n", n, "sequence length N")->check(CLI::Range(1, 1 << 16));
  app.add_option("--d", d, "head dimension d")->check(CLI::Range(1, 4096));
  app.add_option("--repeat", repeat, "runs per measurement (median)")->check(CLI::Range(1, 100));
  app.add_option("--sim", sim, "path of sdpa-sim");
  CLI11_PARSE(app, argc, argv);

  const AttentionInputs in = random_inputs(1, n, d, 1);
  const fs::path dir = fs::temp_directory_path() / fmt::format("sdpa-bench-{}", ::getpid());
  const double scores = double(n) * double(n);
  fmt::print("N = {}, d = {}, median of {} runs; ns per score\n\n", n, d, repeat);
  fmt::print("{:<10} {:>10} {:>13} {:>13} {:>15} {:>15}\n", "datapath", "floor", "synchronized",
             "decoupled", "sync/decoupled", "decoupled/floor");
  const std::map<std::string, void (*)(const AttentionInputs&, std::vector<float>&)> floors{
      {"naive", naive_floor}, {"two_pass", two_pass_floor}, {"reordered", reordered_floor}};
  for (const std::string dp : {"naive", "two_pass", "reordered"}) {
    std::vector<float> floor_out;
    const double floor =
        median_seconds(repeat, [&] { return floor_seconds(floors.at(dp), in, floor_out); });
    const double synced =
        median_seconds(repeat, [&] { return sim_seconds(sim, dp, "synchronized", n, d, dir); });
    const double decoupled =
        median_seconds(repeat, [&] { return sim_seconds(sim, dp, "decoupled", n, d, dir); });
    if (read_npy((dir / fmt::format("o_{}.npy", dp)).string()).data != floor_out)
      throw std::runtime_error("the " + dp + " floor's output differs from the simulated O");
    fmt::print("{:<10} {:>10.1f} {:>13.1f} {:>13.1f} {:>15.2f} {:>15.2f}\n", dp,
               floor * 1e9 / scores, synced * 1e9 / scores, decoupled * 1e9 / scores,
               synced / decoupled, decoupled / floor);
  }
  fs::remove_all(dir);
  return 0;
}

// libsystemc's main calls sc_main; this one only silences its banner first.
int main(int argc, char* argv[]) {
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
