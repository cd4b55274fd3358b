// The reordered (online-softmax) SDPA datapath: multiply by V before dividing, with a running
// max and running sums.
//
//  q_rows,k_rows -> dot_product -> scores -> running_max -+-> sum_rescale -> running_sum -> sums -+
//                                                         +-> acc_rescale -+                      |
//  v_rows ---------------------------------------------------------------> rescale_accumulate    |
//  rescale_accumulate -> acc_rows -> row_divide <---------------------------------------------- +
//  row_divide -> out_rows -> sink
//
// Every unit consumes one score per cycle as it arrives and only the per-row results wait for a
// row to finish, so every channel stays latency + 1 deep whatever N is: O(1) intermediate memory.
#pragma once

#include "hw/attention_datapath.h"
#include "hw/units/accumulate.h"
#include "hw/units/reduce.h"
#include "hw/units/running_max.h"

namespace sdpa {

class ReorderedAttention : public AttentionDatapath {
 public:
  ReorderedAttention(const sc_core::sc_module_name& name, const DatapathConfig& config,
                     const AttentionInputs& inputs);

  static const std::vector<std::string>& unit_names();
  static const std::vector<std::string>& channel_names();

 private:
  RunningMax running_max_;
  RunningSum running_sum_;
  RescaleAccumulate rescale_accumulate_;
  RowDivide row_divide_;
};

}  // namespace sdpa
