// The two-pass SDPA datapath: the online-normalizer softmax (Milakov and Gimelshein 2018).
//
//  scores -+-> scores -------> online_normalizer --> row_stats --+
//          +-> score_bypass -------------------------------> normalize -> probs
//  probs, v_rows -> weighted_sum -> out_rows
//
// The first pass keeps a running max m and running sum l over a row's scores; the second
// computes exp(s − m)/l and multiplies by V. One bypass holds a row while the first pass
// finishes: O(N) intermediate memory like the naive datapath's, but one row buffer instead of
// two, and two passes over each row's scores instead of three.
#include "hw/datapaths/datapaths.h"
#include "hw/units/accumulate.h"
#include "hw/units/online_normalizer.h"

namespace sdpa {

Out<Row>& build_two_pass(AttentionDatapath& dp) {
  const RowShape scores = dp.per_score();
  const std::size_t n = dp.longest_row();
  auto& normalizer = dp.unit<OnlineNormalizer>("online_normalizer", scores);
  auto& normalize = dp.unit<Normalize>("normalize", scores);
  auto& weighted_sum = dp.unit<WeightedSum>("weighted_sum", scores, dp.shape().head_dim);
  dp.connect_v_rows(weighted_sum.v_rows);  // still among the memory streams

  // Fan-out order: the first pass first, then the bypass, which holds the row until the first
  // pass has seen all of it: N + producer latency + normalizer latency at full rate.
  dp.stage("scores and first pass");
  dp.fan_out(dp.scores(), {{normalizer.scores, "scores"},
                           {normalize.in, "score_bypass",
                            Depth::row_plus(n, {&dp.dot_product(), &normalizer})}});
  dp.connect(normalizer.stats, normalize.operand, "row_stats", Depth::per_row_result(scores));
  dp.stage("second pass and weighted sum");
  dp.connect(normalize.out, weighted_sum.weights, "probs");
  return weighted_sum.out;
}

}  // namespace sdpa
