// Data carried on channels.
#pragma once

#include <cstddef>
#include <vector>

namespace sdpa {

// A d-wide vector: a row of Q, K, V or of the output.
using Row = std::vector<float>;

// What the running max emits per score: δ = exp(m_old − m_new) rescales the accumulators,
// weight = exp(s − m_new) is the score's own contribution.
struct Rescale {
  float delta = 0;
  float weight = 0;
};

// Scalars per channel element, for counting intermediate memory in elements and bytes.
template <class T>
inline std::size_t element_width(std::size_t /*head_dim*/) {
  return 1;
}
template <>
inline std::size_t element_width<Rescale>(std::size_t /*head_dim*/) {
  return 2;
}
template <>
inline std::size_t element_width<Row>(std::size_t head_dim) {
  return head_dim;
}

// The problem every unit iterates over: `rows` output rows (heads × N), each reducing over
// `row_len` keys (N).
struct RowShape {
  std::size_t rows = 0;
  std::size_t row_len = 0;
};

}  // namespace sdpa
