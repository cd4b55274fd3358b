// StreamReader: a DMA-like TLM-2.0 initiator turning memory rows into a stream of rows.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>

#include <algorithm>
#include <systemc>
#include <tlm>
#include <vector>

#include "hw/channel.h"
#include "hw/memory.h"
#include "hw/shared_link.h"
#include "hw/types.h"

namespace sdpa {

// Which rows a reader streams, in order: one per firing of `shape`. Memory holds `blocks` blocks
// of `block_rows` rows of `head_dim` floats from `base` (Q: one block per batch and query head;
// K and V: one per batch and K/V head). Row r of the shape reads block r / rows_per_block, firing
// (r, j) its row first_row + j·row_step. With lanes, the query rows of a K/V head's group are its
// query heads' queries position by position (AttentionShape::query_rows): Q, one row of the shape
// per group, reads them with `interleave` = g, the group's query heads, index q = first_row +
// j·row_step being row q / g of block r·g + q mod g. K and V: one row of the shape per query row
// (or run of `lanes` query rows) of a group, the keys it sees.
struct StreamPattern {
  std::uint64_t base = 0;
  RowShape shape;
  std::size_t blocks = 1;
  std::size_t block_rows = 0;
  std::size_t head_dim = 0;
  std::size_t rows_per_block = 1;
  std::size_t first_row = 0;
  std::size_t row_step = 1;
  std::size_t interleave = 1;  // Q of a group of query heads, position by position
  // K and V for `lanes` lanes: row r of the shape is the run of query rows r mod rows_per_block of
  // the `queries` of its group, one per lane (query row q is query q / group of its head: the
  // interleave Q was read with), and key j goes to the lanes whose query sees it: with a causal
  // mask, query i sees the first i + first_key keys.
  std::size_t lanes = 1;
  std::size_t queries = 0;
  std::size_t group = 1;
  std::size_t first_key = 0;  // 0: no mask, every lane sees every key of its run
  // Bytes per element in memory (numerics.input): what the link carries. The host's image keeps
  // each element decoded to a float, so addresses step in floats.
  std::size_t element_bytes = sizeof(float);
};

// A DMA engine: issues one row read per firing (II) over its own link to memory, which carries
// `bytes_per_cycle` per cycle, so a row's request waits for the previous row's beats; or over a
// link it shares with the other readers (SharedLink), which grants it in time order. The row is
// ready when its last beat arrives, request + read latency + beats − 1, plus the reader's own
// latency L − 1 (L = 1, the default: none). Reads use the memory's
// direct memory interface once granted and b_transport otherwise, with the same timing.
// Outstanding reads are bounded by the output channel's capacity, as a DMA engine's buffer.
//
// Rows stream as views: through DMI, of the row in the memory (read-only during a run); through
// b_transport, of the reader's own copy of the rows it streams, which lives as long as the reader.
class StreamReader : public Unit {
 public:
  static constexpr Timing default_timing{1, 1};
  tlm_utils::simple_initiator_socket<StreamReader> socket{"socket"};
  Out<RowView> rows{"rows"};

  StreamReader(const sc_core::sc_module_name& name, Timing timing, StreamPattern pattern,
               sc_core::sc_time period, const MemoryTiming& memory);

  // The memory's latency and the row's beats, then the reader's own latency.
  Cycle result_latency() const override {
    return read_latency_ + beats_ - 1 + timing().latency - 1;
  }

  // Rows read from memory: its firings done, and in a run that stopped, the row it holds while
  // it waits to write it (the memory traffic, which the link carried).
  Cycle rows_fetched() const { return fetched_; }

  // Reads over `link`, shared with other readers, instead of a link of its own; before the
  // simulation starts.
  void share(SharedLink& link) {
    link_ = &link;
    stream_ = link.attach(*this);
  }

 private:
  friend class LinkRequestOp;
  // Without lanes every row goes to the one channel; with lanes, to the lanes whose query sees
  // it; Q rows of a GQA group come from its heads in turn. A loop each, so that the K and V
  // streams pay nothing for the others.
  Task body() override;

