// Simulator parameters: loaded from YAML plus --set overrides, validated, defaults filled in.
// docs/params.md documents every key.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "hw/attention_datapath.h"

namespace sdpa {

// A bad parameter: the message names the file:line:column (or the --set), the key, and what
// was expected.
class ParamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Params {
  std::string datapath = "both";  // naive | reordered | both
  std::size_t seq_len = 1024;
  std::size_t head_dim = 64;
  std::size_t heads = 1;
  std::uint64_t seed = 1;
  std::string input_q, input_k, input_v;  // .npy paths; empty: random data from the seed
  double clock_period_ns = 1.0;
  MemoryTiming memory;
  std::map<std::string, Timing> units;  // every configurable unit, defaults filled in
  std::size_t default_depth = 0;        // 0: automatic (docs/timing.md)
  std::map<std::string, std::size_t> depths;
  std::string mode;  // synchronized | decoupled; empty: decoupled, or synchronized with --vcd
  std::uint64_t max_cycles = 0;  // watchdog; 0: auto, above any run that completes

  std::vector<std::string> datapaths() const;
  bool has_inputs() const { return !input_q.empty(); }
};

// Every configurable unit name with its default timing.
const std::map<std::string, Timing>& default_unit_timings();

// `sets` are "key.path=value" strings; a value is parsed as YAML (so 16 is a number).
// A relative input path resolves against the file's folder (or the working folder for --set).
Params load_params(const std::string& path, const std::vector<std::string>& sets);

// The same for parameters given as text (the built-in defaults); `name` stands for the file in
// messages.
Params load_params_text(const std::string& text, const std::string& name,
                        const std::vector<std::string>& sets);

// The effective parameters as YAML, in the input format.
std::string to_yaml(const Params& params);

}  // namespace sdpa
