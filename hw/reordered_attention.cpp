#include "hw/reordered_attention.h"

namespace sdpa {

ReorderedAttention::ReorderedAttention(const sc_core::sc_module_name& name,
                                       const DatapathConfig& config, const AttentionInputs& inputs)
    : AttentionDatapath(name, config, inputs),
      running_max_("running_max", timing("running_max"), shape_),
      running_sum_("running_sum", timing("running_sum"), shape_),
      rescale_accumulate_("rescale_accumulate", timing("rescale_accumulate"), shape_, head_dim_),
      row_divide_("row_divide", timing("row_divide"), RowShape{shape_.rows, 1}) {
  auto latency_plus_one = [](const Unit& u) { return u.timing().latency + 1; };
  auto& scores = channel<float>("scores", latency_plus_one(dot_product_));
  auto& sum_rescale = channel<Rescale>("sum_rescale", latency_plus_one(running_max_));
  auto& acc_rescale = channel<Rescale>("acc_rescale", latency_plus_one(running_max_));
  auto& sums = channel<float>("sums", latency_plus_one(running_sum_));
  auto& acc_rows = channel<Row>("acc_rows", latency_plus_one(rescale_accumulate_));
  auto& out_rows = channel<Row>("out_rows", latency_plus_one(row_divide_));

  dot_product_.out(scores);
  running_max_.scores(scores);
  // Fan-out order: the running sum first, then the accumulator.
  running_max_.rescale(sum_rescale);
  running_max_.rescale(acc_rescale);
  running_sum_.in(sum_rescale);
  running_sum_.out(sums);
  rescale_accumulate_.weights(acc_rescale);
  rescale_accumulate_.v_rows(v_rows_);
  rescale_accumulate_.out(acc_rows);
  row_divide_.operand(sums);
  row_divide_.in(acc_rows);
  row_divide_.out(out_rows);
  sink_.out_rows(out_rows);
  add_units({&running_max_, &running_sum_, &rescale_accumulate_, &row_divide_, &sink_});
}

const std::vector<std::string>& ReorderedAttention::unit_names() {
  static const std::vector<std::string> names{"q_reader",           "k_reader",    "v_reader",
                                              "dot_product",        "running_max", "running_sum",
                                              "rescale_accumulate", "row_divide"};
  return names;
}

const std::vector<std::string>& ReorderedAttention::channel_names() {
  static const std::vector<std::string> names{"q_rows", "k_rows",      "v_rows",
                                              "scores", "sum_rescale", "acc_rescale",
                                              "sums",   "acc_rows",    "out_rows"};
  return names;
}

}  // namespace sdpa
