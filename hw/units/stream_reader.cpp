#include "hw/units/stream_reader.h"

#include <stdexcept>

namespace sdpa {

StreamReader::StreamReader(const sc_core::sc_module_name& name, Timing timing,
                           StreamPattern pattern, sc_core::sc_time period)
    : Unit(name, timing), pattern_(pattern), period_(period) {
  SC_THREAD(run);
}

void StreamReader::run() {
  const std::size_t row_bytes = pattern_.head_dim * sizeof(float);
  Row row(pattern_.head_dim);
  tlm::tlm_generic_payload trans;
  trans.set_command(tlm::TLM_READ_COMMAND);
  trans.set_data_ptr(reinterpret_cast<unsigned char*>(row.data()));
  trans.set_data_length(row_bytes);
  trans.set_streaming_width(row_bytes);
  trans.set_byte_enable_ptr(nullptr);
  trans.set_dmi_allowed(false);

  for (std::size_t h = 0; h < pattern_.heads; ++h) {
    for (std::size_t pass = 0; pass < pattern_.passes; ++pass) {
      for (std::size_t r = 0; r < pattern_.rows; ++r) {
        trans.set_address(pattern_.base + ((h * pattern_.rows) + r) * row_bytes);
        trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        // Loosely timed: the local cycle rides ahead of SystemC time as an annotated delay.
        const sc_core::sc_time now = sc_core::sc_time_stamp();
        sc_core::sc_time delay = sc_core::sc_time::from_value(cycle() * period_.value()) - now;
        socket->b_transport(trans, delay);
        if (trans.is_response_error()) SC_REPORT_FATAL(name(), trans.get_response_string().c_str());
        rows.write(row, (now + delay).value() / period_.value());
        step();
      }
    }
  }
  finish();
}

}  // namespace sdpa
