// Data carried on channels.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "hw/number_format.h"

namespace sdpa {

// A d-wide vector computed by a unit: an accumulator or output row.
using Row = std::vector<float>;

// A row of Q, K or V as a stream reader delivers it: a view of the row where the reader found
// it (the memory, which no one writes during a run, or without DMI the reader's copy), so a row
// streams as a pointer, not d floats.
class RowView {
 public:
  RowView() = default;
  RowView(const float* data, std::size_t size) : data_(data), size_(size) {}
  std::size_t size() const { return size_; }
  const float& operator[](std::size_t c) const { return data_[c]; }
  const float* begin() const { return data_; }
  const float* end() const { return data_ + size_; }

 private:
  const float* data_ = nullptr;
  std::size_t size_ = 0;
};

// What the running max emits per score: δ = exp(m_old − m_new) rescales the accumulators,
// weight = exp(s − m_new) is the score's own contribution.
struct Rescale {
  float delta = 0;
  float weight = 0;
};

// What a two-pass softmax's first pass emits per row: the row's max m and its sum
// l = Σ exp(s − m), computed online (Milakov and Gimelshein 2018).
struct RowStats {
  float max = 0;
  float sum = 0;
};

// Rounds a unit's result to the compute format as the unit writes it to a channel, so that every
// value on a channel is representable (a unit's own state, an accumulator, stays fp32). Rows from
// memory (RowView) are in the input format already; other types (tests' own) are left alone.
template <class T>
inline void round_result(Format f, T& value) {
  if constexpr (std::is_same_v<T, float>) {
    value = round_to(f, value);
  } else if constexpr (std::is_same_v<T, Rescale>) {
    value.delta = round_to(f, value.delta);
    value.weight = round_to(f, value.weight);
  } else if constexpr (std::is_same_v<T, RowStats>) {
    value.max = round_to(f, value.max);
    value.sum = round_to(f, value.sum);
  } else if constexpr (std::is_same_v<T, Row>) {
    round_all(f, value.data(), value.size());
  }
}

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
inline std::size_t element_width<RowStats>(std::size_t /*head_dim*/) {
  return 2;
}
template <>
inline std::size_t element_width<Row>(std::size_t head_dim) {
  return head_dim;
}
// The hardware's stream buffer holds the row's d values, whatever the model passes along.
template <>
inline std::size_t element_width<RowView>(std::size_t head_dim) {
  return head_dim;
}

// What a unit iterates over: `rows` rows of up to `row_len` elements (for a score stream, one
// row per query row of a lane, each over the keys it sees; for a per-row unit, `row_len` 1).
// Rows are all `row_len` long, or their lengths repeat a period: one length per row of a block
// (a batch and K/V head's group, AttentionShape::query_rows), as a causal mask makes them.
struct RowShape {
  std::size_t rows = 0;
  std::size_t row_len = 0;  // the longest row

  RowShape() = default;
  RowShape(std::size_t rows, std::size_t row_len) : rows(rows), row_len(row_len) {}
  // No period: no rows (a lane with no query of its own when there are more lanes than queries).
  RowShape(std::size_t rows, std::vector<std::size_t> period)
      : rows(period.empty() ? 0 : rows),
        row_len(period.empty() ? 0 : *std::max_element(period.begin(), period.end())),
        period_(period.empty()
                    ? nullptr
                    : std::make_shared<const std::vector<std::size_t>>(std::move(period))) {}

  std::size_t row_length(std::size_t row) const {
    return period_ ? (*period_)[row % period_->size()] : row_len;
  }
  // The lengths of a block's rows, or nullptr if every row is full.
  const std::vector<std::size_t>* period() const { return period_.get(); }
  std::uint64_t elements() const {
    if (!period_) return std::uint64_t(rows) * row_len;
    const std::size_t p = period_->size();
    std::uint64_t block = 0, rest = 0;
    for (std::size_t i = 0; i < p; ++i) {
      block += (*period_)[i];
      if (i < rows % p) rest += (*period_)[i];
    }
    return block * (rows / p) + rest;
  }

 private:
  std::shared_ptr<const std::vector<std::size_t>> period_;
};

}  // namespace sdpa
