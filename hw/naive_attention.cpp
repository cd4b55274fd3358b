#include "hw/naive_attention.h"

namespace sdpa {

NaiveAttention::NaiveAttention(const sc_core::sc_module_name& name, const DatapathConfig& config,
                               const AttentionInputs& inputs)
    : AttentionDatapath(name, config, inputs),
      row_max_("row_max", timing("row_max"), shape_),
      subtract_("subtract", timing("subtract"), shape_),
      exp_("exp", timing("exp"), shape_),
      row_sum_("row_sum", timing("row_sum"), shape_),
      divide_("divide", timing("divide"), shape_),
      weighted_sum_("weighted_sum", timing("weighted_sum"), shape_, head_dim_) {
  const std::size_t n = shape_.row_len;
  const unsigned dot = dot_product_.timing().latency;
  const unsigned max = row_max_.timing().latency;
  const unsigned ex = exp_.timing().latency;
  const unsigned sum = row_sum_.timing().latency;
  // A bypass holds a row while its reduction finishes: N + producer latency + reduce latency
  // is the least depth at full rate (docs/timing.md).
  auto& scores = channel<float>("scores", dot + 1);
  auto& score_bypass = channel<float>("score_bypass", n + dot + max);
  auto& maxima = channel<float>("maxima", max + 1);
  auto& shifted = channel<float>("shifted", subtract_.timing().latency + 1);
  auto& exps = channel<float>("exps", ex + 1);
  auto& exp_bypass = channel<float>("exp_bypass", n + ex + sum);
  auto& sums = channel<float>("sums", sum + 1);
  auto& probs = channel<float>("probs", divide_.timing().latency + 1);
  auto& out_rows = channel<Row>("out_rows", weighted_sum_.timing().latency + 1);

  // Fan-out order: the reduction first, then its bypass.
  dot_product_.out(scores);
  dot_product_.out(score_bypass);
  row_max_.in(scores);
  row_max_.out(maxima);
  subtract_.operand(maxima);
  subtract_.in(score_bypass);
  subtract_.out(shifted);
  exp_.in(shifted);
  exp_.out(exps);
  exp_.out(exp_bypass);
  row_sum_.in(exps);
  row_sum_.out(sums);
  divide_.operand(sums);
  divide_.in(exp_bypass);
  divide_.out(probs);
  weighted_sum_.weights(probs);
  weighted_sum_.v_rows(v_rows_);
  weighted_sum_.out(out_rows);
  sink_.out_rows(out_rows);
  add_units({&row_max_, &subtract_, &exp_, &row_sum_, &divide_, &weighted_sum_, &sink_});
}

const std::vector<std::string>& NaiveAttention::unit_names() {
  static const std::vector<std::string> names{"q_reader", "k_reader",    "v_reader", "dot_product",
                                              "row_max",  "subtract",    "exp",      "row_sum",
                                              "divide",   "weighted_sum"};
  return names;
}

const std::vector<std::string>& NaiveAttention::channel_names() {
  static const std::vector<std::string> names{"q_rows",       "k_rows", "v_rows",  "scores",
                                              "score_bypass", "maxima", "shifted", "exps",
                                              "exp_bypass",   "sums",   "probs",   "out_rows"};
  return names;
}

}  // namespace sdpa
