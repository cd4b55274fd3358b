// The reordered (online-softmax) SDPA datapath: multiply by V before dividing, with a running
// max and running sums.
//
//  scores -> running_max -+-> sum_rescale -> running_sum -> sums -------------+
//                         +-> acc_rescale -+                                  |
//  v_rows --------------------------------> rescale_accumulate -> acc_rows -> row_divide
//
// Every unit consumes one score per cycle as it arrives and only the per-row results wait for a
// row to finish, so every channel stays latency + 1 deep however long the rows (rows so short that
// more of their results wait at the divide get more: at the shipped latencies, rows of one key):
// O(1) intermediate memory, one pass over each row's scores.
#include "hw/datapaths/datapaths.h"
#include "hw/units/accumulate.h"
#include "hw/units/reduce.h"
#include "hw/units/running_max.h"

namespace sdpa {

Out<Row>& build_reordered(AttentionDatapath& dp) {
  const RowShape scores = dp.per_score();
  auto& running_max = dp.unit<RunningMax>("running_max", scores);
  auto& running_sum = dp.unit<RunningSum>("running_sum", scores);
  auto& rescale_accumulate =
      dp.unit<RescaleAccumulate>("rescale_accumulate", scores, dp.shape().head_dim);
  auto& row_divide =
      dp.unit<RowDivide>("row_divide", dp.per_row(), RowDivideOp{dp.shape().head_dim});

  dp.connect_v_rows(rescale_accumulate.v_rows);  // still among the memory streams

  dp.stage("scores and running max");
  dp.connect(dp.scores(), running_max.scores, "scores");
  // Fan-out order: the running sum first, then the accumulator, as drawn above; neither holds a
  // row back as a bypass does, for which the order would decide deadlock.
  dp.fan_out(running_max.rescale,
             {{running_sum.in, "sum_rescale"}, {rescale_accumulate.weights, "acc_rescale"}});
  dp.stage("running sums and divide");
  // The divide takes a row's sum and accumulator together: with short rows, the results of the
  // next rows arrive while the earlier one waits for the slower of the two.
  dp.connect(running_sum.out, row_divide.operand, "sums",
             Depth::joined_row_result(scores, {&rescale_accumulate}));
  dp.connect(rescale_accumulate.out, row_divide.in, "acc_rows",
             Depth::joined_row_result(scores, {&running_sum}));
  return row_divide.out;
}

}  // namespace sdpa
