#include "hw/attention_datapath.h"

#include <cmath>
#include <cstring>

namespace sdpa {
namespace {

std::vector<std::uint8_t> memory_image(const AttentionInputs& in) {
  std::vector<std::uint8_t> image((in.q.size() + in.k.size() + in.v.size()) * sizeof(float));
  std::uint8_t* p = image.data();
  for (const auto* m : {&in.q, &in.k, &in.v}) {
    std::memcpy(p, m->data(), m->size() * sizeof(float));
    p += m->size() * sizeof(float);
  }
  return image;
}

StreamPattern pattern(const AttentionInputs& in, int matrix, std::size_t passes) {
  const std::uint64_t matrix_bytes = in.heads * in.seq_len * in.head_dim * sizeof(float);
  return {matrix * matrix_bytes, in.heads, in.seq_len, passes, in.head_dim};
}

}  // namespace

AttentionDatapath::AttentionDatapath(const sc_core::sc_module_name& name,
                                     const DatapathConfig& config, const AttentionInputs& inputs)
    : sc_module(name),
      config_(config),
      head_dim_(inputs.head_dim),
      shape_{inputs.heads * inputs.seq_len, inputs.seq_len},
      scheduler_("scheduler", config.clocking),
      memory_("memory", config.memory.read_latency, config.clocking.period, memory_image(inputs)),
      q_reader_("q_reader", timing("q_reader"), pattern(inputs, 0, 1), config.clocking.period,
                config.memory),
      k_reader_("k_reader", timing("k_reader"), pattern(inputs, 1, inputs.seq_len),
                config.clocking.period, config.memory),
      v_reader_("v_reader", timing("v_reader"), pattern(inputs, 2, inputs.seq_len),
                config.clocking.period, config.memory),
      dot_product_("dot_product", timing("dot_product"), shape_,
                   ScaledDotOp{1.0f / std::sqrt(static_cast<float>(inputs.head_dim))}),
      sink_("sink", shape_.rows, inputs.head_dim),
      q_rows_(channel<RowView>("q_rows", reader_latency() + 1)),
      k_rows_(channel<RowView>("k_rows", reader_latency() + 1)),
      v_rows_(channel<RowView>("v_rows", reader_latency() + 1)) {
  for (StreamReader* reader : {&q_reader_, &k_reader_, &v_reader_})
    reader->socket.bind(memory_.socket);
  q_reader_.rows(q_rows_);
  k_reader_.rows(k_rows_);
  v_reader_.rows(v_rows_);
  dot_product_.operand(q_rows_);
  dot_product_.in(k_rows_);
  add_units({&q_reader_, &k_reader_, &v_reader_, &dot_product_});
}

Timing AttentionDatapath::timing(const std::string& unit) const {
  const auto it = config_.units.find(unit);
  return it == config_.units.end() ? Timing{} : it->second;
}

unsigned AttentionDatapath::reader_latency() const {
  return config_.memory.read_latency + config_.memory.beats(head_dim_ * sizeof(float)) - 1;
}

std::size_t AttentionDatapath::depth(const std::string& channel,
                                     std::size_t automatic_depth) const {
  const auto it = config_.depths.find(channel);
  if (it != config_.depths.end()) return it->second;
  return config_.default_depth != 0 ? config_.default_depth : automatic_depth;
}

}  // namespace sdpa
