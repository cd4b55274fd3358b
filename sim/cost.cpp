#include "sim/cost.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "sim/sha256.h"
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
  // Energies and areas cannot be negative, and a bound keeps every total finite: 10^12 pJ (a
  // joule) per action or byte, or µm² (a square metre) per operator or byte, times up to 2^64
  // actions, is far from a double's range. 1e308 passed, and the totals came out infinite.
  auto amount = [&](const YAML::Node& node, const std::string& key) {
    return r.number(node, key, 0, 1e12);
  };
  CostTable t;
  t.source = name;
  // Named as what it should be: `--set cost=FILE` with the wrong FILE gives no other clue.
  if (!root.IsMap())
    r.fail(root, "(top level)",
           "expected a cost table: a mapping of technology, arithmetic, storage and memory");
  exactly(root, "", {"technology", "arithmetic", "storage", "memory"});
  t.technology = r.text(root["technology"], "technology");

  const YAML::Node arithmetic = root["arithmetic"];
  // The formats a run's operators can take (table_format): fp8 stands for both encodings.
  std::vector<std::string> formats;
  for (const std::string& format : format_names())
    if (const std::string name = bytes_of(*parse_format(format)) == 1 ? "fp8" : format;
        std::ranges::find(formats, name) == formats.end())
      formats.push_back(name);
  r.keys(arithmetic, "arithmetic", formats);
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
    for (std::size_t j = 0; j < t.storage.size(); ++j)
      if (t.storage[j].name == s.name)
        r.fail(c["name"], key + ".name",
               fmt::format("'{}' is storage[{}]'s name too: each class has its own", s.name, j));
    const double max_bytes = r.number(c["max_bytes"], key + ".max_bytes", 1, 1e18);
    if (max_bytes != std::floor(max_bytes))
      r.fail(c["max_bytes"], key + ".max_bytes",
             fmt::format("expected a whole number of bytes >= 1, got {}",
                         quoted(c["max_bytes"].Scalar())));
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

// A count per kind, in every format.
nlohmann::json ops_json(const OpCounts& ops) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t i = 0; i < kOpKinds; ++i) j[kOpNames[i]] = ops[Op(i)];
  return j;
}

// Counts per operation format, then kind: what the energy is computed from.
nlohmann::json ops_by_format_json(const OpCounts& ops) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t f = 0; f < kOpFormats; ++f) {
    nlohmann::json& kinds = j[kOpFormatNames[f]];
    for (std::size_t i = 0; i < kOpKinds; ++i) kinds[kOpNames[i]] = ops.at(Op(i), OpFormat(f));
  }
  return j;
}

// Prices counts of operations (or operators) with a run's formats: each at its table format's
// entry, except a multiply-add with a multiplier narrower than fp32, which is that multiplier
// and fp32's adder (the accumulator's). `field` picks energy or area.
class Pricing {
 public:
  Pricing(const CostTable& table, const DatapathResult& r) : table_(table) {
    require_arithmetic(table, r.input, r.compute);
    for (std::size_t f = 0; f < kOpFormats; ++f)
      formats_[f] = table_format(OpFormat(f), r.input, r.compute);
  }
  // Per table format.
  std::map<std::string, double> by_format(const OpCounts& ops, double OperatorCost::*field) const {
    std::map<std::string, double> sum;
    for (std::size_t f = 0; f < kOpFormats; ++f) {
      const std::string& format = formats_[f];
      const auto& own = table_.arithmetic.at(format);
      for (std::size_t i = 0; i < kOpKinds; ++i) {
        const double n = double(ops.at(Op(i), OpFormat(f)));
        if (n == 0) continue;
        if (Op(i) == Op::multiply_add && format != "fp32") {
          sum[format] += n * (own[std::size_t(Op::multiply)].*field);
          sum["fp32"] += n * (table_.arithmetic.at("fp32")[std::size_t(Op::add)].*field);
        } else {
          sum[format] += n * (own[i].*field);
        }
      }
    }
    return sum;
  }
  double total(const OpCounts& ops, double OperatorCost::*field) const {
    double t = 0;
    for (const auto& [format, x] : by_format(ops, field)) t += x;
    return t;
  }
  const std::array<std::string, kOpFormats>& formats() const { return formats_; }

 private:
  const CostTable& table_;
  std::array<std::string, kOpFormats> formats_;
};

