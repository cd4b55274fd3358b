// sdpa-sim: runs the selected SDPA datapaths on one set of Q, K, V and reports.
// Exit status: 0 ok, 1 numerical mismatch, 2 bad params or input, 3 deadlock, 4 watchdog,
// 5 internal error, a failed write or out of memory, 6 numerically unverified (docs/errors.md).

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <optional>
#include <string_view>
#include <systemc>

#include "sim/build_commit.h"
#include "sim/build_info.h"
#include "sim/cost.h"
#include "sim/exit_status.h"
#include "sim/messages.h"
#include "sim/npy.h"
#include "sim/observe.h"
#include "sim/output.h"
#include "sim/params.h"
#include "sim/reference.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "sim/size_buffers.h"
#include "sim/verify_bottleneck.h"

namespace fs = std::filesystem;
using namespace sdpa;

namespace {

struct Options {
  std::string params;  // empty: the built-in params/default.yaml
  std::vector<std::string> sets;
  std::string out;
  bool out_given = false;
  bool vcd = false;
  bool fst = false;  // the waveform as trace.fst (vcd2fst), not trace.vcd
  bool dot = false;
  bool write_inputs = false;  // the run's Q, K and V as q.npy, k.npy and v.npy
  std::string trace_events;   // a file name in the --out folder, or empty
  std::string trace_window;   // FROM:TO in cycles, or empty: the first rows
  bool size_buffers = false;
  bool verify_bottleneck = false;
  bool check = false;    // check the parameters and inputs, build the datapaths, run nothing
  bool version = false;  // print the version, read nothing
  bool waveform() const { return vcd || fst; }
};

// --trace-window FROM:TO: cycles FROM ≤ c < TO.
TraceWindow parse_trace_window(const std::string& text) {
  const std::size_t colon = text.find(':');
  auto number = [&](std::string_view part, Cycle& value) {
    const auto [end, err] = std::from_chars(part.data(), part.data() + part.size(), value);
    return !part.empty() && err == std::errc() && end == part.data() + part.size();
  };
  TraceWindow w;
  if (colon == std::string::npos || !number(std::string_view(text).substr(0, colon), w.from) ||
      !number(std::string_view(text).substr(colon + 1), w.to))
    throw InputError(
        fmt::format("--trace-window {}: expected FROM:TO, two cycle numbers (e.g. 0:5000)", text));
  if (w.from >= w.to)
    throw InputError(fmt::format(
        "--trace-window {}: FROM must be less than TO (the window is FROM <= cycle < TO)", text));
  return w;
}

// An input file's shape as [B, heads, rows, d]: leading dimensions of size 1 may be left out.
std::vector<std::size_t> as_4d(const std::string& file, std::vector<std::size_t> s) {
  if (s.size() < 2 || s.size() > 4)
    throw InputError(fmt::format(
        "{}: expected an array [B, heads, rows, d] (leading dimensions of 1 may be left out), got "
        "{} dimension{}",
        file, s.size(), s.size() == 1 ? "" : "s"));
  for (std::size_t n : s)
    if (n == 0) throw InputError(fmt::format("{}: a dimension is 0", file));
  s.insert(s.begin(), 4 - s.size(), 1);
  return s;
}

// An input's error, naming its key and where it was given.
InputError input_error(const Params& p, const std::string& key, const std::string& what) {
  const std::string where = p.origin(key);
  return InputError(fmt::format("{}{}: {}", where.empty() ? "" : where + ": ", key, what));
}
// Reads an input file, its errors naming the key and where it was given (the file's own name
// is in them already).
template <class Read>
auto read_input(const Params& p, const std::string& key, Read&& read) {
  try {
    return read();
  } catch (const InputError& e) {
    throw input_error(p, key, e.what());
  }
}

// The problem's shape: the params', or the .npy files', which set it: Q is [B, H, N_q, d], K and
// V [B, H_kv, N_kv, d]. A problem.* key given with files must agree with them. Only the headers
// are read, so that the run is checked against the machine's memory before the data is.
AttentionShape problem_shape(Params& p) {
  if (!p.has_inputs()) return p.shape();
  struct File {
    const char* key;
    const std::string& path;
    std::vector<std::size_t> given, shape;  // as in the header, and as [B, heads, rows, d]
  };
  auto read = [&p](const std::string& path, const char* key) {
    return read_input(p, key, [&] {
      std::vector<std::size_t> given = read_npy_shape(path);
      return File{key, path, given, as_4d(path, given)};
    });
  };
  // Named by the file's key, where it was given, like the file's own errors.
  auto misfit = [&p](const File& f, const std::string& what) {
    return input_error(p, f.key, fmt::format("{}: {}", f.path, what));
  };
  const File q = read(p.input_q, "inputs.q"), k = read(p.input_k, "inputs.k"),
             v = read(p.input_v, "inputs.v");
  auto shown = [](const std::vector<std::size_t>& s) {
    return fmt::format("[{}]", fmt::join(s, ", "));
  };
  struct Dimension {
    const char* key;
    const char* what;
    const File& file;
    std::size_t index, max, given;  // given 0: `auto`, the files' (kv_heads, kv_len)
  };
  const AttentionShape given = p.shape();
  const Dimension dims[] = {{"problem.batch", "batch", q, 0, 1 << 16, given.batch},
                            {"problem.heads", "heads", q, 1, 1 << 16, given.heads},
                            {"problem.seq_len", "N", q, 2, 1 << 20, given.seq_len},
                            {"problem.head_dim", "d", q, 3, 1 << 16, given.head_dim},
                            {"problem.kv_heads", "kv_heads", k, 1, 1 << 16, p.kv_heads},
                            {"problem.kv_len", "N_kv", k, 2, 1 << 20, p.kv_len}};
  for (const Dimension& dim : dims)
    if (dim.file.shape[dim.index] > dim.max)
      throw misfit(dim.file, fmt::format("shape {}: {} = {} is more than {}, the most {} allows",
                                         shown(dim.file.given), dim.what, dim.file.shape[dim.index],
                                         dim.max, dim.key));
  // K against Q first: with K the odd one out, V's shape differs from K's too.
  if (k.shape[0] != q.shape[0] || k.shape[3] != q.shape[3])
    throw misfit(k, fmt::format("shape {} does not fit inputs.q's {} ({}): expected the same "
                                "batch and d",
                                shown(k.given), shown(q.given), q.path));
  if (v.shape != k.shape)
    throw misfit(v, fmt::format("shape {} differs from inputs.k's {} ({})", shown(v.given),
                                shown(k.given), k.path));
  if (q.shape[1] % k.shape[1] != 0)
    throw misfit(k, fmt::format("{} K/V heads do not divide inputs.q's {} query heads ({})",
                                k.shape[1], q.shape[1], q.path));
  for (const Dimension& dim : dims) {
    const std::string where = p.origin(dim.key);
    const std::size_t from_file = dim.file.shape[dim.index];
    if (!where.empty() && dim.given != 0 && dim.given != from_file)
      throw ParamError(fmt::format(
          "{}: {}: {} disagrees with {} ({} has shape {}, so {} = {}): remove {} or set it to {}",
          where, dim.key, dim.given, dim.file.path == q.path ? "inputs.q" : "inputs.k",
          dim.file.path, shown(dim.file.given), dim.what, from_file, dim.key, from_file));
  }
  // The data is the files': another seed than the default would change nothing it seems to.
  if (const std::string where = p.origin("problem.seed"); !where.empty() && p.seed != Params{}.seed)
    throw ParamError(
        fmt::format("{}: problem.seed: has no effect: the inputs are inputs.q, k and "
                    "v's files, not random data; remove it",
                    where));
  p.batch = q.shape[0];
  p.heads = q.shape[1];
  p.seq_len = q.shape[2];
  p.head_dim = q.shape[3];
  p.kv_heads = k.shape[1];
  p.kv_len = k.shape[2];
  if (p.causal && p.seq_len > p.kv_len) {
    const std::string causal = p.origin("problem.causal");
    throw misfit(q, fmt::format("N = {} queries are more than inputs.k's N_kv = {} keys: "
                                "problem.causal{} needs N <= N_kv (the mask is bottom-right "
                                "aligned)",
                                p.seq_len, p.kv_len, causal.empty() ? "" : " (" + causal + ")"));
  }
  return p.shape();
}

struct LoadedInputs {
  AttentionInputs data;
  // Each input file and the digest of the bytes read (null: random inputs from problem.seed).
  nlohmann::json files;
};

// Random Q, K, V from the seed, or the .npy files of the shape problem_shape found.
LoadedInputs load_inputs(const Params& p) {
  const AttentionShape shape = p.shape();
  if (!p.has_inputs()) return {random_inputs(shape, p.seed), nullptr};
  LoadedInputs in{{shape, {}, {}, {}}, nlohmann::json::object()};
  for (auto [key, name, path, dest, count] :
       {std::tuple{"inputs.q", "q", &p.input_q, &in.data.q, shape.q_elements()},
        {"inputs.k", "k", &p.input_k, &in.data.k, shape.kv_elements()},
        {"inputs.v", "v", &p.input_v, &in.data.v, shape.kv_elements()}}) {
    const FormatInfo& format = info(p.input_format);
    // Not structured bindings: clang 14 cannot capture one in a lambda.
    const std::string* file = path;
    const std::uint64_t elements = count;
    std::size_t lost = 0;  // nonzero values that round to 0 in numerics.input
    NpyArray a = read_input(p, key, [&] {
      NpyArray a = read_npy(*file);
      if (a.data.size() != elements)
        throw InputError(fmt::format("{}: changed while being read", *file));
      for (std::size_t i = 0; i < a.data.size(); ++i) {
        const float x = a.data[i];
        if (!std::isfinite(x))
          throw InputError(fmt::format("{}: contains NaN or Inf (element {} is {})", *file, i, x));
        // The memory holds the inputs in numerics.input: one that rounds past its largest finite
        // value would be inf or NaN there, and every result after it.
        const float held = round_to(p.input_format, x);
        if (!std::isfinite(held)) {
          const std::string where = p.origin("numerics.input");
          throw InputError(fmt::format(
              "{}: element {} is {}, beyond numerics.input {}'s largest finite value {} ({}): "
              "scale the inputs or choose a wider format",
              *file, i, x, format.name, format.max_finite, where.empty() ? "its default" : where));
        }
        lost += x != 0 && held == 0;
      }
      return a;
    });
    // Not an error (such values are as good as zero next to any other), but a file of them all
    // would run as zeros without a word; so would one whose values numerics.input cannot hold.
    // Half the least subnormal rounds to 0 too: ties go to the even neighbour.
    if (a.flushed_to_zero != 0)
      note(fmt::format(
          "{}: {}: {} of its {} values {} nonzero in float64 but round{} to 0 in float32 (at or "
          "below {:g}, half its least subnormal)",
          key, *path, a.flushed_to_zero, a.data.size(), a.flushed_to_zero == 1 ? "is" : "are",
          a.flushed_to_zero == 1 ? "s" : "", double(std::numeric_limits<float>::denorm_min()) / 2));
    if (lost != 0)
      note(fmt::format(
          "{}: {}: {} of its {} values {} nonzero but round{} to 0 in numerics.input {} (at or "
          "below {:g}, half its least subnormal)",
          key, *path, lost, a.data.size(), lost == 1 ? "is" : "are", lost == 1 ? "s" : "",
          format.name, format.min_subnormal / 2));
    *dest = std::move(a.data);
    in.files[name] = {{"file", fs::absolute(*path).string()}, {"sha256", a.sha256}};
  }
  return in;
}

// The problem in a line: N and d first, as the square attention of the paper has them.
std::string describe(const AttentionShape& s) {
  std::string line = s.kv_len == s.seq_len
                         ? fmt::format("N = {}", s.seq_len)
                         : fmt::format("N_q = {}, N_kv = {}", s.seq_len, s.kv_len);
  line += fmt::format(", d = {}, heads = {}", s.head_dim, s.heads);
  if (s.kv_heads != s.heads) line += fmt::format(" (kv_heads = {})", s.kv_heads);
  if (s.batch != 1) line += fmt::format(", batch = {}", s.batch);
  if (s.causal) line += ", causal";
  return line;
}

// Each selected datapath's hardware, with its own unit timings and channel depths.
std::map<std::string, DatapathConfig> datapath_configs(const Params& p, Mode mode) {
  std::map<std::string, DatapathConfig> configs;
  for (const std::string& dp : p.datapaths()) {
    configs[dp] = p.config_for(dp);
    configs[dp].clocking.mode = mode;
  }
  return configs;
}

// Rows and the latest output's cycle per datapath, then the run's rate and time left. The
// decoupled mode runs the datapaths one after the other, so only the run as a whole has a rate.
void print_progress(const std::vector<Progress>& progress, double elapsed) {
  std::string line = fmt::format("[{:.0f} s]", elapsed);
  double rows_done = 0, rows = 0, scores = 0;
  for (const Progress& p : progress) {
    line += fmt::format(" {}: rows {}/{}, cycle {};", p.datapath, p.rows_done, p.rows, p.cycle);
    rows_done += double(p.rows_done);
    rows += double(p.rows);
    scores += p.rows == 0 ? 0.0 : double(p.scores) * double(p.rows_done) / double(p.rows);
  }
  const double frac = rows == 0 ? 1.0 : rows_done / rows;
  const double left = frac > 0 ? elapsed * (1 - frac) / frac : 0;
  line += fmt::format(" {:.3g} scores/s, ~{:.0f} s left", scores / elapsed, left);
  std::cerr << line << std::endl;
}

// Bytes as the summary gives them (bytes_text), or the estimate past 2⁶⁴ B.
std::string memory_text(std::uint64_t bytes) {
  return bytes == MemoryEstimate::beyond ? "over 16 EiB" : bytes_text(bytes);
}

// The process's memory now, from Linux's /proc/self/statm (0s if it cannot be read): what it
// maps and what of that is resident.
struct ProcessMemory {
  std::uint64_t mapped = 0, resident = 0;
};
ProcessMemory process_memory() {
  std::ifstream statm("/proc/self/statm");
  ProcessMemory pages;
  statm >> pages.mapped >> pages.resident;
  const auto page = std::uint64_t(::sysconf(_SC_PAGE_SIZE));
  return {pages.mapped * page, pages.resident * page};
}

// Refuses, before allocating anything large, a run that would not fit in nine tenths of the
// machine's memory, or in what an address-space limit (`ulimit -v`, a batch system's) leaves
// beside what the process maps now, naming the key whose part of the estimate is the largest: a
// channel depth, or what sets the problem size.
void refuse_if_too_large(const Params& params, const Simulation& simulation) {
  std::uint64_t usable =
      std::uint64_t(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE) / 10 * 9;
  std::string limit = "of this machine a run may use";
  if (rlimit as{}; ::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    // Besides what it maps now, the run maps what the estimate leaves out: the progress
    // reporter's thread stack (the stack limit, 8 MiB by default) and a few MiB of allocator
    // and library state (a run needed up to 6 MiB more than the check left).
    rlimit stack{};
    const std::uint64_t thread_stack =
        ::getrlimit(RLIMIT_STACK, &stack) == 0 && stack.rlim_cur != RLIM_INFINITY
            ? std::uint64_t(stack.rlim_cur)
            : std::uint64_t(8) << 20;
    const std::uint64_t mapped = saturating_add(
        process_memory().mapped, saturating_add(thread_stack, std::uint64_t(16) << 20));
    const std::uint64_t left = as.rlim_cur > mapped ? as.rlim_cur - mapped : 0;
    if (left < usable) {
      usable = left;
      limit = "the address-space limit (ulimit -v) leaves";
    }
  }
  const MemoryEstimate estimate = simulation.memory_estimate();
  if (estimate.total() <= usable) return;
  std::map<std::string, std::map<std::string, std::string>> depth_keys;
  for (const std::string& dp : params.datapaths()) params.config_for(dp, &depth_keys[dp]);
  // The larger arrays, K and V (B·H_kv·N_kv·d) or Q and O (B·H·N_q·d), grow with the factor
  // furthest above its default; kv_heads and kv_len left at their default follow heads and seq_len.
  auto problem_key = [&](const char* key) -> std::string {
    if (params.has_inputs()) return "inputs.q";
    if (key != nullptr) return key;
    const Params defaults;
    const AttentionShape s = params.shape();
    const bool kv = s.kv_heads * s.kv_len > s.heads * s.seq_len;
    const auto ratio = [](std::size_t value, std::size_t by_default) {
      return double(value) / double(by_default);
    };
    // Ties go to the first.
    const std::pair<double, const char*> factors[] = {
        kv && params.kv_len != 0 ? std::pair{ratio(s.kv_len, defaults.seq_len), "problem.kv_len"}
                                 : std::pair{ratio(s.seq_len, defaults.seq_len), "problem.seq_len"},
        kv && params.kv_heads != 0
            ? std::pair{ratio(s.kv_heads, defaults.heads), "problem.kv_heads"}
            : std::pair{ratio(s.heads, defaults.heads), "problem.heads"},
        {ratio(s.head_dim, defaults.head_dim), "problem.head_dim"},
        {ratio(s.batch, defaults.batch), "problem.batch"},
    };
    return std::max_element(std::begin(factors), std::end(factors),
                            [](const auto& a, const auto& b) { return a.first < b.first; })
        ->second;
  };
  // An automatic depth grows with its rows and with a latency: the unit's, where that makes
  // most of the depth and is above its default (for rows of d, further above it than d is).
  const auto latency_key = [&](const MemoryEstimate::Part& part) {
    const auto own = params.per_datapath.find(part.datapath);
    const bool own_key = own != params.per_datapath.end() && own->second.units.count(part.unit) &&
                         own->second.units.at(part.unit).latency;
    return (own_key ? "datapaths." + part.datapath + "." : std::string()) + "units." + part.unit +
           ".latency";
  };
  const auto latency_drives = [&](const MemoryEstimate::Part& part) {
    if (part.latency <= part.default_latency || part.latency < part.depth / 2) return false;
    return !part.vector || double(part.latency + 1) / double(part.default_latency + 1) >
                               double(params.head_dim) / double(Params{}.head_dim);
  };
  std::map<std::string, std::uint64_t> by_key;
  by_key[problem_key(nullptr)] = estimate.arrays;
  for (const MemoryEstimate::Part& part : estimate.channels) {
    const auto& keys = depth_keys[part.datapath];
    std::string key;
    if (const auto it = keys.find(part.channel); it != keys.end())
      key = it->second;
    else if (part.stream)  // the memory's latency and the reader's own
      key = part.own_latency > part.memory_latency ? latency_key(part) : "memory.read_latency";
    else if (latency_drives(part))
      key = latency_key(part);
    else if (part.vector)
      key = problem_key("problem.head_dim");  // automatic: a few rows of d
    else
      key = problem_key("problem.seq_len");  // automatic: up to N + latencies
    by_key[key] = saturating_add(by_key[key], part.bytes);
  }
  const auto driver =
      std::max_element(by_key.begin(), by_key.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
  const std::string where = params.origin(driver->first);
  const std::string needs = memory_text(estimate.total());
  throw ParamError(fmt::format(
      "{}{}: this run needs {}{} of memory, more than the {} {}; {} of it is for {} (reduce it)",
      where.empty() ? "" : where + ": ", driver->first,
      estimate.total() == MemoryEstimate::beyond ? "" : "about ", needs, memory_text(usable), limit,
      memory_text(driver->second), driver->first));
}

// The cost table (`cost`, or the built-in default), checked before anything is simulated.
CostTable cost_table(const Params& p) {
  std::error_code error;
  if (!p.cost.empty()) {
    // A regular file: params.yaml names it, and reruns of the run (the checks' children) read it
    // again.
    std::string why;
    errno = 0;
    const fs::file_status file = fs::status(p.cost, error);
    if (error)  // not there, a loop of links, no permission to look
      why = error.message();
    else if (fs::is_directory(file))
      why = "it is a folder";
    else if (!fs::is_regular_file(file))
      why = "not a regular file";
    else if (!std::ifstream(p.cost))
      why = std::strerror(errno != 0 ? errno : EIO);
    if (!why.empty())
      throw ParamError(
          fmt::format("{}: cost: cannot read the cost file {}: {}", p.origin("cost"), p.cost, why));
  }
  CostTable table =
      p.cost.empty()
          ? load_cost_table_text(kDefaultCostYaml, "params/cost/horowitz-45nm.yaml (built in)")
          : load_cost_table(p.cost);
  require_arithmetic(table, p.input_format, p.compute_format);  // the arithmetic the units do
  // The report names the file absolute, as params.yaml does; the errors above, as given.
  if (!p.cost.empty()) table.source = fs::absolute(p.cost).string();
  return table;
}

// The files a run may write into its --out folder.
std::set<std::string> output_names(const Params& params, const Options& opt) {
  if (opt.size_buffers) return {"report.json", "sized.yaml"};
  std::set<std::string> names{"report.json", "params.yaml"};
  for (const std::string& dp : params.datapaths()) names.insert(fmt::format("o_{}.npy", dp));
  if (opt.waveform()) names.insert({"trace.vcd", "trace.gtkw", "trace.states"});
  if (opt.fst) names.insert("trace.fst");
  if (opt.dot) names.insert({"graph.dot", "graph.svg"});
  if (opt.write_inputs) names.insert({"q.npy", "k.npy", "v.npy"});
  if (!opt.trace_events.empty()) names.insert(opt.trace_events);
  return names;
}

// A staged file as a tool's argument: absolute, so that an --out named `-x` is not an option.
std::string tool_path(const OutputFolder& out, const std::string& name) {
  return fs::absolute(out.staged(name)).string();
}

// trace.fst from the staged trace.vcd, which it replaces; false (the VCD kept) without vcd2fst.
bool convert_to_fst(OutputFolder& out) {
  if (!out.ok()) return false;
  const int status =
      run_tool({"vcd2fst", tool_path(out, "trace.vcd"), tool_path(out, "trace.fst")});
  if (status == -1) {
    note(
        "trace.fst not written, trace.vcd kept: vcd2fst is not installed (Debian package "
        "gtkwave)");
    return false;
  }
  if (status != 0) {
    out.fail("trace.fst", fmt::format("vcd2fst exited with status {}", status));
    return false;
  }
  out.add("trace.fst");
  out.discard("trace.vcd");
  return true;
}

// graph.dot, and graph.svg drawn from it by Graphviz's dot where it is installed.
void write_graph(OutputFolder& out, const std::vector<DatapathResult>& runs,
                 const std::vector<DatapathStages>& stages) {
  out.write("graph.dot", graph_dot(runs, stages));
  if (!out.ok()) return;
  const int status =
      run_tool({"dot", "-Tsvg", "-o", tool_path(out, "graph.svg"), tool_path(out, "graph.dot")});
  if (status == -1)
    note(
        "graph.svg not written: Graphviz's dot is not installed (Debian package graphviz); "
        "graph.dot is");
  else if (status != 0)
    out.fail("graph.svg", fmt::format("Graphviz's dot exited with status {}", status));
  else
    out.add("graph.svg");
}

// The build behind a run's numbers: with the effective parameters and the input files' digests,
// all a report's numbers depend on.
nlohmann::json build_identity() {
  const bool known = *kCommit != '\0';
  return {{"version", kVersion},
          {"commit", known ? nlohmann::json(kCommit) : nlohmann::json(nullptr)},
          {"modified", known ? nlohmann::json(kModified) : nlohmann::json(nullptr)},
          {"type", kBuildType},
          {"compiler", kCompiler},
          {"flags", kCompilerFlags}};
}

std::string version_line() {
  const std::string commit = *kCommit == '\0' ? "unknown" : kCommit;
  return fmt::format("sdpa-sim {} (commit {}{}, {} build)", kVersion, commit,
                     *kCommit != '\0' && kModified ? ", modified" : "", kBuildType);
}

// report.json, written last: the build, the effective parameters, the input files and the run's
// files.
void write_report(OutputFolder& out, const Params& params, const nlohmann::json& inputs,
                  nlohmann::json report) {
  report["version"] = kVersion;
  report["build"] = build_identity();
  report["inputs"] = inputs;
  report["params"] = yaml_to_json(to_yaml(params));
  out.add("report.json");
  report["files"] = out.files();
  // The tree is freed once it is text, and the newline goes on in place, not in a copy: with many
  // lanes each is tens of MiB.
  std::string text = report.dump(2);
  report = nullptr;
  text += '\n';
  out.write("report.json", text);
}

// A summary lost on the way (standard output on a full disk, or a pipe whose reader has gone)
// is not a quiet success: exit 5, naming the folder that holds the results, if any were written.
void flush_summary(const fs::path* results) {
  if (std::cout.flush()) return;
  const char* why = std::strerror(errno != 0 ? errno : EIO);
  throw WriteError(results == nullptr
                       ? fmt::format("standard output: cannot write: {}", why)
                       : fmt::format("standard output: cannot write the summary: {} (the results "
                                     "are in {})",
                                     why, results->string()));
}

// Not a bug, but the system refused: disk full, file too large, I/O error.
int refused_write(const WriteError& e) {
  std::cerr << "sdpa-sim: error: " << one_line(e.what()) << "\n";
  return kInternal;
}

// --check: everything a run refuses before it simulates: the parameters, the cost table, the
// graphs (built, nothing allocated), the memory estimate, the user's .npy inputs (read whole:
// their values are checked too) and the output folder. Creates and writes nothing.
int check_only(const Params& params, const AttentionShape& shape, const fs::path& out,
               const std::set<std::string>& outputs) {
  const Simulation simulation(shape, datapath_configs(params, Mode::decoupled),
                              registered_kinds(params.datapaths()));
  refuse_if_too_large(params, simulation);
  // What the process holds now (the program, the graphs) and what the run will allocate.
  const std::uint64_t needs =
      saturating_add(process_memory().resident, simulation.memory_estimate().total());
  if (params.has_inputs()) load_inputs(params);
  if (check_output_folder(out, outputs))
    note(fmt::format("a run would replace the results in {}", out.string()));
  note_files_left_aside(out);
  std::cout << fmt::format("parameters ok: {}, datapaths {}; the run needs about {} of memory\n",
                           describe(shape), fmt::join(params.datapaths(), ", "),
                           memory_text(needs));
  flush_summary(nullptr);
  return kOk;
}

// A params file among the results a run replaces (`sdpa-sim OUT/sized.yaml --out OUT`) is read
// already, and the run's params.yaml and report.json hold its values; the user is told it goes.
void note_params_file_replaced(const std::string& path, const fs::path& out_dir,
                               const std::set<std::string>& replaced) {
  if (!path.empty() && among_replaced(out_dir, replaced, path))
    note(fmt::format(
        "the params file {} is one of the results this run replaces; its values are in the new {}",
        path, (out_dir / "params.yaml").string()));
}

// A params file that sets nothing (empty, or comments only) is valid YAML and runs the defaults;
// a file truncated to nothing would too, so the user is told.
void note_params_file_sets_nothing(const std::string& path, const Params& params) {
  if (!path.empty() && params.file_sets_nothing)
    note(fmt::format("the params file {} sets no parameters: the defaults run{}", path,
                     params.origins.empty() ? "" : ", with the --set values"));
}

// --size-buffers sizes every channel from ample depths: the keys that would set a selected
// datapath's depths (as config_for resolves them; `auto` sets none) are not used, and the user
// is told which.
void note_depths_not_used(const Params& params) {
  std::set<std::string> keys;
  for (const std::string& dp : params.datapaths()) {
    std::map<std::string, std::string> depth_keys;
    params.config_for(dp, &depth_keys);
    for (const auto& entry : depth_keys) keys.insert(entry.second);
  }
  if (keys.empty()) return;
  const std::vector<std::string> given(keys.begin(), keys.end());
  // Up to three named; a sized.yaml passed back gives every channel.
  const std::size_t shown = given.size() > 3 ? 2 : given.size();
  std::vector<std::string> named;
  for (std::size_t i = 0; i < shown; ++i)
    named.push_back(fmt::format("{} ({})", given[i], params.origin(given[i])));
  if (shown < given.size()) named.push_back(fmt::format("{} more", given.size() - shown));
  const std::string last = named.back();
  named.pop_back();
  note(fmt::format(
      "--size-buffers sizes every channel, starting from ample depths: {}{}{} {} not used",
      fmt::join(named, ", "), named.empty() ? "" : " and ", last,
      given.size() == 1 ? "is" : "are"));
}

// Lanes share out the query rows of a K/V head's group in runs of up to P (docs/timing.md,
// "Parallel lanes"): lanes beyond the group's rows stay idle, and fewer lanes that take as many
// runs stream no more keys (as many without a mask; under one their runs end at rows no later).
void note_lanes(std::size_t lanes, const AttentionShape& shape) {
  const std::size_t n = shape.seq_len, g = shape.group(), rows = shape.group_queries();
  const std::string doc = "docs/timing.md, \"Parallel lanes\"";
  if (lanes > rows) {
    note(fmt::format(
        "parallel.lanes is {} but {}: {} idle (lanes share out the query rows of a K/V head's "
        "group: {})",
        lanes,
        g == 1 ? fmt::format("a head has {} {}", n, n == 1 ? "query" : "queries")
               : fmt::format("a K/V head's {} query heads have {} query rows", g, rows),
        rows == lanes - 1 ? fmt::format("lane {} stays", rows)
                          : fmt::format("lanes {} … {} stay", rows, lanes - 1),
        doc));
    return;
  }
  const std::size_t runs = (rows + lanes - 1) / lanes, enough = (rows + runs - 1) / runs;
  if (enough < lanes)
    note(fmt::format(
        "parallel.lanes is {} but {} shared out in {} runs, as on {} lanes: {} more than the "
        "runs need ({})",
        lanes,
        g == 1 ? fmt::format("a head's {} queries are", rows)
               : fmt::format("a K/V head's group of {} query rows is", rows),
        runs, enough, lanes - enough == 1 ? "a lane" : fmt::format("{} lanes", lanes - enough),
        doc));
}

int run(const Options& opt) {
  if (opt.version) {
    std::cout << version_line() << "\n";
    flush_summary(nullptr);
    return kOk;
  }
  Params params = opt.params.empty() ? load_params_text(kDefaultParamsYaml,
                                                        "params/default.yaml (built in)", opt.sets)
                                     : load_params(opt.params, opt.sets);
  note_params_file_sets_nothing(opt.params, params);
  // Both modes give identical results; only synchronized time makes a true waveform.
  if (opt.waveform() && params.mode == "decoupled")
    note(fmt::format("{} runs in synchronized mode (sim.mode was decoupled)",
                     opt.fst ? "--fst" : "--vcd"));
  if (params.mode.empty() || opt.waveform())
    params.mode = opt.waveform() ? "synchronized" : "decoupled";
  const Mode mode = params.mode == "synchronized" ? Mode::synchronized : Mode::decoupled;

  const AttentionShape shape = problem_shape(params);
  note_lanes(params.lanes, shape);
  TraceWindow events;
  if (!opt.trace_events.empty()) {
    if (opt.trace_events == "report.json")
      throw InputError(
          "--trace-events report.json: the run's own report has that name; expected another file "
          "name ending in .json");
    if (!is_trace_events_name(opt.trace_events)) {
      // Its name is optional, so a params file right after it is taken for the name.
      const std::string ext = fs::path(opt.trace_events).extension().string();
      const char* hint = ext == ".yaml" || ext == ".yml"
                             ? " (a params file after --trace-events is taken for its name: put "
                               "the params file first, or write --trace-events=NAME.json)"
                             : "";
      throw InputError(fmt::format(
          "--trace-events {}: expected a file name ending in .json (letters, digits, _ - .), "
          "written in the --out folder{}",
          opt.trace_events, hint));
    }
    // A name longer than a file system's names (ext4, tmpfs, NFS: 255 bytes) would fail only when
    // the results are written, after the whole run.
    if (opt.trace_events.size() > NAME_MAX)
      throw InputError(fmt::format("--trace-events {}: expected a file name of at most {} bytes",
                                   quoted(opt.trace_events), NAME_MAX));
    events = opt.trace_window.empty() ? default_trace_window(shape)
                                      : parse_trace_window(opt.trace_window);
  }
  const CostTable cost = cost_table(params);
  const std::string stem = opt.params.empty() ? "default" : fs::path(opt.params).stem().string();
  const fs::path out_dir = output_folder(opt.out, opt.out_given, stem);
  const std::set<std::string> outputs = output_names(params, opt);
  const std::set<std::string> replaced = files_replaced(out_dir, outputs);
  if (params.has_inputs()) {
    // Not structured bindings: clang 14 cannot capture one in a lambda.
    for (const auto& input : {std::pair{"inputs.q", &params.input_q},
                              {"inputs.k", &params.input_k},
                              {"inputs.v", &params.input_v}})
      read_input(params, input.first,
                 [&] { refuse_input_in_output(out_dir, replaced, *input.second); });
  }
  if (opt.check) return check_only(params, shape, out_dir, outputs);
  // Sizing searches for the least depth that keeps the cycles, which presumes that a deeper
  // channel is never slower; on a shared link a deeper stream buffer can be (timing.md).
  if (opt.size_buffers && params.memory.shared) {
    const std::string where = params.origin("memory.ports");
    throw ParamError(fmt::format(
        "{}memory.ports: shared: --size-buffers needs private links: on a shared link a deeper "
        "stream buffer can make a run slower (its reader fetches ahead and takes the link from "
        "rows needed sooner), so the least depths that keep the cycles of ample buffering need "
        "not be fast; size with --set memory.ports=private",
        where.empty() ? "" : where + ": "));
  }

  // Without a folder for its child runs the run stops before touching --out.
  std::optional<ChildRuns> children;
  if (opt.verify_bottleneck) children.emplace("--verify-bottleneck");
  // Before simulating: a folder that cannot be written is found now, not after the run.
  OutputFolder out(out_dir, outputs);
  // Once the folder is known to take the results: a refused one replaces nothing.
  note_params_file_replaced(opt.params, out_dir, replaced);

  if (opt.size_buffers) {
    // The children read the inputs too, but their errors would name a temporary params file;
    // this read also gives the report the files' digests.
    const nlohmann::json input_files = params.has_inputs() ? load_inputs(params).files : nullptr;
    note_depths_not_used(params);
    out.note_replacing();
    const int status = size_buffers(params, out);
    write_report(out, params, input_files, nlohmann::json::object());
    out.check();
    if (!out.commit()) throw WriteError(out.error());
    flush_summary(&out.dir());
    return status;
  }

  std::map<std::string, DatapathConfig> configs = datapath_configs(params, mode);
  std::optional<VcdStream> vcd;
  if (opt.waveform()) {
    vcd.emplace(out, "trace.vcd");
    sc_core::sc_trace_file* trace = sc_core::sc_create_vcd_trace_file(vcd->systemc_name().c_str());
    trace->set_time_unit(1, sc_core::SC_PS);
    for (auto& [dp, config] : configs) config.trace = trace;
  }
  for (auto& [dp, config] : configs) config.events = events;
  const std::vector<std::string> datapaths = params.datapaths();
  Simulation simulation(shape, configs, registered_kinds(datapaths));
  refuse_if_too_large(params, simulation);
  // The memory holds the inputs rounded to numerics.input; both references are reported.
  LoadedInputs loaded = load_inputs(params);
  AttentionInputs& unrounded = loaded.data;
  if (opt.write_inputs) {
    // As read, before numerics.input's rounding: passed back as inputs.*, they give this run.
    const AttentionShape& s = unrounded.shape;
    out.write_npy("q.npy", unrounded.q, {s.batch, s.heads, s.seq_len, s.head_dim});
    out.write_npy("k.npy", unrounded.k, {s.batch, s.kv_heads, s.kv_len, s.head_dim});
    out.write_npy("v.npy", unrounded.v, {s.batch, s.kv_heads, s.kv_len, s.head_dim});
  }
  const AttentionInputs inputs = params.input_format == Format::fp32
                                     ? std::move(unrounded)
                                     : rounded_inputs(unrounded, params.input_format);
  out.note_replacing();
  ProgressReporter progress{2.0, print_progress};
  SimulationResult result = simulation.run(inputs, progress);
  std::vector<DatapathStages> stages;  // after the run: which channels were written
  for (const auto& dp : simulation.datapaths()) stages.push_back(stages_of(*dp));
  if (vcd) vcd->finish();
  if (children) verify_bottlenecks(params, result, *children);

  const Reference ref = reference_attention(inputs, params.compute_format);
  std::optional<Reference> unrounded_ref;
  if (params.input_format != Format::fp32) {
    unrounded_ref = reference_attention(unrounded, params.compute_format);
    unrounded = {};
  }
  std::vector<Check> checks;
  int status = kOk;
  for (DatapathResult& r : result.runs) {
    checks.push_back({});
    if (r.status == Status::timeout) {
      status = kTimeout;
      continue;
    }
    if (r.status == Status::deadlock) {
      if (status != kTimeout) status = kDeadlock;
      continue;
    }
    checks.back() = check_output(ref, r.output, shape.kv_len, shape.head_dim, params.compute_format,
                                 r.normalised_rows);
    checks.back().max_abs_error_unrounded =
        unrounded_ref ? max_abs_error(*unrounded_ref, r.output) : checks.back().max_abs_error;
    const Verdict verdict = checks.back().verdict();
    if (verdict == Verdict::mismatch) {
      r.status = Status::mismatch;
      if (status == kOk || status == kUnverified) status = kMismatch;
    } else if (verdict == Verdict::unverified) {
      r.status = Status::unverified;
      if (status == kOk) status = kUnverified;
    }
    out.write_npy(fmt::format("o_{}.npy", r.datapath), r.output,
                  {shape.batch, shape.heads, shape.seq_len, shape.head_dim});
  }

  out.write("params.yaml", to_yaml(params));
  if (opt.waveform()) {
    // Fits the latest unit's end: a deadlocked or stopped run has no cycle count, but its
    // waveform shows where its units waited. The marker is mid-run, in the steady state, or, where
    // a datapath stopped, at the end of the latest that did, where the values column shows how
    // each unit stopped: from the span on, the cycle a deadlock's units wait in (a datapath that
    // completed later runs on past the view, which would otherwise shrink the stop to a sliver).
    // The waveform's last values are a cycle before SystemC time stopped (its last step is written
    // only when time advances): past the span, or for a run the watchdog stopped, near the limit
    // or before it (where every unit's next operation lay beyond it), while a unit's stall may
    // have taken its span past both.
    const double period_ps = params.clock_period_ns * 1e3;
    // In SystemC's time units, whole: a period of 0.1 ns in seconds would round the cycle down.
    const Cycle now = sc_core::sc_time_stamp().value() /
                      sc_core::sc_time(params.clock_period_ns, sc_core::SC_NS).value();
    const Cycle shown = now == 0 ? 0 : now - 1;
    Cycle end = 0, stopped_end = 0;
    bool stopped = false;
    for (const DatapathResult& r : result.runs) {
      end = std::max(end, std::min(r.span, shown));
      if (r.status == Status::deadlock || r.status == Status::timeout) {
        stopped = true;
        stopped_end = std::max(stopped_end, std::min(r.span, shown));
      }
    }
    if (stopped) end = stopped_end;
    const double end_ps = double(end) * period_ps;
    // Mid-run on a whole cycle, whose values the Signals column lists.
    const double marker_ps = stopped ? end_ps : double(end / 2) * period_ps;
    const std::string dump = opt.fst && convert_to_fst(out) ? "trace.fst" : "trace.vcd";
    out.write("trace.states", gtkw_state_names());
    out.write("trace.gtkw",
              gtkw_save_file(dump, "trace.gtkw", "trace.states", stages, end_ps, marker_ps));
  }
  if (opt.dot) write_graph(out, result.runs, stages);
  if (!events.empty()) {
    Cycle span = 0;
    for (const DatapathResult& r : result.runs) span = std::max(span, r.span);
    if (span != 0 && events.from >= span)
      note(fmt::format(
          "--trace-window {}:{} starts after the run's last cycle, {}: {} holds no intervals",
          events.from, events.to, span - 1, opt.trace_events));
    std::string trace = trace_events(simulation.datapaths(), events);
    trace += '\n';
    out.write(opt.trace_events, trace);
  }
  write_report(out, params, loaded.files, report_json(params, result, checks, &cost));
  // Not thrown: see OutputFolder.
  if (!out.commit()) {
    std::cerr << "sdpa-sim: error: " << one_line(out.error()) << "\n";
    return kInternal;
  }

  std::cout << fmt::format("{}, mode {}, simulated in {:.2f} s of wall time\n\n", describe(shape),
                           params.mode, result.wall_seconds)
            << summary(result, checks, &cost)
            << fmt::format("\nresults in {}\n", one_line(out.dir().string()));
  flush_summary(&out.dir());
  return status;
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  // The registry checks its names when first asked, here: a name taken twice is a bug in the code,
  // not the user's input (docs/extending.md), and stops --help and --check too.
  std::vector<std::string> names;
  try {
    names = datapath_names();
  } catch (const std::logic_error& e) {
    std::cerr << "sdpa-sim: internal error: " << one_line(e.what()) << "\n";
    return kInternal;
  }
  CLI::App app{fmt::format("Cycle-level SystemC model of streaming SDPA datapaths ({})",
                           fmt::join(names, ", ")),
               "sdpa-sim"};
  Options opt;
  app.add_option("params", opt.params,
                 "hardware parameter file (YAML; default: params/default.yaml, built in)");
  // One value per --set, so that a params file may follow it on the command line.
  app.add_option("--set", opt.sets, "override a parameter: key.path=value (one per --set)")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE");
  app.add_option("--out", opt.out, "output folder (default: out/<params file stem>)");
  CLI::Option* vcd = app.add_flag(
      "--vcd", opt.vcd, "write trace.vcd, trace.gtkw and trace.states (synchronized mode)");
  CLI::Option* fst = app.add_flag(
      "--fst", opt.fst,
      "the waveform as trace.fst (GTKWave's compressed format) instead of trace.vcd, with "
      "trace.gtkw and trace.states");
  CLI::Option* dot =
      app.add_flag("--dot", opt.dot, "write the elaborated graph: graph.dot and graph.svg");
  CLI::Option* write_inputs = app.add_flag(
      "--write-inputs", opt.write_inputs,
      "write the run's Q, K and V (float32, before numerics.input rounds them) as q.npy, k.npy "
      "and v.npy, to pass back as inputs.q, inputs.k, inputs.v or to check O with other tools");
  CLI::Option* events =
      app.add_option("--trace-events", opt.trace_events,
                     "write a Chrome/Perfetto trace (NAME.json in the --out folder): each unit's "
                     "busy and stall intervals and channel occupancy over the trace window")
          ->expected(0, 1)
          ->default_str("trace.json");
  CLI::Option* window = app.add_option(
      "--trace-window", opt.trace_window,
      "cycles FROM:TO the trace events cover (default: 0 to 4·N_kv + 64, the first rows)");
  window->needs(events);
  // Sizing runs only child simulations, none of which would be traced.
  app.add_flag("--size-buffers", opt.size_buffers,
               "find each channel's least depth that keeps the cycle count; writes sized.yaml")
      ->excludes(vcd)
      ->excludes(fst)
      ->excludes(dot)
      ->excludes(write_inputs)
      ->excludes(events);
  app.add_flag("--verify-bottleneck", opt.verify_bottleneck,
               "check each bottleneck by experiment: rerun each datapath with its named limit "
               "relieved (a deeper channel, 4x the bandwidth, II 1) and, if it is not 5% faster, "
               "the next likeliest limits")
      ->excludes("--size-buffers");
  app.add_flag("--check", opt.check,
               "check the parameters, inputs and --out folder and build the datapaths, then exit "
               "(0: a run would start, 2: why not); simulates, creates and writes nothing")
      ->excludes("--size-buffers")
      ->excludes("--verify-bottleneck");
  // A plain flag, acted on after the parse: CLI11's version flag exits where it stands, so that
  // `--bogus --version` printed the version, exit 0, and never named --bogus.
  app.add_flag("--version", opt.version, "print the version and exit");
  try {
    // `--out=$DIR` with DIR unset: CLI11 would take the next word, an option even, for the value.
    bool out_with_equals = false;  // `--out=-x` names its folder on purpose
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--") break;
      out_with_equals = out_with_equals || arg.starts_with("--out=");
      if (!arg.starts_with("--") || !arg.ends_with('=')) continue;
      const CLI::Option* option =
          app.get_option_no_throw(std::string(arg.substr(0, arg.size() - 1)));
      if (option != nullptr && option->get_expected_max() > 0)
        throw CLI::ValidationError(std::string(arg), "expected a value after '=', got none");
    }
    app.parse(argc, argv);
    opt.out_given = app.count("--out") > 0;
    // An option taken for a value (`--out --check`) would run into a folder named --check.
    if (opt.out_given && opt.out.starts_with('-') && !out_with_equals)
      throw CLI::ValidationError("--out " + opt.out,
                                 "expected a folder name, got an option (for a folder of that "
                                 "name, write ./" +
                                     opt.out + ")");
    // An empty word (an unset shell variable in quotes) is not "no params file".
    if (app.count("params") > 0 && opt.params.empty())
      throw CLI::ValidationError("params ''", "expected a params file, got an empty name");
    for (const std::string& set : opt.sets)
      if (set.empty())
        throw CLI::ValidationError("--set ''", "expected key.path=value, got an empty one");
      else if (set.starts_with('-'))
        throw CLI::ValidationError("--set " + set, "expected key.path=value, got an option");
    // `--set a=1 b=2`: the second is taken for the params file.
    if (std::error_code ec;
        opt.params.find('=') != std::string::npos && !fs::exists(opt.params, ec))
      throw CLI::ValidationError(
          opt.params, "no such params file, and a --set takes one key=value: write --set " +
                          opt.params + " for a second");
    // `--trace-events` alone names the default; `--trace-events ''` (an unset variable in
    // quotes) names none.
    if (events->count() > 0 && opt.trace_events.empty()) {
      if (!events->results().empty())
        throw CLI::ValidationError("--trace-events ''", "expected a file name, got an empty one");
      opt.trace_events = "trace.json";
    }
    // Empty is how the default window is kept, not a window the user may give.
    if (window->count() > 0 && opt.trace_window.empty())
      throw CLI::ValidationError("--trace-window ''",
                                 "expected FROM:TO, two cycle numbers, got an empty one");
  } catch (const CLI::Success& e) {  // --help
    const int status = app.exit(e);
    try {
      flush_summary(nullptr);  // a help that was not written is exit 5, as --version's
    } catch (const WriteError& w) {
      return refused_write(w);
    }
    return status;
  } catch (const CLI::ParseError& e) {
    // `p.yaml --set a=1 b=2`: CLI11 names b=2 only as an argument not expected. An unknown
    // option with a value (`--OUT=x`) is not one.
    const std::vector<std::string> extras = app.remaining();
    const bool second_set = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr &&
                            std::any_of(extras.begin(), extras.end(), [](const std::string& a) {
                              return !a.starts_with('-') && a.find('=') != std::string::npos;
                            });
    std::cerr << "sdpa-sim: error: " << one_line(e.what())
              << (second_set ? " (a --set takes one key=value: give each its own --set)"
                             : " (see --help)")
              << "\n";
    return kBadInput;
  }
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  // The watchdog's sc_stop: the summary says what happened.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO,
                                          sc_core::SC_DO_NOTHING);
  // The VCD's time unit, set on every --vcd run: it would name the staging folder's pipe.
  sc_core::sc_report_handler::set_actions("tracing timescale unit set", sc_core::SC_INFO,
                                          sc_core::SC_DO_NOTHING);
  // What the memory estimate cannot bound before the run: trace events over a wide window.
  const auto out_of_memory = [&] {
    std::cerr << "sdpa-sim: error: out of memory (no results written); "
              << (opt.trace_events.empty() ? "a smaller problem needs less\n"
                                           : "a narrower --trace-window or a smaller problem "
                                             "needs less\n");
    return kInternal;
  };
  try {
    return run(opt);
  } catch (const ParamError& e) {
    std::cerr << "sdpa-sim: error: " << one_line(e.what()) << "\n";
  } catch (const InputError& e) {
    std::cerr << "sdpa-sim: error: " << one_line(e.what()) << "\n";
  } catch (const fs::filesystem_error& e) {
    std::cerr << "sdpa-sim: error: " << one_line(e.what()) << "\n";
  } catch (const WriteError& e) {
    return refused_write(e);
  } catch (const std::bad_alloc&) {
    return out_of_memory();
  } catch (const sc_core::sc_report& e) {
    // SystemC reports an exception thrown inside a process as its own, keeping only what():
    // trace events recorded during the run.
    if (std::string_view(e.get_msg()) == std::bad_alloc().what()) return out_of_memory();
    // A graph built wrongly, say (docs/extending.md): its message on one line, then where.
    std::cerr << fmt::format("sdpa-sim: internal error: {}: {} ({}:{})\n",
                             one_line(e.get_msg_type()), one_line(e.get_msg()), e.get_file_name(),
                             e.get_line_number());
    return kInternal;
  } catch (const std::exception& e) {
    // Not the user's input: a bug, or the system refused a resource.
    std::cerr << "sdpa-sim: internal error: " << one_line(e.what()) << "\n";
    return kInternal;
  }
  return kBadInput;
}

// The process entry: SystemC's banner would otherwise precede every message on stderr.
int main(int argc, char* argv[]) {
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  // Past a file size limit (ulimit -f) a write then fails with EFBIG, reported as exit 5,
  // instead of the signal killing the run.
  ::signal(SIGXFSZ, SIG_IGN);
  // A closed pipe (`| head`, a dead `tee`) makes a write fail with EPIPE instead of killing the
  // run: the results are still written, and a summary that cannot be is exit 5 (errors.md).
  ::signal(SIGPIPE, SIG_IGN);
  // A umask that takes the owner's own rights (umask 777) left the run unable to use the files and
  // folders it makes (its staging folder, the VCD's pipe, the files dot and vcd2fst read), and no
  // later run could remove them: the owner's rights are kept, the group's and others' follow it.
  ::umask(::umask(0) & 077);
  return sc_core::sc_elab_and_sim(argc, argv);
}
