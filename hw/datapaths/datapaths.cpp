#include "hw/datapaths/datapaths.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

namespace sdpa {

// A datapath is its file under hw/datapaths/ and one line here.
Out<Row>& build_naive(AttentionDatapath& dp);
Out<Row>& build_two_pass(AttentionDatapath& dp);
Out<Row>& build_reordered(AttentionDatapath& dp);

const std::vector<DatapathKind>& valid_names(const std::vector<DatapathKind>& kinds) {
  std::set<std::string> names{"both", "all"};
  for (const DatapathKind& kind : kinds) {
    // The name becomes a SystemC module's (which renames what has other characters), a params
    // key and file names.
    const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };  // whatever the locale
    const bool word = !kind.name.empty() && lower(kind.name.front()) &&
                      std::all_of(kind.name.begin(), kind.name.end(), [&](char c) {
                        return lower(c) || (c >= '0' && c <= '9') || c == '_';
                      });
    if (!word)
      throw std::logic_error("datapath '" + kind.name +
                             "': a name is a lower-case letter, then lower-case letters, digits "
                             "and _ (hw/datapaths/datapaths.cpp)");
    if (!names.insert(kind.name).second)
      throw std::logic_error("datapath " + kind.name +
                             " is registered twice, or is both or all: give each a name of its "
                             "own (hw/datapaths/datapaths.cpp)");
  }
  return kinds;
}

const std::vector<DatapathKind>& datapath_kinds() {
  static const std::vector<DatapathKind> kinds = valid_names({
      {.name = "naive",
       .summary =
           "three passes: row max, exp and row sum, divide and weighted sum; two O(N) bypasses",
       .build = build_naive,
       .in_paper = true,
       .normalised_rows = true},
      {.name = "two_pass",
       .summary = "two passes: online max and sum, then normalise and weighted sum; one bypass",
       .build = build_two_pass,
       .normalised_rows = true},
      {.name = "reordered",
       .summary = "one pass: running max, rescaled sum and accumulator (online softmax); O(1)",
       .build = build_reordered,
       .in_paper = true},
  });
  return kinds;
}

const DatapathKind* find_datapath(const std::string& name) {
  for (const DatapathKind& kind : datapath_kinds())
    if (kind.name == name) return &kind;
  return nullptr;
}

}  // namespace sdpa