// The operators a unit needs: what one firing computes, shared over the II cycles between
// firings (a unit firing once per row with II = d needs one divider, not d).
OpCounts instances(const UnitStats& u) {
  OpCounts n = u.operators;
  const std::uint64_t ii = std::max(1u, u.timing.ii);
  return n.apply([ii](std::uint64_t c) { return (c + ii - 1) / ii; });
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

std::string table_format(OpFormat f, Format input, Format compute) {
  Format format = Format::fp32;
  switch (f) {
    case OpFormat::compute:
      format = compute;
      break;
    case OpFormat::input:
      format = input;
      break;
    case OpFormat::wider:  // by bytes; of two 2-byte formats, the compute format
      format = bytes_of(input) > bytes_of(compute) ? input : compute;
      break;
    case OpFormat::fp32:
      break;
  }
  return bytes_of(format) == 1 ? "fp8" : to_string(format);
}

void require_arithmetic(const CostTable& table, Format input, Format compute) {
  const std::pair<std::string, std::string> needed[] = {
      {table_format(OpFormat::compute, input, compute),
       fmt::format("the run computes in {}", to_string(compute))},
      {table_format(OpFormat::input, input, compute),
       fmt::format("the dot product multiplies {} inputs", to_string(input))},
      {"fp32", "the units' fp32 accumulators"}};
  std::vector<std::string> formats;
  for (const auto& entry : table.arithmetic) formats.push_back(entry.first);
  for (const auto& [format, why] : needed)
    if (table.arithmetic.count(format) == 0)
      throw ParamError(fmt::format("{}: arithmetic.{}: missing: {} (the file has: {})",
                                   table.source, format, why, fmt::join(formats, ", ")));
}

const StorageClass& CostTable::storage_for(std::uint64_t bytes) const {
  for (const StorageClass& s : storage)
    if (bytes <= s.max_bytes) return s;
  return storage.back();
}

CostTable load_cost_table(const std::string& path) {
  // One read: the digest is of the text parsed, not of a file that may have changed since.
  return load_cost_table_text(read_yaml_file(path, "cost file"), path);
}

CostTable load_cost_table_text(const std::string& text, const std::string& name) {
  CostTable table = from_tree(parse_yaml(text, name), name);
  table.sha256 = sha256_hex(text);
  return table;
}

CostReport cost_of(const DatapathResult& r, const CostTable& table) {
  const Pricing pricing(table, r);
  CostReport c;
  c.format = arithmetic_format(r);
  c.scores = r.scores;
  for (const UnitStats& u : r.units) {
    c.ops += u.ops;
    c.compute_um2 += pricing.total(instances(u), &OperatorCost::area_um2);
  }
  c.compute_pj_by_format = pricing.by_format(c.ops, &OperatorCost::energy_pj);
  for (const auto& [format, pj] : c.compute_pj_by_format) c.compute_pj += pj;
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
    units.push_back({{"name", u.name},
                     {"firings", u.firings},
                     {"ops", ops_json(u.ops)},
                     {"ops_by_format", ops_by_format_json(u.ops)}});
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
  return {{"units", std::move(units)},
          {"channels", std::move(channels)},
          {"memory", {{"bytes_read", r.bytes_read()}, {"bytes_written", r.o_bytes_written}}},
          {"totals",
           {{"ops", ops_json(ops)},
            {"ops_by_format", ops_by_format_json(ops)},
            {"channel_bytes_written", written},
            {"channel_bytes_read", read},
            {"memory_bytes_read", r.bytes_read()},
            {"memory_bytes_written", r.o_bytes_written}}}};
}

nlohmann::json energy_json(const DatapathResult& r, const CostTable& table) {
  const CostReport c = cost_of(r, table);
  const Pricing pricing(table, r);
  nlohmann::json units = nlohmann::json::array();
  // The units with arithmetic, as area_json lists them: one that did none (a running max that
  // saw only rows' first scores) at 0.
  for (const UnitStats& u : r.units)
    if (u.operators.total() != 0)
      units.push_back({{"name", u.name}, {"pj", pricing.total(u.ops, &OperatorCost::energy_pj)}});
  nlohmann::json formats = nlohmann::json::object();
  for (std::size_t f = 0; f < kOpFormats; ++f) formats[kOpFormatNames[f]] = pricing.formats()[f];
  nlohmann::json channels = nlohmann::json::array();
  for (const ChannelStats& ch : r.channels) {
    const ChannelStorage s = storage_of(ch, table);
    channels.push_back(
        {{"name", ch.name}, {"storage", s.storage->name}, {"pj", channel_pj(ch, *s.storage)}});
  }
  // A deadlocked or stopped run did not compute all its scores nor produce all its tokens.
  const bool stopped = r.status == Status::deadlock || r.status == Status::timeout;
  const auto unless_stopped = [&](double pj) {
    return stopped ? nlohmann::json(nullptr) : nlohmann::json(pj);
  };
  return {{"cost_table", table.source},
          {"cost_sha256", table.sha256},
          {"technology", table.technology},
          {"format", c.format},
          {"operator_formats", formats},
          {"total_pj", c.total_pj()},
          {"per_score_pj", unless_stopped(c.per_score_pj())},
          {"per_token_pj", unless_stopped(c.total_pj() / double(r.tokens))},
          {"compute_pj", c.compute_pj},
          {"compute_pj_by_format", c.compute_pj_by_format},
          {"buffering_pj",
           {{"intermediate", c.intermediate_pj},
            {"streams", c.streams_pj},
            {"total", c.buffering_pj()}}},
          {"memory_pj", c.memory_pj},
          {"units", std::move(units)},
          {"channels", std::move(channels)}};
}

nlohmann::json area_json(const DatapathResult& r, const CostTable& table) {
  const CostReport c = cost_of(r, table);
  const Pricing pricing(table, r);
  nlohmann::json units = nlohmann::json::array();
  for (const UnitStats& u : r.units)
    if (u.operators.total() != 0)
      units.push_back({{"name", u.name},
                       {"operators", ops_json(instances(u))},
                       {"operators_by_format", ops_by_format_json(instances(u))},
                       {"um2", pricing.total(instances(u), &OperatorCost::area_um2)}});
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
          {"units", std::move(units)},
          {"channels", std::move(channels)}};
}

}  // namespace sdpa
