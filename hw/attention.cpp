#include "hw/attention.h"

#include <cmath>
#include <cstring>

namespace sdpa {
namespace {

// Q's rows once, a head's queries after another; memory holds Q, then K, then V.
StreamPattern q_pattern(const AttentionShape& s) {
  return {0,
          RowShape{s.batch * s.heads, s.seq_len},
          s.batch * s.heads,
          s.seq_len,
          s.head_dim,
          1,
          s.heads,
          1};
}
// For each query, the K (or V) rows it sees, from its K/V head's block.
StreamPattern kv_pattern(const AttentionShape& s, int matrix) {
  const std::uint64_t base = (s.q_elements() + (matrix - 1) * s.kv_elements()) * sizeof(float);
  return {base,    s.score_rows(), s.batch * s.kv_heads, s.kv_len, s.head_dim, s.seq_len,
          s.heads, s.group()};
}

}  // namespace

std::vector<std::uint8_t> memory_image(const AttentionInputs& in) {
  std::vector<std::uint8_t> image((in.q.size() + in.k.size() + in.v.size()) * sizeof(float));
  std::uint8_t* p = image.data();
  for (const auto* m : {&in.q, &in.k, &in.v}) {
    std::memcpy(p, m->data(), m->size() * sizeof(float));
    p += m->size() * sizeof(float);
  }
  return image;
}

AttentionDatapath::AttentionDatapath(const sc_core::sc_module_name& name,
                                     const DatapathConfig& config, const AttentionShape& shape,
                                     Build build)
    : Graph(name, config, shape.head_dim),
      shape_(shape),
      memory_timing_(config.memory),
      memory_("memory", config.memory.read_latency, config.clocking.period),
      q_reader_(
          unit<StreamReader>("q_reader", q_pattern(shape), config.clocking.period, config.memory)),
      k_reader_(unit<StreamReader>("k_reader", kv_pattern(shape, 1), config.clocking.period,
                                   config.memory)),
      v_reader_(unit<StreamReader>("v_reader", kv_pattern(shape, 2), config.clocking.period,
                                   config.memory)),
      dot_product_(
          unit<DotProduct>("dot_product", per_score(),
                           ScaledDotOp{1.0f / std::sqrt(static_cast<float>(shape.head_dim))})) {
  for (StreamReader* reader : {&q_reader_, &k_reader_, &v_reader_})
    reader->socket.bind(memory_.socket);
  stage("memory streams");
  connect(q_reader_.rows, dot_product_.operand, "q_rows");
  connect(k_reader_.rows, dot_product_.in, "k_rows");
  Out<Row>& out_rows = build(*this);
  sink_ = &unit<Sink>("sink", shape.rows(), shape.head_dim);
  connect(out_rows, sink_->out_rows, "out_rows");
}

bool AttentionDatapath::is_input_stream(const Edge& edge) const {
  return edge.producer == &q_reader_ || edge.producer == &k_reader_ || edge.producer == &v_reader_;
}

}  // namespace sdpa
