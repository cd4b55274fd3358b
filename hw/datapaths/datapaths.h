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
  // Its output rows are sums of V rows weighted by unnormalised exponentials, up to N·max|v| on a
  // channel, divided only at the end (the online softmax's accumulator); otherwise its rows are
  // normalised, at most max|v| and their roundings: what can overflow (docs/numerics.md).
  bool unnormalised_rows = false;
};

// In the order `datapath: all` runs them.
const std::vector<DatapathKind>& datapath_kinds();
// `kinds`, if each has a name of its own that is neither `both` nor `all` (the choices of several
// datapaths, which it would shadow); else a std::logic_error naming it.
const std::vector<DatapathKind>& unique_names(const std::vector<DatapathKind>& kinds);
// The kind named `name`, or nullptr.
const DatapathKind* find_datapath(const std::string& name);

}  // namespace sdpa
