#include "hw/attention.h"

#include <cmath>
#include <cstring>

namespace sdpa {
namespace {

// Lane p's query rows of every K/V head's group, every `lanes`-th from the p-th; memory holds Q,
// then K, then V. Interleaved, a group's rows are read position by position across its heads,
// one row of the shape per group; otherwise head after head, one row of the shape per head.
StreamPattern q_pattern(const AttentionShape& s, std::size_t lane, std::size_t lanes,
                        Format input) {
  StreamPattern p;
  p.element_bytes = bytes_of(input);
  const bool interleaved = s.interleaved(lanes);
  const std::size_t rows = interleaved ? s.group_queries() : s.seq_len;
  p.shape =
      RowShape(s.batch * (interleaved ? s.kv_heads : s.heads), (rows + lanes - 1 - lane) / lanes);
  p.blocks = s.batch * s.heads;
  p.block_rows = s.seq_len;
  p.head_dim = s.head_dim;
  p.first_row = lane;
  p.row_step = lanes;
  p.interleave = interleaved ? s.group() : 1;
  return p;
}

// For each run of `lanes` query rows of a group (one query row without lanes), the K (or V) rows
// its queries see, from the group's K/V block, for the lanes whose query sees each.
StreamPattern kv_pattern(const AttentionShape& s, int matrix, std::size_t lanes, Format input) {
  StreamPattern p;
  p.element_bytes = bytes_of(input);
  p.base = (s.q_elements() + (matrix - 1) * s.kv_elements()) * sizeof(float);
  p.shape = s.run_rows(lanes);
  p.blocks = s.batch * s.kv_heads;
  p.block_rows = s.kv_len;
  p.head_dim = s.head_dim;
  p.rows_per_block = (s.group_queries() + lanes - 1) / lanes;
  p.lanes = lanes;
  p.queries = s.group_queries();
  p.group = s.interleaved(lanes) ? s.group() : 1;
  p.first_key = s.causal ? s.keys(0) : 0;
  return p;
}

std::string lane_name(std::size_t lane) { return "lane" + std::to_string(lane); }

}  // namespace

std::vector<std::uint8_t> memory_image(const AttentionInputs& in, Format input) {
  std::vector<std::uint8_t> image((in.q.size() + in.k.size() + in.v.size()) * sizeof(float));
  std::uint8_t* p = image.data();
  for (const auto* m : {&in.q, &in.k, &in.v}) {
    std::memcpy(p, m->data(), m->size() * sizeof(float));
    round_all(input, reinterpret_cast<float*>(p), m->size());
    p += m->size() * sizeof(float);
  }
  return image;
}

AttentionDatapath::AttentionDatapath(const sc_core::sc_module_name& name,
                                     const DatapathConfig& config, const AttentionShape& shape,
                                     Build build)
    : Graph(name, config, shape.head_dim),
      shape_(shape),
      input_(config.input),
      memory_timing_(config.memory),
      period_(config.clocking.period),
      memory_("memory", config.memory.read_latency, config.clocking.period),
      link_(config.memory.shared
                ? std::make_unique<SharedLink>("memory_link", config.memory, config.clocking)
                : nullptr),
      k_reader_(unit<StreamReader>("k_reader", kv_pattern(shape, 1, config.lanes, config.input),
                                   period_, config.memory)),
      v_reader_(unit<StreamReader>("v_reader", kv_pattern(shape, 2, config.lanes, config.input),
                                   period_, config.memory)),
      lanes_(config.lanes) {
  if (link_) add_arbiter(*link_);
  if (link_ && !config.events.empty()) link_->watch(config.events);
  for (StreamReader* reader : {&k_reader_, &v_reader_}) attach(*reader);
  // One lane is the paper's datapath, named as it is; lanes get a scope each (lane3.row_max).
  for (std::size_t p = 0; p < lanes_.size(); ++p) {
    if (lanes_.size() == 1)
      build_lane(p, build);
    else
      scope(lane_name(p), [&] { build_lane(p, build); });
  }
  building_ = nullptr;
  require_connected();
  // The stream buffers hold rows as memory does, in the input format.
  for (const Edge& e : edges())
    if (is_input_stream(e)) e.channel->set_element_bytes(bytes_of(input_));
}

void AttentionDatapath::build_lane(std::size_t index, Build build) {
  Lane& lane = lanes_[index];
  building_ = &lane;
  const std::size_t n = lanes_.size();
  lane.scores = shape_.query_rows(index, n);
  lane.q_reader =
      &unit<StreamReader>("q_reader", q_pattern(shape_, index, n, input_), period_, memory_timing_);
  attach(*lane.q_reader);
  lane.dot_product = &unit<DotProduct>(
      "dot_product", lane.scores,
      ScaledDotOp{1.0f / std::sqrt(static_cast<float>(shape_.head_dim)), shape_.head_dim});
  stage("memory streams");
  connect(lane.q_reader->rows, lane.dot_product->operand, "q_rows");
  add_branch(k_reader_.rows, lane.dot_product->in, "k_rows");
  Out<Row>& out_rows = build(*this);
  lane.sink = &unit<Sink>("sink", lane.scores.rows, shape_.head_dim);
  connect(out_rows, lane.sink->out_rows, "out_rows");
}

void AttentionDatapath::attach(StreamReader& reader) {
  reader.socket.bind(memory_.socket);
  if (link_) reader.share(*link_);
}

void AttentionDatapath::connect_v_rows(In<RowView>& consumer) {
  add_branch(v_reader_.rows, consumer, "v_rows");
}

bool AttentionDatapath::is_input_stream(const Edge& edge) const {
  if (edge.producer == &k_reader_ || edge.producer == &v_reader_) return true;
  for (const Lane& lane : lanes_)
    if (edge.producer == lane.q_reader) return true;
  return false;
}

std::size_t AttentionDatapath::rows_expected() const {
  std::size_t rows = 0;
  for (const Lane& lane : lanes_) rows += lane.sink->rows_expected();
  return rows;
}

std::size_t AttentionDatapath::rows_taken() const {
  std::size_t rows = 0;
  for (const Lane& lane : lanes_) rows += lane.sink->rows_taken();
  return rows;
}

std::uint64_t AttentionDatapath::scores_computed() const {
  std::uint64_t scores = 0;
  for (const Lane& lane : lanes_) scores += lane.dot_product->firings_done();
  return scores;
}

Cycle AttentionDatapath::last_ready() const {
  Cycle last = 0;
  for (const Lane& lane : lanes_) last = std::max(last, lane.sink->last_ready());
  return last;
}

std::vector<float> AttentionDatapath::output() const {
  // Lane p's rows are the query rows p, p + P, … of each group in turn.
  const std::size_t d = shape_.head_dim, n = lanes_.size(), g = shape_.group();
  std::vector<float> out(shape_.q_elements());
  for (std::size_t p = 0; p < n; ++p) {
    const std::vector<float>& rows = lanes_[p].sink->output();
    const std::size_t per_group = (shape_.group_queries() + n - 1 - p) / n;
    for (std::size_t r = 0; r * d < rows.size(); ++r) {
      const std::size_t q = p + r % per_group * n;
      const std::size_t row =
          (r / per_group * g + shape_.head_of(q, n)) * shape_.seq_len + shape_.query_of(q, n);
      std::copy_n(rows.begin() + r * d, d, out.begin() + row * d);
    }
  }
  return out;
}

void AttentionDatapath::set_cycle_limit(Cycle max_cycles) {
  Graph::set_cycle_limit(max_cycles);
  if (link_) link_->set_cycle_limit(max_cycles);
}

std::uint64_t AttentionDatapath::q_bytes_read() const {
  std::uint64_t rows = 0;
  for (const Lane& lane : lanes_) rows += lane.q_reader->rows_fetched();
  return rows * row_bytes();
}

}  // namespace sdpa
