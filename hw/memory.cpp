#include "hw/memory.h"

#include <cstring>
#include <stdexcept>

namespace sdpa {

Memory::Memory(const sc_core::sc_module_name& name, unsigned read_latency, sc_core::sc_time period,
               bool grant_dmi)
    : sc_module(name),
      latency_(period * read_latency),
      contents_(std::make_shared<const std::vector<std::uint8_t>>()),
      grant_dmi_(grant_dmi) {
  if (read_latency < 1)
    throw std::invalid_argument(std::string(this->name()) + ": read_latency must be >= 1");
  socket.register_b_transport(this, &Memory::b_transport);
  socket.register_get_direct_mem_ptr(this, &Memory::get_direct_mem_ptr);
}

void Memory::b_transport(int /*port*/, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const std::uint64_t address = trans.get_address();
  const std::size_t length = trans.get_data_length();
  if (trans.get_command() != tlm::TLM_READ_COMMAND) {
    trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  const std::vector<std::uint8_t>& contents = *contents_;
  if (address > contents.size() || length > contents.size() - address) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  std::memcpy(trans.get_data_ptr(), contents.data() + address, length);
  ++transports_;
  delay += latency_;
  trans.set_dmi_allowed(grant_dmi_);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

bool Memory::get_direct_mem_ptr(int /*port*/, tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  dmi.set_start_address(0);
  const std::vector<std::uint8_t>& contents = *contents_;
  if (!grant_dmi_ || trans.get_command() != tlm::TLM_READ_COMMAND || contents.empty()) {
    // The whole address space, with no access: the initiator need not ask again.
    dmi.set_end_address(~sc_dt::uint64{0});
    dmi.allow_none();
    return false;
  }
  // Read-only through the grant: the const is dropped only because tlm_dmi has no const pointer.
  dmi.set_dmi_ptr(const_cast<unsigned char*>(contents.data()));
  dmi.set_end_address(contents.size() - 1);
  dmi.allow_read();
  dmi.set_read_latency(latency_);
  return true;
}

}  // namespace sdpa
