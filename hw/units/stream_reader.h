// StreamReader: a DMA-like TLM-2.0 initiator turning memory rows into a stream of Row elements.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>

#include <systemc>
#include <tlm>

#include "hw/channel.h"
#include "hw/types.h"

namespace sdpa {

// Which rows to read, in order: for each of `heads` blocks of `rows` rows starting at `base`,
// `passes` passes over the block (K and V: one pass per query; Q: one pass).
struct StreamPattern {
  std::uint64_t base = 0;
  std::size_t heads = 1;
  std::size_t rows = 0;
  std::size_t passes = 1;
  std::size_t head_dim = 0;
};

// Issues one row read per cycle (II); the memory's annotated delay is the row's ready stamp.
// Outstanding reads are bounded by the output channel's capacity, as a DMA engine's buffer.
class StreamReader : public Unit {
 public:
  tlm_utils::simple_initiator_socket<StreamReader> socket{"socket"};
  Out<Row> rows{"rows"};

  StreamReader(const sc_core::sc_module_name& name, Timing timing, StreamPattern pattern,
               sc_core::sc_time period);

 private:
  void compute() override;
  void write_outputs() override;

  StreamPattern pattern_;
  std::size_t row_bytes_;
  sc_core::sc_time period_;
  std::uint64_t block_base_;  // address of the current head's first row
  tlm::tlm_generic_payload trans_;
  Row row_;
  Cycle arrival_ = 0;
};

}  // namespace sdpa
