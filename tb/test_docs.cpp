// The docs' tables of units and channels are the registered graphs': a unit or channel added,
// renamed or moved to another datapath, or a default latency changed, fails here until
// docs/params.md and docs/cost.md say so (docs/extending.md).
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/simulation.h"
#include "tb/harness.h"

namespace sdpa::test {
namespace {

// A markdown table's rows, cells trimmed: the one whose header row starts with `| header |`.
std::vector<std::vector<std::string>> table(const std::string& doc, const std::string& header) {
  std::ifstream in(std::string(SDPA_SOURCE_DIR) + "/" + doc);
  EXPECT_TRUE(in) << doc;
  std::vector<std::vector<std::string>> rows;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside) {
      inside = line.starts_with("| " + header + " |");
      continue;
    }
    if (!line.starts_with("|")) break;
    if (line.starts_with("|---")) continue;
    std::vector<std::string> cells;
    std::istringstream cols(line.substr(1));
    for (std::string cell; std::getline(cols, cell, '|');) {
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      cells.push_back(cell);
    }
    rows.push_back(cells);
  }
  EXPECT_FALSE(rows.empty()) << doc << ": no table headed " << header;
  return rows;
}

// The `quoted` names of a cell.
std::vector<std::string> names(const std::string& cell) {
  std::vector<std::string> out;
  for (std::size_t at = cell.find('`'); at != std::string::npos;) {
    const std::size_t end = cell.find('`', at + 1);
    out.push_back(cell.substr(at + 1, end - at - 1));
    at = end == std::string::npos ? end : cell.find('`', end + 1);
  }
  return out;
}

// The datapaths a table row names: `all`, or a list.
std::set<std::string> datapaths(const std::string& cell) {
  if (cell == "all") {
    const std::vector<std::string> all = datapath_names();
    return {all.begin(), all.end()};
  }
  std::set<std::string> out;
  std::istringstream list(cell);
  for (std::string dp; std::getline(list >> std::ws, dp, ',');) out.insert(dp);
  return out;
}

// Which registered datapaths have each name, from `parts` (units or channels).
template <class Parts>
std::map<std::string, std::set<std::string>> owners(Parts parts) {
  std::map<std::string, std::set<std::string>> out;
  for (const std::string& dp : datapath_names())
    for (const std::string& name : parts(dp)) out[name].insert(dp);
  return out;
}

TEST(Docs, ParamsUnitTableIsTheGraphsUnitsWithTheirDefaultLatencies) {
  const auto units = owners([](const std::string& dp) { return unit_names(dp); });
  std::set<std::string> listed;
  for (const auto& row : table("docs/params.md", "unit | datapath | computes | latency")) {
    ASSERT_EQ(row.size(), 4u);
    for (const std::string& unit : names(row[0])) {
      EXPECT_TRUE(listed.insert(unit).second) << unit << " listed twice";
      ASSERT_TRUE(units.contains(unit))
          << "docs/params.md lists " << unit << ", no datapath has it";
      EXPECT_EQ(datapaths(row[1]), units.at(unit)) << unit << ": " << row[1];
      for (const std::string& dp : units.at(unit)) {
        const Timing t = datapath_parts(dp).default_timings.at(unit);
        EXPECT_EQ(std::stoul(row[3]), t.latency) << unit << " in " << dp;
        EXPECT_EQ(t.ii, 1u) << unit << ": docs/params.md says every unit's ii defaults to 1";
      }
    }
  }
  for (const auto& [unit, dps] : units)
    EXPECT_TRUE(listed.contains(unit)) << "docs/params.md does not list unit " << unit;
}

TEST(Docs, ParamsChannelTableIsTheGraphsChannels) {
  const auto channels = owners([](const std::string& dp) { return channel_names(dp); });
  std::set<std::string> listed;
  for (const auto& row : table("docs/params.md", "channel | datapath | from → to | width")) {
    ASSERT_EQ(row.size(), 4u);
    for (const std::string& channel : names(row[0])) {
      EXPECT_TRUE(listed.insert(channel).second) << channel << " listed twice";
      ASSERT_TRUE(channels.contains(channel))
          << "docs/params.md lists " << channel << ", no datapath has it";
      EXPECT_EQ(datapaths(row[1]), channels.at(channel)) << channel << ": " << row[1];
    }
  }
  for (const auto& [channel, dps] : channels)
    EXPECT_TRUE(listed.contains(channel)) << "docs/params.md does not list channel " << channel;
}

// Every unit is costed in docs/cost.md's table: by name, or as one of the "stream readers" (the
// `*_reader` units) and "sink" of the row that has no names.
TEST(Docs, CostTableHasEveryUnit) {
  const auto units = owners([](const std::string& dp) { return unit_names(dp); });
  std::set<std::string> listed;
  for (const auto& row : table("docs/cost.md", "unit | one firing | note")) {
    ASSERT_EQ(row.size(), 3u);
    std::vector<std::string> named = names(row[0]);
    if (named.empty()) {
      EXPECT_EQ(row[0], "stream readers, sink");
      for (const auto& [unit, dps] : units)
        if (unit.ends_with("_reader") || unit == "sink") named.push_back(unit);
    }
    for (const std::string& unit : named) {
      EXPECT_TRUE(listed.insert(unit).second) << unit << " listed twice";
      EXPECT_TRUE(units.contains(unit)) << "docs/cost.md lists " << unit << ", no datapath has it";
    }
  }
  for (const auto& [unit, dps] : units)
    EXPECT_TRUE(listed.contains(unit)) << "docs/cost.md does not list unit " << unit;
}

}  // namespace
}  // namespace sdpa::test
