// Reading a user's YAML file with one-line errors (docs/errors.md): each names the file, line
// and column of the node (or the --set that put it there), the key, and what was expected. The
// params file and the cost file are both read with it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/param_error.h"

namespace sdpa {

// YAML text as a tree, an empty document as an empty mapping; a syntax error is a ParamError
// at its line and column of `name`.
YAML::Node parse_yaml(const std::string& text, const std::string& name);

// An alias a reader of the tree could not walk: one inside the node it names (yaml-cpp makes
// that a cycle), or more than a million nodes with aliases expanded (a "billion laughs"); or a
// scalar holding a NUL (an escape), or, in a --set's value, more after the value.
struct TreeProblem {
  YAML::Mark mark;
  std::string key;  // the keys of the mappings it is in: `units.exp`
  std::string what;
};
// The first in a YAML text that yaml-cpp parses as one value (a --set's), or none.
std::optional<TreeProblem> value_problem(const std::string& text);

// What a yaml-cpp exception means, after "YAML ": "syntax error: ..." or "nested deeper ...".
std::string yaml_problem(const YAML::Exception& e);

// The text of the YAML file `path` (a `what`: "params file", "cost file"): a folder, an
// unreadable file, a read error or more than 16 MiB (/dev/zero, an endless pipe) is a ParamError
// naming it.
std::string read_yaml_file(const std::string& path, const std::string& what);
// The same file as a tree.
YAML::Node load_yaml_file(const std::string& path, const std::string& what);

class YamlReader {
 public:
  // `set_origins` maps each key a --set replaced to that --set, which errors name instead of the
  // file; `origins`, if given, records where each value read came from.
  explicit YamlReader(std::string file, std::map<std::string, std::string> set_origins = {},
                      std::map<std::string, std::string>* origins = nullptr);

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key,
                         const std::string& what) const;
  [[noreturn]] static void fail_at(const std::string& where, const std::string& key,
                                   const std::string& what);
  // The --set that replaced `key` or a mapping above it, or made the mapping `key`, or the
  // node's place in the file.
  std::string where(const YAML::Node& node, const std::string& key) const;

  // `node` is a mapping whose keys are each in `allowed` and appear once; `explain` adds to the
  // message for an unknown name.
  void keys(const YAML::Node& node, const std::string& key, const std::vector<std::string>& allowed,
            const std::function<std::string(const std::string&)>& explain = {}) const;
  // The mapping `node` has every key of `required`.
  void require(const YAML::Node& node, const std::string& key,
               const std::vector<std::string>& required) const;

  std::uint64_t integer(const YAML::Node& node, const std::string& key, std::uint64_t min,
                        std::uint64_t max) const;
  // A finite number in [min, max]; max infinite: no upper bound.
  double number(const YAML::Node& node, const std::string& key, double min, double max) const;
  bool boolean(const YAML::Node& node, const std::string& key) const;
  std::string choice(const YAML::Node& node, const std::string& key,
                     const std::vector<std::string>& allowed) const;
  // A depth or a watchdog limit: `auto` (0) or an integer in [1, max].
  std::uint64_t integer_or_auto(const YAML::Node& node, const std::string& key,
                                std::uint64_t max) const;
  // A file path; one written in the file is relative to the file's folder, one from a --set to
  // the working folder.
  std::string path(const YAML::Node& node, const std::string& key) const;
  // Any non-empty text.
  std::string text(const YAML::Node& node, const std::string& key) const;

 private:
  // An integer in [min, max]; `expected` is the error's "expected ..." (which names `auto` where
  // it is allowed).
  std::uint64_t integer(const YAML::Node& node, const std::string& key, std::uint64_t min,
                        std::uint64_t max, const std::string& expected) const;
  void note(const YAML::Node& node, const std::string& key) const;

  std::string file_;
  std::map<std::string, std::string> set_origins_;
  std::map<std::string, std::string>* origins_;
  // Where each key given no value is, as keys() meets them.
  mutable std::map<std::string, YAML::Mark> null_value_keys_;
};

}  // namespace sdpa
