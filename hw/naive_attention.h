// The naive streaming SDPA datapath: row max, subtract, exp, row sum, divide, weighted sum.
//
//  q_rows,k_rows -> dot_product -+-> scores -------> row_max --> maxima --+
//                                +-> score_bypass ----------------------> subtract -> shifted
//  shifted -> exp -+-> exps --------> row_sum --> sums --+
//                  +-> exp_bypass ---------------------> divide -> probs
//  probs, v_rows -> weighted_sum -> out_rows -> sink
//
// Each reduction must see a whole row of N scores before the row's first element can go on, so
// score_bypass and exp_bypass must each hold a row: O(N) intermediate memory.
#pragma once

#include "hw/attention_datapath.h"
#include "hw/units/accumulate.h"
#include "hw/units/reduce.h"

namespace sdpa {

class NaiveAttention : public AttentionDatapath {
 public:
  NaiveAttention(const sc_core::sc_module_name& name, const DatapathConfig& config,
                 const AttentionInputs& inputs);

  static const std::vector<std::string>& unit_names();
  static const std::vector<std::string>& channel_names();

 private:
  RowMax row_max_;
  Subtract subtract_;
  Exp exp_;
  RowSum row_sum_;
  Divide divide_;
  WeightedSum weighted_sum_;
};

}  // namespace sdpa
