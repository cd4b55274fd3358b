#include "sim/cost.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "sim/params.h"
#include "sim/yaml_reader.h"

namespace sdpa {
namespace {

// Checks the cost file with the params file's reader: every error names the file, line, column
// and key (docs/errors.md).
CostTable from_tree(const YAML::Node& root, const std::string& name) {
  YamlReader r(name);
  // A mapping of exactly these keys.
  auto exactly = [&](const YAML::Node& node, const std::string& key,
                     const std::vector<std::string>& names) {
    r.keys(node, key, names);
    r.require(node, key, names);
  };
  // Energies, areas and sizes cannot be negative.
  auto amount = [&](const YAML::Node& node, const std::string& key) {
    return r.number(node, key, 0, std::numeric_limits<double>::infinity());
  };
  CostTable t;
  t.source = name;
  exactly(root, "", {"technology", "arithmetic", "storage", "memory"});
  t.technology = r.text(root["technology"], "technology");

  const YAML::Node arithmetic = root["arithmetic"];
  r.any_keys(arithmetic, "arithmetic");
  if (arithmetic.size() == 0) r.fail(arithmetic, "arithmetic", "expected at least one format");
  const std::vector<std::string> ops(kOpNames.begin(), kOpNames.end());
  for (const auto& format : arithmetic) {
    const std::string key = "arithmetic." + format.first.Scalar();
    exactly(format.second, key, ops);
    auto& costs = t.arithmetic[format.first.Scalar()];
    for (std::size_t i = 0; i < kOpKinds; ++i) {
      const std::string op_key = key + "." + kOpNames[i];
      const YAML::Node op = format.second[kOpNames[i]];
      exactly(op, op_key, {"energy_pj", "area_um2"});
      costs[i] = {amount(op["energy_pj"], op_key + ".energy_pj"),
                  amount(op["area_um2"], op_key + ".area_um2")};
    }
  }

  const YAML::Node storage = root["storage"];
  if (!storage.IsSequence() || storage.size() == 0)
    r.fail(storage, "storage", "expected a list of storage classes, smallest first");
  const std::vector<std::string> class_fields{"name", "max_bytes", "read_pj_per_byte",
                                              "write_pj_per_byte", "area_um2_per_byte"};
  for (std::size_t i = 0; i < storage.size(); ++i) {
    const YAML::Node c = storage[i];
    const std::string key = fmt::format("storage[{}]", i);
    exactly(c, key, class_fields);
    StorageClass s;
    s.name = r.text(c["name"], key + ".name");
    const double max_bytes = amount(c["max_bytes"], key + ".max_bytes");
    if (max_bytes < 1 || max_bytes != std::floor(max_bytes) || max_bytes > 1e18)
      r.fail(
          c["max_bytes"], key + ".max_bytes",
          fmt::format("expected a whole number of bytes >= 1, got '{}'", c["max_bytes"].Scalar()));
    s.max_bytes = static_cast<std::uint64_t>(max_bytes);
    if (!t.storage.empty() && s.max_bytes <= t.storage.back().max_bytes)
      r.fail(c["max_bytes"], key + ".max_bytes",
             fmt::format("expected more than the class before's {} (smallest first)",
                         t.storage.back().max_bytes));
    s.read_pj_per_byte = amount(c["read_pj_per_byte"], key + ".read_pj_per_byte");
    s.write_pj_per_byte = amount(c["write_pj_per_byte"], key + ".write_pj_per_byte");
    s.area_um2_per_byte = amount(c["area_um2_per_byte"], key + ".area_um2_per_byte");
    t.storage.push_back(s);
  }

  const YAML::Node memory = root["memory"];
  exactly(memory, "memory", {"read_pj_per_byte", "write_pj_per_byte"});
  t.memory_read_pj_per_byte = amount(memory["read_pj_per_byte"], "memory.read_pj_per_byte");
  t.memory_write_pj_per_byte = amount(memory["write_pj_per_byte"], "memory.write_pj_per_byte");
  return t;
}

nlohmann::json ops_json(const OpCounts& ops) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t i = 0; i < kOpKinds; ++i) j[kOpNames[i]] = ops.n[i];
  return j;
}

