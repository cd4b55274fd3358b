#include "hw/memory.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace sdpa {

Memory::Memory(const sc_core::sc_module_name& name, MemoryTiming timing, sc_core::sc_time period,
               std::vector<std::uint8_t> contents)
    : sc_module(name), timing_(timing), period_(period), contents_(std::move(contents)) {
  if (timing_.read_latency < 1 || timing_.bytes_per_cycle < 1)
    throw std::invalid_argument(std::string(this->name()) +
                                ": read_latency and bytes_per_cycle must be >= 1");
  socket.register_b_transport(this, &Memory::b_transport);
}

void Memory::b_transport(int port, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const std::uint64_t address = trans.get_address();
  const std::size_t length = trans.get_data_length();
  if (trans.get_command() != tlm::TLM_READ_COMMAND) {
    trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  if (address > contents_.size() || length > contents_.size() - address) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (port_free_.size() <= static_cast<std::size_t>(port)) port_free_.resize(port + 1, 0);

  const sc_core::sc_time now = sc_core::sc_time_stamp();
  const Cycle issued = (now + delay).value() / period_.value();
  const Cycle start = std::max(issued, port_free_[port]);
  const Cycle n = timing_.beats(length);
  port_free_[port] = start + n;
  const Cycle done = start + n - 1 + timing_.read_latency;

  std::memcpy(trans.get_data_ptr(), contents_.data() + address, length);
  delay = sc_core::sc_time::from_value(done * period_.value()) - now;
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace sdpa
