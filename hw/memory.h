// A TLM-2.0 loosely-timed memory target holding Q, K and V.
//
// Every read's first beat arrives read_latency cycles after the annotated time of its request,
// whether through b_transport (the latency is added to the annotated delay) or through the
// direct memory interface (the latency is the DMI grant's read latency): the two paths time the
// same. The bandwidth of each initiator's link is modelled by the initiator (StreamReader), so
// a run's timing never depends on the order in which SystemC runs the initiators.
#pragma once

#include <tlm_utils/multi_passthrough_target_socket.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <systemc>
#include <tlm>
#include <vector>

#include "hw/unit.h"

namespace sdpa {

struct MemoryTiming {
  unsigned read_latency = 10;      // cycles from a request to its first beat
  unsigned bytes_per_cycle = 256;  // of each initiator's link, or of the one they share
  bool shared = false;             // one link for all of a datapath's streams (SharedLink)

  // Cycles a read of `bytes` keeps a link busy.
  Cycle beats(std::size_t bytes) const {
    return std::max<Cycle>(1, (bytes + bytes_per_cycle - 1) / bytes_per_cycle);
  }
};

class Memory : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<Memory> socket{"socket"};

  // `grant_dmi` false makes initiators use b_transport for every read (tests of both paths).
  Memory(const sc_core::sc_module_name& name, unsigned read_latency, sc_core::sc_time period,
         bool grant_dmi = true);

  // The contents, before the simulation starts; read-only during it, so memories may share them.
  void load(std::shared_ptr<const std::vector<std::uint8_t>> contents) {
    contents_ = std::move(contents);
  }

  // Reads served through b_transport; the others went through the direct memory interface.
  std::uint64_t transports() const { return transports_; }

 private:
  void b_transport(int port, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(int port, tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);

  sc_core::sc_time latency_;
  std::shared_ptr<const std::vector<std::uint8_t>> contents_;
  bool grant_dmi_;
  std::uint64_t transports_ = 0;
};

}  // namespace sdpa
