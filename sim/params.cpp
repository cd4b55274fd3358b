#include "sim/params.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "sim/simulation.h"

namespace sdpa {
namespace {

namespace fs = std::filesystem;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Walks the YAML tree and reports errors at the node's source position.
class Reader {
 public:
  Reader(std::string file, std::map<std::string, std::string> set_origins)
      : file_(std::move(file)), set_origins_(std::move(set_origins)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key,
                         const std::string& what) const {
    throw ParamError(fmt::format("{}: {}: {}", where(node, key), key, what));
  }

  std::string where(const YAML::Node& node, const std::string& key) const {
    for (std::string k = key;; k = k.substr(0, k.rfind('.'))) {
      if (auto it = set_origins_.find(k); it != set_origins_.end()) return it->second;
      if (k.find('.') == std::string::npos) break;
    }
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return file_;
    return fmt::format("{}:{}:{}", file_, mark.line + 1, mark.column + 1);
  }

  // Checks that `node` is a map whose keys are all in `allowed`.
  void keys(const YAML::Node& node, const std::string& key,
            const std::vector<std::string>& allowed) const {
    const std::string label = key.empty() ? "(top level)" : key;
    if (!node.IsMap()) fail(node, label, "expected a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      // YAML allows any node as a key (`? [a, b]: 1`); as<std::string>() throws on those.
      if (!entry.first.IsScalar())
        fail(entry.first, label, fmt::format("expected a key name (one of: {})", join(allowed)));
      const std::string name = entry.first.Scalar();
      const std::string path = key.empty() ? name : key + "." + name;
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        fail(entry.first, path, fmt::format("unknown key (expected one of: {})", join(allowed)));
      // yaml-cpp keeps the first of duplicate keys silently; a second value is a mistake.
      if (!seen.insert(name).second) fail(entry.first, path, "duplicate key");
    }
  }

  std::uint64_t integer(const YAML::Node& node, const std::string& key, std::uint64_t min,
                        std::uint64_t max) const {
    const std::string expected = fmt::format("expected an integer in [{}, {}]", min, max);
    if (!node.IsScalar()) fail(node, key, expected);
    const std::string& text = node.Scalar();
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
      fail(node, key, fmt::format("{}, got '{}'", expected, text));
    return value;
  }

  double number(const YAML::Node& node, const std::string& key, double min, double max) const {
    const std::string expected = fmt::format("expected a number in [{}, {}]", min, max);
    if (!node.IsScalar()) fail(node, key, expected);
    double value = 0;
    try {
      value = node.as<double>();
    } catch (const YAML::Exception&) {
      fail(node, key, fmt::format("{}, got '{}'", expected, node.Scalar()));
    }
    if (!(value >= min && value <= max))
      fail(node, key, fmt::format("{}, got '{}'", expected, node.Scalar()));
    return value;
  }

  std::string choice(const YAML::Node& node, const std::string& key,
                     const std::vector<std::string>& allowed) const {
    const std::string expected = fmt::format("expected one of: {}", join(allowed));
    if (!node.IsScalar()) fail(node, key, expected);
    if (std::find(allowed.begin(), allowed.end(), node.Scalar()) == allowed.end())
      fail(node, key, fmt::format("{}, got '{}'", expected, node.Scalar()));
    return node.Scalar();
  }

  std::string path(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar() || node.Scalar().empty()) fail(node, key, "expected a file path");
    fs::path p(node.Scalar());
    // A path from the file is relative to the file's folder; one from --set to the working one.
    if (p.is_relative() && where(node, key).rfind("--set", 0) != 0)
      p = fs::path(file_).parent_path() / p;
    return p.lexically_normal().string();
  }

