// The registered SDPA datapaths: each is a function building its graph (hw/datapaths/<name>.cpp).
#pragma once

#include <string>
#include <vector>

#include "hw/attention.h"

namespace sdpa {

struct DatapathKind {
  std::string name;
  std::string summary;  // one line: what it computes and what it costs
  AttentionDatapath::Build build;
  bool in_paper = false;  // one of the paper's pair, which `datapath: both` runs
  // Its rows are V's weighted by probabilities (each exponential divided by its row's sum first),
  // at most max|v|. Otherwise, and by default, judged as the larger values: V's rows weighted by
  // the exponentials themselves, up to N·max|v|, divided only at the end (the online softmax's
  // accumulator). Which values can overflow (docs/numerics.md, "Overflow").
  bool normalised_rows = false;
};

// In the order `datapath: all` runs them.
const std::vector<DatapathKind>& datapath_kinds();
// `kinds`, if each has a name of its own, of lower-case letters, digits and _ from a letter on,
// that is neither `both` nor `all` (the choices of several datapaths, which it would shadow);
// else a std::logic_error naming it.
const std::vector<DatapathKind>& valid_names(const std::vector<DatapathKind>& kinds);
// The kind named `name`, or nullptr.
const DatapathKind* find_datapath(const std::string& name);

}  // namespace sdpa
