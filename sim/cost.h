// Energy and area, Accelergy-style: a run's action counts (unit arithmetic, channel writes and
// reads, memory bytes) times a technology's cost table (params/cost/*.yaml, docs/cost.md).
#pragma once

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hw/actions.h"
#include "sim/result.h"

namespace sdpa {

// One storage size class: a channel is built as the smallest class that holds its capacity.
struct StorageClass {
  std::string name;
  std::uint64_t max_bytes = 0;
  double read_pj_per_byte = 0, write_pj_per_byte = 0, area_um2_per_byte = 0;
};

struct OperatorCost {
  double energy_pj = 0;  // per operation
  double area_um2 = 0;   // per operator instance
};

struct CostTable {
  std::string source;      // the file, or "… (built in)"
  std::string sha256;      // of the file's text, as sha256sum gives it
  std::string technology;  // the file's own description
  // Per number format (fp32, fp16, …), per Op kind.
  std::map<std::string, std::array<OperatorCost, kOpKinds>> arithmetic;
  std::vector<StorageClass> storage;  // ascending max_bytes
  double memory_read_pj_per_byte = 0, memory_write_pj_per_byte = 0;

  // The class a channel of `bytes` is built as: the smallest that holds it, else the largest.
  const StorageClass& storage_for(std::uint64_t bytes) const;
};

// A bad cost file is a bad parameter (exit 2): ParamError naming FILE:LINE:COLUMN and the key.
// The file is read once: the table's digest is of the text it was parsed from.
CostTable load_cost_table(const std::string& path);
// The same from text (the built-in default); `name` stands for the file in messages.
CostTable load_cost_table_text(const std::string& text, const std::string& name);

// The number format the units compute in (numerics.compute), and the bytes of one element on a
// channel: d scalars of its format's bytes (a stream buffer's are the input format's).
inline const char* arithmetic_format(const DatapathResult& r) { return to_string(r.compute); }
inline std::uint64_t element_bytes(const ChannelStats& c) { return c.width * c.element_bytes; }

// The cost table's arithmetic entry for an operation format (hw/actions.h) in a run with these
// input and compute formats: fp32, the compute format, the input format or the wider of the two;
// both fp8 encodings are the table's `fp8`.
std::string table_format(OpFormat f, Format input, Format compute);

struct CostReport {
  std::string format;
  OpCounts ops;  // every unit's
  // The arithmetic's energy, pJ, per table format (a multiply-add's adder under fp32).
  std::map<std::string, double> compute_pj_by_format;
  std::uint64_t channel_bytes_written = 0, channel_bytes_read = 0;
  std::uint64_t memory_bytes_read = 0, memory_bytes_written = 0;
  // Energy, pJ: arithmetic; channel writes and reads (intermediate channels, Q/K/V stream
  // buffers); memory reads and writes.
  double compute_pj = 0, intermediate_pj = 0, streams_pj = 0, memory_pj = 0;
  // Area, µm²: arithmetic operators; channel storage at its capacity.
  double compute_um2 = 0, intermediate_um2 = 0, streams_um2 = 0;
  std::uint64_t scores = 0;

  double buffering_pj() const { return intermediate_pj + streams_pj; }
  double total_pj() const { return compute_pj + buffering_pj() + memory_pj; }
  double per_score_pj() const { return scores == 0 ? 0.0 : total_pj() / double(scores); }
  double buffering_um2() const { return intermediate_um2 + streams_um2; }
  double total_um2() const { return compute_um2 + buffering_um2(); }
};

// Throws ParamError, naming the file and arithmetic.FORMAT, if the table lacks an entry the
// units' arithmetic needs with these formats: fp32 (the accumulators), the compute and the input
// format's.
void require_arithmetic(const CostTable& table, Format input, Format compute);

// Throws ParamError as require_arithmetic does.
CostReport cost_of(const DatapathResult& r, const CostTable& table);

// report.json's `actions` of a run (no table needed), and its `energy` and `area`.
nlohmann::json actions_json(const DatapathResult& r);
nlohmann::json energy_json(const DatapathResult& r, const CostTable& table);
nlohmann::json area_json(const DatapathResult& r, const CostTable& table);

}  // namespace sdpa