double energy(const OpCounts& ops, const std::array<OperatorCost, kOpKinds>& costs) {
  double pj = 0;
  for (std::size_t i = 0; i < kOpKinds; ++i) pj += double(ops.n[i]) * costs[i].energy_pj;
  return pj;
}

// The operators a unit needs: what one firing computes, shared over the II cycles between
// firings (a unit firing once per row with II = d needs one divider, not d).
OpCounts instances(const UnitStats& u) {
  OpCounts n = u.operators;
  const std::uint64_t ii = std::max(1u, u.timing.ii);
  for (std::uint64_t& c : n.n) c = (c + ii - 1) / ii;
  return n;
}

double area(const OpCounts& operators, const std::array<OperatorCost, kOpKinds>& costs) {
  double um2 = 0;
  for (std::size_t i = 0; i < kOpKinds; ++i) um2 += double(operators.n[i]) * costs[i].area_um2;
  return um2;
}

const std::array<OperatorCost, kOpKinds>& arithmetic_for(const DatapathResult& r,
                                                         const CostTable& table) {
  require_format(table, arithmetic_format(r));
  return table.arithmetic.at(arithmetic_format(r));
}

// A channel's storage: its capacity in bytes, and the class built for it.
struct ChannelStorage {
  std::uint64_t bytes;
  const StorageClass* storage;
};
ChannelStorage storage_of(const ChannelStats& c, const CostTable& table) {
  const std::uint64_t bytes = c.capacity * element_bytes(c);
  return {bytes, &table.storage_for(bytes)};
}
double channel_pj(const ChannelStats& c, const StorageClass& s) {
  return double(c.writes * element_bytes(c)) * s.write_pj_per_byte +
         double(c.reads * element_bytes(c)) * s.read_pj_per_byte;
}

}  // namespace

void require_format(const CostTable& table, const std::string& format) {
  if (table.arithmetic.count(format) != 0) return;
  std::vector<std::string> formats;
  for (const auto& entry : table.arithmetic) formats.push_back(entry.first);
  throw ParamError(
      fmt::format("{}: arithmetic.{}: missing: the run computes in {} (the file has: {})",
                  table.source, format, format, fmt::join(formats, ", ")));
}

const StorageClass& CostTable::storage_for(std::uint64_t bytes) const {
  for (const StorageClass& s : storage)
    if (bytes <= s.max_bytes) return s;
  return storage.back();
}

