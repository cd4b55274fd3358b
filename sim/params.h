// Simulator parameters: loaded from YAML plus --set overrides, validated, defaults filled in.
// docs/params.md documents every key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hw/attention.h"
#include "sim/param_error.h"

namespace sdpa {

// The deepest channel a run accepts (`channels.*`): a billion elements, more than any run needs.
inline constexpr std::size_t kMaxDepth = std::size_t{1} << 30;

// Unit timings and channel depths as given, either shared (`units.*`, `channels.*`: every
// selected datapath that has the unit or channel) or for one datapath (`datapaths.NAME.units.*`,
// `datapaths.NAME.channels.*`). What is left unset falls through: one datapath's keys, then the
// shared ones, then the defaults (Params::config_for).
struct HardwareKeys {
  struct TimingKeys {
    std::optional<unsigned> latency, ii;
  };
  std::map<std::string, TimingKeys> units;
  std::optional<std::size_t> default_depth;  // 0: auto
  std::map<std::string, std::size_t> depths;
};

struct Params {
  std::string datapath = "both";  // a registered datapath's name, both (naive, reordered) or all
  std::size_t batch = 1;
  std::size_t heads = 1;
  std::size_t kv_heads = 0;  // 0: heads
  std::size_t seq_len = 1024;
  std::size_t kv_len = 0;  // 0: seq_len
  std::size_t head_dim = 64;
  bool causal = false;
  std::uint64_t seed = 1;
  std::string input_q, input_k, input_v;  // .npy paths; empty: random data from the seed
  std::size_t lanes = 1;                  // parallel.lanes
  Format input_format = Format::fp32;     // numerics.input: Q, K, V in memory
  Format compute_format = Format::fp32;   // numerics.compute: the units' results, the channels
  double clock_period_ns = 1.0;
  MemoryTiming memory;
  HardwareKeys shared;
  std::map<std::string, HardwareKeys> per_datapath;  // by datapath name
  // synchronized | decoupled; empty: decoupled, or synchronized with --vcd or --fst
  std::string mode;
  std::uint64_t max_cycles = 0;  // watchdog; 0: auto, above any run that completes
  std::string cost;  // the cost table (sim/cost.h); empty: params/cost/horowitz-45nm.yaml, built in
  // Where each key that was given came from: "FILE:LINE:COLUMN" or "--set key=value".
  std::map<std::string, std::string> origins;
  // The file itself (empty, comments only, empty mappings) gives no value, --set aside.
  bool file_sets_nothing = false;

  std::vector<std::string> datapaths() const;
  // The problem, kv_heads and kv_len defaulting to heads and seq_len.
  AttentionShape shape() const {
    return {
        batch,    heads, kv_heads == 0 ? heads : kv_heads, seq_len, kv_len == 0 ? seq_len : kv_len,
        head_dim, causal};
  }
  bool has_inputs() const { return !input_q.empty(); }
  // Where `key` was given, or empty if it takes its default.
  std::string origin(const std::string& key) const;

  // The one place where a datapath's hardware parameters are resolved: every unit of `datapath`
  // with its timing (default, then `units.U`, then `datapaths.NAME.units.U`, field by field),
  // its channel depths (`datapaths.NAME.channels.depths.C`, then `channels.depths.C`; channels
  // listed in neither take `default_depth`, per datapath then shared, then auto), the memory,
  // the clock period and the watchdog. The caller sets the mode and the trace. `depth_keys`, if
  // given, receives for each channel whose depth a key sets that key's full name.
  DatapathConfig config_for(const std::string& datapath,
                            std::map<std::string, std::string>* depth_keys = nullptr) const;
};

// `sets` are "key.path=value" strings; a value is parsed as YAML (so 16 is a number).
// A relative input path resolves against the file's folder (or the working folder for --set).
Params load_params(const std::string& path, const std::vector<std::string>& sets);

// The same for parameters given as text (the built-in defaults); `name` stands for the file in
// messages.
Params load_params_text(const std::string& text, const std::string& name,
                        const std::vector<std::string>& sets);

// The effective parameters as YAML, in the input format, for the selected datapaths: a unit every
// datapath has (the stream readers, dot_product, the sink) goes under `units` if its timing is the
// same in every selected datapath,
// every other unit and every channel depth under `datapaths.NAME`; so the file can be passed
// back in with any choice of `datapath`, and no key in it is overridden by another.
std::string to_yaml(const Params& params);

// The key of `unit`'s timing in `datapath` in to_yaml(params): `units.U` or
// `datapaths.NAME.units.U`.
std::string yaml_unit_key(const Params& params, const std::string& datapath,
                          const std::string& unit);

}  // namespace sdpa
