#include "hw/units/stream_reader.h"

#include <algorithm>
#include <cstdint>

namespace sdpa {

StreamReader::StreamReader(const sc_core::sc_module_name& name, Timing timing,
                           StreamPattern pattern, sc_core::sc_time period,
                           const MemoryTiming& memory)
    : Unit(name, timing, pattern.shape),
      pattern_(pattern),
      row_bytes_(pattern.head_dim * sizeof(float)),
      link_bytes_(pattern.head_dim * pattern.element_bytes),
      beats_(memory.beats(link_bytes_)),
      after_first_beat_(beats_ - 1 + timing.latency - 1),
      read_latency_(memory.read_latency),
      period_(period),
      step_(pattern.row_step * row_bytes_) {
  socket.register_invalidate_direct_mem_ptr(this, &StreamReader::invalidate_direct_mem_ptr);
  trans_.set_command(tlm::TLM_READ_COMMAND);
  trans_.set_data_length(row_bytes_);
  trans_.set_streaming_width(row_bytes_);
  trans_.set_byte_enable_ptr(nullptr);
}

[[gnu::flatten]] Task StreamReader::body() {
  if (pattern_.interleave > 1) {
    for (const Firing& f : firings()) {
      const Cycle start = link_ ? co_await request_shared_link() : reserve_own_link();
      const Cycle due = fetch_row(interleaved_address(f), start);
      co_await write(rows, RowView(row_, pattern_.head_dim), due);
    }
    co_return;
  }
  if (pattern_.lanes == 1) {
    for (const Firing& f : firings()) {
      const Cycle start = link_ ? co_await request_shared_link() : reserve_own_link();
      const Cycle due = fetch_row(row_address(f), start);  // before the view: it points row_ at it
      co_await write(rows, RowView(row_, pattern_.head_dim), due);
    }
    co_return;
  }
  std::size_t run_start = 0, lanes_in_run = 0;  // the run's first query row, its lanes
  for (const Firing& f : firings()) {
    if (f.row_start()) {
      run_start = f.row % pattern_.rows_per_block * pattern_.lanes;
      lanes_in_run = std::min(pattern_.lanes, pattern_.queries - run_start);
    }
    const Cycle start = link_ ? co_await request_shared_link() : reserve_own_link();
    const Cycle due = fetch_row(row_address(f), start);
    // Lane p's query row is query i = (run_start + p) / g, which sees key j if j < i + first_key
    // (causal): if p ≥ g·(j + 1 − first_key) − run_start.
    std::size_t first = 0;
    if (pattern_.first_key != 0 && f.index >= pattern_.first_key) {
      const std::size_t past = pattern_.group * (f.index + 1 - pattern_.first_key);
      if (past > run_start) first = past - run_start;
    }
    co_await write(rows, RowView(row_, pattern_.head_dim), due, first, lanes_in_run - first);
  }
}

// Through b_transport: the memory adds its latency to the annotated delay. The row is then viewed
// where it stays valid: in the memory if the transaction brought DMI (the same bytes), otherwise
// in the reader's copy of its address range, allocated only then (a row read again is rewritten
// with the same values).
Cycle StreamReader::transport(std::uint64_t address, Cycle request) {
  landing_.resize(pattern_.head_dim);
  trans_.set_address(address);
  trans_.set_data_ptr(reinterpret_cast<unsigned char*>(landing_.data()));
  trans_.set_dmi_allowed(false);
  trans_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  // Loosely timed: the request's cycle rides ahead of SystemC time as an annotated delay. A
  // shared link's grant can arrive after its cycle (synchronized mode decides a cycle's requests
  // at the next): then the delay is 0 and the memory's latency still counts from the request.
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  const sc_core::sc_time at = sc_core::sc_time::from_value(request * period_.value());
  const sc_core::sc_time ahead = at > now ? at - now : sc_core::SC_ZERO_TIME;
  sc_core::sc_time delay = ahead;
  socket->b_transport(trans_, delay);
  if (trans_.is_response_error()) SC_REPORT_FATAL(name(), trans_.get_response_string().c_str());
  if (trans_.is_dmi_allowed()) request_dmi();
  if (!view_in_memory(address)) {
    if (copies_.empty()) copies_.resize(pattern_.blocks * pattern_.block_rows * pattern_.head_dim);
    float* row = copies_.data() + (address - pattern_.base) / sizeof(float);
    std::copy(landing_.begin(), landing_.end(), row);
    row_ = row;
  }
  return request + (delay - ahead).value() / period_.value();
}

void StreamReader::request_dmi() {
  tlm::tlm_dmi dmi;
  if (!socket->get_direct_mem_ptr(trans_, dmi) || !dmi.is_read_allowed()) return;
  // Rows are viewed as floats in place: the region must be aligned for them.
  if (reinterpret_cast<std::uintptr_t>(dmi.get_dmi_ptr()) % alignof(float) != 0) return;
  const std::uint64_t size = dmi.get_end_address() - dmi.get_start_address() + 1;
  if (size < row_bytes_) return;
  dmi_ = dmi.get_dmi_ptr();
  dmi_start_ = dmi.get_start_address();
  dmi_last_row_ = size - row_bytes_;
  dmi_latency_ = dmi.get_read_latency().value() / period_.value();
}

void StreamReader::invalidate_direct_mem_ptr(sc_dt::uint64 /*start*/, sc_dt::uint64 /*end*/) {
  dmi_ = nullptr;
}

}  // namespace sdpa
