#include "sim/params.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>

#include "hw/datapaths/datapaths.h"
#include "sim/simulation.h"
#include "sim/yaml_reader.h"

namespace sdpa {
namespace {

namespace fs = std::filesystem;

// Every registered datapath, then both (the paper's pair: DatapathKind::in_paper) and all.
std::vector<std::string> datapath_choices() {
  std::vector<std::string> choices = datapath_names();
  choices.push_back("both");
  choices.push_back("all");
  return choices;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// The names of `list(dp)` over `datapaths`, each once, in datapath order.
std::vector<std::string> names_over(
    const std::vector<std::string>& datapaths,
    const std::vector<std::string>& (*list)(const std::string& datapath)) {
  std::vector<std::string> out;
  for (const std::string& dp : datapaths)
    for (const std::string& name : list(dp))
      if (!contains(out, name)) out.push_back(name);
  return out;
}

// The datapaths whose `list` has `name`.
std::vector<std::string> datapaths_having(
    const std::string& name, const std::vector<std::string>& (*list)(const std::string& datapath)) {
  std::vector<std::string> in;
  for (const std::string& dp : datapath_names())
    if (contains(list(dp), name)) in.push_back(dp);
  return in;
}

// True if `key` is `outer` or a key inside it (problem.seq_len within problem).
bool within(const std::string& key, const std::string& outer) {
  return key.starts_with(outer) && (key.size() == outer.size() || key[outer.size()] == '.');
}

// A --set as errors name it, `--set key=value`, a long one cut short (as quoted() cuts a value).
std::string set_name(const std::string& set) {
  constexpr std::size_t kShown = 60;
  if (set.size() <= kShown) return "--set " + set;
  return fmt::format("--set {}... ({} characters)", set.substr(0, kShown), set.size());
}

// A mapping of its own with `map`'s entries. yaml-cpp's alias is the node it names, shared by
// every key that refers to it: an assignment into the shared node would set them all.
YAML::Node own_map(const YAML::Node& map) {
  YAML::Node own(YAML::NodeType::Map);
  for (const auto& entry : map) own[entry.first] = entry.second;
  return own;
}

// Puts `value` at `key` (a.b.c) in `root`, a mapping of its own (own_map), making each mapping on
// the way its own or new; `name` is the --set's, for errors.
void set_key(YAML::Node& root, const std::string& name, const std::string& key,
             const YAML::Node& value) {
  YAML::Node node = root;
  std::size_t begin = 0;
  for (;;) {
    const auto dot = key.find('.', begin);
    const std::string part = key.substr(begin, dot - begin);
    if (part.empty()) throw ParamError(fmt::format("{}: {}: empty key component", name, key));
    if (!node.IsMap() && !node.IsNull())
      throw ParamError(
          fmt::format("{}: {}: {} is not a mapping", name, key, key.substr(0, begin - 1)));
    if (dot == std::string::npos) {
      node[part] = value;
      return;
    }
    const YAML::Node child = node[part];
    if (child.IsMap())
      node[part] = own_map(child);
    else if (!child.IsDefined() || child.IsNull())
      node[part] = YAML::Node(YAML::NodeType::Map);
    node.reset(node[part]);
    begin = dot + 1;
  }
}

// Sets `value` at `key`, a mapping leaf by leaf: `problem={seq_len: 8}` is `problem.seq_len=8`,
// and leaves the params file's other problem.* keys as they were. Appends the keys set.
void set_leaves(YAML::Node& root, const std::string& name, const std::string& key,
                const YAML::Node& value, std::vector<std::string>& keys) {
  if (value.IsMap() && value.size() == 0)
    throw ParamError(fmt::format(
        "{}: {}: an empty mapping sets nothing, expected a value or keys to set", name, key));
  if (!value.IsMap()) {
    // Its own value's duplicate key (`problem={seq_len: 8, seq_len: 9}`), as in a file.
    if (std::find(keys.begin(), keys.end(), key) != keys.end())
      throw ParamError(fmt::format("{}: {}: duplicate key", name, key));
    set_key(root, name, key, value);
    keys.push_back(key);
    return;
  }
  for (const auto& entry : value) {
    if (!entry.first.IsScalar())
      throw ParamError(fmt::format("{}: {}: expected a key name, got a {}", name, key,
                                   entry.first.IsMap() ? "mapping" : "sequence"));
    set_leaves(root, name, key + "." + entry.first.Scalar(), entry.second, keys);
  }
}

// Whether the tree holds a value anywhere: a scalar, or a null (`seq_len:`), which the reader
// refuses where it is given.
bool has_value(const YAML::Node& node) {
  if (!node.IsMap() && !node.IsSequence()) return true;
  for (const auto& entry : node)
    if (has_value(node.IsMap() ? entry.second : entry)) return true;
  return false;
}

// Applies "a.b.c=value" onto the tree; returns the keys it set.
std::vector<std::string> apply_set(YAML::Node& root, const std::string& set) {
  const std::string name = set_name(set);
  const auto eq = set.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ParamError(fmt::format("{}: expected key.path=value", name));
  const std::string key = set.substr(0, eq);
  if (set.find_first_of(std::string("\n\r\0", 3)) != std::string::npos)
    throw ParamError(fmt::format("{}: {}: expected a value on one line", name, key));
  const std::string text = set.substr(eq + 1);
  YAML::Node value;
  std::optional<TreeProblem> problem;
  try {
    value = YAML::Load(text);
    problem = value_problem(text);  // which parses what follows the value too: `x *undefined`
  } catch (const YAML::Exception& e) {
    throw ParamError(fmt::format("{}: {}: YAML {}", name, key, yaml_problem(e)));
  }
  if (problem)
    throw ParamError(fmt::format("{}: {}{}: {}", name, key,
                                 problem->key == "(top level)" ? "" : "." + problem->key,
                                 problem->what));
  std::vector<std::string> keys;
  set_leaves(root, name, key, value, keys);
  return keys;
}

// Reads a `units` mapping (`prefix` is "units" or "datapaths.NAME.units") whose names must be in
// `allowed`.
void read_units(YamlReader& r, const YAML::Node& n, const std::string& prefix,
                const std::vector<std::string>& allowed,
                const std::function<std::string(const std::string&)>& explain, HardwareKeys& out) {
  r.keys(n, prefix, allowed, explain);
  for (const auto& entry : n) {
    const std::string name = entry.first.Scalar();
    const std::string key = prefix + "." + name;
    r.keys(entry.second, key, {"latency", "ii"});
    HardwareKeys::TimingKeys& t = out.units[name];
    if (entry.second["latency"]) {
      t.latency = r.integer(entry.second["latency"], key + ".latency", 1, 1 << 20);
      // So that every key has an effect: a latency is from issue to result (params.yaml writes
      // the default, 1, which reads back).
      if (*t.latency != 1 && writes_nothing(name))
        r.fail(entry.second["latency"], key + ".latency",
               fmt::format("has no effect: {} writes no result (its ii spaces what it takes): "
                           "expected 1",
                           name));
    }
    if (entry.second["ii"]) t.ii = r.integer(entry.second["ii"], key + ".ii", 1, 1 << 20);
  }
}

// Reads a `channels` mapping (`prefix` is "channels" or "datapaths.NAME.channels").
void read_channels(YamlReader& r, const YAML::Node& n, const std::string& prefix,
                   const std::vector<std::string>& allowed,
                   const std::function<std::string(const std::string&)>& explain,
                   HardwareKeys& out) {
  r.keys(n, prefix, {"default_depth", "depths"});
  if (const YAML::Node d = n["default_depth"])
    out.default_depth = r.integer_or_auto(d, prefix + ".default_depth", kMaxDepth);
  if (const YAML::Node d = n["depths"]) {
    r.keys(d, prefix + ".depths", allowed, explain);
    for (const auto& entry : d) {
      const std::string name = entry.first.Scalar();
      out.depths[name] = r.integer(entry.second, prefix + ".depths." + name, 1, kMaxDepth);
    }
  }
}

// The problem's keys that must agree with each other (docs/params.md).
void check_shape(const Params& p) {
  const AttentionShape s = p.shape();
  auto where = [&](const char* key, const char* other) {
    const std::string at = p.origin(key);
    return at.empty() ? p.origin(other) : at;
  };
  if (s.heads % s.kv_heads != 0)
    YamlReader::fail_at(
        where("problem.kv_heads", "problem.heads"), "problem.kv_heads",
        fmt::format("{} does not divide problem.heads ({}): each K/V head serves the "
                    "same number of query heads",
                    s.kv_heads, s.heads));
  if (s.causal && s.seq_len > s.kv_len)
    YamlReader::fail_at(
        where("problem.seq_len", "problem.causal"), "problem.seq_len",
        fmt::format("{} queries are more than problem.kv_len ({}) keys: a causal mask "
                    "is bottom-right aligned and needs N_q <= N_kv",
                    s.seq_len, s.kv_len));
}

// A shared key that every selected datapath having its unit or channel overrides has no effect.
void refuse_overridden_keys(const Params& p) {
  auto refuse = [&](const std::string& shared_key, const std::vector<std::string>& datapaths,
                    const std::string& local_key) {
    std::vector<std::string> overrides;
    for (const std::string& dp : datapaths)
      overrides.push_back(fmt::format("datapaths.{}.{} ({})", dp, local_key,
                                      p.origin("datapaths." + dp + "." + local_key)));
    YamlReader::fail_at(
        p.origin(shared_key), shared_key,
        fmt::format("has no effect: {} override{} it in every selected datapath "
                    "it applies to (set that key instead, or remove one of them)",
                    fmt::join(overrides, " and "), overrides.size() == 1 ? "s" : ""));
  };
  // The selected datapaths having `name` in `list`, if each of them overrides `local_key`.
  auto all_override = [&](const std::string& name,
                          const std::vector<std::string>& (*list)(const std::string&),
                          const std::function<bool(const HardwareKeys&)>& sets) {
    std::vector<std::string> having;
    for (const std::string& dp : p.datapaths()) {
      if (!contains(list(dp), name)) continue;
      const auto it = p.per_datapath.find(dp);
      if (it == p.per_datapath.end() || !sets(it->second)) return std::vector<std::string>{};
      having.push_back(dp);
    }
    return having;
  };
  // A shared value that is the default anyway (the shipped default.yaml's dot product, `auto`)
  // loses nothing when every datapath overrides it: only a value of the user's own is refused.
  auto default_of = [&](const std::string& unit) -> std::optional<Timing> {
    for (const std::string& dp : p.datapaths())
      if (const auto& t = datapath_parts(dp).default_timings; t.count(unit) != 0) return t.at(unit);
    return std::nullopt;
  };
  for (const auto& entry : p.shared.units) {
    const std::string& unit = entry.first;
    const std::optional<Timing> def = default_of(unit);
    for (auto [field, shared] :
         {std::pair{"latency",
                    entry.second.latency && !(def && *entry.second.latency == def->latency)},
          {"ii", entry.second.ii && !(def && *entry.second.ii == def->ii)}}) {
      if (!shared) continue;
      const std::string f = field;
      const auto dps = all_override(unit, unit_names, [&](const HardwareKeys& k) {
        const auto u = k.units.find(unit);
        return u != k.units.end() && (f == "latency" ? u->second.latency : u->second.ii);
      });
      if (!dps.empty()) refuse("units." + unit + "." + f, dps, "units." + unit + "." + f);
    }
  }
  for (const auto& entry : p.shared.depths) {
    const std::string& channel = entry.first;
    const auto dps = all_override(channel, channel_names, [&](const HardwareKeys& k) {
      return k.depths.count(channel) != 0;
    });
    if (!dps.empty()) refuse("channels.depths." + channel, dps, "channels.depths." + channel);
  }
  if (p.shared.default_depth && *p.shared.default_depth != 0) {  // 0: auto, the default
    std::vector<std::string> dps;
    for (const std::string& dp : p.datapaths()) {
      const auto it = p.per_datapath.find(dp);
      if (it == p.per_datapath.end() || !it->second.default_depth) return;
      dps.push_back(dp);
    }
    refuse("channels.default_depth", dps, "channels.default_depth");
  }
}

// Units, default depth and depths of `datapath`; see Params::config_for.
void resolve(const Params& p, const std::string& datapath, DatapathConfig& c,
             std::map<std::string, std::string>* depth_keys) {
  static const HardwareKeys none;
  const auto found = p.per_datapath.find(datapath);
  const HardwareKeys& own = found != p.per_datapath.end() ? found->second : none;
  const std::string own_prefix = "datapaths." + datapath + ".";
  for (const std::string& unit : unit_names(datapath)) {
    Timing t = datapath_parts(datapath).default_timings.at(unit);
    for (const HardwareKeys* keys : {&p.shared, &own}) {
      const auto k = keys->units.find(unit);
      if (k == keys->units.end()) continue;
      if (k->second.latency) t.latency = *k->second.latency;
      if (k->second.ii) t.ii = *k->second.ii;
    }
    c.timings[unit] = t;
  }
  c.default_depth = own.default_depth.value_or(p.shared.default_depth.value_or(0));
  const std::string default_key =
      own.default_depth ? own_prefix + "channels.default_depth" : "channels.default_depth";
  for (const std::string& ch : channel_names(datapath)) {
    std::string key;
    if (const auto d = own.depths.find(ch); d != own.depths.end()) {
      c.depths[ch] = d->second;
      key = own_prefix + "channels.depths." + ch;
    } else if (const auto s = p.shared.depths.find(ch); s != p.shared.depths.end()) {
      c.depths[ch] = s->second;
      key = "channels.depths." + ch;
    } else if (c.default_depth != 0) {
      key = default_key;
    }
    if (depth_keys != nullptr && !key.empty()) (*depth_keys)[ch] = key;
  }
}

}  // namespace

std::vector<std::string> Params::datapaths() const {
  if (datapath == "all") return datapath_names();
  if (datapath == "both") {
    std::vector<std::string> pair;
    for (const DatapathKind& kind : datapath_kinds())
      if (kind.in_paper) pair.push_back(kind.name);
    return pair;
  }
  return {datapath};
}

std::string Params::origin(const std::string& key) const {
  const auto it = origins.find(key);
  return it == origins.end() ? std::string() : it->second;
}

DatapathConfig Params::config_for(const std::string& dp,
                                  std::map<std::string, std::string>* depth_keys) const {
  DatapathConfig c;
  c.clocking.period = sc_core::sc_time(clock_period_ns, sc_core::SC_NS);
  c.clocking.max_cycles = max_cycles;
  c.memory = memory;
  c.lanes = lanes;
  c.input = input_format;
  c.compute = compute_format;
  resolve(*this, dp, c, depth_keys);
  return c;
}

namespace {

// numerics.input: any format; numerics.compute: the ones units compute in (fp8 is a storage
// format here: nothing computes in it).
std::vector<std::string> compute_format_names() { return {"fp32", "bf16", "fp16"}; }

void read_numerics(const YamlReader& r, const YAML::Node& n, Params& p) {
  r.keys(n, "numerics", {"input", "compute"});
  if (n["input"])
    p.input_format = *parse_format(r.choice(n["input"], "numerics.input", format_names()));
  if (n["compute"])
    p.compute_format =
        *parse_format(r.choice(n["compute"], "numerics.compute", compute_format_names()));
}

void write_numerics(YAML::Emitter& out, const Params& p) {
  out << YAML::Key << "numerics" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "input" << YAML::Value << to_string(p.input_format);
  out << YAML::Key << "compute" << YAML::Value << to_string(p.compute_format);
  out << YAML::EndMap;
}

Params from_tree(YAML::Node root, const std::string& path, const std::vector<std::string>& sets) {
  if (!root.IsMap()) throw ParamError(fmt::format("{}:1:1: expected a mapping of keys", path));
  const bool file_sets_nothing = !has_value(root);
  std::map<std::string, std::string> set_origins;
  if (!sets.empty()) root = own_map(root);
  for (const std::string& set : sets) {
    const std::vector<std::string> keys = apply_set(root, set);
    // A key set twice, or a key and a value above it (`problem.seq_len=8`, then `problem=5`),
    // would leave which value counts to the order: as a duplicate key in a file, refused.
    for (const std::string& key : keys)
      for (const auto& [earlier, origin] : set_origins)
        if (within(key, earlier) || within(earlier, key))
          throw ParamError(fmt::format("{}: {}: also set by {}: give each key once", set_name(set),
                                       key, origin));
    for (const std::string& key : keys) set_origins[key] = set_name(set);
  }
  Params p;
  p.file_sets_nothing = file_sets_nothing;
  YamlReader r(path, set_origins, &p.origins);

  r.keys(root, "",
         {"datapath", "problem", "inputs", "parallel", "numerics", "clock", "memory", "units",
          "channels", "datapaths", "sim", "cost"});
  if (root["datapath"]) p.datapath = r.choice(root["datapath"], "datapath", datapath_choices());

  if (const YAML::Node n = root["problem"]) {
    r.keys(n, "problem",
           {"batch", "heads", "kv_heads", "seq_len", "kv_len", "head_dim", "causal", "seed"});
    if (n["batch"]) p.batch = r.integer(n["batch"], "problem.batch", 1, 1 << 16);
    if (n["heads"]) p.heads = r.integer(n["heads"], "problem.heads", 1, 1 << 16);
    // `auto` (0), as params.yaml writes them when not given: they follow heads and seq_len.
    if (n["kv_heads"]) p.kv_heads = r.integer_or_auto(n["kv_heads"], "problem.kv_heads", 1 << 16);
    if (n["seq_len"]) p.seq_len = r.integer(n["seq_len"], "problem.seq_len", 1, 1 << 20);
    if (n["kv_len"]) p.kv_len = r.integer_or_auto(n["kv_len"], "problem.kv_len", 1 << 20);
    if (n["head_dim"]) p.head_dim = r.integer(n["head_dim"], "problem.head_dim", 1, 1 << 16);
    if (n["causal"]) p.causal = r.boolean(n["causal"], "problem.causal");
    if (n["seed"])
      p.seed = r.integer(n["seed"], "problem.seed", 0, std::numeric_limits<std::uint64_t>::max());
  }
  if (const YAML::Node n = root["inputs"]) {
    r.keys(n, "inputs", {"q", "k", "v"});
    std::vector<std::string> given, missing;
    for (auto [key, dest] : {std::pair{"q", &p.input_q}, {"k", &p.input_k}, {"v", &p.input_v}}) {
      if (n[key]) {  // given empty (`--set inputs.q=`): not a file path, said where it was
        *dest = r.path(n[key], std::string("inputs.") + key);
        given.push_back(key);
      } else {
        missing.push_back(key);
      }
    }
    if (!given.empty() && !missing.empty())
      YamlReader::fail_at(p.origin("inputs." + given[0]), "inputs." + missing[0],
                          fmt::format("missing: inputs.{} is given, and the inputs are all of q, k "
                                      "and v, or none",
                                      given[0]));
  }
  if (const YAML::Node n = root["parallel"]) {
    r.keys(n, "parallel", {"lanes"});
    if (n["lanes"]) p.lanes = r.integer(n["lanes"], "parallel.lanes", 1, 256);
  }
  if (const YAML::Node n = root["numerics"]) read_numerics(r, n, p);
  if (const YAML::Node n = root["clock"]) {
    r.keys(n, "clock", {"period_ns"});
    if (n["period_ns"]) {
      p.clock_period_ns = r.number(n["period_ns"], "clock.period_ns", 1e-3, 1e6);
      // SystemC's time resolution is 1 ps: a fraction of one would be rounded at every cycle.
      // Whole if it is the double nearest a whole number of ps: 0.1 ns, 100.00000000000001 ps
      // multiplied out, is.
      const double ps = p.clock_period_ns * 1e3;
      if (std::round(ps) / 1e3 != p.clock_period_ns)
        r.fail(n["period_ns"], "clock.period_ns",
               fmt::format("expected a whole number of picoseconds (the waveform's resolution, "
                           "1 ps), got {}",
                           p.clock_period_ns));
    }
  }
  if (const YAML::Node n = root["memory"]) {
    r.keys(n, "memory", {"read_latency", "bytes_per_cycle", "ports"});
    if (n["read_latency"])
      p.memory.read_latency = r.integer(n["read_latency"], "memory.read_latency", 1, 1 << 20);
    if (n["bytes_per_cycle"])
      p.memory.bytes_per_cycle =
          r.integer(n["bytes_per_cycle"], "memory.bytes_per_cycle", 1, 1 << 20);
    if (n["ports"])
      p.memory.shared = r.choice(n["ports"], "memory.ports", {"private", "shared"}) == "shared";
  }

  // Shared keys must name a unit or channel of a selected datapath; one datapath's, one of it.
  auto not_selected = [&](const char* kind, const char* section,
                          const std::vector<std::string>& (*list)(const std::string&)) {
    return [=, &p](const std::string& name) -> std::string {
      const std::vector<std::string> in = datapaths_having(name, list);
      if (in.empty()) return {};
      return fmt::format(
          "; {} is a {} of {}, which datapath: {} does not select (select it, or "
          "put the key under datapaths.{}.{})",
          name, kind, fmt::join(in, " and "), p.datapath, in[0], section);
    };
  };
  if (const YAML::Node n = root["units"])
    read_units(r, n, "units", names_over(p.datapaths(), unit_names),
               not_selected("unit", "units", unit_names), p.shared);
  if (const YAML::Node n = root["channels"])
    read_channels(r, n, "channels", names_over(p.datapaths(), channel_names),
                  not_selected("channel", "channels.depths", channel_names), p.shared);
  if (const YAML::Node n = root["datapaths"]) {
    r.keys(n, "datapaths", datapath_names());
    // A datapath that is not selected keeps its section checked but unused, so that one file
    // serves every choice of `datapath`.
    for (const auto& entry : n) {
      const std::string dp = entry.first.Scalar();
      const std::string prefix = "datapaths." + dp;
      r.keys(entry.second, prefix, {"units", "channels"});
      HardwareKeys& keys = p.per_datapath[dp];
      auto elsewhere = [&](const char* kind,
                           const std::vector<std::string>& (*list)(const std::string&)) {
        return [=](const std::string& name) -> std::string {
          const std::vector<std::string> in = datapaths_having(name, list);
          if (in.empty()) return {};
          return fmt::format("; {} is a {} of {}, not of {}", name, kind, fmt::join(in, " and "),
                             dp);
        };
      };
      if (const YAML::Node u = entry.second["units"])
        read_units(r, u, prefix + ".units", unit_names(dp), elsewhere("unit", unit_names), keys);
      if (const YAML::Node c = entry.second["channels"])
        read_channels(r, c, prefix + ".channels", channel_names(dp),
                      elsewhere("channel", channel_names), keys);
    }
  }
  // A file's section of a datapath not selected serves other choices of `datapath`; a --set of
  // one changes nothing in this run.
  for (const auto& [key, origin] : set_origins)
    for (const std::string& dp : datapath_names())
      if (within(key, "datapaths." + dp) && !contains(p.datapaths(), dp))
        YamlReader::fail_at(origin, key,
                            fmt::format("has no effect: datapath: {} does not select {} (select "
                                        "it, or leave the --set out)",
                                        p.datapath, dp));
  // Input files set the shape, and the run checks theirs (problem_shape): the defaults here are
  // not the problem's.
  if (!p.has_inputs()) check_shape(p);
  refuse_overridden_keys(p);

  if (root["cost"]) p.cost = r.path(root["cost"], "cost");

  if (const YAML::Node n = root["sim"]) {
    r.keys(n, "sim", {"mode", "max_cycles"});
    if (n["mode"]) p.mode = r.choice(n["mode"], "sim.mode", {"synchronized", "decoupled"});
    if (const YAML::Node m = n["max_cycles"])
      p.max_cycles =
          r.integer_or_auto(m, "sim.max_cycles", std::numeric_limits<std::int64_t>::max());
  }
  return p;
}

}  // namespace

Params load_params(const std::string& path, const std::vector<std::string>& sets) {
  return from_tree(load_yaml_file(path, "params file"), path, sets);
}

Params load_params_text(const std::string& text, const std::string& name,
                        const std::vector<std::string>& sets) {
  return from_tree(parse_yaml(text, name), name, sets);
}

namespace {

// A unit's timing is written under `units` if every datapath has the unit and it is the same in
// every selected one, otherwise under `datapaths.NAME.units`.
bool shared_unit(const std::string& unit, const std::vector<std::string>& selected,
                 const std::map<std::string, DatapathConfig>& configs) {
  for (const std::string& dp : datapath_names())
    if (!contains(unit_names(dp), unit)) return false;
  for (const std::string& dp : selected)
    if (configs.at(dp).timings.at(unit) != configs.at(selected[0]).timings.at(unit)) return false;
  return true;
}

}  // namespace

std::string yaml_unit_key(const Params& p, const std::string& datapath, const std::string& unit) {
  const std::vector<std::string> selected = p.datapaths();
  std::map<std::string, DatapathConfig> configs;
  for (const std::string& dp : selected) resolve(p, dp, configs[dp], nullptr);
  return shared_unit(unit, selected, configs)
             ? "units." + unit
             : fmt::format("datapaths.{}.units.{}", datapath, unit);
}

std::string to_yaml(const Params& p) {
  const std::vector<std::string> selected = p.datapaths();
  std::map<std::string, DatapathConfig> configs;
  for (const std::string& dp : selected) resolve(p, dp, configs[dp], nullptr);
  auto shared_unit = [&](const std::string& unit) {
    return sdpa::shared_unit(unit, selected, configs);
  };
  auto shared_default_depth = [&] {
    for (const std::string& dp : selected)
      if (configs.at(dp).default_depth != configs.at(selected[0]).default_depth) return false;
    return true;
  };
  auto timing = [](YAML::Emitter& out, const std::string& unit, const Timing& t) {
    out << YAML::Key << unit << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "latency" << YAML::Value << t.latency;
    out << YAML::Key << "ii" << YAML::Value << t.ii << YAML::EndMap;
  };
  auto auto_or = [](YAML::Emitter& out, std::uint64_t v) {
    if (v == 0)
      out << "auto";
    else
      out << v;
  };

  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "datapath" << YAML::Value << p.datapath;
  out << YAML::Key << "problem" << YAML::Value << YAML::BeginMap;
  const AttentionShape shape = p.shape();
  out << YAML::Key << "batch" << YAML::Value << shape.batch;
  out << YAML::Key << "heads" << YAML::Value << shape.heads;
  // Not given: `auto`, so that the file passed back with another heads or seq_len follows it, as
  // the defaults do, instead of keeping this run's value.
  out << YAML::Key << "kv_heads" << YAML::Value;
  auto_or(out, p.kv_heads);
  out << YAML::Key << "seq_len" << YAML::Value << shape.seq_len;
  out << YAML::Key << "kv_len" << YAML::Value;
  auto_or(out, p.kv_len);
  out << YAML::Key << "head_dim" << YAML::Value << shape.head_dim;
  out << YAML::Key << "causal" << YAML::Value << shape.causal;
  out << YAML::Key << "seed" << YAML::Value << p.seed;
  out << YAML::EndMap;
  if (p.has_inputs()) {
    out << YAML::Key << "inputs" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "q" << YAML::Value << fs::absolute(p.input_q).string();
    out << YAML::Key << "k" << YAML::Value << fs::absolute(p.input_k).string();
    out << YAML::Key << "v" << YAML::Value << fs::absolute(p.input_v).string();
    out << YAML::EndMap;
  }
  out << YAML::Key << "parallel" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "lanes" << YAML::Value << p.lanes << YAML::EndMap;
  write_numerics(out, p);
  out << YAML::Key << "clock" << YAML::Value << YAML::BeginMap;
  // The shortest text that reads back as the same double: 0.1, not 0.10000000000000001.
  out << YAML::Key << "period_ns" << YAML::Value << fmt::format("{}", p.clock_period_ns)
      << YAML::EndMap;
  out << YAML::Key << "memory" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "read_latency" << YAML::Value << p.memory.read_latency;
  out << YAML::Key << "bytes_per_cycle" << YAML::Value << p.memory.bytes_per_cycle;
  out << YAML::Key << "ports" << YAML::Value << (p.memory.shared ? "shared" : "private");
  out << YAML::EndMap;
  out << YAML::Key << "units" << YAML::Value << YAML::BeginMap;
  for (const std::string& unit : names_over(selected, unit_names))
    if (shared_unit(unit)) timing(out, unit, configs.at(selected[0]).timings.at(unit));
  out << YAML::EndMap;
  out << YAML::Key << "channels" << YAML::Value << YAML::BeginMap;
  if (shared_default_depth()) {
    out << YAML::Key << "default_depth" << YAML::Value;
    auto_or(out, configs.at(selected[0]).default_depth);
  }
  out << YAML::Key << "depths" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::Key << "datapaths" << YAML::Value << YAML::BeginMap;
  for (const std::string& dp : selected) {
    const DatapathConfig& c = configs.at(dp);
    out << YAML::Key << dp << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "units" << YAML::Value << YAML::BeginMap;
    for (const std::string& unit : unit_names(dp))
      if (!shared_unit(unit)) timing(out, unit, c.timings.at(unit));
    out << YAML::EndMap;
    out << YAML::Key << "channels" << YAML::Value << YAML::BeginMap;
    if (!shared_default_depth()) {
      out << YAML::Key << "default_depth" << YAML::Value;
      auto_or(out, c.default_depth);
    }
    out << YAML::Key << "depths" << YAML::Value;
    if (c.depths.empty()) out << YAML::Flow;
    out << YAML::BeginMap;
    for (const std::string& ch : channel_names(dp))
      if (const auto it = c.depths.find(ch); it != c.depths.end())
        out << YAML::Key << ch << YAML::Value << it->second;
    out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::Key << "sim" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "mode" << YAML::Value << p.mode;
  out << YAML::Key << "max_cycles" << YAML::Value;
  auto_or(out, p.max_cycles);
  out << YAML::EndMap;
  if (!p.cost.empty()) out << YAML::Key << "cost" << YAML::Value << fs::absolute(p.cost).string();
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace sdpa
