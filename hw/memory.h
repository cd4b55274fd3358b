// A TLM-2.0 loosely-timed memory target holding Q, K and V.
//
// Each initiator bound to `socket` gets its own pipelined port (a DMA channel): a read of B bytes
// issued at cycle t starts when the port is free, occupies it for ceil(B / bytes_per_cycle)
// beats, and its last beat arrives read_latency cycles after it leaves. A stream of row reads thus
// pays the latency once and then runs at the bandwidth. Ports are independent so that a run's
// timing never depends on the order in which the SystemC scheduler runs the initiators.
#pragma once

#include <tlm_utils/multi_passthrough_target_socket.h>

#include <algorithm>
#include <cstdint>
#include <systemc>
#include <tlm>
#include <vector>

#include "hw/unit.h"

namespace sdpa {

struct MemoryTiming {
  unsigned read_latency = 10;      // cycles from a beat leaving the port to its arrival
  unsigned bytes_per_cycle = 256;  // per port

  // Cycles a read of `bytes` keeps a port busy.
  Cycle beats(std::size_t bytes) const {
    return std::max<Cycle>(1, (bytes + bytes_per_cycle - 1) / bytes_per_cycle);
  }
};

class Memory : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<Memory> socket{"socket"};

  Memory(const sc_core::sc_module_name& name, MemoryTiming timing, sc_core::sc_time period,
         std::vector<std::uint8_t> contents);

 private:
  void b_transport(int port, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);

  MemoryTiming timing_;
  sc_core::sc_time period_;
  std::vector<std::uint8_t> contents_;
  std::vector<Cycle> port_free_;
};

}  // namespace sdpa
