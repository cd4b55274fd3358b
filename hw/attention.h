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

// The problem: `batch` sequences of `heads` query heads, each of `seq_len` queries (N_q) over
// `kv_len` keys (N_kv) of width `head_dim`; `kv_heads` K/V heads, each shared by
// heads / kv_heads query heads (GQA; MQA with one), query head h reading K/V head
// h / (heads / kv_heads). Causal: query i sees keys j ≤ i + N_kv − N_q (bottom-right aligned,
// N_q ≤ N_kv), and its masked scores are not computed.
struct AttentionShape {
  std::size_t batch = 1;
  std::size_t heads = 1;
  std::size_t kv_heads = 1;
  std::size_t seq_len = 0;
  std::size_t kv_len = 0;
  std::size_t head_dim = 0;
  bool causal = false;

  // H heads of N queries and keys each, one sequence, no mask.
  static AttentionShape square(std::size_t heads, std::size_t n, std::size_t d) {
    return {1, heads, heads, n, n, d, false};
  }
  std::size_t group() const { return heads / kv_heads; }
  // Output rows: one per query of every batch and head.
  std::size_t rows() const { return batch * heads * seq_len; }
  // One row per output row, of the keys each query sees.
  RowShape score_rows() const { return {rows(), kv_len, causal ? seq_len : 0}; }
  std::uint64_t scores() const { return score_rows().elements(); }
  // Scores a full (unmasked) attention would compute beyond these.
  std::uint64_t scores_skipped() const { return std::uint64_t(rows()) * kv_len - scores(); }
  std::uint64_t q_elements() const { return std::uint64_t(rows()) * head_dim; }
  std::uint64_t kv_elements() const { return std::uint64_t(batch) * kv_heads * kv_len * head_dim; }
};

// Q as row-major [batch, heads, seq_len, head_dim], K and V as [batch, kv_heads, kv_len,
// head_dim], fp32.
struct AttentionInputs {
  AttentionShape shape;
  std::vector<float> q, k, v;
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
  RowShape per_score() const { return shape_.score_rows(); }
  RowShape per_row() const { return {shape_.rows(), 1}; }
  // The longest row of scores: what a bypass around a row reduction must hold.
  std::size_t longest_row() const { return shape_.kv_len; }
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