 private:
  std::string file_;
  std::map<std::string, std::string> set_origins_;
};

YAML::Node load_file(const std::string& path) {
  std::ifstream probe(path);
  if (!probe) throw ParamError(fmt::format("{}: cannot read the params file", path));
  try {
    YAML::Node root = YAML::LoadFile(path);
    return root.IsNull() ? YAML::Node(YAML::NodeType::Map) : root;
  } catch (const YAML::Exception& e) {
    throw ParamError(fmt::format("{}:{}:{}: YAML syntax error: {}", path, e.mark.line + 1,
                                 e.mark.column + 1, e.msg));
  }
}

// Applies "a.b.c=value" onto the tree, returning the key path.
std::string apply_set(YAML::Node& root, const std::string& set) {
  const auto eq = set.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ParamError(fmt::format("--set {}: expected key.path=value", set));
  const std::string key = set.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(set.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ParamError(fmt::format("--set {}: {}: cannot parse the value: {}", set, key, e.msg));
  }
  YAML::Node node = root;
  std::size_t begin = 0;
  for (;;) {
    const auto dot = key.find('.', begin);
    const std::string part = key.substr(begin, dot - begin);
    if (part.empty()) throw ParamError(fmt::format("--set {}: {}: empty key component", set, key));
    if (!node.IsMap() && !node.IsNull())
      throw ParamError(
          fmt::format("--set {}: {}: {} is not a mapping", set, key, key.substr(0, begin - 1)));
    if (dot == std::string::npos) {
      node[part] = value;
      return key;
    }
    YAML::Node child = node[part];
    if (!child.IsDefined() || child.IsNull()) node[part] = YAML::Node(YAML::NodeType::Map);
    node.reset(node[part]);
    begin = dot + 1;
  }
}

std::vector<std::string> map_keys(const std::map<std::string, Timing>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

}  // namespace

const std::map<std::string, Timing>& default_unit_timings() {
  static const std::map<std::string, Timing> timings{
      {"dot_product", {4, 1}},  {"row_max", {1, 1}},
      {"subtract", {1, 1}},     {"exp", {4, 1}},
      {"row_sum", {1, 1}},      {"divide", {4, 1}},
      {"weighted_sum", {4, 1}}, {"running_max", {6, 1}},
      {"running_sum", {2, 1}},  {"rescale_accumulate", {4, 1}},
      {"row_divide", {4, 1}}};
  return timings;
}

std::vector<std::string> Params::datapaths() const {
  if (datapath == "both") return datapath_names();
  return {datapath};
}

namespace {

Params from_tree(YAML::Node root, const std::string& path, const std::vector<std::string>& sets) {
  if (!root.IsMap()) throw ParamError(fmt::format("{}:1:1: expected a mapping of keys", path));
  std::map<std::string, std::string> origins;
  for (const std::string& set : sets) origins[apply_set(root, set)] = "--set " + set;
  const Reader r(path, origins);

  Params p;
  p.units = default_unit_timings();
  r.keys(root, "",
         {"datapath", "problem", "inputs", "clock", "memory", "units", "channels", "sim"});
  if (root["datapath"])
    p.datapath = r.choice(root["datapath"], "datapath", {"naive", "reordered", "both"});

  if (const YAML::Node n = root["problem"]) {
    r.keys(n, "problem", {"seq_len", "head_dim", "heads", "seed"});
    if (n["seq_len"]) p.seq_len = r.integer(n["seq_len"], "problem.seq_len", 1, 1 << 20);
    if (n["head_dim"]) p.head_dim = r.integer(n["head_dim"], "problem.head_dim", 1, 1 << 16);
    if (n["heads"]) p.heads = r.integer(n["heads"], "problem.heads", 1, 1 << 16);
    if (n["seed"])
      p.seed = r.integer(n["seed"], "problem.seed", 0, std::numeric_limits<std::uint64_t>::max());
  }
  if (const YAML::Node n = root["inputs"]) {
    r.keys(n, "inputs", {"q", "k", "v"});
    int given = 0;
    for (auto [key, dest] : {std::pair{"q", &p.input_q}, {"k", &p.input_k}, {"v", &p.input_v}}) {
      if (n[key] && !n[key].IsNull()) {
        *dest = r.path(n[key], std::string("inputs.") + key);
        ++given;
      }
    }
    if (given != 0 && given != 3) r.fail(n, "inputs", "expected all of q, k and v, or none");
  }
  if (const YAML::Node n = root["clock"]) {
    r.keys(n, "clock", {"period_ns"});
    if (n["period_ns"]) p.clock_period_ns = r.number(n["period_ns"], "clock.period_ns", 1e-3, 1e6);
  }
  if (const YAML::Node n = root["memory"]) {
    r.keys(n, "memory", {"read_latency", "bytes_per_cycle"});
    if (n["read_latency"])
      p.memory.read_latency = r.integer(n["read_latency"], "memory.read_latency", 1, 1 << 20);
    if (n["bytes_per_cycle"])
      p.memory.bytes_per_cycle =
          r.integer(n["bytes_per_cycle"], "memory.bytes_per_cycle", 1, 1 << 20);
  }
  if (const YAML::Node n = root["units"]) {
    r.keys(n, "units", map_keys(p.units));
    for (const auto& entry : n) {
      const std::string name = entry.first.as<std::string>();
      const std::string key = "units." + name;
      r.keys(entry.second, key, {"latency", "ii"});
      Timing& t = p.units[name];
      if (entry.second["latency"])
        t.latency = r.integer(entry.second["latency"], key + ".latency", 1, 1 << 20);
      if (entry.second["ii"]) t.ii = r.integer(entry.second["ii"], key + ".ii", 1, 1 << 20);
    }
  }
  if (const YAML::Node n = root["channels"]) {
    r.keys(n, "channels", {"default_depth", "depths"});
    if (const YAML::Node d = n["default_depth"]) {
      if (!(d.IsScalar() && d.Scalar() == "auto"))
        p.default_depth = r.integer(d, "channels.default_depth", 1, 1u << 30);
    }
    if (const YAML::Node d = n["depths"]) {
      std::set<std::string> known;
      for (const std::string& dp : p.datapaths())
        known.insert(channel_names(dp).begin(), channel_names(dp).end());
      r.keys(d, "channels.depths", {known.begin(), known.end()});
      for (const auto& entry : d) {
        const std::string name = entry.first.as<std::string>();
        p.depths[name] = r.integer(entry.second, "channels.depths." + name, 1, 1u << 30);
      }
    }
  }
  if (const YAML::Node n = root["sim"]) {
    r.keys(n, "sim", {"mode", "max_cycles"});
    if (n["mode"]) p.mode = r.choice(n["mode"], "sim.mode", {"synchronized", "decoupled"});
    if (const YAML::Node m = n["max_cycles"]; m && !(m.IsScalar() && m.Scalar() == "auto"))
      p.max_cycles = r.integer(m, "sim.max_cycles", 1, std::numeric_limits<std::int64_t>::max());
  }
  return p;
}

}  // namespace

Params load_params(const std::string& path, const std::vector<std::string>& sets) {
  return from_tree(load_file(path), path, sets);
}

Params load_params_text(const std::string& text, const std::string& name,
                        const std::vector<std::string>& sets) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ParamError(fmt::format("{}:{}:{}: YAML syntax error: {}", name, e.mark.line + 1,
                                 e.mark.column + 1, e.msg));
  }
  return from_tree(root.IsNull() ? YAML::Node(YAML::NodeType::Map) : root, name, sets);
}