  // The cycle in which the row's first beat may leave on its own link: the next free one.
  Cycle reserve_own_link() {
    const Cycle start = std::max(cycle(), link_free_);
    link_free_ = start + beats_;
    return start;
  }
  // The same on the shared link: when it grants the request.
  LinkRequestOp request_shared_link();

  // Reads the row at `address`, its first beat leaving in cycle `start`; returns when it is due.
  Cycle fetch_row(std::uint64_t address, Cycle start) {
    ++fetched_;
    return fetch(address, start) + after_first_beat_;
  }
  // Firing f's row: of block f.row / rows_per_block, one after another from first_row.
  std::uint64_t row_address(const Firing& f) {
    if (f.row_start())
      row_base_ =
          pattern_.base +
          (f.row / pattern_.rows_per_block * pattern_.block_rows + pattern_.first_row) * row_bytes_;
    return row_base_ + f.index * step_;
  }
  // With `interleave` g > 1 (Q of a GQA group on lanes): query row q is row q / g of block
  // f.row·g + q mod g.
  std::uint64_t interleaved_address(const Firing& f) const {
    const std::size_t g = pattern_.interleave, q = pattern_.first_row + f.index * pattern_.row_step;
    return pattern_.base + ((f.row * g + q % g) * pattern_.block_rows + q / g) * row_bytes_;
  }

  // Points row_ at the row at `address`; returns the cycle its first beat arrives.
  Cycle fetch(std::uint64_t address, Cycle request) {
    if (view_in_memory(address)) return request + dmi_latency_;
    return transport(address, request);
  }
  // Through the direct memory interface, if granted for `address` (one unsigned comparison: an
  // address below the region wraps past the last row's offset).
  bool view_in_memory(std::uint64_t address) {
    if (dmi_ == nullptr || address - dmi_start_ > dmi_last_row_) return false;
    row_ = reinterpret_cast<const float*>(dmi_ + (address - dmi_start_));
    return true;
  }
  Cycle transport(std::uint64_t address, Cycle request);
  void request_dmi();
  void invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end);

  StreamPattern pattern_;
  std::size_t row_bytes_;   // of the host's fp32 copy: addresses
  std::size_t link_bytes_;  // on the link to memory, in the input format
  Cycle beats_;
  Cycle after_first_beat_;  // from a row's first beat to its due cycle: beats − 1 + L − 1
  Cycle read_latency_;
  sc_core::sc_time period_;
  tlm::tlm_generic_payload trans_;
  std::vector<float> landing_;  // b_transport's destination: one row
  std::vector<float> copies_;   // without DMI, the rows read so far, in address order
  const float* row_ = nullptr;  // the row read last
  std::uint64_t row_base_ = 0;  // address of the current row's first element
  std::uint64_t step_;          // bytes between the elements of a row
  Cycle link_free_ = 0;         // its own link's
  Cycle fetched_ = 0;           // rows read
  SharedLink* link_ = nullptr;  // or the one it shares
  std::size_t stream_ = 0;      // its index there

  const unsigned char* dmi_ = nullptr;
  std::uint64_t dmi_start_ = 0;
  std::uint64_t dmi_last_row_ = 0;  // offset of the last row that fits in the region
  Cycle dmi_latency_ = 0;
};

// The awaitable of StreamReader::request_shared_link: the cycle its row's first beat may leave,
// as if its beats were back to back after that (rows may share a beat on the shared link).
class LinkRequestOp {
 public:
  explicit LinkRequestOp(StreamReader& reader) : reader_(reader) {}
  bool await_ready() { return attempt(); }
  void await_suspend(std::coroutine_handle<>) { reader_.suspend_on(this); }
  Cycle await_resume() const { return start_; }
  bool attempt() {
    Cycle last_beat = 0;
    if (!reader_.link_->try_grant(reader_.stream_, reader_.cycle(), reader_.link_bytes_, last_beat))
      return false;
    start_ = last_beat + 1 - reader_.beats_;
    return true;
  }

 private:
  StreamReader& reader_;
  Cycle start_ = 0;
};

inline LinkRequestOp StreamReader::request_shared_link() { return LinkRequestOp(*this); }

}  // namespace sdpa
