// The registered SDPA datapaths: each is a function building its graph (hw/datapaths/<name>.cpp).
#pragma once

#include <string>
#include <vector>

#include "hw/attention.h"

namespace sdpa {

// Which of the larger values a datapath's channels carry in the compute format, beyond the scores
// (max|s|), weights (at most 1), sums (up to N) and output rows (max|v|) of every datapath: which
// can overflow (docs/numerics.md, "Overflow"). By default both, so that a new datapath is judged
// conservatively.
struct ValueRanges {
  // Score differences s − max, up to 2·max|s|; otherwise subtracted in fp32 inside the units that
  // take their exponentials.
  bool score_differences = true;
  // V's rows weighted by the exponentials themselves, up to N·max|v| (and in fp32 accumulators),
  // divided only at the end (the online softmax); otherwise weighted by probabilities, each
  // exponential divided by its row's sum first, so at most max|v|.
  bool unnormalised_rows = true;
};

struct DatapathKind {
  std::string name;
  std::string summary;  // one line: what it computes and what it costs
  AttentionDatapath::Build build;
  bool in_paper = false;  // one of the paper's pair, which `datapath: both` runs
  ValueRanges values{};   // how large its values can get, for the overflow check
};

// In the order `datapath: all` runs them.
const std::vector<DatapathKind>& datapath_kinds();
// `kinds`, if each has a name of its own that is neither `both` nor `all` (the choices of several
// datapaths, which it would shadow); else a std::logic_error naming it.
const std::vector<DatapathKind>& unique_names(const std::vector<DatapathKind>& kinds);
// The kind named `name`, or nullptr.
const DatapathKind* find_datapath(const std::string& name);

}  // namespace sdpa
