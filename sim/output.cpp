#include "sim/output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace sdpa {

void replace_atomically(const std::string& path,
                        const std::function<void(const std::string&)>& write) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  write(tmp);
  std::filesystem::rename(tmp, path);
}

namespace {

void write_checked(const std::string& path, const std::function<void(std::ostream&)>& body) {
  std::ofstream out(path, std::ios::binary);
  body(out);
  out.flush();
  if (!out) throw std::runtime_error(fmt::format("{}: cannot write the file", path));
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  replace_atomically(path, [&](const std::string& tmp) {
    write_checked(tmp, [&](std::ostream& out) { out << content; });
  });
}

void make_vcd_reproducible(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  replace_atomically(path, [&](const std::string& tmp) {
    write_checked(tmp, [&](std::ostream& out) {
      std::string line;
      bool in_date = false;
      // The header is a few lines; the $date section comes first.
      while (std::getline(in, line)) {
        if (in_date && line.rfind("$end", 0) != 0) line = "     (left out: reproducible output)";
        in_date = line.rfind("$date", 0) == 0 || (in_date && line.rfind("$end", 0) != 0);
        out << line << '\n';
        if (line.rfind("$enddefinitions", 0) == 0) break;
      }
      out << in.rdbuf();
    });
  });
}

DatapathStages stages_of(const AttentionDatapath& dp) {
  DatapathStages out{dp.basename(), {{"memory streams", {}}}};
  for (const Graph::Edge& e : dp.edges()) {
    const std::string label = dp.is_input_stream(e) ? "memory streams" : e.stage;
    auto stage = std::find_if(out.stages.begin(), out.stages.end(),
                              [&](const Stage& s) { return s.label == label; });
    if (stage == out.stages.end()) stage = out.stages.insert(out.stages.end(), {label, {}});
    stage->channels.push_back(e.channel->basename());
  }
  return out;
}

std::string gtkw_save_file(const std::string& vcd_path,
                           const std::vector<DatapathStages>& datapaths, double end_ps) {
  // Occupancies are shown as decimal numbers, one row per channel: GTKWave's analog display
  // scales each trace to its own range, so a bypass holding N + 5 scores and a channel holding 5
  // would look alike. The naive bypasses, the O(N) buffers, are drawn in red. The marker sits
  // mid-run, so the Signals pane also lists every channel's occupancy there. The SST is
  // collapsed to give the waves the width; GTKWave's zoom z shows about 2^z·194 pixels per time
  // unit, so 2.25 − log2(end) fits the run in the ~950 pixels left of a 1400-pixel window.
  const double end = std::max(end_ps, 1.0);
  std::string s = fmt::format(
      "[dumpfile] \"{}\"\n[timestart] 0\n[size] 1400 820\n[sst_expanded] 0\n"
      "[signals_width] 340\n*{:.6f} {:.0f}\n",
      vcd_path, 2.25 - std::log2(end), std::floor(end / 2));
  for (const DatapathStages& dp : datapaths) {
    for (const Stage& stage : dp.stages) {
      s += fmt::format("@200\n-{}: {}\n", dp.datapath, stage.label);
      for (const std::string& ch : stage.channels) {
        const bool bypass = ch.find("bypass") != std::string::npos;
        // Decimal (0x4), right-justified (0x20); colour 1 is red, 0 the default.
        s += fmt::format("[color] {2}\n@24\n+{{{0}.{1}}} SystemC.{0}.{1}.occupancy[31:0]\n",
                         dp.datapath, ch, bypass ? 1 : 0);
      }
    }
  }
  return s;
}

}  // namespace sdpa
