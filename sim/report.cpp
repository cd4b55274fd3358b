#include "sim/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "sim/observe.h"

namespace sdpa {
namespace {

// A deadlocked or stopped run has no output to check and no meaningful cycle count.
bool incomplete(const DatapathResult& r) {
  return r.status == Status::deadlock || r.status == Status::timeout;
}

double per_cycle(const DatapathResult& r) {
  return r.cycles == 0 ? 0.0 : double(r.scores) / double(r.cycles);
}

// The summary's "limiting channel" cell: name (high water/capacity), and why. With no stall no
// channel limited the run: the cell says so before naming the largest, lest it read as a limit.
std::string limiting_cell(const DatapathResult& r) {
  const ChannelStats& c = r.channels.at(r.limiting.channel);
  const std::string channel =
      fmt::format("{} ({}/{})", local_name(c.name), c.high_water, c.capacity);
  switch (r.limiting.reason) {
    case LimitReason::deadlock:
      return channel + ", full";
    case LimitReason::starved:
      return channel + ", empty";
    case LimitReason::producer_stalls:
      return fmt::format("{}, {} stalls", channel, r.limiting.stall_cycles);
    case LimitReason::consumer_stalls:
      return fmt::format("{}, {} waits", channel, r.limiting.stall_cycles);
    case LimitReason::high_water:
      return "none; largest: " + channel;
  }
  return channel;
}

nlohmann::json limiting_json(const DatapathResult& r) {
  const bool stalls = r.limiting.reason == LimitReason::producer_stalls ||
                      r.limiting.reason == LimitReason::consumer_stalls;
  return {{"name", r.channels.at(r.limiting.channel).name},
          {"reason", to_string(r.limiting.reason)},
          {"stall_cycles", stalls ? nlohmann::json(r.limiting.stall_cycles) : nullptr}};
}

// The run's number formats and its two errors: against the fp64 reference on the inputs as the
// memory holds them (rounded to numerics.input: the status judges this one, with the compute
// format's tolerance) and on the inputs before that rounding (what the formats cost in all).
nlohmann::json numerics_json(const DatapathResult& r, const Check* check) {
  auto error = [](double e) { return std::isfinite(e) ? nlohmann::json(e) : nlohmann::json(); };
  nlohmann::json j = {{"input", to_string(r.input)},
                      {"compute", to_string(r.compute)},
                      {"max_abs_error_rounded_inputs", nullptr},
                      {"max_abs_error_unrounded_inputs", nullptr},
                      {"tolerance", nullptr},
                      {"certified_fraction", nullptr},
                      {"max_abs_v", nullptr}};
  if (check != nullptr) {
    j["max_abs_error_rounded_inputs"] = error(check->max_abs_error);
    j["max_abs_error_unrounded_inputs"] = error(check->max_abs_error_unrounded);
    j["tolerance"] = check->tolerance;
    j["certified_fraction"] = check->certified_fraction;
    j["max_abs_v"] = check->v_bound;
  }
  return j;
}

// The summary's numerics rows: the formats, and the error against the unrounded inputs.
void numerics_rows(std::vector<std::string>& formats, std::vector<std::string>& unrounded,
                   const DatapathResult& r, const Check* check) {
  formats.push_back(fmt::format("{} / {}", to_string(r.input), to_string(r.compute)));
  if (check == nullptr)
    unrounded.push_back("-");
  else if (!std::isfinite(check->max_abs_error_unrounded))
    unrounded.push_back("non-finite");
  else
    unrounded.push_back(fmt::format("{:.2g}", check->max_abs_error_unrounded));
}

// Why an overflowing run is unverified: what can pass its format's largest value.
std::string overflow_note(const DatapathResult& r, const Check& c) {
  return fmt::format(
      "\n{}: UNVERIFIED: {} for these inputs, so nothing is guaranteed about the output.\n",
      r.datapath, c.overflow);
}

}  // namespace

MemoryUse memory_use(const std::vector<ChannelStats>& channels, bool intermediate_only) {
  MemoryUse m;
  for (const ChannelStats& c : channels) {
    if (intermediate_only && c.input_stream) continue;
    m.capacity_elements += c.capacity * c.width;
    m.high_water_elements += c.high_water * c.width;
    m.capacity_bytes += c.capacity_bytes();
    m.high_water_bytes += c.high_water_bytes();
  }
  return m;
}

nlohmann::json report_json(const Params& params, const SimulationResult& result,
                           const std::vector<Check>& checks, const CostTable* cost) {
  nlohmann::json runs = nlohmann::json::array();
  for (std::size_t i = 0; i < result.runs.size(); ++i) {
    const DatapathResult& r = result.runs[i];
    const MemoryUse m = memory_use(r.channels);
    const MemoryUse im = memory_use(r.channels, true);
    nlohmann::json channels = nlohmann::json::array();
    for (const ChannelStats& c : r.channels)
      channels.push_back({{"name", c.name},
                          {"capacity", c.capacity},
                          {"width", c.width},
                          {"high_water", c.high_water},
                          {"writes", c.writes},
                          {"producer_stall_cycles", c.producer_stall_cycles},
                          {"consumer_stall_cycles", c.consumer_stall_cycles},
                          {"first_read_stall_cycles", c.first_read_stall},
                          {"first_ready", c.first_ready},
                          {"last_ready", c.last_ready},
                          {"input_stream", c.input_stream},
                          {"element_bytes", c.element_bytes}});
    nlohmann::json run = {
        {"datapath", r.datapath},
        {"status", to_string(r.status)},
        {"cycles", r.cycles},
        {"scores", r.scores},
        {"scores_skipped", r.scores_skipped},
        {"scores_per_cycle", per_cycle(r)},
        {"rows_done", r.rows_done},
        {"max_abs_error", nullptr},
        {"tolerance", nullptr},
        {"memory",
         {{"capacity_elements", m.capacity_elements},
          {"high_water_elements", m.high_water_elements},
          {"capacity_bytes", m.capacity_bytes},
          {"high_water_bytes", m.high_water_bytes},
          {"intermediate",
           {{"capacity_elements", im.capacity_elements},
            {"high_water_elements", im.high_water_elements},
            {"capacity_bytes", im.capacity_bytes},
            {"high_water_bytes", im.high_water_bytes}}}}},
        {"lanes", r.lanes},
        {"lanes_idle", r.lanes_idle},
        {"memory_traffic",
         {{"footprint_bytes", r.footprint_bytes},
          {"bytes_read",
           {{"q", r.q_bytes_read},
            {"k", r.k_bytes_read},
            {"v", r.v_bytes_read},
            {"total", r.bytes_read()}}},
          {"bytes_written", r.o_bytes_written},
          {"ports", r.shared_link ? "shared" : "private"},
          {"link_bytes_per_cycle", r.link_bytes_per_cycle},
          {"link_idle_cycles", r.shared_link ? nlohmann::json(r.link_idle_cycles()) : nullptr},
          {"bytes_read_per_cycle", nullptr},
          {"minimum_bytes", r.minimum_bytes},
          {"relative_to_minimum",
           double(r.bytes_read() + r.o_bytes_written) / double(r.minimum_bytes)},
          // Scores and flops (2d for q·k, 2d for p·v) per byte moved.
          {"scores_per_byte", double(r.scores) / double(r.bytes_read() + r.o_bytes_written)},
          {"flops_per_byte", 4.0 * double(r.head_dim) * double(r.scores) /
                                 double(r.bytes_read() + r.o_bytes_written)}}},
        {"per_token",
         {{"tokens", r.tokens},
          {"cycles", double(r.cycles) / double(r.tokens)},
          {"bytes_read", double(r.bytes_read()) / double(r.tokens)}}},
        {"channels", std::move(channels)},
        {"limiting_channel", limiting_json(r)},
        {"span_cycles", r.span},
        {"units", units_json(r)},
        {"bottleneck", bottleneck_json(r)},
        {"actions", actions_json(r)}};
    if (cost != nullptr) {
      run["energy"] = energy_json(r, *cost);
      run["area"] = area_json(r, *cost);
    }
    if (incomplete(r)) {
      // No last output row, so no cycle count.
      run["cycles"] = nullptr;
      run["scores_per_cycle"] = nullptr;
      // Per token is of every token: a stopped run did not do them all.
      run["per_token"]["cycles"] = nullptr;
      run["per_token"]["bytes_read"] = nullptr;
      // Part of the traffic over the whole problem's minimum would read as below the minimum.
      run["memory_traffic"]["relative_to_minimum"] = nullptr;
      run["waits"] = r.waits;
    } else {
      // Achieved bandwidth, all streams together: against link_bytes_per_cycle when shared.
      run["memory_traffic"]["bytes_read_per_cycle"] = double(r.bytes_read()) / double(r.cycles);
      // JSON has no infinity: a non-finite output reports null with finite = false.
      run["finite"] = checks[i].finite;
      if (checks[i].finite) run["max_abs_error"] = checks[i].max_abs_error;
      run["tolerance"] = checks[i].tolerance;
    }
    run["numerics"] = numerics_json(r, incomplete(r) ? nullptr : &checks[i]);
    // Moved, not copied: with many lanes the report is tens of MiB.
    runs.push_back(std::move(run));
  }
  return {{"runs", std::move(runs)},
          {"problem",
           {{"batch", params.batch},
            {"heads", params.heads},
            {"kv_heads", params.shape().kv_heads},
            {"seq_len", params.seq_len},
            {"kv_len", params.shape().kv_len},
            {"head_dim", params.head_dim},
            {"causal", params.causal},
            {"seed", params.seed}}},
          {"sim", {{"mode", params.mode}, {"wall_seconds", result.wall_seconds}}}};
}

std::string summary(const SimulationResult& result, const std::vector<Check>& checks,
                    const CostTable* cost) {
  std::vector<std::vector<std::string>> rows{{""},
                                             {"status"},
                                             {"cycles"},
                                             {"scores computed (masked)"},
                                             {"scores per cycle"},
                                             {"memory read"},
                                             {"intermediate memory, provisioned"},
                                             {"intermediate memory, used (high water)"},
                                             {"limiting channel (high water/capacity)"},
                                             {"Q/K/V stream buffers, provisioned"},
                                             {"max abs error (tolerance)"},
                                             {"numerics (input / compute)"},
                                             {"max abs error, unrounded inputs"}};
  if (cost != nullptr) {
    rows.push_back({"energy per score (compute, buffers, memory)"});
    rows.push_back({"area, compute + buffering"});
  }
  for (std::size_t i = 0; i < result.runs.size(); ++i) {
    const DatapathResult& r = result.runs[i];
    const MemoryUse m = memory_use(r.channels, true);
    const MemoryUse all = memory_use(r.channels);
    MemoryUse streams;
    streams.capacity_elements = all.capacity_elements - m.capacity_elements;
    streams.capacity_bytes = all.capacity_bytes - m.capacity_bytes;
    rows[0].push_back(r.datapath);
    rows[1].push_back(to_string(r.status));
    rows[2].push_back(incomplete(r) ? "-" : fmt::format("{}", r.cycles));
    rows[3].push_back(fmt::format("{} ({})", r.scores, r.scores_skipped));
    rows[4].push_back(incomplete(r)       ? "-"
                      : r.lanes == 1      ? fmt::format("{:.4f}", per_cycle(r))
                      : r.lanes_idle == 0 ? fmt::format("{:.4f} of {}", per_cycle(r), r.lanes)
                                          : fmt::format("{:.4f} of {} ({} idle)", per_cycle(r),
                                                        r.lanes, r.lanes_idle));
    rows[5].push_back(incomplete(r) ? bytes_text(r.bytes_read())
                      : r.shared_link
                          ? fmt::format("{} ({:.1f} of {} B/cycle)", bytes_text(r.bytes_read()),
                                        double(r.bytes_read()) / double(r.cycles),
                                        r.link_bytes_per_cycle)
                          : fmt::format("{} ({:.1f} B/cycle)", bytes_text(r.bytes_read()),
                                        double(r.bytes_read()) / double(r.cycles)));
    rows[6].push_back(
        fmt::format("{} elements ({})", m.capacity_elements, bytes_text(m.capacity_bytes)));
    rows[7].push_back(
        fmt::format("{} elements ({})", m.high_water_elements, bytes_text(m.high_water_bytes)));
    rows[8].push_back(limiting_cell(r));
    rows[9].push_back(fmt::format("{} elements ({})", streams.capacity_elements,
                                  bytes_text(streams.capacity_bytes)));
    if (incomplete(r))
      rows[10].push_back("-");
    else if (!checks[i].finite)
      rows[10].push_back(fmt::format("non-finite ({:.2g})", checks[i].tolerance));
    else
      rows[10].push_back(
          fmt::format("{:.2g} ({:.2g})", checks[i].max_abs_error, checks[i].tolerance));
    numerics_rows(rows[11], rows[12], r, incomplete(r) ? nullptr : &checks[i]);
    if (cost != nullptr) {
      const CostReport c = cost_of(r, *cost);
      const double s = double(std::max<std::uint64_t>(r.scores, 1));
      // A deadlocked or stopped run did not compute all its scores: no energy per score.
      rows[13].push_back(incomplete(r)
                             ? "-"
                             : fmt::format("{} ({}, {}, {})", energy_text(c.per_score_pj()),
                                           energy_text(c.compute_pj / s),
                                           energy_text(c.buffering_pj() / s),
                                           energy_text(c.memory_pj / s)));
      rows[14].push_back(
          fmt::format("{:.3f} + {:.3f} mm²", c.compute_um2 * 1e-6, c.buffering_um2() * 1e-6));
    }
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c)
      out += c == 0 ? fmt::format("{:<{}}", row[c], width[c])
                    : fmt::format("  {:>{}}", row[c], width[c]);
    out += '\n';
  }
  for (const DatapathResult& r : result.runs) {
    out += '\n';
    out += units_summary(r);
  }
  for (std::size_t i = 0; i < result.runs.size(); ++i) {
    const DatapathResult& r = result.runs[i];
    if (r.status == Status::unverified) {
      const Check& c = checks[i];
      out +=
          c.may_overflow()
              ? overflow_note(r, c)
              : fmt::format(
                    "\n{}: UNVERIFIED: for these inputs {} only guarantees an error "
                    "of at most {:.2g} ({:.3g}% of max|v|) and certifying needs under {:g}%: "
                    "the output is neither certified nor shown wrong (its error: {:.2g}, "
                    "{:.3g}% of max|v|).\n",
                    r.datapath, to_string(r.compute), c.tolerance, 100 * c.tolerance / c.v_bound,
                    100 * c.certified_fraction, c.max_abs_error, 100 * c.max_abs_error / c.v_bound);
      continue;
    }
    if (r.status == Status::deadlock)
      out += fmt::format("\n{}: DEADLOCK after {} of {} output rows. Wait-for report:\n",
                         r.datapath, r.rows_done, r.rows);
    else if (r.status == Status::timeout)
      out += fmt::format(
          "\n{}: STOPPED by the watchdog (sim.max_cycles) after {} of {} output rows. "
          "Where each unit stands:\n",
          r.datapath, r.rows_done, r.rows);
    else
      continue;
    for (const std::string& w : r.waits) out += "  " + w + "\n";
  }
  return out;
}

// Rounded first, then scaled: 1 MiB less a byte is 1.0 MiB, not 1024.0 KiB.
std::string bytes_text(std::uint64_t b) {
  static constexpr const char* units[] = {"KiB", "MiB", "GiB"};
  if (b < 1024) return fmt::format("{} B", b);
  double value = b / 1024.0;
  std::size_t unit = 0;
  while (unit + 1 < std::size(units) &&
         std::strtod(fmt::format("{:.1f}", value).c_str(), nullptr) >= 1024.0) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, units[unit]);
}

// Rounded first, then scaled: 999.6 pJ is 1 nJ, not 1e+03 pJ.
std::string energy_text(double pj) {
  static constexpr const char* units[] = {"pJ", "nJ", "µJ", "mJ", "J"};
  double value = pj;
  std::size_t unit = 0;
  while (unit + 1 < std::size(units) &&
         std::strtod(fmt::format("{:.3g}", value).c_str(), nullptr) >= 1e3) {
    value *= 1e-3;
    ++unit;
  }
  return fmt::format("{:.3g} {}", value, units[unit]);
}

}  // namespace sdpa
