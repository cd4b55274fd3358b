#include "hw/units/stream_reader.h"

#include <algorithm>
#include <cstring>

namespace sdpa {

StreamReader::StreamReader(const sc_core::sc_module_name& name, Timing timing,
                           StreamPattern pattern, sc_core::sc_time period,
                           const MemoryTiming& memory)
    : UnitOf<StreamReader>(name, timing, RowShape{pattern.heads * pattern.passes, pattern.rows}),
      pattern_(pattern),
      row_bytes_(pattern.head_dim * sizeof(float)),
      beats_(memory.beats(row_bytes_)),
      period_(period),
      block_base_(pattern.base) {
  socket.register_invalidate_direct_mem_ptr(this, &StreamReader::invalidate_direct_mem_ptr);
  trans_.set_command(tlm::TLM_READ_COMMAND);
  trans_.set_data_length(row_bytes_);
  trans_.set_streaming_width(row_bytes_);
  trans_.set_byte_enable_ptr(nullptr);
}

void StreamReader::compute() {
  // The row's storage circulates through the channel: make sure this one holds a row.
  row_.resize(pattern_.head_dim);
  // The link carries one beat per cycle: a request waits for the previous row's beats.
  const Cycle request = std::max(cycle(), link_free_);
  link_free_ = request + beats_;
  arrival_ = read(block_base_ + index_in_row() * row_bytes_, request) + beats_ - 1;
  // A head's block is read `passes` times, then the next head's block.
  if (row_end() && (row() + 1) % pattern_.passes == 0) block_base_ += pattern_.rows * row_bytes_;
}

void StreamReader::write_outputs() { rows.write(std::move(row_), arrival_); }

Cycle StreamReader::read(std::uint64_t address, Cycle request) {
  if (dmi_ != nullptr && address >= dmi_start_ && address - dmi_start_ + row_bytes_ <= dmi_size_) {
    std::memcpy(row_.data(), dmi_ + (address - dmi_start_), row_bytes_);
    return request + dmi_latency_;
  }
  trans_.set_address(address);
  trans_.set_data_ptr(reinterpret_cast<unsigned char*>(row_.data()));
  trans_.set_dmi_allowed(false);
  trans_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  // Loosely timed: the request's cycle rides ahead of SystemC time as an annotated delay.
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  sc_core::sc_time delay = sc_core::sc_time::from_value(request * period_.value()) - now;
  socket->b_transport(trans_, delay);
  if (trans_.is_response_error()) SC_REPORT_FATAL(name(), trans_.get_response_string().c_str());
  if (trans_.is_dmi_allowed()) request_dmi();
  return (now + delay).value() / period_.value();
}

void StreamReader::request_dmi() {
  tlm::tlm_dmi dmi;
  if (!socket->get_direct_mem_ptr(trans_, dmi) || !dmi.is_read_allowed()) return;
  dmi_ = dmi.get_dmi_ptr();
  dmi_start_ = dmi.get_start_address();
  dmi_size_ = dmi.get_end_address() - dmi.get_start_address() + 1;
  dmi_latency_ = dmi.get_read_latency().value() / period_.value();
}

void StreamReader::invalidate_direct_mem_ptr(sc_dt::uint64 /*start*/, sc_dt::uint64 /*end*/) {
  dmi_ = nullptr;
}

}  // namespace sdpa
