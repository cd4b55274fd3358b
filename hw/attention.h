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
#include "hw/shared_link.h"
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
  // The keys query i of a head sees.
  std::size_t keys(std::size_t i) const { return causal ? i + kv_len - seq_len + 1 : kv_len; }
  // The query rows of a K/V head's group, which the lanes share out: its g query heads' N_q
  // queries each. Lanes take them position by position across the heads, so that a run of them
  // shares each K/V row among the heads and, under a causal mask, sees no fewer keys than the
  // run before; one lane takes them head after head, the paper's order (with no run to share a
  // row, interleaving the heads would only hold more short rows at a causal group's start).
  std::size_t group_queries() const { return group() * seq_len; }
  bool interleaved(std::size_t lanes) const { return lanes > 1 && group() > 1; }
  // Query row q of a group: its query head in the group, and its query.
  std::size_t head_of(std::size_t q, std::size_t lanes) const {
    return interleaved(lanes) ? q % group() : q / seq_len;
  }
  std::size_t query_of(std::size_t q, std::size_t lanes) const {
    return interleaved(lanes) ? q / group() : q % seq_len;
  }
  // The query rows q ≡ lane (mod lanes) of each group: one score row each, of the keys it sees.
  RowShape query_rows(std::size_t lane, std::size_t lanes) const {
    std::vector<std::size_t> period;
    for (std::size_t q = lane; q < group_queries(); q += lanes)
      period.push_back(keys(query_of(q, lanes)));
    const std::size_t rows = batch * kv_heads * period.size();
    return causal ? RowShape(rows, std::move(period)) : RowShape(rows, kv_len);
  }
  // Runs of `lanes` consecutive query rows of a group, one row each, of the keys its query rows
  // see (its last's): what the K and V readers stream.
  RowShape run_rows(std::size_t lanes) const {
    std::vector<std::size_t> period;
    for (std::size_t q = 0; q < group_queries(); q += lanes)
      period.push_back(keys(query_of(std::min(q + lanes, group_queries()) - 1, lanes)));
    const std::size_t rows = batch * kv_heads * period.size();
    return causal ? RowShape(rows, std::move(period)) : RowShape(rows, kv_len);
  }
  // One row per output row (query after query of each head in turn), of the keys each sees.
  RowShape score_rows() const {
    std::vector<std::size_t> period;
    for (std::size_t i = 0; i < seq_len; ++i) period.push_back(keys(i));
    return causal ? RowShape(rows(), std::move(period)) : RowShape(rows(), kv_len);
  }
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

// Q, K and V one after the other, as the memory holds them: each value rounded to `input` (and
// kept as a float: the host's image; the hardware's bytes are the format's).
std::vector<std::uint8_t> memory_image(const AttentionInputs& inputs, Format input = Format::fp32);

struct DatapathConfig : GraphConfig {
  MemoryTiming memory;
  // Query rows of a K/V head's group processed at once, each by a lane with its own copy of the
  // per-row units; the lanes share one K and one V stream (parallel.lanes).
  std::size_t lanes = 1;
  // The format of Q, K and V in memory and on the stream buffers (numerics.input); the units'
  // results take GraphConfig::compute.
  Format input = Format::fp32;
};

class AttentionDatapath : public Graph {
 public:
  // Builds one lane of a datapath's own units and channels on `dp`, from the lane's scores and V
  // rows, and returns the port of its output rows.
  using Build = Out<Row>& (*)(AttentionDatapath& dp);

  AttentionDatapath(const sc_core::sc_module_name& name, const DatapathConfig& config,
                    const AttentionShape& shape, Build build);

  // For the build function, of the lane being built: the problem, the shape of a unit firing
  // once per score or once per output row, the scaled dot product and its scores; and a consumer
  // of the V row of each score, in score order.
  const AttentionShape& shape() const { return shape_; }
  const MemoryTiming& memory_timing() const { return memory_timing_; }
  std::size_t lanes() const { return lanes_.size(); }
  RowShape per_score() const { return building_->scores; }
  RowShape per_row() const { return {building_->scores.rows, 1}; }
  // The longest row of scores of any lane (N_kv): what a bypass around a row reduction is given.
  std::size_t longest_row() const { return shape_.kv_len; }
  const Unit& dot_product() const { return *building_->dot_product; }
  Out<float>& scores() { return building_->dot_product->out; }
  void connect_v_rows(In<RowView>& consumer);

  // Before the simulation: Q, K and V (the same image may serve several datapaths).
  void load(std::shared_ptr<const std::vector<std::uint8_t>> image) { memory_.load(image); }
  // A stream buffer filled from memory rather than an intermediate result.
  bool is_input_stream(const Edge& edge) const;

  // The output, as the lanes' sinks took it.
  std::size_t rows_expected() const;
  std::size_t rows_taken() const;  // safe from another OS thread (progress reports)
  // The dot products' firings done: every score of the shape unless the run stopped early.
  std::uint64_t scores_computed() const;
  Cycle last_ready() const;  // the run's cycle count: the latest of the lanes' last rows
  Format input_format() const { return input_; }
  Format compute_format() const { return config().compute; }
  // Bytes of a Q, K or V row in memory, in the input format.
  std::uint64_t row_bytes() const { return shape_.head_dim * bytes_of(input_); }
  bool done() const { return rows_taken() == rows_expected(); }
  std::vector<float> output() const;  // [B·H·N_q, d], row-major
  // Bytes the Q, K and V readers read from memory: their rows fetched, a run that stopped early
  // included, where a reader may hold a row it could not yet write.
  std::uint64_t q_bytes_read() const;
  std::uint64_t k_bytes_read() const { return k_reader_.rows_fetched() * row_bytes(); }
  std::uint64_t v_bytes_read() const { return v_reader_.rows_fetched() * row_bytes(); }
  // The link the streams share, if they do.
  const SharedLink* shared_link() const { return link_.get(); }
  // The watchdog's limit on the channels and the shared link.
  void set_cycle_limit(Cycle max_cycles) override;

 private:
  struct Lane {
    RowShape scores;
    StreamReader* q_reader = nullptr;
    DotProduct* dot_product = nullptr;
    Sink* sink = nullptr;
  };
  void build_lane(std::size_t index, Build build);
  void attach(StreamReader& reader);

  const AttentionShape shape_;
  const Format input_;
  const MemoryTiming memory_timing_;
  const sc_core::sc_time period_;
  Memory memory_;
  std::unique_ptr<SharedLink> link_;  // memory.ports: shared
  StreamReader& k_reader_;
  StreamReader& v_reader_;
  std::vector<Lane> lanes_;
  Lane* building_ = nullptr;
};

}  // namespace sdpa
