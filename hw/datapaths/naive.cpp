// The naive streaming SDPA datapath: row max, subtract, exp, row sum, divide, weighted sum.
//
//  scores -+-> scores -------> row_max --> maxima --+
//          +-> score_bypass ----------------------> subtract -> shifted
//  shifted -> exp -+-> exps --------> row_sum --> sums --+
//                  +-> exp_bypass ---------------------> divide -> probs
//  probs, v_rows -> weighted_sum -> out_rows
//
// Each reduction must see a whole row of N scores before the row's first element can go on, so
// score_bypass and exp_bypass must each hold a row: O(N) intermediate memory, three passes over
// each row's scores.
#include "hw/datapaths/datapaths.h"
#include "hw/units/accumulate.h"
#include "hw/units/reduce.h"

namespace sdpa {

Out<Row>& build_naive(AttentionDatapath& dp) {
  const RowShape scores = dp.per_score();
  const std::size_t n = dp.longest_row();
  auto& row_max = dp.unit<RowMax>("row_max", scores);
  auto& subtract = dp.unit<Subtract>("subtract", scores);
  auto& exp = dp.unit<Exp>("exp", scores);
  auto& row_sum = dp.unit<RowSum>("row_sum", scores);
  auto& divide = dp.unit<Divide>("divide", scores);
  auto& weighted_sum = dp.unit<WeightedSum>("weighted_sum", scores, dp.shape().head_dim);

  dp.connect_v_rows(weighted_sum.v_rows);  // still among the memory streams

  // Fan-out order: the reduction first, then its bypass, which holds the row while the
  // reduction finishes: N + producer latency + reduction latency at full rate.
  dp.stage("scores and row max");
  dp.fan_out(dp.scores(),
             {{row_max.in, "scores"},
              {subtract.in, "score_bypass", Depth::row_plus(n, {&dp.dot_product(), &row_max})}});
  dp.connect(row_max.out, subtract.operand, "maxima", Depth::per_row_result(scores));
  dp.stage("exp and row sum");
  dp.connect(subtract.out, exp.in, "shifted");
  dp.fan_out(exp.out, {{row_sum.in, "exps"},
                       {divide.in, "exp_bypass", Depth::row_plus(n, {&exp, &row_sum})}});
  dp.connect(row_sum.out, divide.operand, "sums", Depth::per_row_result(scores));
  dp.stage("normalise and weighted sum");
  dp.connect(divide.out, weighted_sum.weights, "probs");
  return weighted_sum.out;
}

}  // namespace sdpa
