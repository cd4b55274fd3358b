#include "hw/units/stream_reader.h"

namespace sdpa {

StreamReader::StreamReader(const sc_core::sc_module_name& name, Timing timing,
                           StreamPattern pattern, sc_core::sc_time period)
    : Unit(name, timing, RowShape{pattern.heads * pattern.passes, pattern.rows}),
      pattern_(pattern),
      row_bytes_(pattern.head_dim * sizeof(float)),
      period_(period),
      block_base_(pattern.base) {
  trans_.set_command(tlm::TLM_READ_COMMAND);
  trans_.set_data_length(row_bytes_);
  trans_.set_streaming_width(row_bytes_);
  trans_.set_byte_enable_ptr(nullptr);
  trans_.set_dmi_allowed(false);
}

void StreamReader::compute() {
  // The row's storage circulates through the channel: make sure this one holds a row.
  row_.resize(pattern_.head_dim);
  trans_.set_data_ptr(reinterpret_cast<unsigned char*>(row_.data()));
  trans_.set_address(block_base_ + index_in_row() * row_bytes_);
  trans_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  // Loosely timed: the local cycle rides ahead of SystemC time as an annotated delay.
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  sc_core::sc_time delay = sc_core::sc_time::from_value(cycle() * period_.value()) - now;
  socket->b_transport(trans_, delay);
  if (trans_.is_response_error()) SC_REPORT_FATAL(name(), trans_.get_response_string().c_str());
  arrival_ = (now + delay).value() / period_.value();
  // A head's block is read `passes` times, then the next head's block.
  if (row_end() && (row() + 1) % pattern_.passes == 0) block_base_ += pattern_.rows * row_bytes_;
}

void StreamReader::write_outputs() { rows.write(std::move(row_), arrival_); }

}  // namespace sdpa
