// For tests of elaboration errors: the suite's report handler (tb/test_main.cpp) fails any
// SystemC error, so these run with SystemC's own handler and read the error's message.
#pragma once

#include <string>
#include <systemc>

namespace sdpa::test {

// The message of the SystemC error `elaborate()` raises, or "" if none.
template <class Elaborate>
std::string elaboration_error(Elaborate elaborate) {
  sc_core::sc_report_handler::set_handler(sc_core::sc_report_handler::default_handler);
  std::string message;
  try {
    elaborate();
  } catch (const sc_core::sc_report& report) {
    message = report.get_msg();
  }
  return message;
}

}  // namespace sdpa::test
