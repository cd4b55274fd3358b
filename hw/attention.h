// What every SDPA datapath shares: the memory holding Q, K and V, the three stream readers, the
// scaled dot product and the sink. A datapath is a function that builds the rest of the graph
// from the scores and V rows to the output rows (hw/datapaths/).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hw/graph.h"
#include "hw/memory.h"
#include "hw/units/map.h"
#include "hw/units/sink.h"
#include "hw/units/stream_reader.h"

namespace sdpa {

// The problem: `heads` heads of N queries and N keys of width d.
struct AttentionShape {
  std::size_t heads = 1;
  std::size_t seq_len = 0;
  std::size_t head_dim = 0;
  std::uint64_t scores() const { return std::uint64_t(heads) * seq_len * seq_len; }
  std::size_t rows() const { return heads * seq_len; }
  std::uint64_t matrix_elements() const { return std::uint64_t(heads) * seq_len * head_dim; }
};

// Q, K, V as row-major [heads, seq_len, head_dim] fp32 arrays.
struct AttentionInputs {
  std::size_t heads = 1;
  std::size_t seq_len = 0;
  std::size_t head_dim = 0;
  std::vector<float> q, k, v;
  AttentionShape shape() const { return {heads, seq_len, head_dim}; }
};

// Q, K and V one after the other, as the memory holds them.
std::vector<std::uint8_t> memory_image(const AttentionInputs& inputs);

struct DatapathConfig : GraphConfig {
  MemoryTiming memory;
};

class AttentionDatapath : public Graph {
 public:
  // Builds a datapath's own units and channels on `dp` and returns the port of its output rows.
  using Build = Out<Row>& (*)(AttentionDatapath& dp);

  AttentionDatapath(const sc_core::sc_module_name& name, const DatapathConfig& config,
                    const AttentionShape& shape, Build build);

  // For the build function: the problem, the shape of a unit firing once per score or once per
  // output row, the scaled dot product's scores, and the V row of each score, in score order.
  const AttentionShape& shape() const { return shape_; }
  const MemoryTiming& memory_timing() const { return memory_timing_; }
  RowShape per_score() const { return {shape_.rows(), shape_.seq_len}; }
  RowShape per_row() const { return {shape_.rows(), 1}; }
  const Unit& dot_product() const { return dot_product_; }
  Out<float>& scores() { return dot_product_.out; }
  Out<RowView>& v_rows() { return v_reader_.rows; }

  // Before the simulation: Q, K and V (the same image may serve several datapaths).
  void load(std::shared_ptr<const std::vector<std::uint8_t>> image) { memory_.load(image); }
  const Sink& sink() const { return *sink_; }
  // A stream buffer filled from memory rather than an intermediate result.
  bool is_input_stream(const Edge& edge) const;

 private:
  const AttentionShape shape_;
  const MemoryTiming memory_timing_;
  Memory memory_;
  StreamReader& q_reader_;
  StreamReader& k_reader_;
  StreamReader& v_reader_;
  DotProduct& dot_product_;
  Sink* sink_ = nullptr;
};

}  // namespace sdpa