CostTable load_cost_table(const std::string& path) {
  std::error_code error;
  std::ifstream in(path);
  if (!std::filesystem::is_regular_file(path, error) || !in)
    throw ParamError(fmt::format("{}: cannot read the cost file", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return from_tree(parse_yaml(text, path), path);
}

CostTable load_cost_table_text(const std::string& text, const std::string& name) {
  return from_tree(parse_yaml(text, name), name);
}

CostReport cost_of(const DatapathResult& r, const CostTable& table) {
  const auto& arithmetic = arithmetic_for(r, table);
  CostReport c;
  c.format = arithmetic_format(r);
  c.scores = r.scores;
  for (const UnitStats& u : r.units) {
    c.ops += u.ops;
    c.compute_um2 += area(instances(u), arithmetic);
  }
  c.compute_pj = energy(c.ops, arithmetic);
  for (const ChannelStats& ch : r.channels) {
    const ChannelStorage s = storage_of(ch, table);
    c.channel_bytes_written += ch.writes * element_bytes(ch);
    c.channel_bytes_read += ch.reads * element_bytes(ch);
    (ch.input_stream ? c.streams_pj : c.intermediate_pj) += channel_pj(ch, *s.storage);
    (ch.input_stream ? c.streams_um2 : c.intermediate_um2) +=
        double(s.bytes) * s.storage->area_um2_per_byte;
  }
  c.memory_bytes_read = r.bytes_read();
  c.memory_bytes_written = r.o_bytes_written;
  c.memory_pj = double(c.memory_bytes_read) * table.memory_read_pj_per_byte +
                double(c.memory_bytes_written) * table.memory_write_pj_per_byte;
  return c;
}

nlohmann::json actions_json(const DatapathResult& r) {
  nlohmann::json units = nlohmann::json::array();
  OpCounts ops;
  for (const UnitStats& u : r.units) {
    units.push_back({{"name", u.name}, {"firings", u.firings}, {"ops", ops_json(u.ops)}});
    ops += u.ops;
  }
  nlohmann::json channels = nlohmann::json::array();
  std::uint64_t written = 0, read = 0;
  for (const ChannelStats& c : r.channels) {
    const std::uint64_t bytes = element_bytes(c);
    channels.push_back({{"name", c.name},
                        {"element_bytes", bytes},
                        {"writes", c.writes},
                        {"reads", c.reads},
                        {"bytes_written", c.writes * bytes},
                        {"bytes_read", c.reads * bytes}});
    written += c.writes * bytes;
    read += c.reads * bytes;
  }
  return {{"units", units},
          {"channels", channels},
          {"memory", {{"bytes_read", r.bytes_read()}, {"bytes_written", r.o_bytes_written}}},
          {"totals",
           {{"ops", ops_json(ops)},
            {"channel_bytes_written", written},
            {"channel_bytes_read", read},
            {"memory_bytes_read", r.bytes_read()},
            {"memory_bytes_written", r.o_bytes_written}}}};
}

nlohmann::json energy_json(const DatapathResult& r, const CostTable& table) {
  const CostReport c = cost_of(r, table);
  const auto& arithmetic = arithmetic_for(r, table);
  nlohmann::json units = nlohmann::json::array();
  for (const UnitStats& u : r.units)
    if (u.ops.total() != 0) units.push_back({{"name", u.name}, {"pj", energy(u.ops, arithmetic)}});
  nlohmann::json channels = nlohmann::json::array();
  for (const ChannelStats& ch : r.channels) {
    const ChannelStorage s = storage_of(ch, table);
    channels.push_back(
        {{"name", ch.name}, {"storage", s.storage->name}, {"pj", channel_pj(ch, *s.storage)}});
  }
  return {{"cost_table", table.source},
          {"technology", table.technology},
          {"format", c.format},
          {"total_pj", c.total_pj()},
          // A deadlocked or stopped run did not compute all its scores.
          {"per_score_pj", r.status == Status::deadlock || r.status == Status::timeout
                               ? nlohmann::json(nullptr)
                               : nlohmann::json(c.per_score_pj())},
          {"compute_pj", c.compute_pj},
          {"buffering_pj",
           {{"intermediate", c.intermediate_pj},
            {"streams", c.streams_pj},
            {"total", c.buffering_pj()}}},
          {"memory_pj", c.memory_pj},
          {"units", units},
          {"channels", channels}};
}

nlohmann::json area_json(const DatapathResult& r, const CostTable& table) {
  const CostReport c = cost_of(r, table);
  const auto& arithmetic = arithmetic_for(r, table);
  nlohmann::json units = nlohmann::json::array();
  for (const UnitStats& u : r.units)
    if (u.operators.total() != 0)
      units.push_back({{"name", u.name},
                       {"operators", ops_json(instances(u))},
                       {"um2", area(instances(u), arithmetic)}});
  nlohmann::json channels = nlohmann::json::array();
  for (const ChannelStats& ch : r.channels) {
    const ChannelStorage s = storage_of(ch, table);
    channels.push_back({{"name", ch.name},
                        {"storage", s.storage->name},
                        {"bytes", s.bytes},
                        {"um2", double(s.bytes) * s.storage->area_um2_per_byte}});
  }
  return {{"compute_um2", c.compute_um2},
          {"buffering_um2",
           {{"intermediate", c.intermediate_um2},
            {"streams", c.streams_um2},
            {"total", c.buffering_um2()}}},
          {"total_um2", c.total_um2()},
          {"units", units},
          {"channels", channels}};
}

}  // namespace sdpa