std::string to_yaml(const Params& p) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "datapath" << YAML::Value << p.datapath;
  out << YAML::Key << "problem" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "seq_len" << YAML::Value << p.seq_len;
  out << YAML::Key << "head_dim" << YAML::Value << p.head_dim;
  out << YAML::Key << "heads" << YAML::Value << p.heads;
  out << YAML::Key << "seed" << YAML::Value << p.seed;
  out << YAML::EndMap;
  if (p.has_inputs()) {
    out << YAML::Key << "inputs" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "q" << YAML::Value << fs::absolute(p.input_q).string();
    out << YAML::Key << "k" << YAML::Value << fs::absolute(p.input_k).string();
    out << YAML::Key << "v" << YAML::Value << fs::absolute(p.input_v).string();
    out << YAML::EndMap;
  }
  out << YAML::Key << "clock" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "period_ns" << YAML::Value << p.clock_period_ns << YAML::EndMap;
  out << YAML::Key << "memory" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "read_latency" << YAML::Value << p.memory.read_latency;
  out << YAML::Key << "bytes_per_cycle" << YAML::Value << p.memory.bytes_per_cycle;
  out << YAML::EndMap;
  out << YAML::Key << "units" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, t] : p.units) {
    out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "latency" << YAML::Value << t.latency;
    out << YAML::Key << "ii" << YAML::Value << t.ii << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::Key << "channels" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "default_depth" << YAML::Value;
  if (p.default_depth == 0)
    out << "auto";
  else
    out << p.default_depth;
  out << YAML::Key << "depths" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, depth] : p.depths) out << YAML::Key << name << YAML::Value << depth;
  out << YAML::EndMap << YAML::EndMap;
  out << YAML::Key << "sim" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "mode" << YAML::Value << p.mode;
  out << YAML::Key << "max_cycles" << YAML::Value;
  if (p.max_cycles == 0)
    out << "auto";
  else
    out << p.max_cycles;
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace sdpa
