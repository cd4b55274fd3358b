#include "sim/cost.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "sim/params.h"

namespace sdpa {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Checks the cost file as sim/params.cpp checks a params file: every error names the file, line,
// column and key (docs/errors.md).
class CostReader {
 public:
  explicit CostReader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key,
                         const std::string& what) const {
    const YAML::Mark mark = node.Mark();
    const std::string where =
        mark.is_null() ? file_ : fmt::format("{}:{}:{}", file_, mark.line + 1, mark.column + 1);
    throw ParamError(fmt::format("{}: {}: {}", where, key, what));
  }

  // `node` is a mapping whose keys are all in `allowed`, and has every one of `required`.
  void keys(const YAML::Node& node, const std::string& key, const std::vector<std::string>& allowed,
            const std::vector<std::string>& required) const {
    const std::string label = key.empty() ? "(top level)" : key;
    if (!node.IsMap()) fail(node, label, "expected a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar())
        fail(entry.first, label, fmt::format("expected a key name (one of: {})", join(allowed)));
      const std::string name = entry.first.Scalar();
      const std::string path = key.empty() ? name : key + "." + name;
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        fail(entry.first, path, fmt::format("unknown key (expected one of: {})", join(allowed)));
      if (!seen.insert(name).second) fail(entry.first, path, "duplicate key");
    }
    for (const std::string& name : required)
      if (seen.count(name) == 0) fail(node, key.empty() ? name : key + "." + name, "missing");
  }

  // A finite number ≥ 0: energies, areas and sizes cannot be negative.
  double number(const YAML::Node& node, const std::string& key) const {
    const std::string expected = "expected a number >= 0";
    if (!node.IsScalar()) fail(node, key, expected);
    double value = 0;
    try {
      value = node.as<double>();
    } catch (const YAML::Exception&) {
      fail(node, key, fmt::format("{}, got '{}'", expected, node.Scalar()));
    }
    if (!std::isfinite(value) || value < 0)
      fail(node, key, fmt::format("{}, got '{}'", expected, node.Scalar()));
    return value;
  }

  std::string text(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar() || node.Scalar().empty()) fail(node, key, "expected a text");
    return node.Scalar();
  }

 private:
  std::string file_;
};

CostTable from_tree(const YAML::Node& root, const std::string& name) {
  CostReader r(name);
  CostTable t;
  t.source = name;
  r.keys(root, "", {"technology", "arithmetic", "storage", "memory"},
         {"technology", "arithmetic", "storage", "memory"});
  t.technology = r.text(root["technology"], "technology");

  const YAML::Node arithmetic = root["arithmetic"];
  r.keys(arithmetic, "arithmetic", {}, {});
  if (arithmetic.size() == 0) r.fail(arithmetic, "arithmetic", "expected at least one format");
  const std::vector<std::string> ops(kOpNames.begin(), kOpNames.end());
  for (const auto& format : arithmetic) {
    const std::string key = "arithmetic." + format.first.Scalar();
    r.keys(format.second, key, ops, ops);
    auto& costs = t.arithmetic[format.first.Scalar()];
    for (std::size_t i = 0; i < kOpKinds; ++i) {
      const std::string op_key = key + "." + kOpNames[i];
      const YAML::Node op = format.second[kOpNames[i]];
      r.keys(op, op_key, {"energy_pj", "area_um2"}, {"energy_pj", "area_um2"});
      costs[i] = {r.number(op["energy_pj"], op_key + ".energy_pj"),
                  r.number(op["area_um2"], op_key + ".area_um2")};
    }
  }

  const YAML::Node storage = root["storage"];
  if (!storage.IsSequence() || storage.size() == 0)
    r.fail(storage, "storage", "expected a list of storage classes, smallest first");
  const std::vector<std::string> fields{"name", "max_bytes", "read_pj_per_byte",
                                        "write_pj_per_byte", "area_um2_per_byte"};
  for (std::size_t i = 0; i < storage.size(); ++i) {
    const YAML::Node c = storage[i];
    const std::string key = fmt::format("storage[{}]", i);
    r.keys(c, key, fields, fields);
    StorageClass s;
    s.name = r.text(c["name"], key + ".name");
    const double max_bytes = r.number(c["max_bytes"], key + ".max_bytes");
    if (max_bytes < 1 || max_bytes != std::floor(max_bytes) || max_bytes > 1e18)
      r.fail(
          c["max_bytes"], key + ".max_bytes",
          fmt::format("expected a whole number of bytes >= 1, got '{}'", c["max_bytes"].Scalar()));
    s.max_bytes = static_cast<std::uint64_t>(max_bytes);
    if (!t.storage.empty() && s.max_bytes <= t.storage.back().max_bytes)
      r.fail(c["max_bytes"], key + ".max_bytes",
             fmt::format("expected more than the class before's {} (smallest first)",
                         t.storage.back().max_bytes));
    s.read_pj_per_byte = r.number(c["read_pj_per_byte"], key + ".read_pj_per_byte");
    s.write_pj_per_byte = r.number(c["write_pj_per_byte"], key + ".write_pj_per_byte");
    s.area_um2_per_byte = r.number(c["area_um2_per_byte"], key + ".area_um2_per_byte");
    t.storage.push_back(s);
  }

  const YAML::Node memory = root["memory"];
  r.keys(memory, "memory", {"read_pj_per_byte", "write_pj_per_byte"},
         {"read_pj_per_byte", "write_pj_per_byte"});
  t.memory_read_pj_per_byte = r.number(memory["read_pj_per_byte"], "memory.read_pj_per_byte");
  t.memory_write_pj_per_byte = r.number(memory["write_pj_per_byte"], "memory.write_pj_per_byte");
  return t;
}

YAML::Node parse(const std::string& text, const std::string& name) {
  try {
    YAML::Node root = YAML::Load(text);
    return root.IsNull() ? YAML::Node(YAML::NodeType::Map) : root;
  } catch (const YAML::Exception& e) {
    throw ParamError(fmt::format("{}:{}:{}: YAML syntax error: {}", name, e.mark.line + 1,
                                 e.mark.column + 1, e.msg));
  }
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
                  table.source, format, format, join(formats)));
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
  return from_tree(parse(text, path), path);
}

CostTable load_cost_table_text(const std::string& text, const std::string& name) {
  return from_tree(parse(text, name), name);
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
